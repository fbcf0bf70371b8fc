"""No input crashes the engine: bad documents raise DefinitionsError, bad values never raise.

`FlagSet.from_json` may refuse a document only with the core's own error; every flag of an
accepted document evaluates, for any properties a caller can hold, to a value or a reason.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

from compare import person_arguments
from hogkit.core import DefinitionsError, FlagSet, Unresolved
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import (
    FLAG_KEYS,
    NOWS,
    OPERATORS,
    UNKNOWN_OPERATORS,
    json_values,
    people,
    property_values,
)

RELAXED = settings(
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ]
)
REASONS = {reason.value for reason in Unresolved}

any_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
FLAG_FIELDS = (
    "key",
    "active",
    "filters",
    "id",
    "version",
    "ensure_experience_continuity",
    "bucketing_identifier",
    "has_experiment",
)
FILTER_FIELDS = (
    "groups",
    "multivariate",
    "payloads",
    "aggregation_group_type_index",
    "early_exit",
    "holdout",
    "feature_enrollment",
)
CONDITION_FIELDS = ("properties", "rollout_percentage", "variant", "aggregation_group_type_index")
FILTER_KEYS = ("key", "value", "operator", "type", "negation", "dependency_chain")


def _shaped(
    fields: tuple[str, ...], inner: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(fields), inner, max_size=len(fields))


property_filter_like = st.one_of(
    _shaped(
        FILTER_KEYS,
        st.one_of(
            any_json,
            st.sampled_from(
                (*OPERATORS, *UNKNOWN_OPERATORS, "cohort", "flag", "person", "flag_evaluates_to")
            ),
        ),
    ),
    any_json,
)
condition_like = st.one_of(
    _shaped(CONDITION_FIELDS, st.one_of(any_json, st.lists(property_filter_like, max_size=3))),
    any_json,
)
filters_like = st.one_of(
    _shaped(FILTER_FIELDS, st.one_of(any_json, st.lists(condition_like, max_size=3))),
    any_json,
)
flag_like = st.one_of(
    _shaped(FLAG_FIELDS, st.one_of(any_json, filters_like, st.sampled_from(FLAG_KEYS))),
    any_json,
)
document_like = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "flags": st.one_of(st.lists(flag_like, max_size=4), any_json),
            "cohorts": st.one_of(
                st.dictionaries(st.sampled_from(("1", "2", "x")), any_json, max_size=3), any_json
            ),
            "group_type_mapping": st.one_of(
                st.dictionaries(st.sampled_from(("0", "1", "a")), any_json, max_size=2), any_json
            ),
            "property_matching_version": any_json,
        },
    ),
    st.lists(flag_like, max_size=4),
    any_json,
)


def _evaluates_cleanly(flag_set: FlagSet, person: dict[str, Any], now: dt.datetime) -> None:
    snapshot = flag_set.evaluate(person["distinct_id"], **person_arguments(person), now=now)
    assert set(snapshot.keys).isdisjoint(snapshot.unresolved)
    for key in snapshot.keys:
        assert isinstance(snapshot.get_flag(key), (bool, str))
    for reason in snapshot.unresolved.values():
        assert getattr(reason, "value", reason) in REASONS


@RELAXED
@given(document=document_like, person=people())
def test_arbitrary_json_documents_load_or_raise_definitions_error(
    document: Any, person: dict[str, Any]
) -> None:
    raw = json.dumps(document)
    try:
        flag_set = FlagSet.from_json(raw)
    except DefinitionsError as error:
        assert str(error)  # it names what was wrong
        return
    _evaluates_cleanly(flag_set, person, NOWS[0])


@RELAXED
@given(
    raw=st.one_of(
        st.binary(max_size=40),
        st.text(max_size=40),
        st.sampled_from(
            ("", "{", "[", "null", "1", '"x"', "{}", "[]", '{"flags": {}}', "\ufeff{}", "NaN")
        ),
    )
)
def test_arbitrary_bytes_and_text_load_or_raise_definitions_error(raw: bytes | str) -> None:
    try:
        FlagSet.from_json(raw)
    except DefinitionsError as error:
        assert str(error)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(depth):
        value = [value]
    return value


class _Stubborn:
    """An application object whose text form and equality both fail."""

    def __str__(self) -> str:
        raise RuntimeError("no text form")

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no equality")

    __hash__ = object.__hash__


odd_values = st.one_of(
    property_values,
    json_values,
    st.sampled_from(
        (
            object(),
            _Stubborn(),
            Decimal("sNaN"),
            Decimal("Infinity"),
            10**400,
            -(10**400),
            math.nan,
            "x" * 100_000,
            "\ud800",
            {1: "int key", "a": 2},
            {(1, 2): "tuple key"},
            frozenset({1, 2}),
            {1, 2},
            range(3),
            complex(1, 2),
            dt.time(12, 0),
            dt.timedelta(days=1),
            type,
            _nested(300),
        )
    ),
)


def _every_operator_document() -> dict[str, Any]:
    """One flag per operator on property `p` (person and group), plus cohorts and a dependency."""
    flags: list[dict[str, Any]] = []
    samples = {"regex": r"^\d+$", "not_regex": "a$", "gt": 5, "gte": "1e2", "lt": 0.5, "lte": 10}
    dates = {"is_date_before": "-30d", "is_date_after": "2024-01-01"}
    for index, operator in enumerate((*OPERATORS, *UNKNOWN_OPERATORS[:2])):
        value = samples.get(
            operator, dates.get(operator, "1.2.3" if operator.startswith("semver") else "pro")
        )
        condition = {
            "properties": [{"key": "p", "operator": operator, "value": value, "type": "person"}],
            "rollout_percentage": 50,
        }
        flags.append(
            {
                "key": f"op-{index}",
                "active": True,
                "filters": {
                    "groups": [condition],
                    "multivariate": {
                        "variants": [
                            {"key": "a", "rollout_percentage": 50},
                            {"key": "b", "rollout_percentage": 50},
                        ]
                    },
                },
            }
        )
        flags.append(
            {
                "key": f"group-op-{index}",
                "active": True,
                "filters": {"aggregation_group_type_index": 0, "groups": [condition]},
            }
        )
    cohort_filter = {"key": "id", "type": "cohort", "value": 1, "operator": "in"}
    flags.append(
        {
            "key": "cohort",
            "active": True,
            "filters": {"groups": [{"properties": [cohort_filter], "rollout_percentage": 100}]},
        }
    )
    dependency = {
        "key": "op-0",
        "type": "flag",
        "operator": "flag_evaluates_to",
        "value": True,
        "dependency_chain": ["op-0"],
    }
    flags.append(
        {
            "key": "dependent",
            "active": True,
            "filters": {"groups": [{"properties": [dependency], "rollout_percentage": 100}]},
        }
    )
    flags.append(
        {"key": "enrolled", "active": True, "filters": {"feature_enrollment": True, "groups": []}}
    )
    cohort = {
        "type": "OR",
        "values": [
            {"key": "p", "operator": "icontains", "value": "x", "negation": True},
            {"key": "p", "operator": "semver_gt", "value": "1.0.0"},
        ],
    }
    return {"flags": flags, "cohorts": {"1": cohort}, "group_type_mapping": {"0": "company"}}


EVERY_OPERATOR = _every_operator_document()


@RELAXED
@given(
    value=odd_values,
    other=st.dictionaries(st.text(max_size=5), odd_values, max_size=3),
    distinct_id=st.one_of(st.text(min_size=1, max_size=8), st.sampled_from(("user-1", "\ud800"))),
    device_id=st.one_of(st.none(), st.text(max_size=5)),
    now=st.sampled_from(NOWS),
)
def test_arbitrary_property_values_never_crash_evaluate(
    value: Any, other: dict[str, Any], distinct_id: str, device_id: str | None, now: dt.datetime
) -> None:
    flag_set = FlagSet.from_document(EVERY_OPERATOR)
    properties = {**other, "p": value, "$feature_enrollment/enrolled": value}
    person = {
        "distinct_id": distinct_id,
        "person_properties": properties,
        "groups": {"company": distinct_id},
        "group_properties": {"company": properties},
        "device_id": device_id,
    }
    _evaluates_cleanly(flag_set, person, now)
