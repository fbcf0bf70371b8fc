"""Events to bytes: each event serialised once, exactly as it goes on the wire.

One general path, `encode_event` of a built `Event`. Two faster paths give the same bytes
for the calls that dominate real traffic, each kept because a benchmark shows it pays for
itself: `encode_capture_call` (one capture call straight to bytes; the "hogkit" vs "hogkit
Event" columns of benchmarks/bench_events.py) and `encode_plain_captures` (a worker's whole
burst in one loop; the enqueue and end-to-end rows of benchmarks/bench_client.py). Both fall
back to the general path for anything unusual, and the tests compare their bytes with it.
`encode_capture` is `encode_capture_call` with keyword arguments, not another path.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from .builders import capture, capture_fields
from .errors import InvalidEvent
from .event import Event, EventContext, FlagsArg
from .flag_properties import FlagLayouts, flag_fragment
from .limits import MAX_EVENT_BYTES
from .normalize import PLAIN_VALUE_TYPES, STR_KEY_TYPES, normalize, normalize_properties
from .timestamps import (
    MICRO_TAILS,
    Timestamp,
    TimestampMemo,
    event_identity,
    format_epoch,
    utc_text,
    wire_timestamp,
)

__all__ = [
    "PlainCapture",
    "encode_capture",
    "encode_capture_call",
    "encode_event",
    "encode_plain_captures",
]

_UTC = _dt.timezone.utc


def _fallback(value: Any) -> Any:
    return normalize(value)


_ENCODER = msgspec.json.Encoder(enc_hook=_fallback, decimal_format="number")
_DECODER = msgspec.json.Decoder()


def _wire(event: Event) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "event": event.event,
        "distinct_id": event.distinct_id,
        "properties": event.properties,
        "timestamp": event.timestamp,
        "uuid": event.uuid,
    }
    if event.set is not None:
        msg["$set"] = event.set
    if event.set_once is not None:
        msg["$set_once"] = event.set_once
    if event.extra:
        for key, value in event.extra.items():
            msg.setdefault(key, value)
    return msg


def encode_event(event: Event) -> bytes:
    """The event's compact JSON, exactly as it appears inside a `/batch/` body.

    Builders only produce JSON-safe values. An `Event` built by hand must hold normalised
    values too (`normalize_properties`): this never raises for one that does not, but
    types msgspec encodes natively (datetime, set, bytes…) then come out msgspec's way
    rather than by the normalisation rules.
    """
    try:
        if event.extra is None:
            return _ENCODER.encode(event)
        return _ENCODER.encode(_wire(event))
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
        return _ENCODER.encode(normalize_properties(_wire(event)))


# No enc_hook: anything but plain JSON types raises, and `encode_capture` takes the full path.
_STRICT = msgspec.json.Encoder()
_PERSONLESS = b'"$process_person_profile":false'


class _SplicedEvent(msgspec.Struct):
    """An `Event` whose properties are already JSON (or a dict whose last value splices the
    rest in, see `_splice_point`): same fields, same order, same names."""

    event: str
    distinct_id: str
    properties: msgspec.Raw | dict[str, Any]
    timestamp: str
    uuid: str


def _flags_apart(properties: Mapping[str, Any]) -> bool:
    """No caller key is one a `flags` argument's properties could use."""
    return "$active_feature_flags" not in properties and not any(
        key.startswith("$feature/") for key in properties
    )


def encode_capture(
    ctx: EventContext,
    event: str,
    *,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None = None,
    groups: Mapping[str, Any] | None = None,
    timestamp: Timestamp,
    uuid: str,
    flags: FlagsArg = None,
    anonymous_id: str | None = None,
    disable_geoip: bool | None = None,
    plain: bool = False,
    memo: TimestampMemo | None = None,
    layouts: FlagLayouts | None = None,
) -> bytes:
    """See `encode_capture_call`, which takes the same arguments positionally."""
    return encode_capture_call(
        ctx,
        event,
        distinct_id,
        properties,
        groups,
        timestamp,
        uuid,
        flags,
        anonymous_id,
        disable_geoip,
        plain,
        memo,
        layouts,
    )


def encode_capture_call(
    ctx: EventContext,
    event: str,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None,
    groups: Mapping[str, Any] | None,
    timestamp: Timestamp,
    uuid: str,
    flags: FlagsArg,
    anonymous_id: str | None,
    disable_geoip: bool | None,
    plain: bool,
    memo: TimestampMemo | None = None,
    layouts: FlagLayouts | None = None,
) -> bytes:
    """`encode_event(capture(...))` with the same arguments: the same bytes, built faster.

    This is the per-event work of a client's worker. When `properties` and `groups` are
    plain (`is_plain`; `plain=True` says the caller has checked both), nothing is
    normalised ahead of time, and msgspec's own checks stand in for normalisation (NaN and
    ±Inf encode as null, as normalised; a lone surrogate makes the encoder refuse). When in
    addition the caller's keys are none of the context's own, their JSON is spliced
    between the context's pre-encoded common properties (`Spliced`) instead of merging
    dicts, and so are `flags` (`events.flag_fragment`) when no key of theirs repeats.
    Anything else, or any refusal, takes the full `capture` + `encode_event` path, so the
    result never depends on which path ran. Raises `InvalidEvent` exactly when `capture`
    does. Positional because a client's `capture(flags=...)` calls it per event, where a
    keyword call of this size is a measurable share. `encode_capture` is the same function
    with keyword arguments, not another path. `memo` and `layouts`, the caller's own, speed
    up the timestamp (`format_epoch`) and the flags' fragment (without `layouts`, flags
    take the full path).
    """
    if type(event) is str and event and type(uuid) is str:
        if not plain:
            # `is_plain` inline, as the hot path cannot spare two calls per event.
            plain = (
                not properties
                or (
                    type(properties) is dict
                    and PLAIN_VALUE_TYPES.issuperset(map(type, properties.values()))
                    and STR_KEY_TYPES.issuperset(map(type, properties))
                )
            ) and (
                not groups
                or (
                    type(groups) is dict
                    and PLAIN_VALUE_TYPES.issuperset(map(type, groups.values()))
                    and STR_KEY_TYPES.issuperset(map(type, groups))
                )
            )
        spliced = ctx.spliced
        try:
            fragment: bytes | None = b""
            if (
                plain
                and spliced is not None
                and (flags is None or spliced.flags_apart)
                and (not properties or spliced.reserved.isdisjoint(properties))
                and (
                    flags is None
                    or (
                        (not properties or _flags_apart(properties))
                        and layouts is not None
                        and (fragment := flag_fragment(flags, layouts)) is not None
                    )
                )
            ):
                # Flags, caller, system, personless flag, `$groups`, common tail: the order
                # in which `capture_fields` merges them, and no key repeats across them.
                if type(distinct_id) is str and distinct_id and distinct_id.isascii():
                    did, personless = distinct_id, False
                else:
                    did, personless = event_identity(distinct_id, anonymous_id)
                parts = [fragment] if fragment else []
                if properties:
                    parts.append(_STRICT.encode(properties)[1:-1])
                if spliced.system:
                    parts.append(spliced.system)
                if personless:
                    parts.append(_PERSONLESS)
                if groups:
                    parts.append(b'"$groups":' + _STRICT.encode(groups))
                if ctx.disable_geoip if disable_geoip is None else disable_geoip:
                    parts.append(spliced.tail_geoip)
                else:
                    parts.append(spliced.tail_plain)
                # One join inside another: a copy of the (flag-heavy) body fewer than `+`.
                body = msgspec.Raw(b"".join((b"{", b",".join(parts), b"}")))
                if type(timestamp) is float:
                    when = format_epoch(timestamp, memo)
                elif type(timestamp) is _dt.datetime and timestamp.tzinfo is _UTC:
                    when = utc_text(timestamp, memo)
                else:
                    when = wire_timestamp(timestamp, memo)
                return _STRICT.encode(_SplicedEvent(event, did, body, when, uuid))
            if plain:
                return _STRICT.encode(
                    Event(
                        event,
                        *capture_fields(
                            ctx,
                            distinct_id,
                            properties or None,
                            groups or None,
                            timestamp,
                            flags,
                            anonymous_id,
                            disable_geoip,
                            memo,
                        ),
                        uuid,
                    )
                )
        except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
            pass
    event_value = capture(
        ctx,
        event,
        distinct_id=distinct_id,
        properties=properties,
        groups=groups,
        timestamp=timestamp,
        uuid=uuid,
        flags=flags,
        anonymous_id=anonymous_id,
        disable_geoip=disable_geoip,
    )
    return encode_event(event_value)


class PlainCapture(msgspec.Struct, gc=False):
    """One `capture` call whose properties and groups passed `is_plain`, queued unbuilt.

    Not tracked by the garbage collector (`gc=False`): a burst queues thousands of these,
    and as tracked objects holding a dict they would survive into the oldest generation
    and set off full collections of the whole process while the burst runs. Nothing in
    one can form a cycle: its dicts are the caller's plain dicts, copied.
    """

    when: float  # epoch seconds; anything else is left to `encode_capture`
    uuid: str
    event: str
    distinct_id: str | None
    properties: dict[str, Any] | None
    groups: dict[str, Any] | None
    disable_geoip: bool | None


def _splice_point(rest: bytes) -> tuple[str, msgspec.Raw] | None:
    """`rest` (the inside of a JSON object, at least one member) as its first key and a
    `Raw` value that carries every other member after that key's own value.

    Added as the last key of a dict of the caller's properties, this encodes, in the dict's
    one msgspec call, to exactly the caller's properties followed by `rest`. None when the
    fragment does not take that shape (checked by encoding a sample both ways).
    """
    try:
        first = next(iter(_DECODER.decode(b"{" + rest + b"}")))
    except (msgspec.DecodeError, StopIteration):
        return None
    if type(first) is not str:
        return None
    prefix = _STRICT.encode(first) + b":"
    if not rest.startswith(prefix):
        return None
    value = msgspec.Raw(rest[len(prefix) :])
    if _STRICT.encode({"a": 1, first: value}) != b'{"a":1,' + rest + b"}":
        return None
    return first, value


def encode_plain_captures(
    ctx: EventContext,
    calls: Sequence[PlainCapture],
    *,
    limit: int = MAX_EVENT_BYTES,
    owned: bool = False,
    memo: TimestampMemo | None = None,
) -> list[bytes | None]:
    """`encode_capture` for many plain calls at once: the bytes of each, or None for a call
    this loop leaves to `encode_capture` (a personless or non-ASCII id, a caller key that
    the common properties also use, a value msgspec refuses, a non-float timestamp) or
    whose event is over `limit` bytes (for the caller to reject with `check_event_size`).

    A client's worker encodes a whole burst through here: the per-call work is one msgspec
    call for the caller's properties, two byte concatenations around the context's
    pre-encoded properties and one msgspec call for the envelope, with the timestamp
    formatted through a per-second memo kept in the loop. Each `calls` item is a
    `PlainCapture`; the caller vouches that its properties and groups are `is_plain`.
    Whatever this returns as bytes equals what `encode_capture` gives for the same call.

    `owned=True` says no other code can see the calls' properties dicts (a worker's own
    copies, dropped once encoded): the usual call (no groups, no `disable_geoip`) then takes
    one msgspec call in all, through one more key (`_splice_point`) added to its properties
    dict that brings in the common properties. The key stays in the dict of an event this
    encodes (removing it would cost the worker a dict operation per event for nothing);
    for a call answered None it is removed again, so the fallback sees the caller's dict.

    `memo` (the caller's; a fresh one when None) carries the last formatted second from one
    burst to the next.
    """
    spliced = ctx.spliced
    if spliced is None:
        return [None] * len(calls)
    reserved = spliced.reserved
    middle = spliced.system + b"," if spliced.system else b""
    # What follows the caller's properties: system, then (after `$groups`) the common tail.
    tails = {True: spliced.tail_geoip + b"}", False: spliced.tail_plain + b"}"}
    usual_tail = tails[bool(ctx.disable_geoip)]
    usual_rest = b"," + middle + usual_tail  # after the caller's properties, minus their "}"
    point = _splice_point(usual_rest[1:-1]) if owned else None
    point_key, point_value = point if point is not None else ("", msgspec.Raw(b""))
    splice = point is not None
    encode = _STRICT.encode
    raw = msgspec.Raw
    envelope = _SplicedEvent
    # The timestamp text comes from two memos: the current second's (`memo`'s, unpacked
    # here) and, inside it, the current millisecond's head ("...:SS.mmm"), which a burst
    # shares across hundreds of events, so most events take one concatenation with a table
    # entry.
    memo = memo or TimestampMemo()
    second_start, dotted, whole = memo.second
    ms_base, ms_low, ms_end, ms_head = 0, 0, 0, ""  # the millisecond's micros in the second
    micro_tails = MICRO_TAILS
    out: list[bytes | None] = []
    append = out.append
    for call in calls:
        when, distinct_id, properties = call.when, call.distinct_id, call.properties
        if (
            type(distinct_id) is not str
            or not distinct_id
            or not distinct_id.isascii()
            or type(when) is not float
            or (properties and not reserved.isdisjoint(properties))
        ):
            append(None)
            continue
        fraction = when - second_start
        if 0.0 <= fraction < 1.0 and (micros := round(fraction * 1e6)) < 1_000_000:
            if ms_low <= micros < ms_end:
                stamp = ms_head + micro_tails[micros - ms_base]
            elif micros:
                ms_base = micros - micros % 1000
                ms_low = ms_base or 1  # micros 0 is the whole second, written without them
                ms_end = ms_base + 1000
                ms_head = "%s%03d" % (dotted, ms_base // 1000)  # noqa: UP031
                stamp = ms_head + micro_tails[micros - ms_base]
            else:
                stamp = whole
        else:
            try:
                stamp = format_epoch(when, memo)
            except InvalidEvent:
                append(None)
                continue
            second_start, dotted, whole = memo.second
            ms_low = ms_end = 0
        try:
            groups, disable_geoip = call.groups, call.disable_geoip
            if splice and properties and not groups and disable_geoip is None:
                properties[point_key] = point_value
                try:
                    data = encode(envelope(call.event, distinct_id, properties, stamp, call.uuid))
                except BaseException:
                    del properties[point_key]  # the caller's fallback must not see it
                    raise
                if len(data) <= limit:
                    append(data)
                else:
                    del properties[point_key]
                    append(None)
                continue
            if groups or disable_geoip is not None:
                tail = usual_tail if disable_geoip is None else tails[bool(disable_geoip)]
                head = encode(properties)[:-1] + b"," if properties else b"{"
                if groups:
                    body = head + middle + b'"$groups":' + encode(groups) + b"," + tail
                else:
                    body = head + middle + tail
            elif properties:
                body = encode(properties)[:-1] + usual_rest
            else:
                body = b"{" + middle + usual_tail
            data = encode(envelope(call.event, distinct_id, raw(body), stamp, call.uuid))
            append(data if len(data) <= limit else None)
        except (TypeError, ValueError, OverflowError, UnicodeEncodeError):
            append(None)
    return out
