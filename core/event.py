"""The event value and the context every builder shares.

An `Event` is immutable and holds only JSON-safe values, so encoding it is one msgspec
call. `EventContext` is what the shell computes once per client (library identity, system
and super properties, GeoIP and server defaults) and every builder layers over a call's own
properties, in the precedence posthog-python 7.91.1 uses so events are interchangeable.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

from .errors import InvalidEvent
from .normalize import normalize_properties
from .timestamps import format_timestamp, normalize_uuid, stringify_id, text_id
from .version import LIB_NAME, __version__

__all__ = [
    "ACTIVE_FLAGS",
    "FRAGMENT_ENCODER",
    "PERSON_PROFILE",
    "Event",
    "EventContext",
    "FlagsArg",
    "Spliced",
    "release_id",
]

FlagsArg = Mapping[str, Any] | object | None

_UTC = _dt.timezone.utc
PERSON_PROFILE = "$process_person_profile"
_WIRE_KEYS = frozenset(
    {"event", "distinct_id", "properties", "timestamp", "uuid", "$set", "$set_once"}
)


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
        `uuid.UUID`) — when it is missing or invalid `fallback_uuid` is used if given
        (posthog-python draws a fresh random version 4 uuid), otherwise `InvalidEvent` is
        raised, as it is for a missing event name, distinct id or timestamp or non-object
        properties.
        """
        if not isinstance(msg, Mapping):
            raise InvalidEvent(f"an event message must be a dict, not {type(msg).__name__}")
        event = msg.get("event")
        if event is None or event == "":
            raise InvalidEvent("the event message has no event name")
        distinct_id = stringify_id(msg.get("distinct_id"))
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
            event=text_id(event),
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


FRAGMENT_ENCODER = msgspec.json.Encoder()
ACTIVE_FLAGS = "$active_feature_flags"
_FEATURE_PREFIX = "$feature/"


def _splice_parts(ctx: EventContext) -> Spliced | None:
    system, geoip, plain = ctx.system_properties, ctx.tail_geoip, ctx.tail_plain
    reserved = frozenset({*system, *geoip, *plain, PERSON_PROFILE, "$groups"})
    if len(reserved) != len(system) + len(geoip.keys() | plain.keys()) + 2:
        return None  # some key appears in two parts: only a dict merge gets it right
    try:
        parts = [FRAGMENT_ENCODER.encode(part)[1:-1] for part in (system, geoip, plain)]
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
        return None
    flags_apart = ACTIVE_FLAGS not in reserved and not any(
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


def release_id(configured: str | None) -> str | None:
    """The `$release_id` every event carries, from the text a deployment configured
    (posthog-python's `POSTHOG_RELEASE_ID`): trimmed, and none at all when blank, so a
    variable set to nothing or a stray newline never sends an empty or different id."""
    if configured is None:
        return None
    return configured.strip() or None


class EventContext:
    """What every event shares, computed once by the shell and reused for every call.

    `system_properties` are the runtime facts (`$python_runtime`, `$python_version`, `$os`,
    `$os_version`, `$os_distro`) posthog-python recomputes per call; `super_properties` are
    the caller's per-client properties, merged over everything but `$is_server`.
    `release_id` is posthog-python's `POSTHOG_RELEASE_ID` (the shell reads the environment).
    Defaults follow posthog-python 7.91.1: GeoIP disabled, server-side.

    Immutable. A plain slotted class rather than an attrs one (attrs starts `threading`
    when imported, which the core must not) or a msgspec Struct (it precomputes, once, the
    merged tail of common properties every event ends with, which a frozen Struct cannot
    store after construction).
    """

    __slots__ = (
        *_CONTEXT_FIELDS,
        "closing_geoip",
        "closing_plain",
        "spliced",
        "tail_geoip",
        "tail_plain",
    )

    lib: str
    lib_version: str
    system_properties: Mapping[str, Any]
    super_properties: Mapping[str, Any]
    disable_geoip: bool
    is_server: bool
    release_id: str | None
    tail_geoip: Mapping[str, Any]
    tail_plain: Mapping[str, Any]
    closing_geoip: Mapping[str, Any]
    closing_plain: Mapping[str, Any]
    spliced: Spliced | None

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
        init(self, "tail_geoip", {**with_geoip, **supers, **last})
        init(self, "tail_plain", {**plain, **supers, **last})
        # The system properties and then the tail, merged: everything an event without
        # groups adds after its own properties, in one update (the same keys, order and
        # values as the two layers merged one after the other).
        init(self, "closing_geoip", {**self.system_properties, **self.tail_geoip})
        init(self, "closing_plain", {**self.system_properties, **self.tail_plain})
        init(self, "spliced", _splice_parts(self) if release_id is None else None)

    def with_super_properties(self, super_properties: Mapping[str, Any] | None) -> EventContext:
        """This context with other super properties, everything else kept: what a client
        whose `super_properties` are changed uses for the events after."""
        return EventContext(
            self.lib,
            self.lib_version,
            self.system_properties,
            super_properties,
            self.disable_geoip,
            self.is_server,
            self.release_id,
        )

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
        """Add the common properties to `properties` in place, in posthog-python's order."""
        geoip_off = self.disable_geoip if disable_geoip is None else disable_geoip
        properties.update(self.tail_geoip if geoip_off else self.tail_plain)
        if self.release_id is not None:
            if "$release_id" not in properties:
                properties["$release_id"] = self.release_id
            if self.is_server:
                properties["$is_server"] = True
