"""Salvaging flag definitions that fail the schema in ways posthog-python still evaluates.

Two malformations leave a flag evaluable up to the point where posthog-python trips on
them: a condition filter that is not an object, and a `rollout_percentage` that is not a
number. Everything before that point (earlier conditions, earlier filters) still decides
the flag, so such a flag is compiled with those parts marked rather than given up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .definitions import FlagDefinition, MalformedFlag

__all__ = ["Repaired", "repair"]


class Repaired(msgspec.Struct, frozen=True, kw_only=True):
    """A schema-valid copy of a malformed flag, and what had to be set aside: per
    condition index, the positions of filters that are not objects, and the conditions
    whose rollout is not a number."""

    definition: FlagDefinition
    not_objects: Mapping[int, frozenset[int]]
    broken_rollouts: frozenset[int]


def _is_number(value: object) -> bool:
    return type(value) in (int, float, bool)


def repair(flag: MalformedFlag) -> Repaired | None:
    """The flag with its salvageable faults set aside, or None when others remain."""
    raw = flag.raw
    filters = raw.get("filters") if isinstance(raw, Mapping) else None
    groups = filters.get("groups") if isinstance(filters, Mapping) else None
    if not isinstance(groups, list):
        return None
    not_objects: dict[int, frozenset[int]] = {}
    broken: set[int] = set()
    patched: list[Any] = []
    for index, condition in enumerate(groups):
        if not isinstance(condition, Mapping):
            return None
        fixed = dict(condition)
        properties = condition.get("properties")
        if isinstance(properties, list):
            odd = frozenset(
                at for at, item in enumerate(properties) if not isinstance(item, Mapping)
            )
            if odd:
                not_objects[index] = odd
                fixed["properties"] = [
                    {} if at in odd else item for at, item in enumerate(properties)
                ]
        rollout = condition.get("rollout_percentage")
        if type(rollout) is bool:
            fixed["rollout_percentage"] = float(rollout)
        elif rollout is not None and not _is_number(rollout):
            broken.add(index)
            fixed["rollout_percentage"] = None
        patched.append(fixed)
    if (
        not not_objects
        and not broken
        and not any(type(c.get("rollout_percentage")) is bool for c in groups)
    ):
        return None
    assert isinstance(filters, Mapping)
    document = {**raw, "filters": {**filters, "groups": patched}}
    try:
        definition = msgspec.convert(document, FlagDefinition, str_keys=True)
    except (msgspec.ValidationError, TypeError, ValueError, RecursionError):
        return None
    return Repaired(
        definition=definition, not_objects=not_objects, broken_rollouts=frozenset(broken)
    )
