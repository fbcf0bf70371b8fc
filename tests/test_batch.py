"""Encoding events and `/batch/` bodies, size checks and splitting."""

from __future__ import annotations

import datetime as dt
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
    InvalidEvent,
    capture,
    check_event_size,
    decode_batch,
    encode_batch,
    encode_event,
    set_properties,
    split_batches,
)
from hogkit.core.batch import BATCH_OVERHEAD_BYTES
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
