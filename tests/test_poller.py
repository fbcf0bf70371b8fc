"""The definitions poller against a real loopback server: conditional fetches, atomic swaps,
survival through every kind of failure, bounded first-load waits, and restart after fork."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import pytest
from hogkit.transport.flags_transport import HttpFlagsTransport
from hogkit.transport.poller import DefinitionsPoller, next_delay
from httpserver import LoopbackServer, Reply

DEFS_PATH = "/flags/definitions"


def flag(key: str, rollout: int = 100) -> dict[str, Any]:
    return {
        "id": 1,
        "key": key,
        "active": True,
        "filters": {"groups": [{"properties": [], "rollout_percentage": rollout}]},
    }


def document(*keys: str) -> dict[str, Any]:
    return {"flags": [flag(k) for k in keys], "group_type_mapping": {}, "cohorts": {}}


def make_poller(server: LoopbackServer, **kwargs: Any) -> DefinitionsPoller:
    transport = HttpFlagsTransport("phc_project", server.url, secret_key="phs_secret")
    kwargs.setdefault("interval", 3600)
    kwargs.setdefault("rng", lambda: 0.5)
    return DefinitionsPoller(transport, **kwargs)


def test_fetch_request_shape(loopback: LoopbackServer) -> None:
    loopback.script(DEFS_PATH, Reply.json(document("a")))
    poller = make_poller(loopback)
    assert poller.poll_once()
    sent = loopback.requests(DEFS_PATH)[0]
    assert sent.method == "GET"
    assert sent.target == f"{DEFS_PATH}?token=phc_project&send_cohorts"
    assert sent.headers["authorization"] == "Bearer phs_secret"
    assert "if-none-match" not in sent.headers
    assert sent.headers["user-agent"].startswith("hogkit")
    assert poller.flagset is not None and poller.flagset.keys == ("a",)


def test_one_fetch_per_interval_and_etag_reuse(loopback: LoopbackServer) -> None:
    loopback.script(
        DEFS_PATH,
        Reply.json(document("a"), headers={"ETag": '"v1"'}),
        Reply(304, b"", headers={"ETag": '"v1"'}),
    )
    poller = make_poller(loopback)
    first = poller.current(wait=5)
    assert first is not None and first.keys == ("a",)
    for _ in range(50):  # flag calls between polls never fetch
        assert poller.current(wait=5) is first
    assert len(loopback.requests(DEFS_PATH)) == 1
    poller.wake()  # the next interval
    assert loopback.wait_for(lambda s: len(s.requests(DEFS_PATH)) == 2)
    assert loopback.wait_for(lambda s: poller.fetches == 2 and poller.last_error is None)
    second = loopback.requests(DEFS_PATH)[1]
    assert second.headers["if-none-match"] == '"v1"'
    assert poller.flagset is first  # 304 keeps the compiled set itself
    poller.stop()
    assert len(loopback.requests(DEFS_PATH)) == 2


def test_unchanged_body_keeps_the_compiled_set_and_changed_body_swaps(
    loopback: LoopbackServer,
) -> None:
    loopback.script(
        DEFS_PATH,
        Reply.json(document("a")),
        Reply.json(document("a")),
        Reply.json(document("a", "b")),
    )
    poller = make_poller(loopback)
    assert poller.poll_once()
    first = poller.flagset
    assert poller.poll_once()
    assert poller.flagset is first
    assert poller.poll_once()
    assert poller.flagset is not first
    assert poller.flagset is not None and poller.flagset.keys == ("a", "b")


def test_thread_survives_errors_and_keeps_last_good_definitions(
    loopback: LoopbackServer,
) -> None:
    loopback.script(
        DEFS_PATH,
        Reply.json(document("good")),
        Reply(500, b"oops"),
        Reply(200, b"{not json at all"),
        Reply.json({"flags": "not a list"}),
        Reply.drop(),
        Reply.reset(),
        Reply(503, b""),
        then=Reply.json(document("good", "newer")),
    )
    seen: list[tuple[str, ...] | None] = []

    poller = make_poller(loopback, interval=0.01, max_backoff=0.05)
    original = poller.poll_once

    def watch() -> bool:
        ok = original()
        seen.append(poller.flagset.keys if poller.flagset is not None else None)
        return ok

    poller.poll_once = watch  # type: ignore[method-assign]
    poller.start()
    try:
        assert loopback.wait_for(lambda s: len(s.requests(DEFS_PATH)) >= 8, timeout=20)
        assert loopback.wait_for(
            lambda s: poller.flagset is not None and poller.flagset.keys == ("good", "newer"),
            timeout=20,
        )
        assert poller.running
    finally:
        poller.stop()
    # Every failed poll in between left the first good definitions in place.
    assert seen[0] == ("good",)
    assert all(keys in (("good",), ("good", "newer")) for keys in seen)
    assert ("good", "newer") in seen


def test_401_and_402_clear_definitions_and_log_once(
    loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.script(
        DEFS_PATH,
        Reply.json(document("a"), headers={"ETag": "e1"}),
        Reply(401, b'{"detail": "bad key"}'),
        Reply(401, b'{"detail": "bad key"}'),
        Reply(401, b'{"detail": "bad key"}'),
        Reply(402, b""),
        Reply(402, b""),
        Reply.json(document("b")),
    )
    poller = make_poller(loopback)
    caplog.set_level(logging.WARNING, logger="hogkit")
    assert poller.poll_once()
    assert poller.flagset is not None
    for _ in range(3):
        assert not poller.poll_once()
        assert poller.flagset is None and poller.etag is None
    assert "if-none-match" not in loopback.requests(DEFS_PATH)[2].headers
    unauthorized = [r for r in caplog.records if "401" in r.getMessage()]
    assert len(unauthorized) == 1
    assert unauthorized[0].levelno == logging.ERROR
    assert "secret_key" in unauthorized[0].getMessage()
    assert not poller.poll_once()
    assert not poller.poll_once()
    quota = [r for r in caplog.records if "402" in r.getMessage()]
    assert len(quota) == 1 and "quota" in quota[0].getMessage()
    assert poller.poll_once()
    assert poller.flagset is not None and poller.flagset.keys == ("b",)
    for record in caplog.records:
        assert "phs_secret" not in record.getMessage()


def test_quota_limited_body_keeps_definitions(
    loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.script(
        DEFS_PATH,
        Reply.json(document("a")),
        Reply.json({"flags": [], "quotaLimited": ["feature_flags"]}),
        Reply.json({"flags": [], "quotaLimited": ["feature_flags"]}),
    )
    poller = make_poller(loopback)
    caplog.set_level(logging.WARNING, logger="hogkit")
    assert poller.poll_once()
    assert not poller.poll_once()
    assert not poller.poll_once()
    assert poller.flagset is not None and poller.flagset.keys == ("a",)
    assert len([r for r in caplog.records if "quota" in r.getMessage()]) == 1


def test_start_never_blocks_and_first_wait_happens_once(loopback: LoopbackServer) -> None:
    loopback.script(DEFS_PATH, Reply.hang())
    poller = make_poller(loopback)
    poller.start()  # returns although the server never answers
    assert loopback.wait_for(lambda s: len(s.requests(DEFS_PATH)) == 1)
    assert poller.current(wait=0.2) is None
    began = time.monotonic()
    assert poller.current(wait=60) is None  # no second wait for the same first load
    assert time.monotonic() - began < 30
    poller.stop(timeout=0)


def test_failed_first_load_does_not_block_later_calls(loopback: LoopbackServer) -> None:
    loopback.script(DEFS_PATH, Reply(500, b""), then=Reply.hang())
    poller = make_poller(loopback)
    assert poller.current(wait=30) is None  # returns once the first attempt failed
    began = time.monotonic()
    for _ in range(5):
        assert poller.current(wait=60) is None
    assert time.monotonic() - began < 30
    poller.stop(timeout=0)


def test_next_delay_jitters_and_backs_off() -> None:
    assert next_delay(30, 0, jitter=0.1, sample=0.5, max_backoff=300) == pytest.approx(30)
    assert next_delay(30, 0, jitter=0.1, sample=0.0, max_backoff=300) == pytest.approx(27)
    assert next_delay(30, 0, jitter=0.1, sample=0.999999, max_backoff=300) == pytest.approx(33)
    assert next_delay(30, 1, jitter=0, sample=0.5, max_backoff=300) == 30
    assert next_delay(30, 2, jitter=0, sample=0.5, max_backoff=300) == 60
    assert next_delay(30, 3, jitter=0, sample=0.5, max_backoff=300) == 120
    assert next_delay(30, 50, jitter=0, sample=0.5, max_backoff=300) == 300
    assert next_delay(600, 5, jitter=0, sample=0.5, max_backoff=300) == 600


def test_poller_restarts_in_a_forked_child(loopback: LoopbackServer) -> None:
    loopback.script(DEFS_PATH, Reply.json(document("a")))
    poller = make_poller(loopback)
    assert poller.current(wait=10) is not None
    assert len(loopback.requests(DEFS_PATH)) == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read)
            inherited = poller.flagset is not None and poller.flagset.keys == ("a",)
            poller.current(wait=0)  # first use in the child starts its own thread
            deadline = time.monotonic() + 10
            while poller.fetches < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.write(write, json.dumps([inherited, poller.fetches, poller.running]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        inherited, fetches, running = json.loads(pipe.read())
    assert os.waitstatus_to_exitcode(status) == 0
    assert inherited is True
    assert fetches == 2 and running is True
    assert loopback.wait_for(lambda s: len(s.requests(DEFS_PATH)) == 2)
    poller.stop()
