"""`compile_keyed_filter` (the compiler's shortcut for a filter whose key and operator
are text, with any value) must build exactly the matcher `compile_property_filter` builds
for the same filter object."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hogkit.core.operators import OPERATORS, compile_keyed_filter, compile_property_filter

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
VALUES = [
    *("", "x", "X", "True", "false", "1.5", "10", "-30d", "2025-01-01", "1.2.3", "^a+$", "["),
    *(None, True, False, 0, 10, 1.5, -0.0, float("nan"), 2**70),
    *([], ["x", "Y"], ["true", "FALSE"], [1, "x"], [1.5], [None], {"a": 1}),
]
PROPERTIES = [
    {},
    {"p": None},
    {"p": "x"},
    {"p": "TRUE"},
    {"p": True},
    {"p": 10},
    {"p": 1.5},
    {"p": "2026-01-01"},
    {"p": "1.2.4"},
    {"p": "aaa"},
    {"p": ["x"]},
]


@pytest.mark.parametrize("operator", [None, "", "nope", *sorted(OPERATORS)])
@pytest.mark.parametrize("version", [1, 2])
def test_keyed_filter_compiles_like_the_filter_object(operator: str | None, version: int) -> None:
    for value in VALUES:
        raw = {"key": "p", "value": value, "type": "person"}
        if operator is not None:
            raw["operator"] = operator
        general = compile_property_filter(raw, matching_version=version)
        short = compile_keyed_filter("p", operator, value, version == 2)
        assert type(short) is type(general), (operator, value)
        assert (short.key, short.operator, short.inline) == (
            general.key,
            general.operator,
            general.inline,
        )
        assert short.definition_problem == general.definition_problem
        for props in PROPERTIES:
            assert short.match(props, NOW) == general.match(props, NOW), (operator, value, props)
