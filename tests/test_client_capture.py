"""The Client's capture side, end to end against a real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import posthog
import pytest
from hogkit.core.batch import MAX_EVENT_BYTES
from hogkit.core.errors import HogkitError
from hogkit.core.version import __version__
from hogkit.transport import Client, FileTransport, MemoryTransport, http
from hogkit.transport.errors import EventTooLarge, QueueFull
from hogkit.transport.ids import new_uuid
from httpserver import LoopbackServer, Reply, SilentListener, unused_url

KEY = "phc_client_test_key"
FAST = {"retry_backoff": 0.01, "retry_backoff_cap": 0.02}
IGNORED_PROPERTIES = {"$lib", "$lib_version"}
TS = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


@pytest.fixture
def make_client(loopback: LoopbackServer) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("host", loopback.url)
        for name, value in FAST.items():
            options.setdefault(name, value)
        client = Client(KEY, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=2)


def delivered(server: LoopbackServer, count: int) -> list[dict[str, Any]]:
    assert server.wait_for(lambda s: len(s.events()) >= count, timeout=10)
    return server.events()


# -- wire shapes ----------------------------------------------------------------------------------


def comparable(event: dict[str, Any], *, keep_distinct_id: bool = True) -> dict[str, Any]:
    """An event without what legitimately differs between SDKs: identity of lib, ids, times."""
    out = {k: v for k, v in event.items() if k not in {"uuid", "timestamp"}}
    out["properties"] = {
        k: v for k, v in event["properties"].items() if k not in IGNORED_PROPERTIES
    }
    if not keep_distinct_id:
        out.pop("distinct_id")
    return out


CALLS: dict[str, Callable[[Any], Any]] = {
    "capture": lambda c: c.capture(
        "order placed",
        distinct_id="user-1",
        properties={"total": 12.5, "items": ("a", "b"), "when": dt.date(2026, 1, 2)},
        groups={"company": "acme"},
    ),
    "capture without geoip disabled": lambda c: c.capture(
        "seen", distinct_id=42, disable_geoip=False
    ),
    "capture with $set": lambda c: c.capture(
        "signed up", distinct_id="u2", properties={"$set": {"plan": "pro"}, "$set_once": {"a": 1}}
    ),
    "set": lambda c: c.set(distinct_id="user-1", properties={"plan": "pro", "seats": 3}),
    "set_once": lambda c: c.set_once(distinct_id="user-1", properties={"first_seen": "today"}),
    "alias": lambda c: c.alias("anon-123", "user-1"),
    "group_identify": lambda c: c.group_identify(
        "company", "acme", {"name": "Acme", "size": 10}, distinct_id="user-1"
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_event_shapes_match_the_reference(
    loopback: LoopbackServer, make_client: Callable[..., Client], name: str
) -> None:
    call = CALLS[name]
    reference = posthog.Client(KEY, host=loopback.url, sync_mode=True)
    call(reference)
    (theirs,) = delivered(loopback, 1)
    client = make_client(sync_mode=True)
    assert call(client) is not None
    ours = delivered(loopback, 2)[1]
    assert comparable(ours) == comparable(theirs)
    assert ours["properties"]["$lib"] == "hogkit"
    assert ours["properties"]["$lib_version"] == __version__
    assert theirs["properties"]["$lib"] == "posthog-python"


@pytest.mark.parametrize("configured", ["rel-9", "  rel-9\n", "   ", ""])
def test_the_release_id_from_the_environment_reads_as_the_reference_reads_it(
    loopback: LoopbackServer,
    make_client: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
    configured: str,
) -> None:
    monkeypatch.setenv("POSTHOG_RELEASE_ID", configured)
    reference = posthog.Client(KEY, host=loopback.url, sync_mode=True)
    reference.capture("deployed", distinct_id="user-1")
    (theirs,) = delivered(loopback, 1)
    make_client(sync_mode=True).capture("deployed", distinct_id="user-1")
    ours = delivered(loopback, 2)[1]
    assert ours["properties"].get("$release_id") == theirs["properties"].get("$release_id")
    assert comparable(ours) == comparable(theirs)


def test_personless_capture_matches_the_reference(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    reference = posthog.Client(KEY, host=loopback.url, sync_mode=True)
    reference.capture("anonymous thing", properties={"k": "v"})
    client = make_client(sync_mode=True)
    client.capture("anonymous thing", properties={"k": "v"})
    theirs, ours = delivered(loopback, 2)
    assert comparable(ours, keep_distinct_id=False) == comparable(theirs, keep_distinct_id=False)
    assert ours["properties"]["$process_person_profile"] is False
    assert uuidlib.UUID(ours["distinct_id"]).version == 4


def test_full_wire_event_for_capture(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client(super_properties={"service": "api"})
    when = dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    event_id = "0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b"
    returned = client.capture(
        "checkout",
        distinct_id="u1",
        properties={"amount": 3},
        timestamp=when,
        uuid=event_id,
        flags={"beta": True, "layout": "wide", "old": False},
    )
    assert returned == event_id
    assert client.flush(5)
    (event,) = loopback.events()
    system = {k: v for k, v in event["properties"].items() if k.startswith(("$os", "$python"))}
    assert set(system) >= {"$os", "$os_version", "$python_runtime", "$python_version"}
    assert event == {
        "event": "checkout",
        "distinct_id": "u1",
        "properties": {
            "$feature/beta": True,
            "$feature/layout": "wide",
            "$feature/old": False,
            "$active_feature_flags": ["beta", "layout"],
            "amount": 3,
            **system,
            "$lib": "hogkit",
            "$lib_version": __version__,
            "$geoip_disable": True,
            "service": "api",
            "$is_server": True,
        },
        "timestamp": "2026-05-06T05:08:09.123456+00:00",
        "uuid": event_id,
    }


def test_identify_and_pageview_shapes(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    client.identify("user-9", {"email": "a@example.com"}, anon_distinct_id="anon-9")
    client.pageview("https://example.com/pricing", distinct_id="user-9")
    assert client.flush(5)
    identify, pageview = loopback.events()
    assert identify["event"] == "$identify" and identify["distinct_id"] == "user-9"
    assert identify["$set"] == {"email": "a@example.com"}
    assert identify["properties"]["$anon_distinct_id"] == "anon-9"
    assert pageview["event"] == "$pageview"
    assert pageview["properties"]["$current_url"] == "https://example.com/pricing"


def test_group_identify_without_a_distinct_id_uses_the_group(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    client.group_identify("company", "acme")
    assert client.flush(5)
    (event,) = loopback.events()
    assert event["distinct_id"] == "$company_acme"
    assert event["properties"]["$group_set"] == {}


def test_set_without_a_distinct_id_or_properties_sends_nothing(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    assert client.set(properties={"a": 1}) is None
    assert client.set_once(distinct_id="u", properties={}) is None
    assert client.flush(5)
    assert loopback.requests() == []


def _raise_value_error() -> None:
    raise ValueError("the widget broke")


def test_capture_exception_sends_the_stack_with_source(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    try:
        try:
            _raise_value_error()
        except ValueError as inner:
            raise RuntimeError("outer failure") from inner
    except RuntimeError as exc:
        first = client.capture_exception(exc, distinct_id="u1", fingerprint="widget")
        again = client.capture_exception(exc, distinct_id="u1")
    assert first is not None and again is None  # one exception object is captured once
    assert client.flush(5)
    (event,) = loopback.events()
    props = event["properties"]
    assert event["event"] == "$exception" and event["uuid"] == first
    assert props["$exception_fingerprint"] == "widget"
    assert props["$exception_level"] == "error"
    outer, cause = props["$exception_list"]
    assert (outer["type"], outer["value"]) == ("RuntimeError", "outer failure")
    assert (cause["type"], cause["mechanism"]["source"]) == ("ValueError", "cause")
    frame = cause["stacktrace"]["frames"][-1]
    assert frame["function"] == "_raise_value_error"
    assert frame["context_line"].strip() == 'raise ValueError("the widget broke")'
    assert frame["pre_context"][-1].strip() == "def _raise_value_error() -> None:"
    assert frame["abs_path"] == __file__


def test_capture_exception_of_the_exception_being_handled(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    assert client.capture_exception() is None  # nothing is being handled
    try:
        _raise_value_error()
    except ValueError:
        assert client.capture_exception(distinct_id="u") is not None
    assert client.flush(5)
    (event,) = loopback.events()
    assert event["properties"]["$exception_list"][0]["type"] == "ValueError"


def test_an_exception_never_raised_gets_the_callers_stack(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    client.capture_exception(KeyError("never raised"), distinct_id="u")
    assert client.flush(5)
    (entry,) = loopback.events()[0]["properties"]["$exception_list"]
    assert entry["mechanism"]["synthetic"] is True
    frames = entry["stacktrace"]["frames"]
    assert frames[-1]["function"] == "test_an_exception_never_raised_gets_the_callers_stack"
    assert not any((f["module"] or "").startswith("hogkit.") for f in frames)


# -- HTTP details ---------------------------------------------------------------------------------


def test_bodies_are_gzipped_by_default_and_name_hogkit(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    zipped = make_client()
    plain = make_client(gzip=False, historical_migration=True)
    zipped.capture("a", distinct_id="u")
    assert zipped.flush(5)
    plain.capture("b", distinct_id="u")
    assert plain.flush(5)
    first, second = loopback.requests("/batch/")
    assert first.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in second.headers
    assert first.headers["user-agent"] == second.headers["user-agent"] == f"hogkit/{__version__}"
    assert first.json()["historical_migration"] is False
    assert second.json()["historical_migration"] is True
    assert first.json()["api_key"] == KEY


def test_20000_events_from_8_threads_arrive_exactly_once(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()  # default queue, batching and retry settings
    returned: list[list[str | None]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def produce(n: int) -> None:
        start.wait()
        out = returned[n]
        for i in range(2500):
            out.append(client.capture("burst", distinct_id=f"t{n}", properties={"i": i}))

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(timeout=60)
    ids = [u for chunk in returned for u in chunk]
    assert None not in ids and len(set(ids)) == 20000
    received = [e["uuid"] for e in loopback.events()]
    assert len(received) == 20000 and set(received) == set(ids)
    per_thread = {
        n: [e["properties"]["i"] for e in loopback.events() if e["distinct_id"] == f"t{n}"]
        for n in range(8)
    }
    assert all(order == list(range(2500)) for order in per_thread.values())


@pytest.mark.parametrize(
    "failures",
    [
        [Reply(500), Reply(503)],
        [Reply(429, headers={"Retry-After": "0.1"})],
        [Reply.drop(), Reply.reset()],
        [Reply.hang()],
    ],
    ids=["5xx", "429-retry-after", "drop-reset", "timeout"],
)
def test_failed_sends_are_retried_without_duplicates(
    loopback: LoopbackServer, make_client: Callable[..., Client], failures: list[Reply]
) -> None:
    loopback.script("/batch/", *failures)
    client = make_client(timeout=0.3)
    ids = [client.capture("retry me", distinct_id="u", properties={"i": i}) for i in range(5)]
    assert client.flush(10)
    attempts = loopback.requests("/batch/")
    assert len(attempts) == len(failures) + 1
    assert all([e["uuid"] for e in a.json()["batch"]] == ids for a in attempts)
    assert [e["uuid"] for e in loopback.events()] == ids


def test_413_splits_batches_through_the_client(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    loopback.handle("/batch/", lambda r: Reply(413) if len(r.json()["batch"]) > 3 else Reply())
    client = make_client()
    ids = [client.capture("big", distinct_id="u", properties={"i": i}) for i in range(10)]
    assert client.flush(10)
    assert [e["uuid"] for e in loopback.events()] == ids


def test_final_failures_reach_on_error_and_the_flush_result(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    loopback.script("/batch/", Reply(400, b'{"detail": "invalid"}'))
    failures: list[tuple[Exception, list[dict[str, Any]]]] = []
    client = make_client(on_error=lambda e, batch: failures.append((e, batch)))
    event_id = client.capture("rejected", distinct_id="u")
    assert client.flush(5) is False
    ((error, batch),) = failures
    assert isinstance(error, http.StatusError) and error.status == 400
    assert [e["uuid"] for e in batch] == [event_id]
    client.capture("accepted", distinct_id="u")
    assert client.flush(5) is True


@pytest.mark.parametrize("dead", ["refused", "silent", "hung"])
def test_flush_and_shutdown_return_promptly_when_the_server_is_dead(
    loopback: LoopbackServer, dead: str
) -> None:
    """Liveness: default timeout (15 s) and retries, yet both calls return in about 1 s."""
    listener = SilentListener()
    loopback.script("/batch/", then=Reply.hang())
    host = {"refused": unused_url(), "silent": listener.url, "hung": loopback.url}[dead]
    client = Client(KEY, host=host)
    try:
        client.capture("lost", distinct_id="u")
        started = time.monotonic()
        assert client.flush(timeout=1) is False
        assert time.monotonic() - started < 5
        started = time.monotonic()
        assert client.shutdown(timeout=1) is False
        assert time.monotonic() - started < 5
    finally:
        listener.close()


# -- queue limits ---------------------------------------------------------------------------------


def test_a_full_queue_drops_new_events_and_reports_them(loopback: LoopbackServer) -> None:
    loopback.script("/batch/", Reply.hang())
    reports: list[Exception] = []
    client = Client(
        KEY,
        host=loopback.url,
        max_queue_size=5,
        max_queue_bytes=0,  # a bound in events only
        max_retries=0,
        timeout=0.5,
        on_error=lambda e, _: reports.append(e),
    )
    try:
        client.capture("first", distinct_id="u")
        client.flush(timeout=0.1)  # the worker is now stuck on the hung request
        assert loopback.wait_for(lambda s: len(s.requests()) == 1)
        results = [client.capture("more", distinct_id="u") for _ in range(9)]
        assert sum(r is None for r in results) >= 4  # the newest were dropped, not the oldest
        assert results[0] is not None
        assert client.flush(timeout=5) is False
        assert any(isinstance(e, QueueFull) for e in reports)
    finally:
        client.shutdown(timeout=1)


# -- errors and options ---------------------------------------------------------------------------


def test_bad_calls_return_none_and_reach_on_error(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    errors: list[Exception] = []
    client = make_client(on_error=lambda e, _: errors.append(e))
    assert client.alias(None, "x") is None
    assert client.group_identify("", "key") is None
    assert client.capture_exception("not an exception") is None  # type: ignore[arg-type]
    assert client.identify(None) is None
    # A nameless event is refused on every capture path (fast, flags, built in the caller).
    assert client.capture("", distinct_id="u") is None
    assert client.capture(None, distinct_id="u") is None  # type: ignore[arg-type]
    assert client.capture("", distinct_id="u", flags={"beta": True}) is None
    assert len(errors) == 7
    assert all("event name" in str(e) for e in errors[4:])
    assert client.flush(5)
    assert loopback.requests() == []


def test_debug_mode_raises(make_client: Callable[..., Client]) -> None:
    logger = logging.getLogger("hogkit")
    level, handlers = logger.level, list(logger.handlers)
    try:
        client = make_client(debug=True)
        assert logger.level == logging.DEBUG
        with pytest.raises(HogkitError):
            client.alias(None, "x")
        with pytest.raises(TypeError):
            client.capture_exception(42)  # type: ignore[arg-type]
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers


def test_before_send_can_edit_or_drop_events(
    loopback: LoopbackServer, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    def hook(event: dict[str, Any]) -> Any:
        name = event["event"]
        if name == "drop":
            return None
        if name == "boom":
            raise RuntimeError("hook failed")
        if name == "weird":
            return ["not", "a", "dict"]
        event["properties"]["edited"] = True
        event["uuid"] = "11111111-2222-4333-8444-555555555555"
        return event

    client = make_client(before_send=hook)
    assert client.capture("drop", distinct_id="u") is None
    assert client.capture("boom", distinct_id="u") is None
    assert client.capture("weird", distinct_id="u") is None
    assert client.capture("keep", distinct_id="u") == "11111111-2222-4333-8444-555555555555"
    assert client.flush(5)
    (event,) = loopback.events()
    assert event["properties"]["edited"] is True
    assert event["uuid"] == "11111111-2222-4333-8444-555555555555"


@pytest.mark.parametrize(
    "options",
    [{"disabled": True}, {"host": "eu.posthog.com"}, {"api_key": "  "}],
    ids=["disabled", "host-without-protocol", "blank-key"],
)
def test_disabled_clients_send_nothing(loopback: LoopbackServer, options: dict[str, Any]) -> None:
    key = options.pop("api_key", KEY)
    client = Client(key, host=options.pop("host", loopback.url), **options)
    assert client.disabled
    assert client.capture("x", distinct_id="u") is None
    assert client.flush(1) and client.shutdown(1)
    assert loopback.requests() == []


def test_send_false_returns_ids_but_sends_nothing(loopback: LoopbackServer) -> None:
    client = Client(KEY, host=loopback.url, send=False)
    assert client.capture("x", distinct_id="u") is not None
    assert client.shutdown(1)
    assert loopback.requests() == []


def test_sync_mode_sends_in_the_caller_thread_with_retries(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    loopback.script("/batch/", Reply(503), Reply(200), Reply(400))
    failures: list[Exception] = []
    client = make_client(sync_mode=True, on_error=lambda e, _: failures.append(e))
    first = client.capture("sync", distinct_id="u")
    assert first is not None and [e["uuid"] for e in loopback.events()] == [first]
    assert client.capture("refused", distinct_id="u") is None
    assert isinstance(failures[0], http.StatusError)


def test_captures_after_shutdown_are_refused_with_one_warning(
    loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(KEY, host=loopback.url)
    client.capture("before", distinct_id="u")
    assert client.shutdown(5)
    caplog.set_level(logging.WARNING, logger="hogkit")
    assert client.capture("after", distinct_id="u") is None
    assert client.set(distinct_id="u", properties={"a": 1}) is None
    assert len([r for r in caplog.records if "shut down" in r.getMessage()]) == 1
    assert [e["event"] for e in loopback.events()] == ["before"]
    assert client.shutdown(1)  # idempotent


def test_the_context_manager_delivers_on_exit(loopback: LoopbackServer) -> None:
    with Client(KEY, host=loopback.url) as client:
        client.capture("inside", distinct_id="u")
    assert [e["event"] for e in loopback.events()] == ["inside"]


def test_timestamps_and_uuids_from_the_caller(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    client.capture(
        "a", distinct_id="u", timestamp="2026-01-02T03:04:05+0100", uuid=uuidlib.UUID(int=5)
    )
    client.capture("b", distinct_id="u", timestamp=dt.datetime(2020, 1, 1), uuid="nope")
    client.capture("c", distinct_id="u", timestamp="not a time")
    assert client.flush(5)
    a, b, c = loopback.events()
    assert a["timestamp"] == "2026-01-02T02:04:05+00:00"
    assert a["uuid"] == str(uuidlib.UUID(int=5))
    assert b["timestamp"] == "2020-01-01T00:00:00+00:00"  # naive and far from now: UTC
    assert uuidlib.UUID(b["uuid"]).version == 4
    sent = dt.datetime.fromisoformat(c["timestamp"])
    assert abs((dt.datetime.now(dt.timezone.utc) - sent).total_seconds()) < 60


def test_on_error_may_call_flush_without_deadlock(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    loopback.script("/batch/", Reply(400))
    results: list[bool] = []
    holder: list[Client] = []

    def on_error(error: Exception, batch: list[dict[str, Any]]) -> None:
        results.append(holder[0].flush(timeout=30))
        raise RuntimeError("a careless callback")

    client = make_client(on_error=on_error)
    holder.append(client)
    client.capture("x", distinct_id="u")
    assert client.flush(5) is False
    assert results == [False]
    client.capture("y", distinct_id="u")
    assert client.flush(5)  # the worker survived the raising callback


def test_other_transports_plug_in(tmp_path: Path) -> None:
    memory = MemoryTransport()
    with Client(KEY, transport=memory) as client:
        client.capture("to memory", distinct_id="u")
    assert [e["event"] for e in memory.events] == ["to memory"]
    path = tmp_path / "events.jsonl"
    with Client(KEY, transport=FileTransport(path)) as client:
        client.capture("to file", distinct_id="u")
        client.set(distinct_id="u", properties={"a": 1})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["event"] for e in lines] == ["to file", "$set"]


@pytest.mark.parametrize("by_name", [False, True], ids=["address", "name"])
def test_events_are_flushed_at_interpreter_exit(loopback: LoopbackServer, by_name: bool) -> None:
    """A script that captures and ends sends its events on the way out: the first request
    of the process happens there, so the deadline watchdog and a name lookup (for a host
    named rather than numeric) start then, which Python 3.12.0 and 3.12.1 forbid."""
    host = loopback.url.replace("127.0.0.1", "localhost") if by_name else loopback.url
    script = textwrap.dedent(
        f"""
        from hogkit.transport import Client
        client = Client({KEY!r}, host={host!r})
        client.capture("goodbye", distinct_id="u")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert [e["event"] for e in loopback.events()] == ["goodbye"]


def test_a_capture_made_while_the_interpreter_exits_is_sent(loopback: LoopbackServer) -> None:
    """An atexit callback may be the first to capture, and so build the default client
    there: where no thread can start then (Python 3.12.0 and 3.12.1), the client sends in
    the capturing call instead of raising into the callback."""
    script = textwrap.dedent(
        f"""
        import atexit
        import hogkit
        hogkit.api_key, hogkit.host = {KEY!r}, {loopback.url!r}
        atexit.register(lambda: print("captured", bool(hogkit.capture("late", distinct_id="u"))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.split() == ["captured", "True"], done.stderr
    assert "Traceback" not in done.stderr
    assert [e["event"] for e in loopback.events()] == ["late"]


def test_a_client_built_after_the_exit_flush_sends_in_the_capturing_call(
    loopback: LoopbackServer,
) -> None:
    """An exit callback registered before hogkit was imported runs after hogkit's exit
    flush: a client it builds has no flush left to deliver a queue, so it sends at once."""
    script = textwrap.dedent(
        f"""
        import atexit

        def late():
            from hogkit import Client
            client = Client({KEY!r}, host={loopback.url!r})
            print("captured", bool(client.capture("after the flush", distinct_id="u")))

        atexit.register(late)
        import hogkit
        hogkit.Client({KEY!r}, host={loopback.url!r}).capture("before", distinct_id="u")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.split() == ["captured", "True"], done.stderr
    assert sorted(e["event"] for e in loopback.events()) == ["after the flush", "before"]


def test_the_api_key_never_reaches_logs_or_errors(
    loopback: LoopbackServer, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hogkit")
    loopback.script(
        "/batch/", Reply(503, f"upstream rejected {KEY}"), then=Reply(401, f"bad key {KEY}")
    )
    errors: list[Exception] = []
    client = make_client(on_error=lambda e, _: errors.append(e), max_retries=1)
    client.capture("secret", distinct_id="u")
    assert client.flush(5) is False
    dead = make_client(host=unused_url(), max_retries=0, on_error=lambda e, _: errors.append(e))
    dead.capture("secret", distinct_id="u")
    assert dead.flush(5) is False
    assert len(errors) == 2 and caplog.records
    assert KEY not in caplog.text
    assert all(KEY not in str(e) and KEY not in repr(e) for e in errors)
    assert KEY not in repr(client) and KEY not in repr(client.transport)


# -- the fast path: arguments queued in the caller's thread, built by the worker ------------------


def test_properties_are_captured_as_they_were_at_the_call(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    props: dict[str, Any] = {"step": 1}
    groups = {"company": "acme"}
    first = client.capture("reused dict", distinct_id="u", properties=props, groups=groups)
    props["step"] = 2
    groups["company"] = "other"
    second = client.capture("reused dict", distinct_id="u", properties=props)
    props.clear()
    assert client.flush(5)
    sent = loopback.events()
    assert [(e["uuid"], e["properties"]["step"]) for e in sent] == [(first, 1), (second, 2)]
    assert sent[0]["properties"]["$groups"] == {"company": "acme"}


def test_built_and_queued_events_keep_the_capture_order(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    calls: list[Callable[[int], str | None]] = [
        lambda i: client.capture("e", distinct_id="u", properties={"i": i}),
        lambda i: client.capture("e", distinct_id="u", properties={"i": i, "nested": [i]}),
        lambda i: client.capture("e", distinct_id="u", properties={"i": i}, timestamp=TS),
        lambda i: client.capture("e", properties={"i": i}),  # personless
        lambda i: client.capture("e", distinct_id="u", properties={"i": i}, flags={"f": True}),
    ]
    ids = [calls[i % len(calls)](i) for i in range(50)]
    assert client.flush(5)
    sent = loopback.events()
    assert [e["properties"]["i"] for e in sent] == list(range(50))
    assert [e["uuid"] for e in sent] == ids
    personless = [e for e in sent if e["properties"]["i"] % len(calls) == 3]
    assert all(e["properties"]["$process_person_profile"] is False for e in personless)
    assert len({e["distinct_id"] for e in personless}) == len(personless)  # fresh anonymous ids


def test_values_only_the_encoder_can_judge_are_still_normalised(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    client.capture(
        "odd values", distinct_id="u", properties={"nan": float("nan"), "text": "a\udfffb"}
    )
    assert client.flush(5)
    (event,) = loopback.events()
    assert event["properties"]["nan"] is None and event["properties"]["text"] == "a\ufffdb"


def test_an_oversized_event_is_reported_and_not_sent(
    loopback: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    errors: list[Exception] = []
    client = make_client(on_error=lambda e, _: errors.append(e))
    huge = "x" * (MAX_EVENT_BYTES + 1)
    assert client.capture("built here", distinct_id="u", properties={"blob": [huge]}) is None
    # A flat one is built by the worker: its uuid was returned, so the flush says it was lost.
    assert client.capture("built later", distinct_id="u", properties={"blob": huge}) is not None
    assert client.flush(5) is False
    assert [type(e) for e in errors] == [EventTooLarge, EventTooLarge]
    assert client.capture("fine", distinct_id="u") is not None
    assert client.flush(5) is True
    assert [e["event"] for e in loopback.events()] == ["fine"]


def test_event_ids_are_version_4_uuids_unique_across_threads() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def draw(n: int) -> None:
        found[n].extend(new_uuid() for _ in range(5000))

    threads = [threading.Thread(target=draw, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for chunk in found for i in chunk]
    assert len(set(ids)) == len(ids)
    # Each id shows its own counter value, whole: together they are one unbroken run
    # (the last 3 digits come from a table and the rest from a text shared by 4,096 ids).
    counters = sorted(int(text[-12:], 16) for text in ids)
    assert counters == list(range(counters[0], counters[0] + len(ids)))
    for text in ids[:: len(ids) // 50]:
        parsed = uuidlib.UUID(text)
        assert str(parsed) == text and parsed.version == 4
        assert parsed.variant == uuidlib.RFC_4122
