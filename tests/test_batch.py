"""Encoding events and `/batch/` bodies, size checks and splitting."""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
import uuid as uuidlib
from typing import Any

import msgspec
import pytest
from hogkit.core import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    Event,
    EventContext,
    FlagSet,
    InvalidEvent,
    capture,
    check_event_size,
    decode_batch,
    encode_batch,
    encode_capture,
    encode_event,
    format_timestamp,
    set_properties,
    split_batches,
)
from hogkit.core.batch import BATCH_OVERHEAD_BYTES, PlainCapture, encode_plain_captures
from hogkit.core.normalize import is_plain
from hogkit.core.timestamps import TimestampMemo, format_epoch
from posthog.request import DatetimeSerializer

TS = dt.datetime(2026, 5, 6, 7, 8, 9, 10, tzinfo=dt.timezone.utc)
CTX = EventContext(system_properties={"$os": "Linux"}, super_properties={"sp": True})
KEY = "phc_" + "k" * 43


def event(i: int, **props: Any) -> Event:
    return capture(
        CTX,
        f"e{i}",
        distinct_id=f"user-{i}",
        properties={"i": i, **props},
        timestamp=TS,
        uuid=str(uuidlib.UUID(int=i)),
    )


def test_encode_event_is_compact_json_of_the_wire_message() -> None:
    ev = event(1, text="héllo", nested={"a": [1, 2.5, None]})
    raw = encode_event(ev)
    assert b" " not in raw.replace(b"h\xc3\xa9llo", b"")  # compact separators
    assert json.loads(raw) == ev.to_message()
    person = set_properties(CTX, distinct_id="u", properties={"a": 1}, timestamp=TS, uuid=ev.uuid)
    assert person is not None
    assert json.loads(encode_event(person))["$set"] == {"a": 1}


def test_body_has_the_reference_envelope() -> None:
    events = [event(1), event(2)]
    body = encode_batch(events, KEY, TS, historical_migration=True)
    doc = json.loads(body)
    assert list(doc) == ["batch", "historical_migration", "sent_at", "api_key"]
    assert doc["historical_migration"] is True
    assert doc["sent_at"] == TS.isoformat()
    assert doc["api_key"] == KEY
    assert doc["batch"] == [e.to_message() for e in events]
    # the reference serialises the same body with json.dumps; the JSON values agree
    reference = json.loads(
        json.dumps(
            {
                "batch": [e.to_message() for e in events],
                "historical_migration": True,
                "sent_at": TS.isoformat(),
                "api_key": KEY,
            },
            cls=DatetimeSerializer,
        )
    )
    assert doc == reference


def test_pre_encoded_items_are_spliced_verbatim() -> None:
    events = [event(1), event(2), event(3)]
    mixed = [events[0], encode_event(events[1]), events[2]]
    assert encode_batch(mixed, KEY, TS) == encode_batch(events, KEY, TS)
    assert json.loads(encode_batch([], KEY, TS))["batch"] == []


def test_sent_at_forms() -> None:
    plus_one = dt.datetime(2026, 5, 6, 8, 8, 9, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert json.loads(encode_batch([], KEY, plus_one))["sent_at"] == TS.isoformat()
    assert json.loads(encode_batch([], KEY, "as-given"))["sent_at"] == "as-given"
    assert json.loads(encode_batch([], KEY, TS))["historical_migration"] is False


def test_decode_batch_round_trip() -> None:
    events = [event(i, when=dt.date(2020, 1, i + 1), f=i / 3) for i in range(5)]
    back, envelope = decode_batch(encode_batch(events, KEY, TS))
    assert back == events
    assert envelope == {"historical_migration": False, "sent_at": TS.isoformat(), "api_key": KEY}
    with pytest.raises(InvalidEvent):
        decode_batch(b"not json")
    with pytest.raises(InvalidEvent):
        decode_batch(b'{"batch": 3}')


def test_hand_built_events_with_raw_values_still_encode() -> None:
    raw = Event(
        event="raw",
        distinct_id="u",
        properties={"when": dt.datetime(2020, 1, 1), "obj": object, "nan": float("nan"), "s": {1}},
        timestamp=TS.isoformat(),
        uuid=str(uuidlib.UUID(int=1)),
    )
    doc = msgspec.json.decode(encode_event(raw))
    assert doc["properties"]["when"] == "2020-01-01T00:00:00"
    assert doc["properties"]["obj"] == str(object)
    assert doc["properties"]["nan"] is None
    assert doc["properties"]["s"] == [1]


def test_check_event_size() -> None:
    assert check_event_size(b"x" * MAX_EVENT_BYTES) is None
    reason = check_event_size(b"x" * (MAX_EVENT_BYTES + 1))
    assert reason is not None
    assert str(MAX_EVENT_BYTES + 1) in reason and str(MAX_EVENT_BYTES) in reason
    assert check_event_size(b"x" * 11, limit=10) is not None
    assert check_event_size(encode_event(event(1))) is None
    big = encode_event(event(1, blob="x" * MAX_EVENT_BYTES))
    assert check_event_size(big) is not None


def body_size(items: list[bytes]) -> int:
    return len(encode_batch(items, KEY, TS))


def test_split_keeps_every_body_under_the_limit_and_the_order() -> None:
    encoded = [encode_event(event(i, pad="p" * (i * 37 % 500))) for i in range(200)]
    limit = 6000
    batches = split_batches(encoded, max_body_bytes=limit, overhead=200)
    assert [item for batch in batches for item in batch] == encoded
    assert all(batch for batch in batches)
    for batch in batches:
        assert body_size(batch) <= limit
    # greedy: adding the next batch's first item would have overflowed the budget
    for this, nxt in itertools.pairwise(batches):
        assert sum(map(len, this)) + len(this) + len(nxt[0]) > limit - 200


def test_split_respects_max_events() -> None:
    encoded = [encode_event(event(i)) for i in range(25)]
    batches = split_batches(encoded, max_events=10)
    assert [len(b) for b in batches] == [10, 10, 5]
    assert split_batches(encoded, max_events=0) == [encoded]


def test_split_defaults_and_edges() -> None:
    assert split_batches([]) == []
    one = [encode_event(event(1))]
    assert split_batches(one) == [one]
    assert MAX_BATCH_BYTES == 5 * 1024 * 1024 and BATCH_OVERHEAD_BYTES > 0
    oversized = b"x" * 100
    small = b"y" * 10
    assert split_batches([small, oversized, small], max_body_bytes=60, overhead=0) == [
        [small],
        [oversized],
        [small],
    ]
    exact = [b"a" * 10, b"b" * 10]  # 10 + 1 + 10 = 21 bytes
    assert split_batches(exact, max_body_bytes=21, overhead=0) == [exact]
    assert split_batches(exact, max_body_bytes=20, overhead=0) == [[exact[0]], [exact[1]]]


SNAPSHOT = FlagSet.from_document(
    [
        {"key": "beta", "active": True, "filters": {"groups": [{"rollout_percentage": 100}]}},
        {"key": "alpha", "active": True, "filters": {"groups": [{"rollout_percentage": 0}]}},
        {
            "key": "exp",
            "active": True,
            "filters": {
                "groups": [{"rollout_percentage": 100}],
                "multivariate": {"variants": [{"key": "test", "rollout_percentage": 100}]},
            },
        },
    ]
).evaluate("user-1", now=TS)
SPLICE_CASES: list[dict[str, Any]] = [
    {"properties": {"plan": "pro", "n": 1, "r": 0.5, "ok": True, "none": None}},
    {"properties": {"plan": "pro"}, "groups": {"company": "acme"}},
    {"distinct_id": None, "properties": {"a": 1}},  # personless
    {"distinct_id": "", "groups": {"team": "x"}, "disable_geoip": False},
    {"properties": {"nan": float("nan"), "inf": float("-inf"), "big": 2**80}},
    {"properties": {"bad": "\ud800", "ключ": "значение"}},  # the encoder refuses: full path
    {"properties": {"$os": "mine", "$lib": "mine", "$groups": "mine"}},  # keys the context owns
    {"properties": {"$process_person_profile": True}, "distinct_id": None},
    {"properties": {"nested": {"a": [1, (2, 3)]}, "when": TS}},  # not plain
    {"properties": {1: "int key", None: "none key"}},  # not plain
    {"flags": {"beta": True, "variant": "b", "off": False}},
    {"flags": SNAPSHOT, "properties": {"plan": "pro"}},  # a snapshot's fragment is spliced
    {"flags": SNAPSHOT, "distinct_id": None},
    {"flags": {"off": False}},  # no `$active_feature_flags`
    {"flags": {}, "properties": {"a": 1}},
    {"flags": {"b": True, "a": ""}},  # an empty variant is active but falsy
    {"flags": {"b": True, "n": 3, "x": None, "f": [1]}},  # values only the dict path gets right
    {"flags": {1: True, "1": False}},  # keys that clash once named
    {"flags": {"beta": True}, "properties": {"$feature/beta": "mine"}},  # caller's key wins
    {"flags": {"beta": True}, "properties": {"$active_feature_flags": ["mine"]}},
    {"flags": {"beta": "\ud800"}},  # the encoder refuses: full path
    {"flags": {'say "hi"\\': True, "\x1f": False}},  # names no struct field may have
    {"timestamp": TS.timestamp()},
    {"timestamp": "2026-05-06T07:08:09Z", "distinct_id": 42},
]
CONTEXTS = [
    CTX,
    EventContext(),  # no system properties
    EventContext(system_properties={"$os": "Linux"}, super_properties={"$os": "mine"}),
    EventContext(super_properties={"$groups": "super"}),
    EventContext(release_id="r1", super_properties={"$release_id": "kept"}),
    EventContext(is_server=False, disable_geoip=False),
    EventContext(super_properties={"$feature/beta": "super"}),  # flags cannot be spliced
    EventContext(super_properties={"$active_feature_flags": "super"}),
]


@pytest.mark.parametrize("ctx", CONTEXTS, ids=range(len(CONTEXTS)))
@pytest.mark.parametrize("case", SPLICE_CASES, ids=range(len(SPLICE_CASES)))
def test_encode_capture_gives_the_bytes_of_capture_then_encode_event(
    ctx: EventContext, case: dict[str, Any]
) -> None:
    args: dict[str, Any] = {
        "distinct_id": "user-1",
        "timestamp": TS,
        "uuid": str(uuidlib.UUID(int=7)),
        "anonymous_id": str(uuidlib.UUID(int=8)),
        **case,
    }
    expected = encode_event(capture(ctx, "ev", **args))
    assert encode_capture(ctx, "ev", **args) == expected
    doc = json.loads(expected)
    assert doc["uuid"] == args["uuid"]
    assert doc["timestamp"] == (format_timestamp(args["timestamp"]) or TS.isoformat())


def test_encode_capture_is_normalised_where_plain_values_need_it() -> None:
    raw = encode_capture(
        CTX,
        "ev",
        distinct_id=None,
        properties={"nan": float("nan"), "bad": "a\udfffb"},
        timestamp=TS,
        uuid="u-1",
        anonymous_id="anon",
    )
    doc = json.loads(raw)
    assert doc["distinct_id"] == "anon"
    assert doc["properties"]["nan"] is None and doc["properties"]["bad"] == "a\ufffdb"
    assert doc["properties"]["$process_person_profile"] is False


def _plain_call(case: dict[str, Any], when: float, uuid: str) -> PlainCapture | None:
    """`case` as an `encode_plain_captures` call, or None when it is not a plain capture."""
    props, groups = case.get("properties"), case.get("groups")
    if (
        "flags" in case
        or "timestamp" in case
        or not all(value is None or is_plain(value) for value in (props, groups))
    ):
        return None
    return PlainCapture(when, uuid, "ev", case.get("distinct_id", "user-1"), props, groups,
                        case.get("disable_geoip"))  # fmt: skip


@pytest.mark.parametrize("ctx", CONTEXTS, ids=range(len(CONTEXTS)))
def test_encode_plain_captures_gives_encode_capture_bytes_or_leaves_the_call(
    ctx: EventContext,
) -> None:
    # Timestamps inside one second, on a whole second, rounding up into the next second,
    # and far apart: the loop's own per-second memo must agree with `format_epoch`.
    base = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    times = [base + 0.25, base + 0.5, base + 1.0, base + 1.9999996, base + 86_400.123456]
    calls: list[PlainCapture] = []
    for i, case in enumerate(SPLICE_CASES * 2):
        call = _plain_call(case, times[i % len(times)], str(uuidlib.UUID(int=i)))
        if call is not None:
            calls.append(call)
    calls.append(PlainCapture(base, "u-empty", "ev", "user-1", None, None, None))
    calls.append(PlainCapture(int(base), "u-int-time", "ev", "user-1", {"a": 1}, None, None))
    # (the last one's time is not a float: left to encode_capture)
    before = [repr(call) for call in calls]
    built = encode_plain_captures(ctx, calls)
    assert len(built) == len(calls)
    assert [repr(call) for call in calls] == before  # the caller's dicts are left as found
    # A worker's own copies take the one-call path: same answers, and the dict of every
    # call it leaves is as it was (the fallback encodes from it).
    owned = [
        PlainCapture(c.when, c.uuid, c.event, c.distinct_id,
                     None if c.properties is None else dict(c.properties),
                     c.groups, c.disable_geoip)
        for c in calls
    ]  # fmt: skip
    assert encode_plain_captures(ctx, owned, owned=True) == built
    # A memo carried over from bursts in other seconds (the worker's) changes no answer.
    for earlier in (base - 0.5, base + 0.75, base + 86_400.5):
        memo = TimestampMemo()
        format_epoch(earlier, memo)
        assert memo.second.start == float(int(earlier))
        assert encode_plain_captures(ctx, calls, memo=memo) == built
        if ctx.spliced is not None:  # the memo now holds the last second the loop formatted
            assert memo.second.start == float(int(calls[-2].when))
    for call, copy, data in zip(calls, owned, built, strict=True):
        if data is None:
            assert copy.properties == call.properties
    for call, data in zip(calls, built, strict=True):
        expected = encode_capture(
            ctx,
            call.event,
            distinct_id=call.distinct_id,
            properties=call.properties,
            groups=call.groups,
            timestamp=call.when,
            uuid=call.uuid,
            anonymous_id="anon",
            disable_geoip=call.disable_geoip,
        )
        if data is not None:
            assert data == expected
    usual = [
        c
        for c in calls
        if c.distinct_id and not (c.properties and {"$os", "bad"} & set(c.properties))
    ]
    left = [c for c, d in zip(calls, built, strict=True) if d is None]
    if ctx.spliced is not None:  # the common shapes are never left to the slow path
        assert all(c in left for c in calls if type(c.when) is not float)
        assert not [c for c in usual if c in left and type(c.when) is float]
    else:
        assert len(left) == len(calls)


def test_encode_plain_captures_writes_each_microsecond_as_datetime_does() -> None:
    # The loop keeps the current second and millisecond as text: every step across a
    # millisecond or second boundary, the whole second itself, and going back in time
    # (clocks step backwards) must still give the text of `datetime.isoformat()`.
    base = 1_767_225_600.0
    offsets = [0.0, 1e-6, 0.0, 0.000999, 0.001, 0.001001, 0.0015, 0.002, 0.999999, 1.0, 1.000001,
               1.25, 0.5, 0.500999, 0.501, 3600.000001, 3600.0, -0.25]  # fmt: skip
    times = [base + offset for offset in offsets]
    times += [base + 7 + i * 1.3e-6 for i in range(3000)]  # a burst across 4 milliseconds
    calls = [PlainCapture(t, f"u{i}", "ev", "user-1", {"i": i}, None, None)
             for i, t in enumerate(times)]  # fmt: skip
    for owned in (False, True):
        built = encode_plain_captures(CTX, calls, owned=owned)
        stamps = [json.loads(data)["timestamp"] if data else None for data in built]
        assert stamps == [dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat() for t in times]


def test_queued_captures_stay_out_of_the_garbage_collector() -> None:
    # A burst queues thousands; tracked, they would set off full collections meanwhile.
    call = PlainCapture(1.5, "u", "ev", "user-1", {"a": 1}, {"company": "c"}, None)
    assert not gc.is_tracked(call)


def test_encode_plain_captures_leaves_events_over_the_limit() -> None:
    calls = [PlainCapture(1_767_225_600.5, "u", "ev", "user-1", {"blob": "x" * 500}, None, None)]
    assert encode_plain_captures(CTX, calls, limit=100) == [None]
    assert encode_plain_captures(CTX, calls, limit=100, owned=True) == [None]
    assert calls[0].properties == {"blob": "x" * 500}  # as found, for the fallback
    assert encode_plain_captures(CTX, calls)[0] is not None


@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_encode_batch_of_few_events_is_the_envelope_around_them(count: int) -> None:
    events = [encode_event(event(i)) for i in range(count)]
    for items in (events, [event(i) for i in range(count)]):  # encoded or not
        doc = json.loads(encode_batch(items, KEY, TS, historical_migration=True))
        assert doc == {
            "batch": [json.loads(e) for e in events],
            "historical_migration": True,
            "sent_at": TS.isoformat(),
            "api_key": KEY,
        }


def test_encode_batch_splices_bytes_and_encodes_events_in_one_list() -> None:
    first, second = encode_event(event(1)), event(2)
    body = encode_batch([first, second], KEY, TS)
    decoded = json.loads(body)["batch"]
    assert decoded == [json.loads(first), json.loads(encode_event(second))]
