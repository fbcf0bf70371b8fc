"""Event values and the pure builders that turn SDK calls into them.

Everything the SDK sends to `/batch/` is decided here, from the call's arguments plus an
`EventContext` the shell computes once (library identity, system and super properties,
GeoIP and server defaults). The shell supplies what a pure function cannot make: the
timestamp, the event uuid and, for personless events, a generated anonymous id.

The shapes and the property precedence follow posthog-python 7.91.1's `Client` so events
are interchangeable with it, field by field:

* capture-path events (`capture`, `pageview`, `feature_flag_called`, `exception_event`):
  the caller's properties, then the system properties over them (the reference lets
  system context override a caller's `$os`/`$python_*`, a known complaint, kept for
  parity), `$process_person_profile: false` for personless events unless given,
  `$groups`, then flag properties *under* all of that;
* every event: `$lib`/`$lib_version` over everything so far, `$geoip_disable: true` when
  GeoIP is disabled (the default), super properties over everything, `$release_id` only
  when still absent, and `$is_server: true` last so nothing can override it;
* `set`/`set_once`/`alias`/`group_identify` carry no system properties (nor does the
  reference's).

Property values are normalised when the event is built (`normalize`), so an `Event` only
ever holds JSON-safe values and encoding it is a single msgspec call.
"""

from __future__ import annotations

import datetime as _dt
import operator
import re
import uuid as _uuid
from collections.abc import Callable, Mapping, Sequence
from itertools import compress
from types import MappingProxyType as _MappingProxy
from types import TracebackType
from typing import Any, NamedTuple

import msgspec

from .errors import HogkitError
from .exception_list import SourceLines, exception_list
from .normalize import clean_text, normalize, normalize_properties
from .version import LIB_NAME, __version__

FlagsArg = Mapping[str, Any] | object | None

_UTC = _dt.timezone.utc
_NOTHING: Mapping[str, Any] = {}
_PERSON_PROFILE = "$process_person_profile"
_WIRE_KEYS = frozenset(
    {"event", "distinct_id", "properties", "timestamp", "uuid", "$set", "$set_once"}
)


class InvalidEvent(HogkitError, ValueError):
    """A builder or `Event.from_message` was given something that cannot become an event."""


def _frozen_props(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return normalize_properties(value) if value else {}


class Event(
    msgspec.Struct,
    frozen=True,
    omit_defaults=True,
    rename={"set": "$set", "set_once": "$set_once"},
):
    """One wire message for `/batch/`.

    `properties`, `set`, `set_once` and `extra` hold JSON-safe values only: the builders
    and `from_message` guarantee it; code constructing an `Event` directly must pass
    values through `normalize` first. `set`/`set_once` are the top-level `$set`/`$set_once`
    objects of `$set`, `$set_once` and `$identify` events. `extra` keeps any other
    top-level keys a `before_send` hook added, so they are sent as the hook intended.

    A frozen msgspec Struct rather than an attrs class: it is built once per captured
    event, and msgspec both constructs it and encodes it to the wire shape (`$set`
    renames, absent fields omitted) several times faster. Copy with changes through
    `msgspec.structs.replace`.
    """

    event: str
    distinct_id: str
    properties: Mapping[str, Any]
    timestamp: str
    uuid: str
    set: Mapping[str, Any] | None = None
    set_once: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] | None = None

    def to_message(self) -> dict[str, Any]:
        """The wire dict: a fresh top-level dict and properties dict (nested values are shared).

        This is what `before_send` hooks receive, so they can mutate it freely at the top
        level.
        """
        msg: dict[str, Any] = {
            "event": self.event,
            "distinct_id": self.distinct_id,
            "properties": dict(self.properties),
            "timestamp": self.timestamp,
            "uuid": self.uuid,
        }
        if self.set is not None:
            msg["$set"] = dict(self.set)
        if self.set_once is not None:
            msg["$set_once"] = dict(self.set_once)
        if self.extra:
            for key, value in self.extra.items():
                msg.setdefault(key, value)
        return msg

    @classmethod
    def from_message(cls, msg: Mapping[str, Any], *, fallback_uuid: str | None = None) -> Event:
        """An `Event` from a wire dict (typically a `before_send` hook's result), normalised again.

        `timestamp` may be a datetime or an ISO string; `uuid` must be a UUID (str or
        `uuid.UUID`) — when it is missing or invalid `fallback_uuid` is used if given (the
        reference replaces it with a fresh random version 4 uuid), otherwise `InvalidEvent` is raised, as
        it is for a missing event name, distinct id or timestamp or non-object properties.
        """
        if not isinstance(msg, Mapping):
            raise InvalidEvent(f"an event message must be a dict, not {type(msg).__name__}")
        event = msg.get("event")
        if event is None or event == "":
            raise InvalidEvent("the event message has no event name")
        distinct_id = _stringify_id(msg.get("distinct_id"))
        if distinct_id is None:
            raise InvalidEvent("the event message has no distinct_id")
        timestamp = format_timestamp(msg.get("timestamp"))
        if timestamp is None:
            raise InvalidEvent("the event message has no valid timestamp")
        event_uuid = normalize_uuid(msg.get("uuid"))
        if event_uuid is None:
            if fallback_uuid is None:
                raise InvalidEvent("the event message has no valid uuid")
            event_uuid = fallback_uuid
        properties = msg.get("properties")
        if properties is None:
            properties = {}
        elif not isinstance(properties, Mapping):
            raise InvalidEvent("the event message's properties must be a dict")
        extra = {k: v for k, v in msg.items() if k not in _WIRE_KEYS}
        return cls(
            event=_text_id(event),
            distinct_id=distinct_id,
            properties=normalize_properties(properties),
            timestamp=timestamp,
            uuid=event_uuid,
            set=_top_level_object(msg, "$set"),
            set_once=_top_level_object(msg, "$set_once"),
            extra=normalize_properties(extra) if extra else None,
        )


def _top_level_object(msg: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    if key not in msg:
        return None
    value = msg[key]
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidEvent(f"the event message's {key} must be a dict")
    return normalize_properties(value)


class Spliced(NamedTuple):
    """A context's common properties as JSON fragments, for `batch.encode_capture`.

    Each fragment is the inside of a JSON object (no braces). Splicing the caller's
    properties and these together gives the same bytes as merging the dicts and encoding
    the result whenever no key repeats across the parts, which `reserved` lets the encoder
    check for the caller's keys; the context only has a `Spliced` when its own parts share
    no key.
    """

    system: bytes
    tail_geoip: bytes
    tail_plain: bytes
    reserved: frozenset[str]
    flags_apart: bool
    """No common key is one `flag_properties` could produce, so a flags fragment splices too."""


_FRAGMENT_ENCODER = msgspec.json.Encoder()
_ACTIVE_FLAGS = "$active_feature_flags"
_FEATURE_PREFIX = "$feature/"


def _splice_parts(ctx: EventContext) -> Spliced | None:
    system, geoip, plain = ctx.system_properties, ctx._tail_geoip, ctx._tail_plain
    reserved = frozenset({*system, *geoip, *plain, _PERSON_PROFILE, "$groups"})
    if len(reserved) != len(system) + len(geoip.keys() | plain.keys()) + 2:
        return None  # some key appears in two parts: only a dict merge gets it right
    try:
        parts = [_FRAGMENT_ENCODER.encode(part)[1:-1] for part in (system, geoip, plain)]
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
        return None
    flags_apart = _ACTIVE_FLAGS not in reserved and not any(
        key.startswith(_FEATURE_PREFIX) for key in reserved
    )
    return Spliced(parts[0], parts[1], parts[2], reserved, flags_apart)


_CONTEXT_FIELDS = (
    "lib",
    "lib_version",
    "system_properties",
    "super_properties",
    "disable_geoip",
    "is_server",
    "release_id",
)


class EventContext:
    """What every event shares, computed once by the shell and reused for every call.

    `system_properties` are the runtime facts (`$python_runtime`, `$python_version`, `$os`,
    `$os_version`, `$os_distro`) the reference recomputes per call; `super_properties` are
    the caller's per-client properties, merged over everything but `$is_server`.
    `release_id` is the reference's `POSTHOG_RELEASE_ID` (the shell reads the environment).
    Defaults follow posthog-python 7.91.1: GeoIP disabled, server-side.

    Immutable. A plain slotted class rather than an attrs one (attrs starts `threading`
    when imported, which the core must not) or a msgspec Struct (it precomputes, once, the
    merged tail of common properties every event ends with, which a frozen Struct cannot
    store after construction).
    """

    __slots__ = (*_CONTEXT_FIELDS, "_spliced", "_tail_geoip", "_tail_plain")

    lib: str
    lib_version: str
    system_properties: Mapping[str, Any]
    super_properties: Mapping[str, Any]
    disable_geoip: bool
    is_server: bool
    release_id: str | None
    _tail_geoip: Mapping[str, Any]
    _tail_plain: Mapping[str, Any]
    _spliced: Spliced | None

    def __init__(
        self,
        lib: str = LIB_NAME,
        lib_version: str = __version__,
        system_properties: Mapping[str, Any] | None = None,
        super_properties: Mapping[str, Any] | None = None,
        disable_geoip: bool = True,
        is_server: bool = True,
        release_id: str | None = None,
    ) -> None:
        init = object.__setattr__
        supers = _frozen_props(super_properties)
        init(self, "lib", lib)
        init(self, "lib_version", lib_version)
        init(self, "system_properties", _frozen_props(system_properties))
        init(self, "super_properties", supers)
        init(self, "disable_geoip", disable_geoip)
        init(self, "is_server", is_server)
        init(self, "release_id", release_id)
        # The tail every event ends with. Without a release id, `$is_server` (which nothing
        # may override) folds into it, so `finish` is a single dict update.
        plain: dict[str, Any] = {"$lib": lib, "$lib_version": lib_version}
        with_geoip = {**plain, "$geoip_disable": True}
        last = {"$is_server": True} if is_server and release_id is None else {}
        init(self, "_tail_geoip", {**with_geoip, **supers, **last})
        init(self, "_tail_plain", {**plain, **supers, **last})
        init(self, "_spliced", _splice_parts(self) if release_id is None else None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"EventContext is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"EventContext is immutable (cannot delete {name!r})")

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _CONTEXT_FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, EventContext)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # holds dicts, like the attrs class it replaced

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in _CONTEXT_FIELDS)
        return f"EventContext({inner})"

    def finish(self, properties: dict[str, Any], disable_geoip: bool | None = None) -> None:
        """Add the common properties to `properties` in place, in the reference's order."""
        geoip_off = self.disable_geoip if disable_geoip is None else disable_geoip
        properties.update(self._tail_geoip if geoip_off else self._tail_plain)
        if self.release_id is not None:
            if "$release_id" not in properties:
                properties["$release_id"] = self.release_id
            if self.is_server:
                properties["$is_server"] = True


# ---------------------------------------------------------------------------------------
# identifiers and timestamps


_UUID_RE = re.compile(
    r"\A[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\Z"
)


def normalize_uuid(value: object) -> str | None:
    """`value` as the event uuid string if it is a UUID (`uuid.UUID` or a UUID string), else None.

    A valid string is kept as given, as the reference does; the shell substitutes a fresh
    random version 4 uuid when this answers None.
    """
    if isinstance(value, _uuid.UUID):
        return str(value)
    if value is None:
        return None
    text = value if isinstance(value, str) else _safe_str(value)
    if text is None:
        return None
    if _UUID_RE.match(text) is not None:
        return str.__str__(text)
    try:
        _uuid.UUID(text)
    except (ValueError, TypeError):
        return None
    return str.__str__(text)


_DATE_ONLY = re.compile(r"\A\d{4}-?\d{2}-?\d{2}\Z")
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})\Z")


def format_timestamp(value: object) -> str | None:
    """The wire form of an event timestamp, or None when `value` is not a usable timestamp.

    An aware datetime is converted to UTC and serialised with `isoformat()` (e.g.
    `2026-01-02T03:04:05.123456+00:00`), as the reference does. A naive datetime is taken
    as UTC: the reference's guess that a naive value within 5 s of the local clock is local
    time needs a clock, so the shell makes that call before handing the value over. ISO
    strings (with `Z` or `+HHMM`) are parsed the same way; date-only strings are rejected.
    """
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, str):
        if _DATE_ONLY.match(value):
            return None
        text = _COMPACT_OFFSET.sub(r"\1:\2", value.replace("Z", "+00:00"))
        try:
            moment = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    try:
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.replace(tzinfo=_UTC)
        return moment.astimezone(_UTC).isoformat()
    except (ValueError, OverflowError):
        return None


# Epoch seconds below this format exactly through the fast path of `format_epoch` (year 9999).
_EPOCH_LIMIT = 253_402_300_000.0
# Below 2**32 s (year 2106) a datetime's float `timestamp()` keeps its microseconds exactly.
_EXACT_FLOAT_SECONDS = 4_294_967_296.0


class _Second(NamedTuple):
    start: float  # the second, as epoch seconds (a whole number)
    dotted: str  # "YYYY-MM-DDTHH:MM:SS."
    whole: str  # "YYYY-MM-DDTHH:MM:SS+00:00"


def _second(start: int, text: str) -> _Second:
    return _Second(float(start), text[:19] + ".", text[:19] + "+00:00")


# The last formatted second, reused while events keep arriving within it. A memo, not
# state: it never changes an answer, and threads only ever swap whole tuples.
_memo = _Second(float("-inf"), "", "")


def format_epoch(seconds: float) -> str:
    """`datetime.fromtimestamp(seconds, timezone.utc).isoformat()`, the same text, faster.

    The shell samples the clock as epoch seconds (the wall clock) in the capturing thread
    and formats later. Events captured in the same second share the formatted
    `YYYY-MM-DDTHH:MM:SS` part, so most calls only format the microseconds, rounded
    half-to-even as `datetime` does. Raises `InvalidEvent` for a value no datetime can hold.
    """
    memo = _memo
    fraction = seconds - memo.start  # exact: both are doubles less than one apart
    if 0.0 <= fraction < 1.0:
        micros = round(fraction * 1e6)
        if micros < 1_000_000:
            return "%s%06d+00:00" % (memo.dotted, micros) if micros else memo.whole  # noqa: UP031
    return _format_epoch_slowly(seconds)


def _format_epoch_slowly(seconds: float) -> str:
    global _memo
    if not 0.0 <= seconds < _EPOCH_LIMIT:
        try:
            return _dt.datetime.fromtimestamp(seconds, _UTC).isoformat()
        except (ValueError, OverflowError, OSError):
            raise InvalidEvent(f"not a usable event timestamp: {seconds!r}") from None
    whole = int(seconds)
    micros = round((seconds - whole) * 1e6)
    if micros >= 1_000_000:
        whole += 1
        micros -= 1_000_000
    memo = _second(whole, _dt.datetime.fromtimestamp(whole, _UTC).isoformat())
    _memo = memo
    return "%s%06d+00:00" % (memo.dotted, micros) if micros else memo.whole  # noqa: UP031


def _utc_text(moment: _dt.datetime) -> str:
    """`moment.isoformat()` for an aware UTC datetime, through the per-second memo when it hits."""
    global _memo
    seconds = moment.timestamp()
    if not 0.0 <= seconds < _EXACT_FLOAT_SECONDS:
        return moment.isoformat()
    memo = _memo
    if 0.0 <= seconds - memo.start < 1.0:
        micros = moment.microsecond
        return "%s%06d+00:00" % (memo.dotted, micros) if micros else memo.whole  # noqa: UP031
    text = moment.isoformat()
    _memo = _second(int(seconds), text)
    return text


Timestamp = _dt.datetime | str | float
"""An event time: a datetime, an ISO 8601 string, or seconds since the Unix epoch (UTC)."""


def _timestamp(value: Timestamp) -> str:
    if type(value) is float or (type(value) is int):
        return format_epoch(value)
    if type(value) is _dt.datetime and value.tzinfo is _UTC:
        return _utc_text(value)
    text = format_timestamp(value)
    if text is None:
        raise InvalidEvent(f"not a usable event timestamp: {value!r}")
    return text


def _event_uuid(value: str | _uuid.UUID) -> str:
    if type(value) is str:
        return value
    text = normalize_uuid(value)
    if text is None:
        raise InvalidEvent(f"not a usable event uuid: {value!r}")
    return text


def _safe_str(value: object) -> str | None:
    try:
        return str(value)
    except Exception:
        return None


def _stringify_id(value: object) -> str | None:
    """A distinct id as the reference sends it: `str()` of anything but None and ''."""
    if value is None:
        return None
    if type(value) is str:
        return clean_text(value) if value else None
    text = _safe_str(value)
    return clean_text(text) if text else None


def _text_id(value: object) -> str:
    if type(value) is str:
        return value if value.isascii() else clean_text(value)
    return clean_text(_safe_str(value) or "")


def _identity(distinct_id: object, anonymous_id: object) -> tuple[str, bool]:
    """(distinct id, personless?) — an absent id falls back to the shell's anonymous id."""
    if type(distinct_id) is str and distinct_id:
        return (distinct_id if distinct_id.isascii() else clean_text(distinct_id)), False
    given = _stringify_id(distinct_id)
    if given is not None:
        return given, False
    anonymous = _stringify_id(anonymous_id)
    if anonymous is None:
        raise InvalidEvent("an event without a distinct_id needs the shell's anonymous_id")
    return anonymous, True


# ---------------------------------------------------------------------------------------
# flags attached to events


def flag_values_of(flags: FlagsArg) -> Mapping[str, Any] | None:
    """The `{key: value}` of a `flags` argument: a mapping, or any object with `flag_values`."""
    if flags is None:
        return None
    if type(flags) is dict or isinstance(flags, Mapping):
        return flags
    values = getattr(flags, "flag_values", None)
    if type(values) is _MappingProxy or type(values) is dict:
        return values
    return values if isinstance(values, Mapping) else None


def flag_properties(flags: FlagsArg) -> dict[str, Any]:
    """`$feature/<key>` for every flag and the sorted `$active_feature_flags` (omitted when none).

    A flag is active when its value is anything but False. A None value (a flag nobody
    could decide) is left out entirely, as the reference's snapshots never hold one.

    Every snapshot of one set of definitions has the same keys, so the property names and
    their sorted order are worked out once per key tuple (`_flag_layout`); a snapshot's
    values then go in with C-level `zip`/`compress` calls instead of a loop per flag.
    """
    values = flag_values_of(flags)
    if not values:
        return {}
    keys = tuple(values)
    layout = _layouts.get(keys, _UNKNOWN)
    if layout is _UNKNOWN:
        layout = _flag_layout(keys)
    if layout is not None:
        vals = tuple(values.values())
        # Only bools and non-empty strings: then "active" (not False) is plain truth.
        if _plain_flag_values(vals):
            names, sorted_names, in_order, _ = layout
            out = dict(zip(names, vals, strict=True))
            active = list(compress(sorted_names, in_order(vals)))
            if active:
                out["$active_feature_flags"] = active
            return out
    return _flag_properties_slowly(values)


def flag_fragment(flags: FlagsArg) -> bytes | None:
    """`flag_properties(flags)` as JSON without its braces (b"" when there are none), or
    None when only `flag_properties` gets them right (values other than bools and
    non-empty strings, keys that are not distinct str).

    For `batch.encode_capture`, which splices it in front of the other properties: the
    layout's struct turns a snapshot's values into the same JSON in one msgspec call,
    without a dict per event.
    """
    columns = None if isinstance(flags, Mapping) else getattr(flags, "flag_columns", None)
    if columns is not None:
        keys, vals = columns()
        if not keys:
            return b""
        # `flag_columns` promises bools and strings, so only "" needs looking for, and
        # a set of the values finds it at C speed.
        if "" in set(vals):
            return None
    else:
        values = flag_values_of(flags)
        if not values:
            return b""
        keys, vals = tuple(values), tuple(values.values())
        if not _plain_flag_values(vals):
            return None
    global _last_layout
    last_keys, layout = _last_layout
    if keys is not last_keys:
        layout = _layouts.get(keys, _UNKNOWN)
        if layout is _UNKNOWN:
            layout = _flag_layout(keys)
        _last_layout = (keys, layout)
    if layout is None:
        return None
    _, sorted_names, in_order, shape = layout
    if shape is None:
        return None
    active = list(compress(sorted_names, in_order(vals)))
    return _FRAGMENT_ENCODER.encode(shape(*vals, active or None))[1:-1]


def _plain_flag_values(vals: tuple[Any, ...]) -> bool:
    """Only bools and non-empty strings. Every value's type is checked: a set of the
    values would hide `0` behind an equal `False`, and `0` is an active flag."""
    return _FLAG_VALUE_TYPES.issuperset(map(type, vals)) and "" not in vals


def _flag_properties_slowly(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    active: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        name = _text_id(key)
        out["$feature/" + name] = (
            value if type(value) is bool or type(value) is str else normalize(value)
        )
        if value is not False:
            active.append(name)
    if active:
        active.sort()
        out["$active_feature_flags"] = active
    return out


_FlagLayout = tuple[
    tuple[str, ...],
    tuple[str, ...],
    Callable[[tuple[Any, ...]], tuple[Any, ...]],
    type[msgspec.Struct] | None,
]
"""(`$feature/<key>` names in key order, the names sorted, values of a tuple in that order,
a struct whose JSON is the properties: one field per name, then `$active_feature_flags`;
None when some name cannot be a struct field name)."""

_FLAG_VALUE_TYPES = frozenset({bool, str})
_UNKNOWN: Any = object()
_LAYOUTS_MAX = 256
# Key tuple -> its layout, or None when only the per-flag loop gets it right. A memo, not
# state: it never changes an answer, is bounded, and threads only add or clear entries.
_layouts: dict[tuple[Any, ...], _FlagLayout | None] = {}


# The last key tuple `flag_fragment` looked up, by identity: snapshots of one `FlagSet`
# share their keys tuple, and comparing identities skips hashing 40-odd keys. A memo that
# threads only ever swap whole.
_last_layout: tuple[tuple[Any, ...] | None, _FlagLayout | None] = (None, None)


def _first_only(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return values[:1]


def _flag_layout(keys: tuple[Any, ...]) -> _FlagLayout | None:
    layout: _FlagLayout | None = None
    # Only exact, distinct str keys: `1` and `True` are equal keys with different names,
    # and keys that clean to the same text would collide.
    if all(type(key) is str for key in keys):
        texts = [_text_id(key) for key in keys]
        if len(set(texts)) == len(texts):
            order = sorted(range(len(texts)), key=texts.__getitem__)
            in_order: Callable[[tuple[Any, ...]], tuple[Any, ...]] = (
                operator.itemgetter(*order) if len(order) > 1 else _first_only
            )
            names = tuple("$feature/" + text for text in texts)
            fields = [f"f{i}" for i in range(len(names))]
            shape: type[msgspec.Struct] | None
            try:
                shape = msgspec.defstruct(
                    "FlagProperties",
                    [*((field, Any) for field in fields), ("active", Any, None)],
                    rename={**dict(zip(fields, names, strict=True)), "active": _ACTIVE_FLAGS},
                    omit_defaults=True,
                    gc=False,
                )
            except (ValueError, TypeError):
                # A name msgspec will not take as a field name (`"`, `\`, control codes).
                shape = None
            layout = (names, tuple(texts[i] for i in order), in_order, shape)
    if len(_layouts) >= _LAYOUTS_MAX:
        _layouts.clear()
    _layouts[keys] = layout
    return layout


# ---------------------------------------------------------------------------------------
# builders


def capture(
    ctx: EventContext,
    event: str,
    *,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None = None,
    groups: Mapping[str, Any] | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    flags: FlagsArg = None,
    anonymous_id: str | None = None,
    disable_geoip: bool | None = None,
) -> Event:
    """A custom event, shaped like posthog-python 7.91.1's `capture()`.

    With no `distinct_id` (None or '') the event uses `anonymous_id` (a uuid the shell
    generated) and carries `$process_person_profile: false` unless the caller set it.
    `groups` becomes `$groups`; `flags` (a mapping or anything with `flag_values`) adds
    `$feature/<key>` and `$active_feature_flags` *under* the caller's properties, so
    explicit properties win. `$set`/`$set_once` inside `properties` pass through. Raises
    `InvalidEvent` when the event name is missing (None or ''), when there is no id at
    all, or when the timestamp/uuid are unusable. (The reference sends a nameless event,
    which PostHog cannot use.)
    """
    if event is None or event == "":
        raise InvalidEvent("capture needs an event name (got an empty one)")
    return Event(
        event if type(event) is str else _text_id(event),
        *_capture_fields(
            ctx,
            distinct_id,
            normalize_properties(properties) if properties else None,
            normalize_properties(groups) if groups else None,
            timestamp,
            flags,
            anonymous_id,
            disable_geoip,
        ),
        uuid if type(uuid) is str else _event_uuid(uuid),
    )


def _capture_fields(
    ctx: EventContext,
    distinct_id: object,
    properties: Mapping[str, Any] | None,
    groups: Mapping[str, Any] | None,
    timestamp: Timestamp,
    flags: FlagsArg,
    anonymous_id: object,
    disable_geoip: bool | None,
) -> tuple[str, dict[str, Any], str]:
    """(distinct id, properties, timestamp) of a capture-path event, from normalised inputs.

    Shared by `capture` and the batch module's `encode_capture`, so both produce the same
    event by construction. `properties` and `groups` are only read, never kept or changed:
    the result is one fresh dict with every layer merged in the reference's order.
    """
    # The common shapes (non-empty ASCII str id, float or aware-UTC datetime) are checked
    # inline: this is the per-event hot path, and each helper call is a measurable share.
    if type(distinct_id) is str and distinct_id and distinct_id.isascii():
        did, personless = distinct_id, False
    else:
        did, personless = _identity(distinct_id, anonymous_id)
    system = ctx.system_properties
    geoip_off = ctx.disable_geoip if disable_geoip is None else disable_geoip
    tail = ctx._tail_geoip if geoip_off else ctx._tail_plain
    base = properties or _NOTHING
    # One dict display per event: caller, system, personless flag, `$groups`, then the
    # common tail (a later layer wins, and keeps an earlier layer's key position).
    if personless and _PERSON_PROFILE not in base and _PERSON_PROFILE not in system:
        if groups:
            props = {**base, **system, _PERSON_PROFILE: False, "$groups": groups, **tail}
        else:
            props = {**base, **system, _PERSON_PROFILE: False, **tail}
    elif groups:
        props = {**base, **system, "$groups": groups, **tail}
    else:
        props = {**base, **system, **tail}
    if flags is not None:
        extra = flag_properties(flags)
        if extra:
            extra.update(props)
            props = extra
    if ctx.release_id is not None:
        if "$release_id" not in props:
            props["$release_id"] = ctx.release_id
        if ctx.is_server:
            props["$is_server"] = True
    if type(timestamp) is float:
        when = format_epoch(timestamp)
    elif type(timestamp) is _dt.datetime and timestamp.tzinfo is _UTC:
        when = _utc_text(timestamp)
    else:
        when = _timestamp(timestamp)
    return did, props, when


def pageview(
    ctx: EventContext,
    url: str,
    *,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None = None,
    groups: Mapping[str, Any] | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    flags: FlagsArg = None,
    anonymous_id: str | None = None,
    disable_geoip: bool | None = None,
) -> Event:
    """`$pageview` with `$current_url`: what the reference documents as
    `capture("$pageview", properties={"$current_url": url})` (its `page()` was removed in 6.0).
    """
    props = dict(properties) if properties else {}
    props["$current_url"] = url
    return capture(
        ctx,
        "$pageview",
        distinct_id=distinct_id,
        properties=props,
        groups=groups,
        timestamp=timestamp,
        uuid=uuid,
        flags=flags,
        anonymous_id=anonymous_id,
        disable_geoip=disable_geoip,
    )


def _person_update(
    ctx: EventContext,
    name: str,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None,
) -> Event | None:
    did = _stringify_id(distinct_id)
    if did is None or not properties:
        return None
    values = normalize_properties(properties)
    props: dict[str, Any] = {}
    ctx.finish(props, disable_geoip)
    return Event(
        event=name,
        distinct_id=did,
        properties=props,
        timestamp=_timestamp(timestamp),
        uuid=_event_uuid(uuid),
        set=values if name == "$set" else None,
        set_once=values if name == "$set_once" else None,
    )


def set_properties(
    ctx: EventContext,
    *,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None = None,
) -> Event | None:
    """A `$set` event with the person properties at the top level.

    None when there is nothing to send: no distinct id (a personless `$set` does nothing)
    or no properties, exactly when the reference's `set()` returns None.
    """
    return _person_update(ctx, "$set", distinct_id, properties, timestamp, uuid, disable_geoip)


def set_once(
    ctx: EventContext,
    *,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None = None,
) -> Event | None:
    """A `$set_once` event with the properties at the top level; None like `set_properties`."""
    return _person_update(ctx, "$set_once", distinct_id, properties, timestamp, uuid, disable_geoip)


def identify(
    ctx: EventContext,
    *,
    distinct_id: str,
    properties: Mapping[str, Any] | None = None,
    set_once_properties: Mapping[str, Any] | None = None,
    anon_distinct_id: str | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None = None,
) -> Event:
    """`$identify` with the person properties as top-level `$set` (always present, maybe empty).

    posthog-python dropped `identify()` in 6.0; this is its pre-6.0 shape (top-level
    `$set`, no system properties), plus `$anon_distinct_id` in properties when the caller
    links an anonymous id, as posthog-js does, and an optional top-level `$set_once`.
    """
    did = _stringify_id(distinct_id)
    if did is None:
        raise InvalidEvent("identify needs a distinct_id")
    props: dict[str, Any] = {}
    anon = _stringify_id(anon_distinct_id)
    if anon is not None:
        props["$anon_distinct_id"] = anon
    ctx.finish(props, disable_geoip)
    return Event(
        event="$identify",
        distinct_id=did,
        properties=props,
        timestamp=_timestamp(timestamp),
        uuid=_event_uuid(uuid),
        set=normalize_properties(properties) if properties else {},
        set_once=normalize_properties(set_once_properties) if set_once_properties else None,
    )


def alias(
    ctx: EventContext,
    *,
    previous_id: str,
    distinct_id: str,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None = None,
) -> Event:
    """`$create_alias`, sent as `previous_id` with `{"distinct_id": previous_id, "alias": distinct_id}`.

    Raises `InvalidEvent` when either id is missing (the reference drops the call with a
    warning; the shell does that on this exception).
    """
    previous = _stringify_id(previous_id)
    target = _stringify_id(distinct_id)
    if previous is None or target is None:
        raise InvalidEvent("alias needs both previous_id and distinct_id")
    props: dict[str, Any] = {"distinct_id": previous, "alias": target}
    ctx.finish(props, disable_geoip)
    return Event(
        event="$create_alias",
        distinct_id=previous,
        properties=props,
        timestamp=_timestamp(timestamp),
        uuid=_event_uuid(uuid),
    )


def group_identify(
    ctx: EventContext,
    group_type: str,
    group_key: str,
    *,
    properties: Mapping[str, Any] | None = None,
    distinct_id: str | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None = None,
) -> Event:
    """`$groupidentify` with `$group_type`, `$group_key` and `$group_set`.

    Without a distinct id the event is sent as `$<group_type>_<group_key>`, as the seed
    (Ruby) docs specify — deliberately not the reference Python SDK's random uuid, which
    creates a new throwaway person on every call. Raises `InvalidEvent` for a missing type
    or key (the reference drops those calls).
    """
    gtype = _stringify_id(group_type)
    gkey = _stringify_id(group_key)
    if gtype is None or gkey is None:
        raise InvalidEvent("group_identify needs a group_type and a group_key")
    did = _stringify_id(distinct_id) or f"${gtype}_{gkey}"
    props: dict[str, Any] = {
        "$group_type": normalize(group_type),
        "$group_key": normalize(group_key),
        "$group_set": normalize_properties(properties) if properties else {},
    }
    ctx.finish(props, disable_geoip)
    return Event(
        event="$groupidentify",
        distinct_id=did,
        properties=props,
        timestamp=_timestamp(timestamp),
        uuid=_event_uuid(uuid),
    )


# ---------------------------------------------------------------------------------------
# $feature_flag_called

MINIMAL_FLAG_CALLED_PROPERTIES: frozenset[str] = frozenset(
    {
        "$feature_flag",
        "$feature_flag_response",
        "$feature_flag_has_experiment",
        "$feature_flag_id",
        "$feature_flag_version",
        "$feature_flag_reason",
        "$feature_flag_request_id",
        "$feature_flag_evaluated_at",
        "$feature_flag_error",
        "locally_evaluated",
        "$groups",
        "$process_person_profile",
        "$session_id",
        "$lib",
        "$lib_version",
        "$is_server",
        "$geoip_disable",
        "$os",
        "$os_version",
        "$os_distro",
        "$python_runtime",
        "$python_version",
    }
)


def feature_flag_called(
    ctx: EventContext,
    *,
    distinct_id: str,
    key: str,
    response: bool | str | None,
    payload: Any = None,
    locally_evaluated: bool,
    flag_id: int | None = None,
    flag_version: int | None = None,
    reason: str | None = None,
    request_id: str | None = None,
    evaluated_at: int | None = None,
    error: str | Sequence[str] | None = None,
    has_experiment: bool | None = None,
    groups: Mapping[str, Any] | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    disable_geoip: bool | None = None,
    minimal: bool = False,
    payload_is_json: bool = False,
) -> Event:
    """`$feature_flag_called` for one flag read, with the reference's property rules.

    Always `$feature_flag`, `$feature_flag_response`, `locally_evaluated` and
    `$feature/<key>`; `$feature_flag_payload` when the (decoded) payload is not None;
    request id, evaluated-at, reason, id, version and error only when truthy (`error` may
    be a list of codes, comma-joined); `$feature_flag_has_experiment` only for a real bool.
    It then goes through the capture path (system properties, `$groups`, common
    properties). `minimal=True` applies the server-controlled allowlist of section 3.4
    (callers pass it only when the gate is on and `has_experiment is False`).

    `payload_is_json=True` says the payload is freshly decoded JSON that the event may
    keep as it is (a snapshot's payloads are): it is then not normalised again. When every
    other argument has the type the shell passes (ASCII str key, bool/str/None response,
    str reason and request id, int id, version and time), the properties are built
    directly, with no normalising pass over them; the event is the same either way.
    """
    return flag_called_event(
        ctx,
        timestamp,
        uuid,
        distinct_id,
        key,
        response,
        payload,
        locally_evaluated,
        flag_id,
        flag_version,
        reason,
        request_id,
        evaluated_at,
        error,
        has_experiment,
        groups,
        disable_geoip,
        minimal,
        payload_is_json,
    )


def flag_called_event(
    ctx: EventContext,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    distinct_id: str,
    key: str,
    response: bool | str | None,
    payload: Any,
    locally_evaluated: bool,
    flag_id: int | None,
    flag_version: int | None,
    reason: str | None,
    request_id: str | None,
    evaluated_at: int | None,
    error: str | Sequence[str] | None,
    has_experiment: bool | None,
    groups: Mapping[str, Any] | None,
    disable_geoip: bool | None,
    minimal: bool,
    payload_is_json: bool,
) -> Event:
    """`feature_flag_called` with every argument positional: the shell calls it once per
    reported read, where a keyword call of this size is a measurable share. The time and
    id come first, so the read's own fields (in the shell's `FlagCalled` order) can follow
    as one unpacked tuple."""
    if payload is None or payload_is_json:
        plain_payload = True
    else:
        kind = type(payload)
        plain_payload = (
            kind is bool
            or kind is int
            or (kind is str and payload.isascii())
            or (kind is float and payload - payload == 0.0)
        )
    error_text = (error if isinstance(error, str) else _joined(error)) if error else None
    fast = (
        plain_payload
        and type(key) is str
        and key.isascii()
        and (
            response is None
            or type(response) is bool
            or (type(response) is str and response.isascii())
        )
        and type(locally_evaluated) is bool
        and (not request_id or (type(request_id) is str and request_id.isascii()))
        and (not reason or (type(reason) is str and reason.isascii()))
        and (not evaluated_at or type(evaluated_at) is int)
        and (not flag_version or type(flag_version) is int)
        and (not flag_id or type(flag_id) is int)
        and (error_text is None or (type(error_text) is str and error_text.isascii()))
    )
    props: dict[str, Any] = {
        "$feature_flag": key,
        "$feature_flag_response": response,
        "locally_evaluated": locally_evaluated,
        f"$feature/{key}": response,
    }
    if payload is not None:
        props["$feature_flag_payload"] = payload
    if request_id:
        props["$feature_flag_request_id"] = request_id
    if evaluated_at:
        props["$feature_flag_evaluated_at"] = evaluated_at
    if reason:
        props["$feature_flag_reason"] = reason
    if flag_version:
        props["$feature_flag_version"] = flag_version
    if flag_id:
        props["$feature_flag_id"] = flag_id
    if error:
        # Not all text: `join` raises the TypeError it always has for such a list.
        props["$feature_flag_error"] = error_text if error_text is not None else ",".join(error)
    if isinstance(has_experiment, bool):
        props["$feature_flag_has_experiment"] = has_experiment
    if (
        fast
        and not groups
        and ctx.release_id is None
        and type(distinct_id) is str
        and distinct_id
        and distinct_id.isascii()
    ):
        # `_capture_fields` for the shell's usual read, inlined: `props` is ours, so the
        # common layers go straight into it (the same keys in the same order as a merge).
        props.update(ctx.system_properties)
        geoip_off = ctx.disable_geoip if disable_geoip is None else disable_geoip
        props.update(ctx._tail_geoip if geoip_off else ctx._tail_plain)
        ev = Event(
            "$feature_flag_called",
            distinct_id,
            props,
            format_epoch(timestamp) if type(timestamp) is float else _timestamp(timestamp),
            uuid if type(uuid) is str else _event_uuid(uuid),
        )
    elif fast:
        ev = Event(
            "$feature_flag_called",
            *_capture_fields(
                ctx,
                distinct_id,
                props,
                normalize_properties(groups) if groups else None,
                timestamp,
                None,
                None,
                disable_geoip,
            ),
            uuid if type(uuid) is str else _event_uuid(uuid),
        )
    else:
        ev = capture(
            ctx,
            "$feature_flag_called",
            distinct_id=distinct_id,
            properties=props,
            groups=groups,
            timestamp=timestamp,
            uuid=uuid,
            disable_geoip=disable_geoip,
        )
    if minimal:
        kept = {k: v for k, v in ev.properties.items() if k in MINIMAL_FLAG_CALLED_PROPERTIES}
        ev = msgspec.structs.replace(ev, properties=kept)
    return ev


def _joined(codes: Sequence[str]) -> str | None:
    """`codes` comma-joined, or None when they are not all text."""
    try:
        return ",".join(codes)
    except TypeError:
        return None


def flag_called_dedup_key(
    distinct_id: str, key: str, response: bool | str | None, groups: Mapping[str, Any] | None
) -> tuple[str, str, bool | str | None, tuple[tuple[str, str], ...]]:
    """What makes two flag reads "the same report": distinct id, flag, value and groups.

    Groups are compared order-insensitively as sorted `(str(type), str(key))` pairs, so a
    user read under different groups reports again, as in the reference. Payload,
    `locally_evaluated` and request id are deliberately not part of it.
    """
    groups_key = tuple(sorted((str(k), str(v)) for k, v in groups.items())) if groups else ()
    return (distinct_id, key, response, groups_key)


# ---------------------------------------------------------------------------------------
# $exception


def exception_event(
    ctx: EventContext,
    exc: BaseException,
    *,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    anonymous_id: str | None = None,
    source_lines: SourceLines | None = None,
    in_app_prefixes: Sequence[str] = (),
    project_root: str | None = None,
    fingerprint: str | None = None,
    groups: Mapping[str, Any] | None = None,
    flags: FlagsArg = None,
    disable_geoip: bool | None = None,
    level: str = "error",
    source: str | None = None,
    mechanism: Mapping[str, Any] | None = None,
    synthetic_traceback: TracebackType | None = None,
) -> Event:
    """`$exception` for `exc`, as posthog-python 7.91.1's `capture_exception` builds it.

    Properties: `$exception_list` (see `exception_list`), `$exception_level` (`level`),
    `$exception_source` when given (integrations such as `python.sys_excepthook`), then the
    caller's `properties` over them, then `$exception_fingerprint` when `fingerprint` is
    given (it wins over one in `properties`); the event then takes the capture path
    (system properties, personless handling, groups, flags, common properties). The
    shell injects `source_lines` (it reads files) and `project_root` (the reference's
    default is the working directory at client start). OpenTelemetry `$trace_id`/`$span_id`
    are the shell's to add to `properties`.
    """
    props: dict[str, Any] = {
        "$exception_list": exception_list(
            exc,
            source_lines=source_lines,
            in_app_prefixes=in_app_prefixes,
            project_root=project_root,
            mechanism=mechanism,
            synthetic_traceback=synthetic_traceback,
        ),
        "$exception_level": level,
    }
    if source:
        props["$exception_source"] = source
    if properties:
        props.update(properties)
    if fingerprint is not None:
        props["$exception_fingerprint"] = fingerprint
    return capture(
        ctx,
        "$exception",
        distinct_id=distinct_id,
        properties=props,
        groups=groups,
        timestamp=timestamp,
        uuid=uuid,
        flags=flags,
        anonymous_id=anonymous_id,
        disable_geoip=disable_geoip,
    )
