"""Hostile arguments, real clients and the checks the client input tests share.

The values are what an application can hand a public method by mistake: None, numbers
(nan and infinities among them), bytes, very long text, keys that are not text, tuples and
sets, structures 1,000 levels deep or holding themselves, objects whose `__str__`,
`__repr__`, `__eq__`, `__hash__`, `__bool__`, `__len__` or `__iter__` raise, a mapping
that cannot be read, datetimes, Decimals, UUIDs and dataclasses. `Harness` is a real
Client against a `LoopbackServer` that keeps what each call returned and what `on_error`
heard, and checks the books: every accepted event delivered or reported lost, once.
"""

from __future__ import annotations

import contextlib
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

from hogkit.transport.client import Client
from hogkit.transport.lifecycle import DEFAULT_TIMEOUT
from httpserver import LoopbackServer, Reply
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

HANG_LIMIT = 5.0
"""Seconds after which a call counts as hung: a hang detector, not a speed threshold."""

WAIT_LIMIT = DEFAULT_TIMEOUT + HANG_LIMIT
"""The same for flush and shutdown, which may wait out their timeout before answering, and
wait `DEFAULT_TIMEOUT` when given one that is no number: a hang is waiting past that."""
_WAITING = frozenset(("flush", "shutdown", "join"))

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
        """`client.<name>(...)`: returned, not raised, within `HANG_LIMIT` (`WAIT_LIMIT` for
        the methods that wait)."""
        limit = WAIT_LIMIT if name in _WAITING else HANG_LIMIT
        result = bounded_within(limit, getattr(self.client, name), *args, **kwargs)
        if isinstance(result, str) and name in EVENT_METHODS:
            self.returned.append(result)
        return result

    def settle_and_check_books(self) -> None:
        """Every accepted event was delivered or reported lost, once; the stats balance."""
        client = self.client
        assert self.call("flush", 10) in (True, False)
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
    return bounded_within(HANG_LIMIT, fn, *args, **kwargs)


def bounded_within(limit: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`bounded`, with a call still running after `limit` seconds failing as a hang."""
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()  # the caller's request context goes along

    def run() -> None:
        try:
            outcome["value"] = context.run(fn, *args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@contextlib.contextmanager
def serving(flags: str, **options: Any) -> Iterator[Harness]:
    """A `Harness` whose server's `/flags` is "answering" (`REMOTE_ANSWER`), "garbage"
    (each request the next of `GARBAGE`) or "offline" (the client never asks it)."""
    with LoopbackServer() as server:
        if flags == "answering":
            server.script("/flags/", then=Reply.json(REMOTE_ANSWER))
        elif flags == "garbage":
            turn = iter(range(10**9))
            server.handle("/flags/", lambda _r: GARBAGE[next(turn) % len(GARBAGE)])
        h = Harness(server, remote=flags != "offline", **options)
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


# -- argument strategies ----------------------------------------------------------------------

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


flag_read_args = st.tuples(
    flag_keys,
    distinct_ids,
    read_kwargs,
    st.one_of(st.booleans(), anything),  # send_feature_flag_events, match_value, key lists
    st.one_of(st.none(), st.lists(flag_keys, max_size=3), anything),
)
