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
import contextvars
import dataclasses
import datetime as dt
import math
import threading
import uuid as _uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from hogkit.core.legacy_reads import FeatureFlagResult
from hogkit.core.normalize import unprintable_marker as unprintable
from hogkit.transport.async_client import AsyncClient
from hogkit.transport.client import Client
from hogkit.transport.evaluations import FlagEvaluations
from httpserver import LoopbackServer, Reply
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

HANG_LIMIT = 5.0
"""Seconds after which a call counts as hung: a hang detector, not a speed threshold."""

RELAXED = settings(
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ]
)

# -- hostile values ---------------------------------------------------------------------------


class Boom(Exception):
    """What the hostile objects raise."""


def _raise(*_args: Any, **_kwargs: Any) -> Any:
    raise Boom("hostile")


BROKEN_DUNDERS = ("__str__", "__repr__", "__eq__", "__hash__", "__bool__", "__len__", "__iter__")


def _broken(dunders: tuple[str, ...]) -> object:
    """An object of a fresh class whose `dunders` all raise."""
    name = "Broken" + "".join(d.strip("_").title() for d in dunders)
    namespace: dict[str, Any] = dict.fromkeys(dunders, _raise)
    if "__eq__" in dunders and "__hash__" not in dunders:
        namespace["__hash__"] = object.__hash__  # defining __eq__ alone unsets it
    return type(name, (), namespace)()


BROKEN = (*(_broken((d,)) for d in BROKEN_DUNDERS), _broken(BROKEN_DUNDERS))
HASHABLE_BROKEN = tuple(b for b in BROKEN if type(b).__hash__ is not _raise)


class BrokenMapping(Mapping[str, Any]):
    """A mapping that cannot be read: every way into it raises."""

    def __getitem__(self, key: str) -> Any:
        raise Boom("hostile")

    def __iter__(self) -> Iterator[str]:
        raise Boom("hostile")

    def __len__(self) -> int:
        raise Boom("hostile")


@dataclasses.dataclass
class Order:
    id: int
    total: Decimal
    placed: dt.datetime


@dataclasses.dataclass(frozen=True)
class Key:
    name: str


def _deep(levels: int, container: str) -> Any:
    node: Any = "bottom"
    for _ in range(levels):
        node = {"d": node} if container == "dict" else [node]
    return node


def _self_dict() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


def _self_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


NAIVE = dt.datetime(2026, 1, 2, 3, 4, 5)
AWARE = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
LONG_TEXT = "x" * 1_100_000  # over the per-event size limit on its own
SPECIAL = (
    math.nan,
    math.inf,
    -math.inf,
    -0.0,
    2**64,
    -(2**70),
    True,
    False,
    b"\xff\xfe bytes",
    bytearray(b"ba"),
    "",
    "\x00\ud800 lone surrogate",
    "x" * 10_000,
    LONG_TEXT,
    (1, "two", None),
    frozenset({1, 2}),
    {3, 4},
    NAIVE,
    AWARE,
    dt.date(2026, 1, 2),
    dt.time(1, 2),
    dt.timedelta(seconds=5),
    Decimal("1.5"),
    Decimal("NaN"),
    Decimal("Infinity"),
    _uuid.UUID(int=7),
    Order(1, Decimal("9.99"), AWARE),
    Key("k"),
    _deep(1000, "dict"),
    _deep(1000, "list"),
    _self_dict(),
    _self_list(),
    object(),
    Boom("an exception as a value"),
    print,
    complex(1, 2),
    range(3),
    *BROKEN,
    BrokenMapping(),
)


def one_of_values(choices: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """`sampled_from(choices)`, drawn by index: a strategy's repr shows its elements, and
    some of these raise from `__repr__`."""
    return st.integers(0, len(choices) - 1).map(choices.__getitem__)


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # nan and infinities included
    st.text(max_size=20),
    st.binary(max_size=10),
    one_of_values(SPECIAL),
)
keys = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.binary(max_size=5),
    st.tuples(st.integers(), st.text(max_size=3)),
    one_of_values(
        (frozenset({1}), _uuid.UUID(int=3), NAIVE, Decimal("2"), Key("k"), *HASHABLE_BROKEN)
    ),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=8,
)
mappings = st.dictionaries(keys, values, max_size=4)
"""Dicts of hostile keys and values: what `properties=` and friends receive."""
anything = st.one_of(values, mappings)
"""Any argument at all, for any parameter."""
texts = st.one_of(st.text(max_size=12), st.sampled_from(("beta", "variant", "needs-server")))
flag_keys = st.one_of(texts, anything)
unknown_kwargs = st.dictionaries(
    st.sampled_from(("foo", "context", "sendFeatureFlags", "$set", "ts", "extra")),
    anything,
    max_size=2,
)

# -- definitions and servers ------------------------------------------------------------------


def _person(key: str, operator: str, value: Any) -> dict[str, Any]:
    return {"key": key, "type": "person", "operator": operator, "value": value}


DEFINITIONS: dict[str, Any] = {
    "flags": [
        {
            "id": 1,
            "key": "beta",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [_person("email", "icontains", "@example.com")],
                        "rollout_percentage": 60,
                    }
                ],
                "payloads": {"true": '{"banner": "hi"}'},
            },
        },
        {
            "id": 2,
            "key": "variant",
            "active": True,
            "filters": {
                "groups": [{"properties": [], "rollout_percentage": 100}],
                "multivariate": {
                    "variants": [
                        {"key": "control", "rollout_percentage": 50},
                        {"key": "test", "rollout_percentage": 50},
                    ]
                },
                "payloads": {"control": "[1, 2]", "test": '"t"'},
            },
        },
        {
            "id": 3,
            "key": "in-cohort",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [{"key": "id", "type": "cohort", "value": 1}],
                        "rollout_percentage": 100,
                    }
                ]
            },
        },
        {
            "id": 4,
            "key": "depends",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [
                            {
                                "key": "1",
                                "type": "flag",
                                "value": True,
                                "operator": "flag_evaluates_to",
                                "dependency_chain": ["beta"],
                            }
                        ],
                        "rollout_percentage": 100,
                    }
                ]
            },
        },
        {
            "id": 5,
            "key": "company-flag",
            "active": True,
            "filters": {
                "aggregation_group_type_index": 0,
                "groups": [
                    {
                        "properties": [
                            {
                                "key": "size",
                                "type": "group",
                                "group_type_index": 0,
                                "operator": "gt",
                                "value": 10,
                            }
                        ],
                        "rollout_percentage": 100,
                    }
                ],
            },
        },
        {
            "id": 6,
            "key": "needs-server",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [_person("signup", "is_date_before", "-30d")],
                        "rollout_percentage": 100,
                    }
                ]
            },
        },
    ],
    "group_type_mapping": {"0": "company"},
    "cohorts": {
        "1": {
            "type": "OR",
            "values": [
                {
                    "type": "AND",
                    "values": [
                        _person("plan", "exact", ["pro", "team"]),
                        {"key": "id", "type": "cohort", "value": 2},
                    ],
                }
            ],
        },
        "2": {"type": "AND", "values": [_person("age", "gte", 18)]},
    },
}

REMOTE_ANSWER = {
    "flags": {
        "needs-server": {
            "key": "needs-server",
            "enabled": True,
            "variant": None,
            "reason": {"code": "condition_match"},
            "metadata": {"id": 6, "version": 1, "payload": '{"from": "server"}'},
        }
    },
    "requestId": "r-1",
}

GARBAGE = (
    Reply.garbage(),
    Reply(200, b"not json at all"),
    Reply(200, b'{"flags": '),
    Reply.json([1, 2, 3]),
    Reply.json({"flags": "nope", "featureFlags": [None]}),
    Reply.json({"flags": {"needs-server": {"enabled": {"x": [1]}, "variant": 7}}}),
    Reply.json({"featureFlags": {"needs-server": {"deep": True}}, "featureFlagPayloads": 3}),
    Reply.json(None),
    Reply.status_only(500),
    Reply(200, b"\xff\xfe\x00"),
)


class Harness:
    """A real client against a loopback server, with what it returned and what it reported.

    With `remote` (the default) the client downloads `DEFINITIONS` from the server (a
    secret key), evaluates locally, and asks the server's `/flags` for what local
    evaluation leaves open; without it, the definitions are handed over and it is offline.
    """

    def __init__(self, server: LoopbackServer, *, remote: bool = True, **options: Any) -> None:
        self.server = server
        self.returned: list[str] = []
        self.reports: list[tuple[Exception, list[dict[str, Any]]]] = []
        self._lock = threading.Lock()
        if remote:
            server.script("/flags/definitions", then=Reply.json(DEFINITIONS))
            options.update(secret_key="phs_test", poll_interval=3600)
        else:
            options.update(flag_definitions=DEFINITIONS)
        options.setdefault("feature_flags_request_timeout_seconds", 2)
        self.client = Client(
            "phc_test", host=server.url, on_error=self._on_error, max_retries=0, **options
        )

    def _on_error(self, error: Exception, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.reports.append((error, events))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """`client.<name>(...)`: returned, not raised, within `HANG_LIMIT`."""
        result = bounded(getattr(self.client, name), *args, **kwargs)
        if isinstance(result, str) and name in EVENT_METHODS:
            self.returned.append(result)
        return result

    def settle_and_check_books(self) -> None:
        """Every accepted event was delivered or reported lost, once; the stats balance."""
        client = self.client
        assert bounded(client.flush, 10) in (True, False)
        stats = client.stats()
        assert stats.in_flight == 0
        assert stats.accepted == stats.delivered + sum(stats.dropped.values())
        delivered = [e.get("uuid") for e in self.server.events()]
        lost = [e.get("uuid") for _, events in self.reports for e in events]
        assert len(lost) == sum(stats.dropped.values())
        # An application may give the same `uuid=` twice: each call's event counts.
        assert Counter(delivered) + Counter(lost) >= Counter(self.returned)
        for event_id, times in Counter(self.returned).items():
            assert delivered.count(event_id) + lost.count(event_id) == times, event_id
        captured = {
            e.get("uuid") for e in self.server.events() if e.get("event") != "$feature_flag_called"
        }
        assert captured <= set(self.returned)
        for error, events in self.reports:
            if events:
                assert isinstance(getattr(error, "reason", None), str)
        client.shutdown(5)


EVENT_METHODS = frozenset(
    ("capture", "set", "set_once", "identify", "alias", "group_identify", "capture_exception")
)
EVENT_METHODS |= {"pageview"}


def bounded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` on a thread: its result, or its exception re-raised here; a
    call still running after `HANG_LIMIT` seconds fails the test as a hang."""
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()  # the caller's request context goes along

    def run() -> None:
        try:
            outcome["value"] = context.run(fn, *args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_LIMIT)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def harness() -> Iterator[Harness]:
    with LoopbackServer() as server:
        server.script("/flags/", then=Reply.json(REMOTE_ANSWER))
        h = Harness(server)
        yield h
        h.client.shutdown(1)


@pytest.fixture
def offline_harness() -> Iterator[Harness]:
    with LoopbackServer() as server:
        h = Harness(server, remote=False)
        yield h
        h.client.shutdown(1)


@pytest.fixture
def garbage_harness() -> Iterator[Harness]:
    with LoopbackServer() as server:
        turn = iter(range(10**9))
        server.handle("/flags/", lambda _r: GARBAGE[next(turn) % len(GARBAGE)])
        h = Harness(server)
        yield h
        h.client.shutdown(1)


# -- return types -----------------------------------------------------------------------------


def is_event_id(result: Any) -> bool:
    return result is None or (type(result) is str and bool(result))


def is_flag_value(result: Any) -> bool:
    return result is None or type(result) in (bool, str)


def is_json(value: Any) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return True
    if type(value) is list:
        return all(is_json(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_json(v) for k, v in value.items())
    return False


def is_flag_table(result: Any) -> bool:
    return type(result) is dict and all(
        type(k) is str and type(v) in (bool, str) for k, v in result.items()
    )


# -- events -----------------------------------------------------------------------------------

events_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "distinct_id": anything,
        "properties": st.one_of(mappings, anything),
        "timestamp": anything,
        "uuid": st.one_of(anything, st.uuids(), st.uuids().map(str)),
        "groups": st.one_of(mappings, anything),
        "disable_geoip": anything,
    },
)


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


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as exc:
        return exc


exceptions = st.one_of(
    st.builds(ValueError, anything),
    st.builds(Boom, anything).map(_raised),
    st.builds(lambda v: _raised(KeyError(v)), anything),
    st.just(_raised(RecursionError("deep"))),
    anything,
)


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

read_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "groups": st.one_of(mappings, anything),
        "person_properties": st.one_of(mappings, anything),
        "group_properties": st.one_of(st.dictionaries(keys, mappings, max_size=2), anything),
        "only_evaluate_locally": anything,
        "disable_geoip": anything,
        "device_id": anything,
    },
)
distinct_ids = st.one_of(st.text(max_size=12), anything)


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


flag_read_args = st.tuples(
    flag_keys,
    distinct_ids,
    read_kwargs,
    st.one_of(st.booleans(), anything),  # send_feature_flag_events, match_value, key lists
    st.one_of(st.none(), st.lists(flag_keys, max_size=3), anything),
)


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


def test_snapshot_reads_take_keys_that_are_not_text() -> None:
    """A key that is not text names no flag: an unhashable or hostile one neither raises nor
    is recorded as read, and `only` keeps the text keys of what it is given."""
    client = Client("phc_test", send=False, flag_definitions=DEFINITIONS)
    snap = client.evaluate_flags("u")
    for key in (["beta"], {"beta": 1}, None, 7, *BROKEN):
        assert snap.get_flag(key) is None
        assert snap.is_enabled(key, default_value=True) is True
        assert snap.get_flag_payload(key) is None and snap.result(key) is None
        assert snap.remote_record(key) is None and snap.local_result(key) is None
        assert (key in snap) is False
        assert len(snap.only(key)) == 0
    assert snap.accessed == ()
    assert snap.only(["variant", 3, None]).keys == ("variant",)
    assert snap.only(iter(["variant"])).keys == ("variant",)
    client.shutdown(1)


def test_evaluation_runtime_reads_take_anything() -> None:
    """posthog-python's runtime readers, given a key or runtime no flag can have: None and
    an empty list, not an exception (an unhashable key, an `__eq__` that raises)."""
    client = Client("phc_test", send=False, flag_definitions=DEFINITIONS)
    for odd in ({"beta": 1}, ["beta"], *BROKEN):
        assert client.get_feature_flag_evaluation_runtime(odd) is None
        assert client.get_feature_flag_keys_by_evaluation_runtime(odd) == []
    assert client.get_feature_flag_keys_by_evaluation_runtime("all") == [
        f["key"] for f in DEFINITIONS["flags"]
    ]
    client.shutdown(1)


def test_tags_named_by_anything_become_properties_as_keys_do() -> None:
    """A tag name that is not text (unhashable, None, a number, one whose `str()` raises)
    is kept under the property name the same key gets in `properties=`."""
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url)
        with client.new_context():
            for name in (["a"], None, 1, BROKEN[0]):
                client.tag(name, "v")
            assert set(client.get_tags()) == {"['a']", "null", "1", unprintable(BROKEN[0])}
            assert client.capture("tagged", distinct_id="u") is not None
        assert client.capture("keyed", distinct_id="u", properties={None: "v", 1: "v"})
        assert client.flush(10)
        tagged, keyed = server.events()
        assert tagged["properties"]["$context_tags"] == sorted(client_tags(tagged))
        assert {"null", "1"} <= set(keyed["properties"]) and {"null", "1"} <= set(
            tagged["properties"]
        )
        client.shutdown(1)


def client_tags(event: dict[str, Any]) -> list[str]:
    return [k for k, v in event["properties"].items() if v == "v"]


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


def test_an_unreadable_disable_geoip_is_refused_by_the_call_not_dropped_later() -> None:
    """The common capture call is built by the worker; an argument it could not read must
    make the call itself refuse the event (None, reported), not be accepted and lost."""
    reports: list[Exception] = []
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url, on_error=lambda e, _events: reports.append(e))
        for hostile in (BROKEN[4], BROKEN[7], BrokenMapping()):
            assert client.capture("e", distinct_id="u", disable_geoip=hostile) is None
        assert client.capture("e", distinct_id="u", disable_geoip=1) is not None
        assert client.flush(10)
        stats = client.stats()
        assert (stats.accepted, stats.delivered, dict(stats.dropped)) == (1, 1, {})
        assert len(reports) == 3 and all(isinstance(e, Boom) for e in reports)
        client.shutdown(1)


def test_a_queued_call_too_large_to_send_is_reported_with_its_uuid() -> None:
    """The common capture call is accepted before it is built; when the worker finds the
    event too large, `on_error` gets the call's event name, distinct id and uuid."""
    reports: list[tuple[Exception, list[dict[str, Any]]]] = []
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url, on_error=lambda e, ev: reports.append((e, ev)))
        event_id = client.capture("big", distinct_id="u", properties={"text": LONG_TEXT})
        assert event_id is not None
        assert client.flush(10) is False
        ((error, events),) = reports
        assert getattr(error, "reason", None) == "too_large"
        assert events == [{"event": "big", "distinct_id": "u", "uuid": event_id}]
        assert dict(client.stats().dropped) == {"too_large": 1}
        client.shutdown(1)


# -- every hostile value in every parameter ---------------------------------------------------

SWEEP_VALUES = (
    *SPECIAL,
    BrokenMapping(),
    {"company": BrokenMapping()},
    {"company": BROKEN[0]},
    {BROKEN[0]: 1},
)
# method: (its positional parameters, a well-formed call by keyword)
SWEEP_CALLS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "capture": (
        ("event",),
        {
            "event": "e",
            "distinct_id": "u",
            "properties": {"a": 1},
            "timestamp": None,
            "uuid": None,
            "groups": None,
            "flags": None,
            "disable_geoip": None,
            "send_feature_flags": None,
        },
    ),
    "set": ((), {"distinct_id": "u", "properties": {"a": 1}, "timestamp": None, "uuid": None}),
    "set_once": ((), {"distinct_id": "u", "properties": {"a": 1}, "disable_geoip": None}),
    "identify": (
        ("distinct_id",),
        {"distinct_id": "u", "properties": {}, "anon_distinct_id": None},
    ),
    "alias": (("previous_id", "distinct_id"), {"previous_id": "a", "distinct_id": "b"}),
    "group_identify": (
        ("group_type", "group_key"),
        {"group_type": "company", "group_key": "k", "properties": {}, "distinct_id": None},
    ),
    "pageview": (("url",), {"url": "https://example.com", "distinct_id": "u"}),
    "capture_exception": (
        ("exception",),
        {
            "exception": ValueError("x"),
            "distinct_id": "u",
            "properties": None,
            "groups": None,
            "fingerprint": None,
            "level": "error",
            "source": None,
            "mechanism": None,
            "flags": None,
        },
    ),
    "get_feature_flag": (
        ("key", "distinct_id"),
        {
            "key": "beta",
            "distinct_id": "u",
            "groups": None,
            "person_properties": None,
            "group_properties": None,
            "only_evaluate_locally": False,
            "send_feature_flag_events": True,
            "disable_geoip": None,
            "device_id": None,
        },
    ),
    "is_feature_enabled": (
        ("key", "distinct_id"),
        {"key": "needs-server", "distinct_id": "u", "groups": None, "person_properties": None},
    ),
    "get_feature_flag_payload": (
        ("key", "distinct_id"),
        {"key": "variant", "distinct_id": "u", "match_value": None, "group_properties": None},
    ),
    "get_feature_flag_result": (
        ("key", "distinct_id"),
        {"key": "variant", "distinct_id": "u", "groups": None, "only_evaluate_locally": False},
    ),
    "get_all_flags": (
        ("distinct_id",),
        {"distinct_id": "u", "groups": None, "flag_keys_to_evaluate": None, "device_id": None},
    ),
    "get_all_flags_and_payloads": (
        ("distinct_id",),
        {"distinct_id": "u", "person_properties": None, "group_properties": None},
    ),
    "evaluate_flags": (
        ("distinct_id",),
        {
            "distinct_id": "u",
            "person_properties": None,
            "groups": None,
            "group_properties": None,
            "flag_keys": None,
            "only_evaluate_locally": False,
            "disable_geoip": None,
            "device_id": None,
        },
    ),
    "flush": ((), {"timeout": 1.0}),
}
RESULT_CHECKS: dict[str, Callable[[Any], bool]] = {
    "get_feature_flag": is_flag_value,
    "is_feature_enabled": lambda r: r in (None, True, False),
    "get_feature_flag_payload": is_json,
    "get_feature_flag_result": lambda r: r is None or isinstance(r, FeatureFlagResult),
    "get_all_flags": lambda r: r is None or is_flag_table(r),
    "get_all_flags_and_payloads": lambda r: set(r) == {"featureFlags", "featureFlagPayloads"},
    "evaluate_flags": lambda r: isinstance(r, FlagEvaluations),
    "flush": lambda r: r in (True, False),
}


@pytest.mark.parametrize("method", sorted(SWEEP_CALLS))
def test_every_hostile_value_in_every_parameter(method: str, garbage_harness: Harness) -> None:
    """Each parameter of each method, in turn, gets each hostile value (the rest stay
    well-formed): the call answers its documented type, and the books balance."""
    harness = garbage_harness
    positional, base = SWEEP_CALLS[method]
    check = RESULT_CHECKS.get(method, is_event_id)
    for param in base:
        for value in SWEEP_VALUES:
            kwargs = {**base, param: value}
            args = [kwargs.pop(name) for name in positional]
            result = harness.call(method, *args, **kwargs)
            assert check(result), (param, type(value).__name__)
            if isinstance(result, FlagEvaluations):
                assert is_flag_value(bounded(result.get_flag, "needs-server"))
                assert is_event_id(harness.call("capture", "e", distinct_id="u", flags=result))
    harness.settle_and_check_books()


# -- debug=True -------------------------------------------------------------------------------


def test_with_debug_a_distinct_id_that_cannot_be_text_raises() -> None:
    """`debug=True` is for developers: the same bad argument the default client reports to
    `on_error` reaches the caller. A distinct id whose `str()` raises has no text to send."""
    from hogkit.core.errors import InvalidEvent

    quiet_reports: list[Exception] = []
    quiet = Client("phc_test", send=False, on_error=lambda e, _ev: quiet_reports.append(e))
    loud = Client("phc_test", send=False, debug=True)
    unprintable_id = BROKEN[0]
    calls: list[Callable[[Client], Any]] = [
        lambda c: c.capture("e", distinct_id=unprintable_id),
        lambda c: c.set(distinct_id=unprintable_id, properties={"a": 1}),
        lambda c: c.set_once(distinct_id=unprintable_id, properties={"a": 1}),
        lambda c: c.identify(unprintable_id, {"a": 1}),
        lambda c: c.alias("before", unprintable_id),
        lambda c: c.group_identify("company", "k", {"a": 1}, distinct_id=unprintable_id),
        lambda c: c.capture_exception(ValueError("x"), distinct_id=unprintable_id),
    ]
    for call in calls:
        assert call(quiet) is None
        with pytest.raises(InvalidEvent, match="distinct_id"):
            call(loud)
    assert [type(e) for e in quiet_reports] == [InvalidEvent] * len(calls)
    # A value that is merely odd is no error: it is sent as its text, debug or not.
    assert loud.capture("e", distinct_id=_uuid.UUID(int=5)) is not None
    quiet.shutdown(1)
    loud.shutdown(1)


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

        def awaited(coro: Any) -> Any:
            return loop.run_until_complete(asyncio.wait_for(coro, HANG_LIMIT))

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
            assert awaited(aclient.flush(timeout)) in (True, False)

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
        assert bounded(hogkit.flush, groups) in (True, False)

    run()
    harness.settle_and_check_books()


def test_a_timeout_that_is_no_number_still_flushes_and_shuts_down() -> None:
    """flush and shutdown, given a timeout that is no finite number, wait the default
    bounded time instead of raising (AsyncClient) or skipping the shutdown (Client)."""
    with LoopbackServer() as server:
        client = Client("phc_test", host=server.url)
        assert client.capture("e", distinct_id="u") is not None
        assert client.flush([]) is True  # type: ignore[arg-type]
        assert client.capture("e", distinct_id="u") is not None
        assert client.shutdown("soon") is True  # type: ignore[arg-type]
        assert client.closed and len(server.events()) == 2

        async def run() -> tuple[bool, bool, bool]:
            aclient = AsyncClient("phc_test", server.url)
            aclient.capture("async", distinct_id="u")
            flushed = await aclient.flush([])  # type: ignore[arg-type]
            nan_flushed = await aclient.flush(math.nan)
            return flushed, nan_flushed, await aclient.shutdown(BROKEN[4])  # type: ignore[arg-type]

        assert asyncio.run(asyncio.wait_for(run(), HANG_LIMIT)) == (True, True, True)


def test_an_id_whose_eq_raises_is_still_an_id() -> None:
    """A distinct id is blank only when it is None or "": an id object whose `__eq__`
    raises is evaluated and captured like any other (as `capture` already did), not
    failed over the comparison with ""."""
    client = Client("phc_test", send=False, flag_definitions=DEFINITIONS)
    odd_id = BROKEN[2]
    expected = client.get_feature_flag("variant", str(odd_id), send_feature_flag_events=False)
    assert expected in ("control", "test")
    snap = client.evaluate_flags(odd_id)
    assert snap.distinct_id == str(odd_id)
    assert snap.get_flag("variant", send_feature_flag_events=False) == expected
    assert client.capture_exception(ValueError("x"), distinct_id=odd_id) is not None
    client.shutdown(1)


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
