"""Normalisation never raises and always yields strict, encodable JSON; batches round-trip."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import uuid as uuidlib
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from hogkit.core import (
    Event,
    EventContext,
    InvalidEvent,
    capture,
    decode_batch,
    encode_batch,
    encode_capture,
    encode_event,
    format_epoch,
    is_plain,
    normalize,
    normalize_properties,
)
from hogkit.core.timestamps import TimestampMemo
from hypothesis import assume, given
from hypothesis import strategies as st


class BrokenStr:
    def __str__(self) -> str:
        raise RuntimeError("unprintable")


@dataclasses.dataclass
class Pair:
    left: Any
    right: Any


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and ±Inf included
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),
    st.binary(max_size=20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.dates(),
    st.uuids(),
    st.just(BrokenStr()),
    st.builds(object),
    st.complex_numbers(allow_nan=True),
)
keys = st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans(), st.floats())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(st.integers() | st.text(max_size=4), max_size=4),
        st.dictionaries(keys, inner, max_size=4),
        st.builds(Pair, inner, inner),
    ),
    max_leaves=20,
)


def is_json_value(value: Any) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return value - value == 0.0
    if type(value) is list:
        return all(is_json_value(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and is_json_value(v) for k, v in value.items())
    return False


@given(values)
def test_normalize_never_raises_and_gives_strict_json(value: Any) -> None:
    out = normalize(value)
    assert is_json_value(out)
    text = json.dumps(out, allow_nan=False)
    text.encode("utf-8")  # no lone surrogates left
    assert msgspec.json.decode(msgspec.json.encode(out)) == out
    assert normalize(out) == out  # idempotent


@given(st.dictionaries(keys, values, max_size=6))
def test_normalize_properties_keeps_every_key_as_a_string(props: Mapping[Any, Any]) -> None:
    out = normalize_properties(props)
    assert all(type(k) is str for k in out)
    assert len(out) <= len(props)
    assert is_json_value(out)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=15,
)
moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.timezones()
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    ctx = EventContext(
        system_properties=draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
        super_properties=draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
        disable_geoip=draw(st.booleans()),
        is_server=draw(st.booleans()),
    )
    return capture(
        ctx,
        draw(st.text(min_size=1, max_size=12)),
        distinct_id=draw(st.none() | st.text(min_size=1, max_size=12)),
        anonymous_id=str(draw(st.uuids())),
        properties=draw(st.dictionaries(st.text(max_size=8), values, max_size=5)),
        groups=draw(
            st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)
        ),
        flags=draw(
            st.none() | st.dictionaries(st.text(max_size=5), st.booleans() | st.text(max_size=4))
        ),
        timestamp=draw(moments),
        uuid=draw(st.uuids()),
    )


@given(st.lists(events(), max_size=6), st.booleans(), st.integers(0, 5))
def test_encode_batch_decodes_back_to_the_same_events(
    batch: list[Event], historical: bool, preencoded: int
) -> None:
    items: list[Event | bytes] = [
        encode_event(e) if i < preencoded else e for i, e in enumerate(batch)
    ]
    sent_at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    body = encode_batch(items, "phc_key", sent_at, historical_migration=historical)
    back, envelope = decode_batch(body)
    assert back == batch
    assert envelope == {
        "historical_migration": historical,
        "sent_at": sent_at.isoformat(),
        "api_key": "phc_key",
    }
    assert json.loads(body)["batch"] == [e.to_message() for e in batch]


@given(st.decimals(), st.uuids())
def test_scalar_conversions(number: decimal.Decimal, ident: uuidlib.UUID) -> None:
    out = normalize(number)
    assert out is None or (type(out) is float and out == float(number))
    assert normalize(ident) == str(ident)


# -- the worker's fused path: encode_capture gives the event path's bytes, always ---------------

RESERVED = ["$os", "$lib", "$groups", "$process_person_profile", "$is_server", "$release_id"]
plain_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=6),
    st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=3),
)
plain_keys = st.text(max_size=6) | st.sampled_from(RESERVED)
property_maps = st.one_of(
    st.none(),
    st.dictionaries(plain_keys, plain_values, max_size=5),
    st.dictionaries(keys, values, max_size=4),  # anything: the full path must take these
)
contexts = st.builds(
    EventContext,
    system_properties=st.dictionaries(plain_keys, json_values, max_size=3),
    super_properties=st.dictionaries(plain_keys, json_values, max_size=3),
    disable_geoip=st.booleans(),
    is_server=st.booleans(),
    release_id=st.none() | st.text(max_size=4),
)
stamps = st.one_of(
    st.floats(min_value=0, max_value=4e9),
    st.floats(),
    st.datetimes(timezones=st.just(dt.timezone.utc)),
    moments,
    st.sampled_from(["2026-01-02T03:04:05Z", "2026-01-02", "not a time"]),
)


@given(
    contexts,
    st.text(max_size=8) | st.just(""),
    st.none() | st.just("") | st.text(max_size=8) | st.integers(),
    property_maps,
    st.none() | st.dictionaries(st.text(max_size=4), plain_values, max_size=2),
    stamps,
    st.none() | st.dictionaries(st.text(max_size=4), st.booleans() | st.text(max_size=3)),
    st.none() | st.booleans(),
)
def test_encode_capture_gives_the_bytes_of_the_event_path(
    ctx: EventContext,
    name: str,
    distinct_id: Any,
    properties: Any,
    groups: Any,
    timestamp: Any,
    flags: Any,
    disable_geoip: bool | None,
) -> None:
    args: dict[str, Any] = {
        "distinct_id": distinct_id,
        "properties": properties,
        "groups": groups,
        "timestamp": timestamp,
        "uuid": "0b0e7bd4-6a3c-4a8d-9d7e-3f1b2c4d5e6f",
        "flags": flags,
        "anonymous_id": "11111111-2222-4333-8444-555555555555",
        "disable_geoip": disable_geoip,
    }
    try:
        expected = encode_event(capture(ctx, name, **args))
    except InvalidEvent:
        with pytest.raises(InvalidEvent):
            encode_capture(ctx, name, **args)
        return
    assert encode_capture(ctx, name, **args) == expected
    if (properties is None or is_plain(properties)) and (groups is None or is_plain(groups)):
        assert encode_capture(ctx, name, plain=True, **args) == expected


@given(
    st.one_of(
        st.floats(min_value=-1e10, max_value=3e11),
        st.integers(0, 2**33).map(lambda s: s + 0.9999995),
        st.integers(0, 2**33).map(float),
        st.floats(),
    )
)
def test_format_epoch_is_the_datetime_text(seconds: float) -> None:
    try:
        expected = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()
    except (ValueError, OverflowError, OSError):
        with pytest.raises(InvalidEvent):
            format_epoch(seconds)
        return
    assert format_epoch(seconds) == expected
    memo = TimestampMemo()
    assert format_epoch(seconds, memo) == expected
    assert format_epoch(seconds, memo) == expected  # the memoised second gives the same text


@given(st.floats(0, 2.5e11), st.floats(-2.0, 2.0))
def test_a_memo_of_another_second_never_changes_the_text(before: float, delta: float) -> None:
    memo = TimestampMemo()
    format_epoch(before, memo)  # leaves that second memoised
    seconds = before + delta
    assume(seconds >= 0)
    assert format_epoch(seconds, memo) == format_epoch(seconds)


@given(st.datetimes(timezones=st.just(dt.timezone.utc)), st.floats(0, 4e9))
def test_utc_datetimes_format_as_isoformat_whatever_was_formatted_before(
    moment: dt.datetime, before: float
) -> None:
    memo = TimestampMemo()
    format_epoch(before, memo)  # leaves some other second memoised
    ctx = EventContext()
    event = capture(ctx, "e", distinct_id="u", timestamp=moment, uuid="u-1", memo=memo)
    assert event.timestamp == moment.isoformat()
