"""Differential test: random definitions and people, hogkit against posthog 7.91.1.

Definitions are drawn to hit every part of the engine at once (operators, cohorts with
nesting and negation, dependencies with good and broken chains, groups and mixed
targeting, holdouts, enrollment, device bucketing, variants and payloads), so that
interactions between rules are compared too, not just each rule alone. Every flag's
value, payload and unresolved reason must agree.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from engine_compare import assert_agrees
from hypothesis import given, settings
from hypothesis import strategies as st

PROPERTY_KEYS = [
    "plan",
    "email",
    "age",
    "country",
    "version",
    "signed_up",
    "distinct_id",
    "$group_key",
]
FLAG_KEYS = ["alpha", "beta", "gamma", "delta", "epsilon"]
COHORT_IDS = ["1", "2", "3"]
OPERATORS = [
    "exact", "is_not", "is_set", "is_not_set", "icontains", "not_icontains", "regex", "not_regex",
    "starts_with", "not_starts_with", "ends_with", "not_ends_with", "gt", "gte", "lt", "lte",
    "is_date_before", "is_date_after", "semver_eq", "semver_neq", "semver_gt", "semver_gte",
    "semver_lt", "semver_lte", "semver_tilde", "semver_caret", "semver_wildcard", "is_date_exact",
]  # fmt: skip
PATTERNS = ["^pro", "\\d+", "a$", "\\bfoo", "(?i)x", "[", "", "^(a|b)+$", "@x\\.com"]
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)

scalars = st.one_of(
    st.text(alphabet="abcPRO01.@-xé", max_size=6),
    st.integers(-5, 200),
    st.floats(-10, 300, allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(["pro", "PRO", "true", "false", "1.2.3", "2.0", "2024-01-01", "-30d", "10"]),
)
property_values = st.one_of(
    scalars,
    st.lists(st.sampled_from(["pro", "a", 1, True]), max_size=2),
    st.sampled_from(
        [
            datetime(2026, 1, 1, tzinfo=timezone.utc),
            "2026-06-14T00:00:00Z",
            float("nan"),
            b"bytes",
            {"nested": [1]},
        ]
    ),
)


def filter_value(operator: str) -> st.SearchStrategy[Any]:
    if operator in ("regex", "not_regex"):
        return st.sampled_from(PATTERNS)
    if operator.startswith("is_date"):
        return st.sampled_from(
            ["-7d", "30d", "-2m", "2026-01-01", "2025", "bad date", "2026-06-14T12:00:00Z"]
        )
    if operator.startswith("semver"):
        return st.sampled_from(["1.2.3", "1.2", "1", "1.*", "01.2.3", "v2.0.0", "x"])
    if operator in ("gt", "gte", "lt", "lte"):
        return st.one_of(st.integers(0, 100), st.sampled_from(["50", "1e2", " 5", "abc", True]))
    return st.one_of(scalars, st.lists(scalars, max_size=3))


@st.composite
def property_filter(draw: st.DrawFn, *, in_cohort: bool = False) -> dict[str, Any]:
    operator = draw(st.sampled_from(OPERATORS))
    item: dict[str, Any] = {
        "key": draw(st.sampled_from(PROPERTY_KEYS)),
        "operator": operator,
        "value": draw(filter_value(operator)),
        "type": "person",
    }
    if draw(st.booleans()):
        item["negation"] = draw(st.booleans())
    return item


def cohort_filter(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "key": "id",
        "type": "cohort",
        "value": draw(st.sampled_from([*COHORT_IDS, "99", 1])),
        "operator": draw(st.sampled_from(["in", "not_in", "exact", "in", "bad"])),
    }


def dependency_filter(draw: st.DrawFn, earlier: list[str]) -> dict[str, Any]:
    parent = draw(st.sampled_from([*earlier, "ghost"])) if earlier else "ghost"
    item: dict[str, Any] = {
        "key": parent,
        "type": "flag",
        "operator": draw(st.sampled_from(["flag_evaluates_to"] * 5 + ["exact"])),
        "value": draw(st.sampled_from([True, False, "control", "test", "true", None])),
    }
    chain = draw(st.sampled_from(["own", "own", "empty", "absent", "with-earlier"]))
    if chain == "own":
        item["dependency_chain"] = [parent]
    elif chain == "empty":
        item["dependency_chain"] = []
    elif chain == "with-earlier":
        item["dependency_chain"] = [*earlier, parent] if parent not in earlier else list(earlier)
    return item


@st.composite
def cohort_body(draw: st.DrawFn, depth: int = 0) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(
            st.sampled_from([{}, {"type": "AND", "values": []}, {"type": "X", "values": []}])
        )
    entries: list[Any] = []
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.integers(0, 9))
        if choice < 6:
            entries.append(draw(property_filter(in_cohort=True)))
        elif choice < 8 and depth < 2:
            entries.append(draw(cohort_body(depth + 1)))
        else:
            entries.append(cohort_filter(draw))
    return {"type": draw(st.sampled_from(["AND", "OR"])), "values": entries}


@st.composite
def condition(draw: st.DrawFn, earlier: list[str]) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 3))):
        choice = draw(st.integers(0, 9))
        if choice < 7:
            filters.append(draw(property_filter()))
        elif choice < 9:
            filters.append(cohort_filter(draw))
        else:
            filters.append(dependency_filter(draw, earlier))
    item: dict[str, Any] = {
        "properties": filters,
        "rollout_percentage": draw(st.one_of(st.none(), st.integers(0, 100), st.floats(0, 100))),
    }
    if draw(st.integers(0, 4)) == 0:
        item["variant"] = draw(st.sampled_from(["control", "test", "nope"]))
    if draw(st.integers(0, 5)) == 0:
        item["aggregation_group_type_index"] = draw(st.sampled_from([0, 1, 7, None]))
    return item


@st.composite
def flag_definition(draw: st.DrawFn, key: str, earlier: list[str]) -> dict[str, Any]:
    filters: dict[str, Any] = {
        "groups": [draw(condition(earlier)) for _ in range(draw(st.integers(0, 3)))],
    }
    if draw(st.booleans()):
        split = draw(st.sampled_from([(50, 50), (30, 30), (100, 0), (34, 33, 33)]))
        names = ["control", "test", "third"]
        filters["multivariate"] = {
            "variants": [{"key": names[i], "rollout_percentage": p} for i, p in enumerate(split)]
        }
    if draw(st.booleans()):
        filters["payloads"] = {
            name: draw(st.sampled_from(['{"a": 1}', "[1, 2]", "3", "bad json", '"s"']))
            for name in draw(
                st.lists(st.sampled_from(["true", "false", "control", "test"]), max_size=3)
            )
        }
    if draw(st.integers(0, 5)) == 0:
        filters["holdout"] = {
            "id": draw(st.integers(1, 3)),
            "exclusion_percentage": draw(st.sampled_from([10, 50, 100])),
        }
    if draw(st.integers(0, 8)) == 0:
        filters["feature_enrollment"] = True
    if draw(st.integers(0, 4)) == 0:
        filters["aggregation_group_type_index"] = draw(st.sampled_from([0, 1, 5]))
    if draw(st.integers(0, 4)) == 0:
        filters["early_exit"] = True
    definition: dict[str, Any] = {
        "id": draw(st.integers(1, 100)),
        "key": key,
        "active": draw(st.sampled_from([True, True, True, True, False])),
        "filters": filters,
    }
    if draw(st.integers(0, 9)) == 0:
        definition["ensure_experience_continuity"] = True
    if draw(st.integers(0, 5)) == 0:
        definition["bucketing_identifier"] = "device_id"
    return definition


@st.composite
def document(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(FLAG_KEYS), min_size=1, max_size=5, unique=True))
    flags = [draw(flag_definition(key, keys[:index])) for index, key in enumerate(keys)]
    cohorts = {
        cid: draw(cohort_body()) for cid in draw(st.lists(st.sampled_from(COHORT_IDS), unique=True))
    }
    return {
        "flags": flags,
        "cohorts": cohorts,
        "group_type_mapping": {"0": "company", "1": "project"},
        "property_matching_version": draw(st.sampled_from([1, 2, None])),
    }


@st.composite
def person(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(PROPERTY_KEYS), unique=True, max_size=6))
    props = {key: draw(property_values) for key in keys}
    for key in FLAG_KEYS:
        if draw(st.integers(0, 6)) == 0:
            props[f"$feature_enrollment/{key}"] = draw(
                st.sampled_from([True, "true", False, "yes"])
            )
    call: dict[str, Any] = {
        "distinct_id": draw(st.text(alphabet="abcdef0123456789-", min_size=1, max_size=10)),
        "person_properties": props,
    }
    groups = {}
    group_properties = {}
    for name in draw(st.lists(st.sampled_from(["company", "project"]), unique=True)):
        groups[name] = draw(st.text(alphabet="xyz123", min_size=1, max_size=5))
        group_keys = draw(st.lists(st.sampled_from(PROPERTY_KEYS), unique=True, max_size=3))
        group_properties[name] = {key: draw(property_values) for key in group_keys}
    if groups:
        call["groups"] = groups
        call["group_properties"] = group_properties
    if draw(st.booleans()):
        call["device_id"] = draw(st.sampled_from(["device-1", "device-2", ""]))
    call["now"] = NOW + timedelta(days=draw(st.integers(-400, 400)))
    return call


@settings(max_examples=max(settings().max_examples * 3, 150))
@given(document(), st.lists(person(), min_size=1, max_size=3))
def test_random_definitions_agree_with_the_reference(
    doc: dict[str, Any], people: list[dict[str, Any]]
) -> None:
    for call in people:
        call = dict(call)
        distinct_id = call.pop("distinct_id")
        assert_agrees(doc, distinct_id, **call)


@given(document(), person())
def test_random_definitions_agree_through_json(doc: dict[str, Any], call: dict[str, Any]) -> None:
    from hogkit.core import FlagSet

    call = dict(call)
    distinct_id = call.pop("distinct_id")
    text = json.dumps(doc)
    from_text = FlagSet.from_json(text).evaluate(distinct_id, **call)
    from_doc = FlagSet.from_document(json.loads(text)).evaluate(distinct_id, **call)
    assert from_text.flag_values == from_doc.flag_values
    assert from_text.unresolved == from_doc.unresolved
    assert {k: from_text.get_flag_payload(k) for k in from_text.keys} == {
        k: from_doc.get_flag_payload(k) for k in from_doc.keys
    }


@given(document(), person())
def test_each_flag_alone_matches_every_flag_together(
    doc: dict[str, Any], call: dict[str, Any]
) -> None:
    # Evaluated alone, a flag starts with empty memos; evaluated together, flags share
    # matcher outcomes and dependency values within the call. Values, reasons and
    # unresolved codes must agree.
    from hogkit.core import FlagSet

    call = dict(call)
    distinct_id = call.pop("distinct_id")
    flag_set = FlagSet.from_document(doc)
    whole = flag_set.evaluate(distinct_id, **call)
    for key in flag_set.keys:
        alone = flag_set.evaluate(distinct_id, flag_keys=[key], **call)
        as_set = flag_set.evaluate(distinct_id, flag_keys={key}, **call)
        expected = whole.only([key])
        for snapshot in (alone, as_set):
            assert snapshot.flag_values == expected.flag_values
            assert snapshot.unresolved == expected.unresolved
            assert snapshot.results == expected.results
