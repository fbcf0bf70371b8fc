"""Filters a condition's walk answers in place (`property_matcher.Inline`) give what the
matcher itself gives, and what posthog 7.91.1 gives, for every value shape.

The walk (`condition_filters._filters`) answers plain ASCII text for the text operators and
finite numbers for the comparisons without calling the matcher; anything else (non-ASCII
text, other types, absent properties) goes to the matcher. Each flag here has two filters,
so the walk is taken, and the text filter is placed both first and last.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import oracle
import pytest
from compare import differences, snapshot_outcome
from hogkit.core import FlagSet

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)

TEXT_OPERATORS = [
    "icontains",
    "not_icontains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
]
NEEDLES = ["ab", "AB", "İ", "ß", "", "1"]
VALUES: list[Any] = [
    "xabx",
    "ABC",
    "cab",
    "İstanbul",
    "i̇stanbul",
    "STRASSE",
    "straße",
    "",
    1,
    1.0,
    True,
    None,
    ["ab"],
    {"a": "b"},
]


def _filter(operator: str, value: Any, key: str = "p") -> dict[str, Any]:
    return {"key": key, "operator": operator, "value": value, "type": "person"}


def _flags() -> list[dict[str, Any]]:
    always = _filter("is_set", "is_set", "present")
    flags = []
    for operator in TEXT_OPERATORS:
        for at, needle in enumerate(NEEDLES):
            text = _filter(operator, needle)
            for order, filters in (("first", [text, always]), ("last", [always, text])):
                flags.append(
                    {
                        "key": f"{operator}-{at}-{order}",
                        "active": True,
                        "filters": {"groups": [{"properties": filters, "rollout_percentage": 100}]},
                    }
                )
    return flags


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_text_filters_in_a_walk_answer_as_posthog(value: Any) -> None:
    flags = _flags()
    fs = FlagSet.from_document({"flags": flags})
    for properties in ({"p": value, "present": 1}, {"present": 1}):
        expected = oracle.evaluate(flags, "someone", person_properties=properties, now=NOW)
        snapshot = fs.evaluate("someone", person_properties=properties, now=NOW)
        assert differences(expected, snapshot_outcome(snapshot)) == {}
