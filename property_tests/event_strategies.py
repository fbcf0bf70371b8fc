"""Random calls of the event methods, with the values an application hands them.

An example is a set of client options (super properties, GeoIP, `is_server`) and one to six
calls among `capture`, `set`, `set_once`, `group_identify`, `alias` and `capture_exception`,
the event methods hogkit's Client and posthog's share. Property values are drawn from
everything Python code passes in practice: nested dicts, lists, tuples, sets and frozensets,
aware and naive datetimes, dates, times, Decimals (NaN, infinities, exponents beyond a
double), UUIDs, bytes (valid and invalid UTF-8), floats (NaN, ±inf, -0.0), integers beyond
64 bits, str and int subclasses, enum members, dataclasses, objects with a `dict()` of their
own, objects that only print, objects whose `__str__` raises, keys that are not text, deep nesting and empty containers.

Two kinds of input are drawn from fixed pools on purpose, so that the test can recognise
them in an event (see `OPAQUE_TEXTS` and `has_unserialisable_key`): values JSON cannot hold,
which hogkit sends as text and posthog as null, and keys JSON cannot hold, which make
posthog fail on the whole event.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from hogkit.core.normalize import unprintable_marker
from hypothesis import strategies as st
from odd_values import Count, Exported, Label, Ratio

__all__ = [
    "OPAQUE_TEXTS",
    "Call",
    "Context",
    "Example",
    "examples",
    "has_unserialisable_key",
    "raised",
]


# -- values ------------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 99


class Kind(str, enum.Enum):
    A = "kind-a"


@dataclasses.dataclass
class Item:
    sku: str
    qty: int
    extra: Any = None


class OnlyStr:
    def __str__(self) -> str:
        return "only-str"


class OnlyRepr:
    def __repr__(self) -> str:
        return "OnlyRepr()"


class BrokenStr:
    def __str__(self) -> str:
        raise RuntimeError("unprintable")


# Values JSON cannot hold: posthog sends null for them, hogkit their text (a documented choice).
_OPAQUE_VALUES: tuple[Any, ...] = (
    Colour.RED,
    Colour.BLUE,
    OnlyStr(),
    OnlyRepr(),
    BrokenStr(),
    dt.time(12, 30),
    dt.time(1, 2, 3, 456, tzinfo=dt.timezone(dt.timedelta(hours=5))),
)
_INVALID_UTF8 = (b"\xff", b"caf\xe9", b"\xc3\x28ok", b"\x80abc", b"ok\xed\xa0\x80")


def _opaque_text(value: Any) -> str:
    if isinstance(value, dt.time):
        return value.isoformat()
    try:
        return str(value)
    except Exception:
        return unprintable_marker(value)


OPAQUE_TEXTS = frozenset(
    [_opaque_text(v) for v in _OPAQUE_VALUES]
    + [b.decode("utf-8", "replace") for b in _INVALID_UTF8]
)
"""What each value posthog sends as null may be sent as by hogkit instead."""


class NoOffset(dt.tzinfo):
    """A zone that names no offset: a datetime in it counts as naive."""

    def utcoffset(self, moment: dt.datetime | None) -> None:
        return None

    def dst(self, moment: dt.datetime | None) -> None:
        return None

    def tzname(self, moment: dt.datetime | None) -> str:
        return "none"


# Fixed offsets, zones with daylight saving time (whose folds and gaps hypothesis draws),
# and one that names no offset.
_TZ = st.sampled_from(
    [
        dt.timezone.utc,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(dt.timedelta(hours=-8)),
        ZoneInfo("America/New_York"),
        ZoneInfo("Australia/Lord_Howe"),
        NoOffset(),
    ]
)
# A day inside the calendar's ends: posthog fails on a time whose UTC reading leaves it.
_DATETIMES = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.none() | _TZ
)
_HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**40), 2**53 + 1])
_DECIMALS = st.one_of(
    # A signalling NaN makes posthog's float() raise and lose the event; hogkit sends null.
    st.decimals(allow_nan=True, allow_infinity=True).filter(lambda d: not d.is_snan()),
    st.sampled_from([Decimal("1e400"), Decimal("-1e-400"), Decimal("12.50"), Decimal("-0")]),
)
_TEXT = st.text(max_size=12)

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    _HUGE_INTS,
    st.floats(),
    st.sampled_from([-0.0, 1e308, -1e-320, float("nan"), float("inf"), float("-inf")]),
    _TEXT,
    st.builds(Label, _TEXT),
    st.builds(Count, st.integers()),
    st.builds(Ratio, st.floats(allow_nan=False)),
    st.sampled_from([Level.LOW, Level.HIGH, Kind.A]),
    _DECIMALS,
    st.uuids(),
    _TEXT.map(lambda s: s.encode("utf-8")),
    st.sampled_from(_INVALID_UTF8),
    _DATETIMES,
    st.dates(),
    st.sampled_from(_OPAQUE_VALUES),
    st.builds(Exported),
)

_HASHABLE = st.one_of(st.integers(), _TEXT, st.booleans(), st.none(), st.floats(allow_nan=False))

# Keys the SDKs write themselves, which a caller's property or a super property may also set.
RESERVED_KEYS = (
    "$set",
    "$set_once",
    "$groups",
    "$process_person_profile",
    "distinct_id",
    "alias",
    "$geoip_disable",
    "$is_server",
    "$session_id",
    "$release_id",
    "$group_type",
    "$group_key",
    "$group_set",
    "$exception_level",
    "$exception_list",
    "$exception_fingerprint",
    "$exception_types",
    "$python_version",
)

keys: st.SearchStrategy[Any] = st.one_of(
    _TEXT,
    st.sampled_from(RESERVED_KEYS),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(),
    st.builds(Label, _TEXT),
    st.builds(Count, st.integers(-5, 5)),
    st.sampled_from([Level.LOW, Kind.A]),
    st.tuples(st.integers(), _TEXT),
    st.sampled_from([OnlyStr(), BrokenStr(), dt.date(2026, 1, 2)]),
)


def _mapping(
    key: st.SearchStrategy[Any], value: st.SearchStrategy[Any], max_size: int
) -> st.SearchStrategy[dict[Any, Any]]:
    """Dicts built from drawn pairs (a later pair wins an equal key, `1` and `True` alike):
    hypothesis's own `dictionaries` cannot hold keys of different types that compare equal."""
    return st.lists(st.tuples(key, value), max_size=max_size).map(dict)


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for n in range(depth):
        value = {"d": value} if n % 2 else [value]
    return value


# Nesting stays under hogkit's depth bound (`MAX_DEPTH`), past which it cuts what posthog sends.
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.sets(_HASHABLE, max_size=4),
        st.frozensets(_HASHABLE, max_size=4),
        _mapping(keys, inner, 4),
        # No sets in a dataclass: posthog copies one with `asdict`, which rebuilds its sets,
        # so their order (which no set promises) may differ from the original's.
        st.builds(Item, _TEXT, st.integers(), scalars | st.lists(scalars, max_size=3)),
    ),
    max_leaves=12,
) | st.integers(0, 60).map(_nested)

# Only dicts: posthog sends null for another kind of mapping (a `MappingProxyType`, say), in
# `$set` or as a property value, where hogkit sends its items; and it sends a list or text
# given as `properties` or `groups` as it is (or fails on it), where hogkit sends none.
properties: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.just({}),
    _mapping(keys, values, 6),
    st.dictionaries(_TEXT, scalars, max_size=4),
)


# -- ids, times and uuids ----------------------------------------------------------------------

ids: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["user-1", "user-2", "ünïcode", " padded ", "0"]),
    _TEXT,
    st.integers(),
    st.uuids(),
    st.builds(Label, _TEXT.filter(bool)),
    st.builds(Count, st.integers(0, 9)),
    st.booleans(),
    st.floats(),
    _TEXT.filter(bool).map(lambda s: s.encode("utf-8")),
    st.sampled_from(_INVALID_UTF8),
)
blank_ids = st.sampled_from([None, ""])


class ClockTime(NamedTuple):
    """A naive time `seconds` away from the clock when the call is made, as a datetime or
    as ISO text (`spelling`): both SDKs read one from the last 5 s as local time, any
    other as UTC. Drawn well inside or outside that window, so the few milliseconds
    between the two SDKs' calls cannot move it across an edge."""

    seconds: float
    spelling: str

    def read(self) -> dt.datetime | str:
        moment = dt.datetime.now() + dt.timedelta(seconds=self.seconds)
        if self.spelling == "datetime":
            return moment
        return moment.isoformat(self.spelling)


_CLOCK_TIMES = st.builds(
    ClockTime,
    st.sampled_from([0.0, -1.0, -3.5, 2.0, -30.0, -7200.0]),
    st.sampled_from(["datetime", "T", " "]),
)

timestamps: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    _DATETIMES,
    _DATETIMES.map(lambda d: d.isoformat()),
    _CLOCK_TIMES,
    st.sampled_from(
        [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.123+0530",
            "2026-01-02 03:04:05",
            "2026-01-02T03:04:05-08:00",
            "not a time",
            "",
            # Spellings `fromisoformat` reads or refuses, and date-only ones posthog refuses.
            "2026-01-02T03:04:05z",
            "20260102T030405Z",
            "2026-W01-5T03:04:05",
            "2026-01-02T03:04",
            "2026-01-02T03",
            "2026-01-02T03:04:05+05",
            "2026-01-02T03:04:05.1234567Z",
            "2026-01-02T03:04:05+0530\n",
            " 2026-01-02T03:04:05Z",
            "２０２６-01-02T03:04:05",
            "2026-01-02",
            "20260102",
            "2026-0102",
            "2026-01-02T03:04:05Z+00:00",
            "Z",
        ]
    ),
    # Dates and numbers: posthog loses the event, hogkit sends it (a documented choice).
    st.dates(),
    st.integers(0, 2**31),
    st.floats(0, 2e9),
)

event_uuids: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.uuids(),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.uuids().map(lambda u: u.urn),
    st.uuids().map(lambda u: u.urn.upper()),
    st.uuids().map(lambda u: f" {u} "),
    st.uuids().map(lambda u: f"{u}\n"),
    st.uuids().map(lambda u: str(u).encode()),
    st.uuids().map(lambda u: Label(str(u))),
    st.uuids().map(lambda u: str(u)[:-1] + "g"),
    st.sampled_from(["not-a-uuid", "", "1234", 1234, 0, True]),
)

groups: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(st.sampled_from(["company", "project", "team"]), ids, max_size=3),
    # Group types that are not plain text, and keys of every kind.
    _mapping(st.sampled_from(["company", "", Label("company"), 0, None, True]), ids | scalars, 3),
)

_GEOIP = st.sampled_from([None, True, False])


# -- calls ---------------------------------------------------------------------------------------


class Call(NamedTuple):
    """One event method call: its name, positional and keyword arguments."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def at_the_clock(self) -> Call:
        """This call with a `ClockTime` timestamp read from the clock now, so that both
        SDKs are given one and the same time."""
        stamp = self.kwargs.get("timestamp")
        if not isinstance(stamp, ClockTime):
            return self
        return self._replace(kwargs={**self.kwargs, "timestamp": stamp.read()})

    def run(self, client: Any) -> Any:
        if self.method == "capture_exception":
            return client.capture_exception(raised(*self.args), **self.kwargs)
        return getattr(client, self.method)(*self.args, **self.kwargs)


class Problem(Exception):
    """The exception `capture_exception` calls report."""


# An exception holding others (Python 3.11 and later); a plain one before.
_GROUP: Any = getattr(builtins, "ExceptionGroup", None)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("unprintable")


def _fail(kind: str, message: Any) -> None:
    if kind == "cause":
        try:
            _fail("plain", message)
        except Problem as inner:
            raise KeyError(message) from inner
    if kind == "context":
        try:
            _fail("plain", message)
        except Problem:
            raise LookupError(message)  # noqa: B904 - the implicit context is the point
    if kind == "group" and _GROUP is not None:
        raise _GROUP("several", [Problem(message), ValueError(1, b"x", None)])
    if kind == "unprintable":
        raise Unprintable(message)
    if kind == "no message":
        raise Problem()
    raise Problem(message)


EXCEPTION_KINDS = ("plain", "cause", "context", "group", "unprintable", "no message")


def raised(kind: str, message: Any) -> BaseException:
    """A fresh exception of `kind`, raised and caught at the same place each time, so two
    clients capturing one each see the same traceback."""
    try:
        _fail(kind, message)
    except Exception as error:
        return error
    raise AssertionError("unreachable")


def _common(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "timestamp": draw(timestamps),
        "uuid": draw(event_uuids),
        "disable_geoip": draw(_GEOIP),
    }


@st.composite
def _capture(draw: st.DrawFn) -> Call:
    # A nameless event is sent by posthog and refused by hogkit (PostHog cannot use it).
    # Names are text, or bytes of valid UTF-8: posthog sends a name of another type as a
    # JSON value of that type (a number, a list), which PostHog cannot use as a name, and
    # invalid UTF-8 as null; hogkit sends their text.
    names = st.one_of(st.sampled_from(["signed up", "$pageview", "ünï"]), _TEXT.filter(bool))
    event = draw(st.one_of(names, st.builds(Label, names), names.map(str.encode)))
    kwargs = {
        "distinct_id": draw(ids | blank_ids),
        "properties": draw(properties),
        "groups": draw(groups),
        **_common(draw),
    }
    return Call("capture", (event,), kwargs)


@st.composite
def _person(draw: st.DrawFn, method: str) -> Call:
    kwargs = {"distinct_id": draw(ids | blank_ids), "properties": draw(properties), **_common(draw)}
    return Call(method, (), kwargs)


@st.composite
def _group_identify(draw: st.DrawFn, context_person: bool = False) -> Call:
    group_type = draw(st.sampled_from(["company", "project"]) | ids | blank_ids)
    group_key = draw(ids | blank_ids)
    named = ids.filter(lambda i: i != "")
    kwargs = {
        "properties": draw(properties),
        # Without a distinct id (or the context's) posthog sends a random one and hogkit
        # `$<type>_<key>`, a documented difference; only calls with a person are drawn.
        "distinct_id": draw(named | blank_ids if context_person else named),
        **_common(draw),
    }
    return Call("group_identify", (group_type, group_key), kwargs)


@st.composite
def _alias(draw: st.DrawFn) -> Call:
    previous = draw(ids | blank_ids)
    target = draw(ids | blank_ids)
    return Call("alias", (previous, target), _common(draw))


@st.composite
def _capture_exception(draw: st.DrawFn) -> Call:
    kwargs = {
        "distinct_id": draw(ids | blank_ids),
        "properties": draw(properties),
        "groups": draw(groups),
        **_common(draw),
    }
    kind = draw(st.sampled_from(EXCEPTION_KINDS))
    return Call("capture_exception", (kind, draw(_TEXT | scalars)), kwargs)


def calls(context_person: bool = False) -> st.SearchStrategy[Call]:
    return st.one_of(
        _capture(),
        _person("set"),
        _person("set_once"),
        _group_identify(context_person),
        _alias(),
        _capture_exception(),
    )


class Context(NamedTuple):
    """A context every call runs in: its person, session and tags (None: no context)."""

    distinct_id: Any
    session_id: Any
    tags: dict[str, Any]


@st.composite
def contexts(draw: st.DrawFn) -> Context | None:
    if draw(st.booleans()):
        return None
    return Context(
        # Text only, as `identify_context` asks: posthog puts another kind of context id into
        # events as it is (`alias` sends `True`, 0 counts as no person), hogkit its text.
        draw(st.none() | ids.filter(lambda i: isinstance(i, str))),
        draw(st.none() | st.sampled_from(["session-1", "ünï-session"]) | _TEXT),
        draw(st.dictionaries(_TEXT | st.sampled_from(RESERVED_KEYS), values, max_size=3)),
    )


class Example(NamedTuple):
    options: dict[str, Any]
    context: Context | None
    calls: list[Call]


@st.composite
def examples(draw: st.DrawFn) -> Example:
    options: dict[str, Any] = {}
    # Text keys only: posthog merges super properties into the event before it turns keys
    # into text, so `True` there and `1` in the call's properties would be one key to it.
    super_keys = _TEXT | st.sampled_from(RESERVED_KEYS)
    super_properties = draw(st.none() | st.dictionaries(super_keys, scalars, max_size=3))
    if super_properties is not None:
        options["super_properties"] = super_properties
    for name in ("disable_geoip", "is_server"):
        choice = draw(st.sampled_from([None, True, False]))
        if choice is not None:
            options[name] = choice
    # Which frames of an `$exception` are the application's.
    modules = draw(st.sampled_from([None, ["event_strategies"], ["elsewhere"], []]))
    if modules is not None:
        options["in_app_modules"] = modules
    root = draw(st.sampled_from([None, str(Path(__file__).parent), "/nonexistent"]))
    if root is not None:
        options["project_root"] = root
    context = draw(contexts())
    context_person = context is not None and context.distinct_id not in ("", None)
    return Example(options, context, draw(st.lists(calls(context_person), min_size=1, max_size=6)))


# -- recognising inputs ------------------------------------------------------------------------

_JSON_KEYS = (str, int, float, bool, type(None))


def has_unserialisable_key(value: Any, _seen: frozenset[int] = frozenset()) -> bool:
    """Whether a dict anywhere in `value` has a key JSON cannot hold (a tuple, an object)."""
    if id(value) in _seen:
        return False
    seen = _seen | {id(value)}
    children: list[Any]
    if isinstance(value, Mapping):
        if any(not isinstance(k, _JSON_KEYS) for k in value):
            return True
        children = list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = list(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return False
    return any(has_unserialisable_key(child, seen) for child in children)


def call_inputs(call: Call) -> list[Any]:
    """Every argument of `call` that may hold property values."""
    found: Callable[[str], Any] = call.kwargs.get
    return [found("properties"), found("groups"), *call.args[2:]]
