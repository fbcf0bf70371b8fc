"""Hostile arguments at the Client's public methods: nothing escapes, nothing hangs, nothing is lost.

Every method a posthog-python user calls is called with values an application can hold by
mistake: None, numbers (nan and infinities among them), bytes, very long text, keys that
are not text, tuples and sets, structures 1,000 levels deep or holding themselves, objects
whose `__str__`, `__repr__`, `__eq__`, `__hash__`, `__bool__`, `__len__` or `__iter__`
raise, datetimes, Decimals, UUIDs, dataclasses and keywords the method does not know.

With `debug=False` (the default) each call must return a value of its documented type, in
bounded time (the wall clock only detects a hang), and every event a call accepted must
end delivered to the loopback server or handed to `on_error` as lost, exactly once.
The clients are real: they talk to a `LoopbackServer`, one of which answers `/flags` with
garbage.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hogkit.core.legacy_reads import FeatureFlagResult
from hogkit.transport.async_client import AsyncClient
from hogkit.transport.client import Client
from hogkit.transport.evaluations import FlagEvaluations
from hostile import (
    BROKEN,
    DEFINITIONS,
    GARBAGE,
    HANG_LIMIT,
    RELAXED,
    WAIT_LIMIT,
    BrokenMapping,
    Harness,
    Key,
    anything,
    bounded,
    bounded_within,
    distinct_ids,
    events_kwargs,
    exceptions,
    flag_keys,
    flag_read_args,
    is_event_id,
    is_flag_table,
    is_flag_value,
    is_json,
    read_kwargs,
    serving,
    unknown_kwargs,
)
from httpserver import LoopbackServer, Reply
from hypothesis import example, given, settings
from hypothesis import strategies as st

# The deprecated readers are part of the surface under test; their warnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore:.* is deprecated; use :DeprecationWarning")


@pytest.fixture
def harness() -> Iterator[Harness]:
    with serving("answering") as h:
        yield h


@pytest.fixture
def offline_harness() -> Iterator[Harness]:
    with serving("offline") as h:
        yield h


@pytest.fixture
def garbage_harness() -> Iterator[Harness]:
    with serving("garbage") as h:
        yield h


@pytest.fixture(params=[False, True], ids=["queued", "sync_mode"])
def event_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A client that queues events for its worker, and one that sends on the caller's
    thread (`sync_mode`), where a send's failure meets the caller's call."""
    with LoopbackServer() as server:
        h = Harness(server, sync_mode=request.param)
        yield h
        h.client.shutdown(1)


def test_capture_takes_anything(event_harness: Harness) -> None:
    harness = event_harness

    @RELAXED
    @given(
        event=st.one_of(st.text(max_size=20), anything),
        kwargs=events_kwargs,
        flags=st.one_of(st.none(), anything),
        send_feature_flags=st.one_of(st.none(), st.booleans(), anything),
        unknown=unknown_kwargs,
    )
    def run(
        event: Any, kwargs: dict[str, Any], flags: Any, send_feature_flags: Any, unknown: Any
    ) -> None:
        extra = {"flags": flags, "send_feature_flags": send_feature_flags}
        assert is_event_id(harness.call("capture", event, **kwargs, **extra, **unknown))

    run()
    harness.settle_and_check_books()
    # The examples were not all refused: events were built, sent and stored.
    assert harness.returned and harness.server.events()


def test_person_and_group_updates_take_anything(harness: Harness) -> None:
    @RELAXED
    @given(
        method=st.sampled_from(("set", "set_once")),
        kwargs=events_kwargs,
        unknown=unknown_kwargs,
        alias_args=st.tuples(anything, anything, anything, anything),
        group_args=st.tuples(anything, anything, anything, anything, anything),
        identify_args=st.tuples(anything, anything, anything),
    )
    def run(
        method: str,
        kwargs: dict[str, Any],
        unknown: dict[str, Any],
        alias_args: tuple[Any, ...],
        group_args: tuple[Any, ...],
        identify_args: tuple[Any, ...],
    ) -> None:
        kwargs.pop("groups", None)
        assert is_event_id(harness.call(method, **kwargs, **unknown))
        previous, current, when, event_id = alias_args
        assert is_event_id(harness.call("alias", previous, current, when, event_id))
        group_type, group_key, props, when, distinct_id = group_args
        assert is_event_id(
            harness.call(
                "group_identify", group_type, group_key, props, when, distinct_id=distinct_id
            )
        )
        distinct_id, props, anon = identify_args
        assert is_event_id(harness.call("identify", distinct_id, props, anon_distinct_id=anon))
        assert is_event_id(harness.call("pageview", props, distinct_id=distinct_id))

    run()
    harness.settle_and_check_books()


def test_capture_exception_takes_anything(harness: Harness) -> None:
    @RELAXED
    @given(
        exception=exceptions,
        kwargs=events_kwargs,
        extra=st.fixed_dictionaries(
            {},
            optional={
                "fingerprint": anything,
                "level": anything,
                "source": anything,
                "mechanism": anything,
                "flags": anything,
                "send_feature_flags": anything,
            },
        ),
        unknown=unknown_kwargs,
    )
    def run(exception: Any, kwargs: Any, extra: Any, unknown: Any) -> None:
        result = harness.call("capture_exception", exception, **kwargs, **extra, **unknown)
        assert is_event_id(result)

    run()
    harness.settle_and_check_books()


# -- flag reads -------------------------------------------------------------------------------


def _check_reads(harness: Harness, key: Any, distinct_id: Any, kwargs: dict[str, Any]) -> None:
    send = kwargs.pop("send_feature_flag_events", True)
    call = harness.call
    assert is_flag_value(
        call("get_feature_flag", key, distinct_id, send_feature_flag_events=send, **kwargs)
    )
    assert call("is_feature_enabled", key, distinct_id, **kwargs) in (None, True, False)
    assert call("feature_enabled", key, distinct_id, **kwargs) in (None, True, False)
    assert is_json(call("get_feature_flag_payload", key, distinct_id, match_value=send, **kwargs))
    result = call("get_feature_flag_result", key, distinct_id, **kwargs)
    assert result is None or isinstance(result, FeatureFlagResult)
    if result is not None:
        assert is_flag_value(result.get_value()) and is_json(result.payload)
    table = call("get_all_flags", distinct_id, flag_keys_to_evaluate=send, **kwargs)
    assert table is None or is_flag_table(table)
    both = call("get_all_flags_and_payloads", distinct_id, **kwargs)
    assert set(both) == {"featureFlags", "featureFlagPayloads"}
    assert both["featureFlags"] is None or is_flag_table(both["featureFlags"])


def _check_snapshot(harness: Harness, distinct_id: Any, key: Any, kwargs: dict[str, Any]) -> None:
    flag_keys = kwargs.pop("flag_keys", None)
    kwargs.pop("send_feature_flag_events", None)
    snap = harness.call("evaluate_flags", distinct_id, flag_keys=flag_keys, **kwargs)
    assert isinstance(snap, FlagEvaluations)
    assert bounded(snap.is_enabled, key) in (True, False)
    assert is_flag_value(bounded(snap.get_flag, key))
    assert is_json(bounded(snap.get_flag_payload, key))
    assert all(type(k) is str for k in snap.keys)
    assert is_flag_table(dict(snap.flag_values))
    assert isinstance(bounded(snap.only, key), FlagEvaluations)
    assert isinstance(snap.only_accessed(), FlagEvaluations)
    assert bounded(snap.__contains__, key) in (True, False)
    # The snapshot is what `capture(flags=...)` takes.
    assert is_event_id(harness.call("capture", "with-flags", distinct_id="u", flags=snap))


@pytest.mark.parametrize("fixture", ["harness", "garbage_harness", "offline_harness"])
def test_flag_reads_take_anything(fixture: str, request: pytest.FixtureRequest) -> None:
    harness: Harness = request.getfixturevalue(fixture)
    offline = fixture == "offline_harness"

    @RELAXED
    @given(args=flag_read_args)
    def run(args: tuple[Any, ...]) -> None:
        key, distinct_id, kwargs, send, keys_arg = args
        _check_reads(harness, key, distinct_id, {**kwargs, "send_feature_flag_events": send})
        _check_snapshot(harness, distinct_id, key, {**kwargs, "flag_keys": keys_arg})

    run()
    harness.settle_and_check_books()
    # Both halves ran: the server was asked for what local evaluation left open (unless
    # offline), and flag reads reported `$feature_flag_called`.
    assert bool(harness.server.requests("/flags/")) is not offline
    assert any(e["event"] == "$feature_flag_called" for e in harness.server.events())


def test_older_flag_readers_take_anything(garbage_harness: Harness) -> None:
    harness = garbage_harness

    @RELAXED
    @given(key=flag_keys, distinct_id=distinct_ids, kwargs=read_kwargs, runtime=anything)
    def run(key: Any, distinct_id: Any, kwargs: dict[str, Any], runtime: Any) -> None:
        call = harness.call
        kwargs.pop("device_id", None)
        kwargs.pop("only_evaluate_locally", None)
        decision = call("get_flags_decision", distinct_id, **kwargs)
        assert type(decision) is dict and type(decision["flags"]) is dict
        assert type(call("get_feature_variants", distinct_id, **kwargs)) is dict
        assert type(call("get_feature_payloads", distinct_id, **kwargs)) is dict
        both = call("get_feature_flags_and_payloads", distinct_id, **kwargs)
        assert type(both) is dict
        assert is_json(call("get_remote_config_payload", key))
        keys = call("get_feature_flag_keys_by_evaluation_runtime", runtime)
        assert type(keys) is list and all(type(k) is str for k in keys)
        call("get_feature_flag_evaluation_runtime", key)

    run()
    harness.settle_and_check_books()


def test_flush_takes_anything(harness: Harness) -> None:
    @RELAXED
    @given(timeout=anything, keyword=st.booleans())
    def run(timeout: Any, keyword: bool) -> None:
        harness.call("capture", "before-flush", distinct_id="u")
        if keyword:
            assert harness.call("flush", timeout_seconds=timeout) in (True, False)
        else:
            assert harness.call("flush", timeout) in (True, False)

    run()
    harness.settle_and_check_books()


# -- contexts ---------------------------------------------------------------------------------


def test_calls_inside_a_context_take_anything(harness: Harness) -> None:
    """A context's identity, session, device and tags are merged into every event: hostile
    values there, or hostile arguments merged with them, break no call either."""

    @RELAXED
    @given(
        tags=st.lists(st.tuples(anything, anything), max_size=3),
        identity=st.tuples(anything, anything, anything),
        kwargs=events_kwargs,
        exception=exceptions,
    )
    @example(  # a blank id tested by ==, context ids tested by truthiness, unreadable properties
        tags=[],
        identity=(BROKEN[4], BROKEN[4], BROKEN[5]),
        kwargs={"distinct_id": BROKEN[2], "properties": BrokenMapping()},
        exception=ValueError("x"),
    )
    @example(  # properties that are not a mapping, merged with the context's
        tags=[("t", 1)], identity=(None, None, None), kwargs={"properties": [1, 2]}, exception=None
    )
    def run(
        tags: list[tuple[Any, Any]],
        identity: tuple[Any, Any, Any],
        kwargs: dict[str, Any],
        exception: Any,
    ) -> None:
        client = harness.client
        with bounded(client.new_context):
            for name, value in tags:
                assert bounded(client.tag, name, value) is None
            distinct_id, session, device = identity
            assert bounded(client.identify_context, distinct_id) is None
            assert bounded(client.set_context_session, session) is None
            assert bounded(client.set_context_device_id, device) is None
            assert type(bounded(client.get_tags)) is dict
            assert is_event_id(harness.call("capture", "in-context", **kwargs))
            person = {k: v for k, v in kwargs.items() if k != "groups"}
            assert is_event_id(harness.call("set", **person))
            assert is_event_id(harness.call("capture_exception", exception, **kwargs))
            snap = harness.call("evaluate_flags", kwargs.get("distinct_id"))
            assert is_flag_value(bounded(snap.get_flag, "variant"))

    run()
    harness.settle_and_check_books()


# -- AsyncClient ------------------------------------------------------------------------------


def test_async_client_takes_anything() -> None:
    """`AsyncClient` shares the Client's builders and queue; its own methods (`capture`,
    `capture_exception`, the awaited `evaluate_flags` and `flush`) take anything too, and
    none waits past the hang limit on the loop."""
    loop = asyncio.new_event_loop()
    with LoopbackServer() as server:
        turn = iter(range(10**9))
        server.handle("/flags/", lambda _r: GARBAGE[next(turn) % len(GARBAGE)])
        harness = Harness(server)
        harness.client.shutdown(1)
        aclient = AsyncClient(
            "phc_test",
            server.url,
            on_error=harness._on_error,
            flag_definitions=DEFINITIONS,
            feature_flags_request_timeout_seconds=2,
            max_retries=0,
        )
        harness.client = aclient.client

        def awaited(coro: Any, limit: float = HANG_LIMIT) -> Any:
            return loop.run_until_complete(asyncio.wait_for(coro, limit))

        @RELAXED
        @given(
            kwargs=events_kwargs,
            exception=exceptions,
            reads=read_kwargs,
            keys_arg=st.one_of(st.none(), st.lists(flag_keys, max_size=3), anything),
            key=flag_keys,
            timeout=st.one_of(st.none(), anything),
        )
        def run(
            kwargs: dict[str, Any],
            exception: Any,
            reads: dict[str, Any],
            keys_arg: Any,
            key: Any,
            timeout: Any,
        ) -> None:
            for result in (
                aclient.capture("async", **kwargs),
                aclient.capture_exception(exception, **kwargs),
            ):
                assert is_event_id(result)
                if result is not None:
                    harness.returned.append(result)
            distinct_id = kwargs.get("distinct_id")
            snap = awaited(aclient.evaluate_flags(distinct_id, flag_keys=keys_arg, **reads))
            assert isinstance(snap, FlagEvaluations)
            assert is_flag_value(snap.get_flag(key)) and is_json(snap.get_flag_payload(key))
            assert awaited(aclient.flush(timeout), WAIT_LIMIT) in (True, False)

        run()
        harness.settle_and_check_books()
        awaited(aclient.shutdown(5))
    loop.close()


# -- the module-level API ---------------------------------------------------------------------


@pytest.fixture
def default_client(harness: Harness) -> Iterator[Harness]:
    """`hogkit.capture(...)` and friends, sent through the harness's client."""
    import hogkit

    saved = {name: getattr(hogkit, name, None) for name in ("api_key", "default_client")}
    hogkit.api_key = "phc_test"
    hogkit.default_client = harness.client
    try:
        yield harness
    finally:
        for name, value in saved.items():
            setattr(hogkit, name, value)


def test_module_functions_take_anything(default_client: Harness) -> None:
    import hogkit

    harness = default_client

    @RELAXED
    @given(kwargs=events_kwargs, key=flag_keys, distinct_id=distinct_ids, groups=anything)
    def run(kwargs: dict[str, Any], key: Any, distinct_id: Any, groups: Any) -> None:
        for result in (
            bounded(hogkit.capture, "module", **kwargs),
            bounded(hogkit.set, **{k: v for k, v in kwargs.items() if k != "groups"}),
            bounded(hogkit.alias, distinct_id, key),
            bounded(hogkit.group_identify, key, distinct_id, groups),
        ):
            assert is_event_id(result)
            if result is not None:
                harness.returned.append(result)
        # posthog-python's module functions take the flag arguments by position.
        assert is_flag_value(bounded(hogkit.get_feature_flag, key, distinct_id, groups))
        assert bounded(hogkit.feature_enabled, key, distinct_id, groups) in (None, True, False)
        assert is_json(bounded(hogkit.get_feature_flag_payload, key, distinct_id, None, groups))
        table = bounded(hogkit.get_all_flags, distinct_id, groups)
        assert table is None or is_flag_table(table)
        snap = bounded(hogkit.evaluate_flags, distinct_id, groups=groups)
        assert isinstance(snap, FlagEvaluations)
        assert bounded_within(WAIT_LIMIT, hogkit.flush, groups) in (True, False)

    run()
    harness.settle_and_check_books()


# -- posthog-python 7.91.1, side by side ------------------------------------------------------

odd_ids = st.one_of(
    st.integers().filter(bool),
    st.floats().filter(bool),  # nan included: truthy, and str() gives "nan"
    st.binary(min_size=1, max_size=8),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.uuids(),
    st.decimals(allow_nan=False).filter(bool),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
    st.lists(st.integers(), min_size=1, max_size=2),
    st.builds(Key, st.text(max_size=4)),
    st.text(min_size=1, max_size=12),
)
FLAG_KEYS_DEFINED = tuple(flag["key"] for flag in DEFINITIONS["flags"])
people_props = st.fixed_dictionaries(
    {},
    optional={
        "email": st.sampled_from(("ann@example.com", "bob@other.org")),
        "plan": st.sampled_from(("pro", "free")),
        "age": st.integers(10, 30),
    },
)


@pytest.mark.filterwarnings("ignore:`get_feature_flag` is deprecated:DeprecationWarning")
def test_flag_reads_of_odd_distinct_ids_match_posthog() -> None:
    """For any distinct id both SDKs can send (truthy, with a `str()`), hogkit's flag reads
    answer what posthog-python 7.91.1's local evaluation answers."""
    import oracle

    reference = oracle.make_client(DEFINITIONS)
    client = Client("phc_test", send=False, flag_definitions=DEFINITIONS)

    @RELAXED
    @given(distinct_id=odd_ids, person=people_props, key=st.sampled_from(FLAG_KEYS_DEFINED))
    def run(distinct_id: Any, person: dict[str, Any], key: str) -> None:
        read = {"only_evaluate_locally": True, "person_properties": person}
        expected = reference.get_feature_flag(
            key, distinct_id, send_feature_flag_events=False, **read
        )
        assert client.get_feature_flag(
            key, distinct_id, send_feature_flag_events=False, **read
        ) == (expected)
        theirs = reference.evaluate_flags(distinct_id, **read)
        ours = client.evaluate_flags(distinct_id, **read)
        assert ours.get_flag(key, send_feature_flag_events=False) == theirs.get_flag(
            key, send_feature_flag_events=False
        )

    run()
    reference.shutdown()
    client.shutdown(1)


# -- a server that never answers --------------------------------------------------------------


def test_a_server_that_never_answers_blocks_no_call_past_its_deadline() -> None:
    """With `/flags` and `/batch/` hanging, hostile calls still return: flag reads give up
    at the flags timeout, captures never wait, flush and shutdown keep their deadlines,
    and every event accepted is reported lost once, with a reason."""
    with LoopbackServer() as server:
        server.handle("/flags/", lambda _r: Reply.hang())
        server.handle("/batch/", lambda _r: Reply.hang())
        harness = Harness(server, feature_flags_request_timeout_seconds=0.2)

        @settings(RELAXED, max_examples=5)  # each read waits out the flags timeout
        @given(args=flag_read_args, kwargs=events_kwargs)
        def run(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            key, distinct_id, read, _send, _keys = args
            read.pop("only_evaluate_locally", None)  # the point is to ask the server
            assert is_flag_value(harness.call("get_feature_flag", "needs-server", distinct_id))
            assert is_flag_value(harness.call("get_feature_flag", key, distinct_id, **read))
            snap = harness.call("evaluate_flags", distinct_id, **read)
            assert is_flag_value(bounded(snap.get_flag, "needs-server"))
            assert is_event_id(harness.call("capture", "while-hanging", **kwargs))

        run()
        assert server.requests("/flags/")
        assert bounded(harness.client.flush, 0.5) is False
        assert bounded(harness.client.shutdown, 1) is False
        stats = harness.client.stats()
        assert stats.delivered == 0 and stats.accepted == sum(stats.dropped.values())
        lost = Counter(e.get("uuid") for _, events in harness.reports for e in events)
        assert sum(lost.values()) == sum(stats.dropped.values())
        for event_id, times in Counter(harness.returned).items():
            assert lost[event_id] == times
        assert all(
            isinstance(getattr(error, "reason", None), str)
            for error, events in harness.reports
            if events
        )
