"""What one evaluation reuses (a parent's value decided for the person, a cohort's body
checked in place, one flag read without a snapshot) gives the reference's answers."""

from __future__ import annotations

from typing import Any

import pytest
from engine_compare import NOW, assert_agrees
from hogkit.core import FlagSet


def _flag(key: str, *conditions: dict[str, Any], **filters: Any) -> dict[str, Any]:
    return {"key": key, "active": True, "filters": {"groups": list(conditions), **filters}}


def _depends(parent: str, expected: Any = True) -> dict[str, Any]:
    return {
        "key": parent,
        "type": "flag",
        "value": expected,
        "operator": "flag_evaluates_to",
        "dependency_chain": [parent],
    }


def _prop(key: str, value: Any, operator: str = "exact", kind: str = "person") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": kind}


# A parent true only through a condition on a company's properties: as a dependency it
# sees no groups, so its children must not take its value for the person.
MIXED_PARENT = _flag(
    "parent",
    {
        "properties": [_prop("tier", "gold", kind="group")],
        "rollout_percentage": 100,
        "aggregation_group_type_index": 0,
    },
)
GROUP_PARENT = _flag(
    "parent",
    {"properties": [_prop("tier", "gold", kind="group")], "rollout_percentage": 100},
    aggregation_group_type_index=0,
)
PERSON_PARENT = _flag("parent", {"properties": [_prop("plan", "pro")], "rollout_percentage": 100})
CHILD = _flag("child", {"properties": [_depends("parent")], "rollout_percentage": 100})
NOT_CHILD = _flag("not-child", {"properties": [_depends("parent", False)]})


@pytest.mark.parametrize("parent", [MIXED_PARENT, GROUP_PARENT, PERSON_PARENT])
@pytest.mark.parametrize("parent_first", [True, False])
@pytest.mark.parametrize("plan", ["pro", "free"])
def test_a_parent_s_value_is_reused_only_where_a_dependency_sees_the_same(
    parent: dict[str, Any], parent_first: bool, plan: str
) -> None:
    flags = [parent, CHILD, NOT_CHILD] if parent_first else [CHILD, NOT_CHILD, parent]
    document = {"flags": flags, "group_type_mapping": {"0": "company"}, "cohorts": {}}
    for groups in ({}, {"company": "acme"}):
        assert_agrees(
            document,
            "user-7",
            person_properties={"plan": plan},
            groups=groups,
            group_properties={"company": {"tier": "gold"}},
        )


COHORT = {
    "type": "OR",
    "values": [
        {"type": "AND", "values": [_prop("plan", "pro"), _prop("age", 30, "gt")]},
        {"type": "OR", "values": [_prop("email", "acme", "icontains")]},
    ],
}


@pytest.mark.parametrize("operator", ["in", "not_in"])
@pytest.mark.parametrize(
    "person",
    [
        {"plan": "pro", "age": 40, "email": "x@y.z"},
        {"plan": "free", "age": 40, "email": "a@acme.com"},
        {"plan": "free", "age": 20, "email": "x@y.z"},
        {"plan": "pro"},
    ],
)
def test_a_cohort_filter_checked_through_its_body_agrees(
    operator: str, person: dict[str, Any]
) -> None:
    cohort = {"key": "id", "type": "cohort", "value": 1, "operator": operator}
    document = {
        "flags": [_flag("in-cohort", {"properties": [cohort], "rollout_percentage": 100})],
        "group_type_mapping": {},
        "cohorts": {"1": COHORT},
    }
    assert_agrees(document, "user-3", person_properties=person)


def test_one_flag_s_value_is_what_the_snapshot_gives() -> None:
    document = {
        "flags": [
            PERSON_PARENT,
            CHILD,
            NOT_CHILD,
            _flag("rollout", {"rollout_percentage": 40}),
            _flag("mixed", *MIXED_PARENT["filters"]["groups"]),
            _flag("device", {"rollout_percentage": 50}, bucketing_identifier="device_id"),
            {**GROUP_PARENT, "key": "company-flag"},
        ],
        "group_type_mapping": {"0": "company"},
        "cohorts": {},
    }
    fs = FlagSet.from_document(document)
    for index in range(60):
        call: dict[str, Any] = {
            "person_properties": {"plan": "pro" if index % 2 else "free"},
            "groups": {"company": f"c{index}"} if index % 3 else None,
            "group_properties": {"company": {"tier": "gold"}},
            "device_id": f"d{index}" if index % 4 else None,
        }
        snap = fs.evaluate(f"user-{index}", now=NOW, **call)
        for key in fs.keys:
            assert fs.flag_value(key, f"user-{index}", now=NOW, **call) == snap.get_flag(key)
    assert fs.flag_value("absent", "user-1", now=NOW) is None
    assert fs.flag_value("rollout", "", now=NOW) is None
