"""JSON text is decoded first into bounded ("flat") types that let loading skip the depth
walk; whatever does not fit them takes the general path. Both paths must read every
document alike, and the depth limit must stay exact through either. Payloads sent as JSON
text are read back from that text, equal to what Python's json reads and private per read."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from hogkit.core import DefinitionsError, FlagSet
from hogkit.core.definitions import MAX_DEPTH, MalformedFlag, decode_definitions, read_definitions

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def flag(key: str, properties: list[Any] | None = None, **filters: Any) -> dict[str, Any]:
    condition = {"properties": properties or [], "rollout_percentage": 100}
    return {"key": key, "active": True, "filters": {"groups": [condition], **filters}}


def kinds(flags: tuple[Any, ...]) -> list[str]:
    return ["malformed" if isinstance(f, MalformedFlag) else "flag" for f in flags]


def as_plain(flags: tuple[Any, ...]) -> list[Any]:
    return [msgspec.to_builtins(f) for f in flags]


@pytest.mark.parametrize("objects", [False, True])
def test_text_reads_like_the_decoded_document(objects: bool) -> None:
    cohort = {"type": "OR", "values": [{"type": "AND", "values": [{"key": "a", "value": 1}]}]}
    variants = [{"key": "a", "rollout_percentage": 50}, {"key": "b", "rollout_percentage": 50}]
    document: dict[str, Any] = {
        "flags": [
            flag("text", [{"key": "email", "value": "x", "operator": "icontains"}]),
            flag("list", [{"key": "plan", "value": ["a", 1, 2.5, None, True]}]),
            flag("cohort", [{"key": "id", "type": "cohort", "value": 1}]),
            flag(
                "variants",
                [{"key": "n", "value": 3, "operator": "gt"}],
                multivariate={"variants": variants},
                payloads={"a": '{"x": 1}', "b": 2, "true": [1, "2"]},
                aggregation_group_type_index=0,
                holdout={"id": 1, "exclusion_percentage": 10},
            ),
            {"key": "odd", "active": "yes", "id": {"deep": [1]}, "filters": None},
        ],
        "cohorts": {"1": cohort},
    }
    document["group_type_mapping"] = {"0": "company", "1": ["odd", 1]}
    if objects:  # free-form parts that do not fit the flat types
        document["flags"].append(flag("object-payload", payloads={"true": {"a": [1, {"b": 2}]}}))
        document["flags"].append(flag("object-value", [{"key": "k", "value": {"x": [1]}}]))
    from_text = read_definitions(json.dumps(document))
    from_document = decode_definitions(document)
    assert as_plain(from_text.flags) == as_plain(from_document.flags)
    assert from_text.group_type_mapping == from_document.group_type_mapping
    assert from_text.cohorts == from_document.cohorts


def test_values_keep_their_json_types_through_text() -> None:
    values = [1, 1.0, -0.0, True, None, "1", 2**70, -(2**70), [1, 1.5, "x", False, None]]
    properties = [{"key": f"p{i}", "value": value} for i, value in enumerate(values)]
    decoded = read_definitions(json.dumps([flag("f", properties)]))
    read = decoded.flags[0].filters.groups[0].properties  # type: ignore[union-attr]
    assert [p["value"] for p in read] == values
    assert [type(p["value"]) for p in read] == [type(value) for value in values]
    assert type(read[2]["value"]) is float and str(read[2]["value"]) == "-0.0"


@pytest.mark.parametrize(
    ("part", "fits"),
    [
        # document, flags, flag, filters, payloads: 5 levels; nested(d) adds d + 1.
        ("payload", MAX_DEPTH - 6),
        # ... groups, condition, properties, the filter object: 8 levels.
        ("property", MAX_DEPTH - 9),
    ],
)
def test_depth_limit_is_exact_through_text(part: str, fits: int) -> None:
    def document(depth: int) -> dict[str, Any]:
        if part == "payload":
            deep = flag("deep", payloads={"true": nested(depth)})
        else:
            deep = flag("deep", [{"key": "k", "value": nested(depth)}])
        return {"flags": [flag("before"), deep, flag("after")]}

    for depth, expected in ((fits, "flag"), (fits + 1, "malformed")):
        text = read_definitions(json.dumps(document(depth)))
        assert kinds(text.flags) == ["flag", expected, "flag"]
        assert kinds(decode_definitions(document(depth)).flags) == kinds(text.flags)


def test_deep_group_type_mapping_through_text_is_a_definitions_error() -> None:
    # document, group_type_mapping: 2 levels; nested(d) adds d + 1.
    def text(depth: int) -> str:
        return json.dumps({"flags": [flag("f")], "group_type_mapping": {"0": nested(depth)}})

    assert kinds(read_definitions(text(MAX_DEPTH - 3)).flags) == ["flag"]
    with pytest.raises(DefinitionsError):
        read_definitions(text(MAX_DEPTH - 2))


@pytest.mark.parametrize(
    "text",
    [
        '{"big": 123456789012345678901234567890, "list": [1, 2.0, null, true, -0.0]}',
        ' [ {"nested": {"deep": ["x", 1.5e300]}}, "\\u00e9" ] ',
        '{"text": "\\ud800 lone surrogate"}',
        '{"huge": 1e400}',
        '"just text"',
        "not json",
    ],
)
def test_text_payloads_read_as_json_and_privately(text: str) -> None:
    try:
        expected = json.loads(text, parse_constant=lambda name: None)
    except ValueError:
        expected = None
    fs = FlagSet.from_json(json.dumps([flag("p", payloads={"true": text})]))
    snap = fs.evaluate("u", now=NOW)
    first = snap.get_flag_payload("p")
    assert repr(first) == repr(expected)
    if isinstance(first, (dict, list)):
        first.clear()
        assert repr(snap.get_flag_payload("p")) == repr(expected)
        assert repr(fs.evaluate("v", now=NOW).get_flag_payload("p")) == repr(expected)


def cohort_groups(depth: int) -> dict[str, Any]:
    group: dict[str, Any] = {"key": "plan", "value": ["a", "b"], "type": "person"}
    for level in range(depth):
        group = {"type": "AND" if level % 2 else "OR", "values": [group, {"key": "k", "value": 1}]}
    return group


@pytest.mark.parametrize("depth", [0, 1, 2, 5, 6, 7, 9, 97, 98, 99, 100])
def test_cohorts_read_alike_through_text_up_to_the_depth_limit(depth: int) -> None:
    # document, cohorts: 2 levels; each group adds 2 (itself and its values), the
    # innermost property filter 2 (itself and its list value): 98 groups fit.
    document = {"flags": [flag("f")], "cohorts": {"1": cohort_groups(depth)}}
    try:
        expected: Any = decode_definitions(document).cohorts
    except DefinitionsError:
        expected = DefinitionsError
    try:
        read: Any = read_definitions(json.dumps(document)).cohorts
    except DefinitionsError:
        read = DefinitionsError
    assert read == expected
    assert (read is DefinitionsError) is (depth > 98)
