"""Comparing hogkit with the reference: one outcome shape, one notion of equal, one operator list.

The conformance files, the operator tests and the property suites all compare hogkit's
answers with posthog==7.91.1's; they share these so that "the same answer" means the same
thing in each of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

Outcome = dict[str, dict[str, Any]]

SEMVER_OPERATORS = (
    "semver_eq",
    "semver_neq",
    "semver_gt",
    "semver_gte",
    "semver_lt",
    "semver_lte",
    "semver_tilde",
    "semver_caret",
    "semver_wildcard",
)
# Every property operator posthog==7.91.1 evaluates locally.
OPERATORS = (
    "exact",
    "is_not",
    "is_set",
    "is_not_set",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_date_before",
    "is_date_after",
    *SEMVER_OPERATORS,
)


def person_arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of an evaluation for `call`'s person (all but the id, keys, time)."""
    return {
        "person_properties": call["person_properties"],
        "groups": call["groups"],
        "group_properties": call["group_properties"],
        "device_id": call["device_id"],
    }


def snapshot_outcome(snapshot: Any) -> Outcome:
    """A hogkit snapshot in the outcome shape: `{"value", "payload"}` or `{"unresolved"}`."""
    outcome: Outcome = {}
    for key in snapshot.keys:
        outcome[key] = {"value": snapshot.get_flag(key), "payload": snapshot.get_flag_payload(key)}
    for key, reason in snapshot.unresolved.items():
        outcome[key] = {"unresolved": getattr(reason, "value", reason)}
    return outcome


def strict_equal(a: Any, b: Any) -> bool:
    """Equality that keeps True, 1 and 1.0 apart (and NaN equal to itself)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def differences(
    expected: Outcome, actual: Outcome, expected_name: str = "posthog"
) -> dict[str, dict[str, Any]]:
    """The flags whose outcomes are not strictly equal, with both sides."""
    return {
        key: {expected_name: expected.get(key, "<absent>"), "hogkit": actual.get(key, "<absent>")}
        for key in sorted(set(expected) | set(actual))
        if not strict_equal(expected.get(key), actual.get(key))
    }


def _fields(obj: Any, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The public fields `names` of a record, reason or metadata object (None for None). A
    field the object lacks reads as None: posthog's metadata for a record in the oldest
    shape has a payload only, hogkit's has every field, None where nothing was sent."""
    if obj is None:
        return None
    return {name: getattr(obj, name, None) for name in names}


def decision_view(decision: Any) -> dict[str, Any]:
    """A `get_flags_decision` answer as plain data: every top-level field, and each record's
    public fields, its reason's and its metadata's, and `get_value()`."""
    records = {}
    for key, record in (decision.get("flags") or {}).items():
        records[key] = {
            **(_fields(record, ("key", "enabled", "variant")) or {}),
            "value": record.get_value(),
            "reason": _fields(record.reason, ("code", "condition_index", "description")),
            "metadata": _fields(
                record.metadata, ("id", "version", "payload", "description", "has_experiment")
            ),
        }
    return {**{k: v for k, v in decision.items() if k != "flags"}, "flags": records}
