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
from hogkit.core import (
    Event,
    EventContext,
    capture,
    decode_batch,
    encode_batch,
    encode_event,
    normalize,
    normalize_properties,
)
from hypothesis import given
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
