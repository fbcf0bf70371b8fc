"""The small ways a client could hurt its host: bad hosts, secrets in reprs, huge log
lines, ids that cannot be turned into text, threads left behind."""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from typing import Any

import pytest
from hogkit.transport.client import Client
from hogkit.transport.flags_transport import HttpFlagsTransport
from hogkit.transport.hosts import InvalidHost, ingestion_host
from hogkit.transport.transports import HttpTransport, MemoryTransport
from httpserver import LoopbackServer, Reply


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("https://[::1", "not a valid URL"),
        ("http://example.com:99999", "not a valid URL"),
        ("ftp://x", "must be http:// or https://"),
        ("example.com", "e.g. 'https://example.com'"),
        ("https://", "no host name"),
    ],
)
def test_bad_hosts_are_refused_with_a_clear_message(host: str, says: str) -> None:
    with pytest.raises(InvalidHost) as caught:
        ingestion_host(host)
    assert says in str(caught.value)
    assert "https://ftp://" not in str(caught.value)


def test_a_bad_host_disables_the_client_once_instead_of_failing_every_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Client("phc_x", host="http://example.com:99999")
    assert client.disabled
    assert client.capture("e", distinct_id="u") is None
    assert client.shutdown(1)
    assert sum("not a valid URL" in r.getMessage() for r in caplog.records) == 1


def test_passwords_in_the_host_stay_out_of_reprs_and_messages() -> None:
    host = "https://user:hunter2@example.com"
    client = Client("phc_x", host=host, send=False)
    shown = [
        repr(client),
        repr(HttpTransport("phc_x", host)),
        repr(HttpFlagsTransport("phc_x", host)),
    ]
    assert all("hunter2" not in text and "example.com" in text for text in shown)
    with pytest.raises(InvalidHost) as caught:
        ingestion_host("https://user:hunter2@[::1")
    assert "hunter2" not in str(caught.value)
    client.shutdown(1)


def test_an_oversized_event_is_logged_in_a_line_of_readable_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports: list[Exception] = []
    client = Client("phc_x", transport=MemoryTransport(), on_error=lambda e, _: reports.append(e))
    name = "n" * 1_000_000
    client.capture(name, distinct_id="u")
    assert not client.shutdown(5)
    lines = [r.getMessage() for r in caplog.records if "limit" in r.getMessage()]
    assert lines and all(len(line) < 1000 for line in lines)
    assert [getattr(e, "reason", None) for e in reports] == ["too_large"]


def test_an_id_without_text_is_refused_with_the_real_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class NoText:
        def __str__(self) -> str:
            raise RuntimeError("no")

    client = Client("phc_x", transport=MemoryTransport())
    assert client.capture("e", distinct_id=NoText()) is None
    assert any("str() failed" in r.getMessage() for r in caplog.records)
    assert not any("anonymous_id" in r.getMessage() for r in caplog.records)
    client.shutdown(1)


def test_a_disabled_client_starts_no_thread() -> None:
    before = {t.ident for t in threading.enumerate()}
    client = Client("phc_x", disabled=True)
    client.capture("e", distinct_id="u")
    client.flush(1)
    assert {t.ident for t in threading.enumerate()} - before == set()
    client.shutdown(1)


def test_clients_dropped_without_shutdown_deliver_and_end_their_threads() -> None:
    transport = MemoryTransport()
    gc.collect()
    before = threading.active_count()
    for i in range(100):
        client = Client("phc_x", transport=transport, flush_interval=60)
        client.capture("e", distinct_id=f"u{i}")
    del client
    gc.collect()
    deadline = time.monotonic() + 30
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before
    assert sorted(e["distinct_id"] for e in transport.events) == sorted(f"u{i}" for i in range(100))


def test_a_redirect_to_another_host_is_not_followed(loopback: LoopbackServer) -> None:
    with LoopbackServer() as other:
        loopback.handle(
            "/batch/",
            lambda _request: Reply.redirect(
                307, other.url.replace("127.0.0.1", "localhost") + "/batch/"
            ),
        )
        reports: list[Any] = []
        client = Client(
            "phc_x", host=loopback.url, max_retries=0, on_error=lambda e, ev: reports.append(e)
        )
        client.capture("e", distinct_id="u")
        assert not client.shutdown(5)
        assert other.requests("/batch/") == []
        assert [getattr(e, "reason", None) for e in reports] == ["server_rejected"]


def test_a_redirect_on_the_same_host_is_followed(loopback: LoopbackServer) -> None:
    loopback.handle("/batch/", lambda _request: Reply.redirect(308, "/moved/"))
    client = Client("phc_x", host=loopback.url)
    uuid = client.capture("e", distinct_id="u")
    assert client.shutdown(5)
    assert [e["uuid"] for e in loopback.events("/moved/")] == [uuid]


def test_log_records_name_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = Client("phc_x", host="http://user:hunter2@127.0.0.1:9", max_retries=0)
    client.capture("e", distinct_id="u")
    client.shutdown(5)
    assert not any("hunter2" in r.getMessage() for r in caplog.records)


def test_retries_and_polls_leave_the_applications_random_stream_alone(
    loopback: LoopbackServer,
) -> None:
    """Backoff jitter comes from the system's randomness: an application that seeds
    `random` for reproducible runs gets the same numbers whether or not a batch was
    retried or definitions were polled (and a forked child draws jitter of its own)."""
    loopback.script("/batch/", Reply(503), then=Reply(200))
    loopback.script("/flags/definitions", then=Reply.json({"flags": []}))
    random.seed(7)
    expected = random.Random(7).random()
    client = Client(
        "phc_random_test", host=loopback.url, secret_key="phs_random_test", sync_mode=True
    )
    assert client.capture("retried", distinct_id="u") is not None
    client.load_feature_flags()
    assert client.shutdown(5)
    assert len(loopback.requests("/batch/")) == 2  # the batch was retried
    assert random.random() == expected


_OUT_OF_FILES = """
import resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
from hogkit import Client
lost = []
client = Client("phc_hardening", host=sys.argv[1], secret_key="phs_x", max_retries=1,
                feature_flags_request_timeout_seconds=0.5,
                on_error=lambda error, items: lost.append((str(error), len(items))))
held = []
try:
    while True:
        held.append(socket.socket())
except OSError:
    pass
print("captured", bool(client.capture("during", distinct_id="u")))
print("evaluated", client.evaluate_flags("u").keys)
print("flushed", client.flush(timeout=5))
for sock in held:
    sock.close()
print("captured", bool(client.capture("after", distinct_id="u")))
print("flushed", client.flush(timeout=5))
print("lost", lost)
"""


def test_a_process_out_of_file_descriptors_is_told_so_and_recovers(
    loopback: LoopbackServer,
) -> None:
    """A busy server that leaks descriptors meets EMFILE in every socket: calls still
    return, the losses name the cause (a host problem, not the network's), and sending
    resumes once descriptors are free."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _OUT_OF_FILES, loopback.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[:3] == ["captured True", "evaluated ()", "flushed False"], done.stderr
    assert lines[3:5] == ["captured True", "flushed True"], done.stderr
    assert "too many open files" in lines[5], lines[5]
    assert [e["event"] for e in loopback.events()] == ["after"]
