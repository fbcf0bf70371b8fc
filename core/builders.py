"""The builders that turn SDK calls into `Event` values.

The shell passes the clock reading, the event id and, for personless events, a generated
anonymous id; everything else is decided here from the call and the `EventContext`.
Property precedence: the caller's properties, the system properties over them,
`$process_person_profile: false` for personless events, `$groups`, then flag properties
under all of that; `$lib`/`$lib_version`, GeoIP, super properties, `$release_id` and
`$is_server` are layered by the context. `set`/`set_once`/`alias`/`group_identify` carry
no system properties.
"""

from __future__ import annotations

import datetime as _dt
import uuid as _uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import InvalidEvent
from .event import PERSON_PROFILE, Event, EventContext, FlagsArg
from .flag_properties import flag_properties
from .normalize import normalize, normalize_properties
from .timestamps import (
    Timestamp,
    TimestampMemo,
    event_identity,
    event_name,
    format_epoch,
    given_id,
    stringify_id,
    utc_text,
    wire_timestamp,
    wire_uuid,
)

__all__ = [
    "alias",
    "capture",
    "capture_fields",
    "group_identify",
    "group_problem",
    "identify",
    "pageview",
    "set_once",
    "set_properties",
]

_UTC = _dt.timezone.utc
_NOTHING: Mapping[str, Any] = MappingProxyType({})

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
    memo: TimestampMemo | None = None,
) -> Event:
    """A custom event, shaped like posthog-python 7.91.1's `capture()`.

    With no `distinct_id` (None or '') the event uses `anonymous_id` (a uuid the shell
    generated) and carries `$process_person_profile: false` unless the caller set it.
    `groups` becomes `$groups`; `flags` (a mapping or anything with `flag_values`) adds
    `$feature/<key>` and `$active_feature_flags` *under* the caller's properties, so
    explicit properties win. `$set`/`$set_once` inside `properties` pass through. Raises
    `InvalidEvent` when the event name is missing (None or ''), when there is no id at
    all, or when the timestamp/uuid are unusable. (posthog-python sends a nameless event,
    which PostHog cannot use.) `memo`, the caller's own, speeds up the timestamp.
    """
    name = event if type(event) is str or event is None else event_name(event)
    if not name:
        raise InvalidEvent("capture needs an event name (got an empty one)")
    return Event(
        name,
        *capture_fields(
            ctx,
            distinct_id,
            normalize_properties(properties) if properties else None,
            normalize_properties(groups) if groups else None,
            timestamp,
            flags,
            anonymous_id,
            disable_geoip,
            memo,
        ),
        uuid if type(uuid) is str else wire_uuid(uuid),
    )


def capture_fields(
    ctx: EventContext,
    distinct_id: object,
    properties: Mapping[str, Any] | None,
    groups: Mapping[str, Any] | None,
    timestamp: Timestamp,
    flags: FlagsArg,
    anonymous_id: object,
    disable_geoip: bool | None,
    memo: TimestampMemo | None = None,
) -> tuple[str, dict[str, Any], str]:
    """(distinct id, properties, timestamp) of a capture-path event, from normalised inputs.

    Shared by `capture` and the batch module's `encode_capture`, so both produce the same
    event by construction. `properties` and `groups` are only read, never kept or changed:
    the result is one fresh dict with every layer merged in posthog-python's order.
    """
    # The common shapes (non-empty ASCII str id, float or aware-UTC datetime) are checked
    # inline: this is the per-event hot path, and each helper call is a measurable share.
    if type(distinct_id) is str and distinct_id and distinct_id.isascii():
        did, personless = distinct_id, False
    else:
        did, personless = event_identity(distinct_id, anonymous_id)
    system = ctx.system_properties
    geoip_off = ctx.disable_geoip if disable_geoip is None else disable_geoip
    tail = ctx.tail_geoip if geoip_off else ctx.tail_plain
    base = properties or _NOTHING
    # One dict display per event: caller, system, personless flag, `$groups`, then the
    # common tail (a later layer wins, and keeps an earlier layer's key position).
    if personless and PERSON_PROFILE not in base and PERSON_PROFILE not in system:
        if groups:
            props = {**base, **system, PERSON_PROFILE: False, "$groups": groups, **tail}
        else:
            props = {**base, **system, PERSON_PROFILE: False, **tail}
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
        when = format_epoch(timestamp, memo)
    elif type(timestamp) is _dt.datetime and timestamp.tzinfo is _UTC:
        when = utc_text(timestamp, memo)
    else:
        when = wire_timestamp(timestamp, memo)
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
    """`$pageview` with `$current_url`: what posthog-python documents as
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
    did = given_id(distinct_id)
    if did is None or not properties:
        return None
    values = normalize_properties(properties)
    props: dict[str, Any] = {}
    ctx.finish(props, disable_geoip)
    return Event(
        event=name,
        distinct_id=did,
        properties=props,
        timestamp=wire_timestamp(timestamp),
        uuid=wire_uuid(uuid),
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
    or no properties, exactly when posthog-python's `set()` returns None.
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
    did = stringify_id(distinct_id)
    if did is None:
        raise InvalidEvent("identify needs a distinct_id")
    props: dict[str, Any] = {}
    anon = stringify_id(anon_distinct_id)
    if anon is not None:
        props["$anon_distinct_id"] = anon
    ctx.finish(props, disable_geoip)
    return Event(
        event="$identify",
        distinct_id=did,
        properties=props,
        timestamp=wire_timestamp(timestamp),
        uuid=wire_uuid(uuid),
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
    """`$create_alias`, sent as `previous_id` with
    `{"distinct_id": previous_id, "alias": distinct_id}`.

    Raises `InvalidEvent` when either id is missing (posthog-python drops the call with a
    warning; the shell does that on this exception).
    """
    previous = stringify_id(previous_id)
    target = stringify_id(distinct_id)
    if previous is None or target is None:
        raise InvalidEvent("alias needs both previous_id and distinct_id")
    props: dict[str, Any] = {"distinct_id": previous, "alias": target}
    ctx.finish(props, disable_geoip)
    return Event(
        event="$create_alias",
        distinct_id=previous,
        properties=props,
        timestamp=wire_timestamp(timestamp),
        uuid=wire_uuid(uuid),
    )


def group_problem(group_type: object, group_key: object) -> InvalidEvent | None:
    """Why no `$groupidentify` can be built for this type and key (a blank or missing
    one), or None when one can. Separate from `group_identify` so that a caller which
    must refuse the call before anything else happens (posthog-python warns even on a
    disabled client) asks the same rule the builder enforces."""
    if stringify_id(group_type) is None or stringify_id(group_key) is None:
        return InvalidEvent("group_identify needs a group_type and a group_key")
    return None


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

    Without a distinct id the event is sent as `$<group_type>_<group_key>`, as posthog-ruby
    does — deliberately not posthog-python's random uuid, which creates a new throwaway
    person on every call. Raises `InvalidEvent` for a missing type or key (posthog-python
    drops those calls).
    """
    problem = group_problem(group_type, group_key)
    if problem is not None:
        raise problem
    did = given_id(distinct_id) or f"${stringify_id(group_type)}_{stringify_id(group_key)}"
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
        timestamp=wire_timestamp(timestamp),
        uuid=wire_uuid(uuid),
    )
