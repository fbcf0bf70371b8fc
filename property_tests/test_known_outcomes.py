"""hogkit evaluates definitions whose outcome is known by construction to that outcome
(the strategies hogkit ships to its users, used on hogkit itself)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hogkit.core import FlagSet
from hogkit.testing import override_flags
from hogkit.testing.strategies import known_outcomes
from hogkit.transport.client import Client
from hypothesis import given
from hypothesis import strategies as st

Drawn = tuple[dict[str, Any], str, dict[str, Any], dict[str, bool | str]]


@given(known_outcomes())
def test_engine_gives_the_constructed_outcome(drawn: Drawn) -> None:
    doc, distinct_id, person, expected = drawn
    now = dt.datetime(2026, 6, 15, tzinfo=dt.timezone.utc)
    snap = FlagSet.from_document(doc).evaluate(distinct_id, person_properties=person, now=now)
    assert dict(snap.flag_values) == expected


@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.booleans() | st.sampled_from(["x", "y"]))
)
def test_overrides_read_back_exactly(values: dict[str, bool | str]) -> None:
    client = Client("phc_test", send=False, flag_definitions=[])
    try:
        with override_flags(client, values):
            assert dict(client.evaluate_flags("someone").flag_values) == values
    finally:
        client.shutdown(0.0)
