"""The HTTP layer and the `/batch/` transport, against a real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hogkit.core.batch import encode_event
from hogkit.core.events import EventContext, capture
from hogkit.core.retry import parse_retry_after, retry_delay
from hogkit.core.version import __version__
from hogkit.transport import FileTransport, HttpTransport, MemoryTransport, Transport, dns, http
from hogkit.transport.hosts import InvalidHost, ingestion_host
from hogkit.transport.transports import Cancelled
from httpserver import LoopbackServer, Reply, SilentListener, self_signed, unused_url

KEY = "phc_secret_project_key"
FAST = {"backoff_base": 0.01, "backoff_cap": 0.02}


def encoded(n: int, start: int = 0) -> list[bytes]:
    ctx = EventContext()
    return [
        encode_event(
            capture(
                ctx,
                "ev",
                distinct_id=f"user-{i}",
                properties={"i": i},
                timestamp=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
                uuid=f"00000000-0000-4000-8000-{i:012d}",
            )
        )
        for i in range(start, start + n)
    ]


def uuids_of(events: list[dict[str, Any]]) -> list[str]:
    return [e["uuid"] for e in events]


# -- request() ------------------------------------------------------------------------------------


def test_request_returns_status_headers_and_body(loopback: LoopbackServer) -> None:
    loopback.script("/x", Reply(418, b"short and stout", {"X-Thing": "yes"}))
    response = http.request("GET", loopback.url + "/x?q=1", timeout=5)
    assert (response.status, response.body, response.header("x-thing")) == (
        418,
        b"short and stout",
        "yes",
    )
    sent = loopback.requests("/x")[0]
    assert sent.headers["user-agent"] == f"hogkit/{__version__}"
    assert sent.query == {"q": ["1"]}


def test_request_gzips_the_body_when_asked(loopback: LoopbackServer) -> None:
    http.request("POST", loopback.url + "/g", body=b'{"a": 1}', gzip=True, timeout=5)
    http.request("POST", loopback.url + "/p", body=b'{"a": 2}', timeout=5)
    zipped, plain = loopback.requests("/g")[0], loopback.requests("/p")[0]
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.raw) == b'{"a": 1}'
    assert "content-encoding" not in plain.headers and plain.raw == b'{"a": 2}'


def test_connections_are_kept_alive(loopback: LoopbackServer) -> None:
    for _ in range(3):
        http.request("GET", loopback.url + "/k", timeout=5)
    assert len({r.peer for r in loopback.requests("/k")}) == 1


def test_names_are_resolved(loopback: LoopbackServer) -> None:
    url = f"http://localhost:{loopback.port}/named"
    assert http.request("GET", url, timeout=5).status == 200


def test_refused_connection_is_a_network_error_without_the_query() -> None:
    with pytest.raises(http.NetworkError) as caught:
        http.request("GET", unused_url() + f"/flags/definitions?token={KEY}", timeout=2)
    message = str(caught.value)
    assert "connection refused" in message and caught.value.kind == "refused"
    assert KEY not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_server_that_never_answers_times_out(loopback: LoopbackServer) -> None:
    loopback.script("/slow", Reply.hang())
    with pytest.raises(http.NetworkError, match="timed out"):
        http.request("GET", loopback.url + "/slow", timeout=0.3)


def test_a_listener_that_never_accepts_times_out() -> None:
    with SilentListener() as silent, pytest.raises(http.NetworkError, match="timed out"):
        http.request("POST", silent.url + "/batch/", body=b"{}", timeout=0.3)


@pytest.mark.parametrize("reply", [Reply.drop(), Reply.reset()], ids=["drop", "reset"])
def test_dropped_and_reset_connections_are_network_errors(
    loopback: LoopbackServer, reply: Reply
) -> None:
    loopback.script("/d", reply)
    with pytest.raises(http.NetworkError, match="connection dropped"):
        http.request("GET", loopback.url + "/d", timeout=5)


def test_oversized_responses_are_refused(loopback: LoopbackServer) -> None:
    loopback.script("/big", Reply(200, b"x" * 5000))
    with pytest.raises(http.NetworkError, match="larger than 1000 bytes"):
        http.request("GET", loopback.url + "/big", timeout=5, max_response_bytes=1000)


def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with LoopbackServer(tls=(cert, key)) as server:
        with pytest.raises(http.NetworkError, match="TLS failed") as caught:
            http.request("GET", server.url + "/secure", timeout=5)
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
        assert server.requests() == []


def test_name_resolution_is_bounded_and_shared() -> None:
    release = threading.Event()
    calls: list[str] = []

    def stuck(host: str, *args: Any) -> list[Any]:
        if args and args[-1] == socket.AI_NUMERICHOST:
            raise socket.gaierror("not numeric")
        calls.append(host)
        release.wait(10)
        raise socket.gaierror("gave up")

    try:
        for _ in range(3):
            with pytest.raises(TimeoutError):
                dns.resolve("stuck.invalid", 443, 0.1, getaddrinfo=stuck)
        assert calls == ["stuck.invalid"]  # one lookup thread, joined by the later callers
    finally:
        release.set()


def test_numeric_hosts_need_no_lookup_thread() -> None:
    def refuse(host: str, port: int, family: int, kind: int, proto: int = 0, flags: int = 0) -> Any:
        assert flags == socket.AI_NUMERICHOST
        return socket.getaddrinfo(host, port, family, kind, proto, flags)

    infos = dns.resolve("127.0.0.1", 80, 1.0, getaddrinfo=refuse)
    assert infos[0][4] == ("127.0.0.1", 80)


# -- hosts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "https://us.i.posthog.com"),
        ("  ", "https://us.i.posthog.com"),
        ("https://app.posthog.com", "https://us.i.posthog.com"),
        ("https://us.posthog.com/", "https://us.i.posthog.com"),
        ("https://eu.posthog.com", "https://eu.i.posthog.com"),
        ("https://ph.example.com/", "https://ph.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
    ],
)
def test_app_hosts_map_to_ingestion_hosts(given: str | None, expected: str) -> None:
    assert ingestion_host(given) == expected


def test_a_host_needs_its_protocol() -> None:
    with pytest.raises(InvalidHost, match="must include the protocol"):
        ingestion_host("eu.posthog.com")


# -- backoff --------------------------------------------------------------------------------------


def test_backoff_grows_caps_and_jitters() -> None:
    low = [retry_delay(n, base=1, cap=30, retry_after=None, jitter=0) for n in range(1, 8)]
    high = [retry_delay(n, base=1, cap=30, retry_after=None, jitter=0.999999) for n in range(1, 8)]
    assert low == [0.5, 1, 2, 4, 8, 15, 15]
    assert [round(h) for h in high] == [1, 2, 4, 8, 16, 30, 30]


def test_retry_after_wins_over_a_shorter_backoff_and_is_capped() -> None:
    assert retry_delay(1, base=0.01, cap=0.02, retry_after=3, jitter=0.5) == 3
    assert retry_delay(1, base=0.01, cap=0.02, retry_after=3600, jitter=0.5) == 30


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after("0.25", now) == 0.25
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:42 GMT", now) == 42
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# -- HttpTransport --------------------------------------------------------------------------------


def test_transports_satisfy_the_protocol(tmp_path: Path) -> None:
    for transport in (HttpTransport(KEY), MemoryTransport(), FileTransport(tmp_path / "x")):
        assert isinstance(transport, Transport)


def test_batch_body_shape(loopback: LoopbackServer) -> None:
    transport = HttpTransport(KEY, loopback.url, historical_migration=True, **FAST)
    result = transport.send(encoded(2))
    assert (result.delivered, result.failed, result.ok) == (2, (), True)
    (sent,) = loopback.requests("/batch/")
    assert sent.method == "POST"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["content-encoding"] == "gzip"
    body = sent.json()
    assert set(body) == {"api_key", "batch", "sent_at", "historical_migration"}
    assert body["api_key"] == KEY and body["historical_migration"] is True
    assert dt.datetime.fromisoformat(body["sent_at"]).tzinfo is not None
    assert [json.dumps(e, separators=(",", ":")).encode() for e in body["batch"]] == encoded(2)


def test_plain_bodies_without_gzip(loopback: LoopbackServer) -> None:
    HttpTransport(KEY, loopback.url, gzip=False).send(encoded(1))
    sent = loopback.requests("/batch/")[0]
    assert "content-encoding" not in sent.headers and json.loads(sent.raw)["batch"]


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_retryable_statuses_are_retried_with_the_same_events(
    loopback: LoopbackServer, status: int
) -> None:
    loopback.script("/batch/", Reply(status), Reply(status))
    result = HttpTransport(KEY, loopback.url, **FAST).send(encoded(3))
    assert result.delivered == 3 and result.ok
    attempts = loopback.requests("/batch/")
    assert [a.reply.status for a in attempts] == [status, status, 200]
    assert len({tuple(uuids_of(a.json()["batch"])) for a in attempts}) == 1
    assert uuids_of(loopback.events()) == uuids_of(attempts[0].json()["batch"])


@pytest.mark.parametrize(
    "failure", [Reply.drop(), Reply.reset(), Reply.hang()], ids=["drop", "reset", "timeout"]
)
def test_network_failures_are_retried(loopback: LoopbackServer, failure: Reply) -> None:
    loopback.script("/batch/", failure)
    result = HttpTransport(KEY, loopback.url, timeout=0.3, **FAST).send(encoded(2))
    assert result.delivered == 2
    assert len(loopback.attempted_events()) == 4 and len(loopback.events()) == 2


def test_retry_after_is_honoured(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply(429, headers={"Retry-After": "0.3"}))
    HttpTransport(KEY, loopback.url, **FAST).send(encoded(1))
    first, second = loopback.requests("/batch/")
    assert second.time - first.time >= 0.3
    assert first.json()["batch"] == second.json()["batch"]


def test_retries_stop_after_max_retries(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", then=Reply(503, json.dumps({"detail": f"bad key {KEY}"})))
    result = HttpTransport(KEY, loopback.url, max_retries=2, **FAST).send(encoded(2))
    assert result.delivered == 0 and len(result.failed) == 2
    assert isinstance(result.error, http.StatusError) and result.error.status == 503
    assert KEY not in str(result.error) and "[redacted]" in str(result.error)
    assert len(loopback.requests("/batch/")) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 302])
def test_other_statuses_are_final(loopback: LoopbackServer, status: int) -> None:
    loopback.script("/batch/", Reply(status))
    result = HttpTransport(KEY, loopback.url, **FAST).send(encoded(2))
    assert result.delivered == 0 and result.failed == tuple(encoded(2))
    assert len(loopback.requests("/batch/")) == 1


@pytest.mark.parametrize("status", [201, 202, 204])
def test_any_2xx_is_success(loopback: LoopbackServer, status: int) -> None:
    loopback.script("/batch/", Reply(status, b""))
    assert HttpTransport(KEY, loopback.url, **FAST).send(encoded(2)).delivered == 2
    assert len(loopback.requests("/batch/")) == 1


def test_413_splits_the_batch_until_it_fits(loopback: LoopbackServer) -> None:
    loopback.handle("/batch/", lambda r: Reply(413) if len(r.json()["batch"]) > 2 else Reply(200))
    events = encoded(7)
    result = HttpTransport(KEY, loopback.url, **FAST).send(events)
    assert result.delivered == 7 and result.ok
    assert uuids_of(loopback.events()) == uuids_of([json.loads(e) for e in events])
    assert all(len(r.json()["batch"]) <= 2 for r in loopback.requests() if r.reply.ok)


def test_a_single_event_refused_with_413_fails_alone(loopback: LoopbackServer) -> None:
    events = encoded(4)
    poison = json.loads(events[2])["uuid"]
    loopback.handle(
        "/batch/",
        lambda r: Reply(413) if poison in uuids_of(r.json()["batch"]) else Reply(200),
    )
    result = HttpTransport(KEY, loopback.url, **FAST).send(events)
    assert result.delivered == 3 and result.failed == (events[2],)
    assert isinstance(result.error, http.StatusError) and result.error.status == 413


def test_stop_cancels_the_backoff(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", then=Reply(503))
    stop = threading.Event()
    stop.set()
    transport = HttpTransport(KEY, loopback.url, backoff_base=60, backoff_cap=60)
    result = transport.send(encoded(1), stop=stop)
    assert isinstance(result.error, Cancelled) and len(result.failed) == 1
    assert len(loopback.requests()) == 0


def test_a_dead_host_fails_with_a_network_error() -> None:
    result = HttpTransport(KEY, unused_url(), max_retries=1, **FAST).send(encoded(1))
    assert isinstance(result.error, http.NetworkError) and len(result.failed) == 1


# -- Memory and file transports -------------------------------------------------------------------


def test_memory_transport_records_batches_within_its_limit() -> None:
    memory = MemoryTransport(limit=5)
    memory.send(encoded(3))
    memory.send(encoded(3, start=3))
    assert memory.discarded == 3
    assert [e["properties"]["i"] for e in memory.events] == [3, 4, 5]
    assert len(memory.batches) == 1


def test_file_transport_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    transport = FileTransport(path)
    assert transport.send(encoded(2)).delivered == 2
    assert transport.send(encoded(1, start=2)).delivered == 1
    lines = path.read_text().splitlines()
    assert [json.loads(line)["properties"]["i"] for line in lines] == [0, 1, 2]


def test_file_transport_reports_write_errors(tmp_path: Path) -> None:
    result = FileTransport(tmp_path / "missing" / "events.jsonl").send(encoded(1))
    assert result.delivered == 0 and isinstance(result.error, OSError)


def test_timings_stay_bounded_for_a_hung_server(loopback: LoopbackServer) -> None:
    """A liveness check: a hung server costs one read timeout per attempt, not forever."""
    loopback.script("/batch/", then=Reply.hang())
    started = time.monotonic()
    result = HttpTransport(KEY, loopback.url, timeout=0.2, max_retries=1, **FAST).send(encoded(1))
    assert len(result.failed) == 1 and time.monotonic() - started < 5


def test_the_environments_proxy_is_used(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", loopback.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    response = http.request("POST", "http://ingest.example.test:8000/batch/", body=b"{}", timeout=5)
    assert response.status == 200
    (sent,) = loopback.requests()
    assert sent.target == "http://ingest.example.test:8000/batch/" and sent.path == "/batch/"


def test_no_proxy_bypasses_the_proxy(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", unused_url())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert http.request("GET", loopback.url + "/direct", timeout=5).status == 200
    monkeypatch.setenv("NO_PROXY", "elsewhere.test")
    with pytest.raises(http.NetworkError):
        http.request("GET", loopback.url + "/via-dead-proxy", timeout=2)
    assert [r.path for r in loopback.requests()] == ["/direct"]
