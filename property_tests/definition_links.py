"""Widening drawn definitions documents with the links real projects have between their parts.

Flags drawn one by one rarely depend on each other through more than one step, on a
variant of a multivariate parent, or on a group flag, and cohorts rarely include other
cohorts; callers drawn one by one rarely pass the group a group flag aggregates on, the
device id a flag buckets on or the enrollment property a flag reads. These helpers add
such links to a drawn document and aim callers at them, so the differential meets them
in a fair share of its examples rather than almost never.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

__all__ = ["aim_at_links", "broken_rollout", "link_cohorts", "link_flags"]


def broken_rollout(flag: Mapping[str, Any]) -> bool:
    """Whether a condition of `flag` has a rollout that is not a number, which
    posthog-python fails on when it reaches it."""
    conditions = (flag.get("filters") or {}).get("groups") or []
    return any(
        type(condition.get("rollout_percentage")) not in (int, float, bool, type(None))
        for condition in conditions
    )


def _variant_keys(flag: Mapping[str, Any]) -> list[str]:
    variants = ((flag.get("filters") or {}).get("multivariate") or {}).get("variants") or []
    return [variant["key"] for variant in variants]


def link_flags(draw: st.DrawFn, document: dict[str, Any]) -> None:
    """Make later flags depend on earlier ones, mostly the one just before (so chains run
    several flags deep), expecting True, False or one of the parent's variants. Parents
    come before their dependents, so these links never loop; the chain marker is filled
    in later like any other (`strategies._fill_chains`). A parent posthog-python fails on
    (`broken_rollout`) gets no links: the differentials leave out what reaches it."""
    flags = document["flags"]
    if len(flags) < 2 or not draw(st.integers(0, 2)):
        return
    for at in range(1, len(flags)):
        if not draw(st.integers(0, 3)):
            continue
        parent = flags[draw(st.sampled_from((at - 1, at - 1, at - 1, max(0, at - 2))))]
        if broken_rollout(parent):
            continue
        variants = _variant_keys(parent)
        expected = draw(st.sampled_from((True, False, *variants, *variants, "control")))
        link = {
            "key": parent["key"],
            "type": "flag",
            "operator": "flag_evaluates_to",
            "value": expected,
            # Now and then without the parent at its end (the server always puts it there).
            "dependency_chain": draw(st.sampled_from(("honest",) * 7 + ("headless",))),
        }
        conditions = flags[at]["filters"]["groups"]
        if conditions and draw(st.booleans()):
            condition = conditions[draw(st.integers(0, len(conditions) - 1))]
            condition["properties"].insert(draw(st.integers(0, len(condition["properties"]))), link)
        else:
            rollout = draw(st.sampled_from((100, 100, None, 50, 0)))
            condition = {"properties": [link], "rollout_percentage": rollout}
            conditions.insert(draw(st.integers(0, len(conditions))), condition)


def link_cohorts(draw: st.DrawFn, document: dict[str, Any], ids: tuple[str, ...]) -> None:
    """Make each cohort (after the first) include or exclude the one before it, and have a
    flag's condition reach the last of them, so cohorts are read through other cohorts."""
    cohorts = document["cohorts"]
    if not draw(st.integers(0, 2)):
        return
    linked = False
    for before, cohort_id in itertools.pairwise(ids):
        group = cohorts.get(cohort_id)
        if not isinstance(group, dict) or "values" not in group or before not in cohorts:
            continue
        reference: dict[str, Any] = {
            "key": "id",
            "type": "cohort",
            "value": int(before),
            "operator": draw(st.sampled_from(("in", "in", "not_in"))),
        }
        if draw(st.booleans()):
            reference["negation"] = draw(st.booleans())
        group["values"].insert(draw(st.integers(0, len(group["values"]))), reference)
        linked = True
    if linked:
        flag = document["flags"][draw(st.integers(0, len(document["flags"]) - 1))]
        target = draw(st.sampled_from([cid for cid in ids if cid in cohorts]))
        entry = {"key": "id", "type": "cohort", "value": int(target), "operator": "in"}
        flag["filters"]["groups"].insert(0, {"properties": [entry], "rollout_percentage": 100})


def aim_at_links(draw: st.DrawFn, document: Mapping[str, Any], person: dict[str, Any]) -> None:
    """Give a caller, often, what the document's flags read beyond properties: the group a
    group flag or a condition aggregates on, the device id a flag buckets on, and the
    enrollment property of a flag with feature enrollment."""
    mapping = document["group_type_mapping"]
    for flag in document["flags"]:
        filters = flag["filters"]
        indexes = [filters.get("aggregation_group_type_index")]
        indexes += [c.get("aggregation_group_type_index") for c in filters["groups"]]
        for index in indexes:
            name = mapping.get(str(index)) if index is not None else None
            if name and draw(st.integers(0, 2)):
                person["groups"].setdefault(name, draw(st.sampled_from(("acme", "org-1", "0"))))
        identifier = flag.get("bucketing_identifier") or filters.get("bucketing_identifier")
        if identifier == "device_id" and draw(st.booleans()):
            person["device_id"] = draw(st.sampled_from(("device-1", "device-2", "user-1")))
        if filters.get("feature_enrollment") is not None and draw(st.integers(0, 2)):
            enrolled = draw(st.sampled_from((True, False, "true", "True", None, 1, "false")))
            person["person_properties"][f"$feature_enrollment/{flag['key']}"] = enrolled
