"""Flag definitions for tests, written as code and produced in PostHog's own format.

A `FlagBuilder` yields exactly the JSON the server's definitions endpoint sends, so the
engine under test compiles it like any downloaded document: tests exercise the real
evaluation path (conditions, rollouts, variants, payloads, cohorts, dependencies) rather
than a stand-in. `document()` wraps built flags (and cohorts) into one definitions document.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FlagBuilder",
    "cohort",
    "cohort_filter",
    "depends_on",
    "document",
    "prop",
]

_ids = itertools.count(1)


def prop(
    key: str, value: Any = None, operator: str = "exact", *, type: str = "person"
) -> dict[str, Any]:
    """One property filter (`type` is `person` or `group`)."""
    found: dict[str, Any] = {"key": key, "operator": operator, "type": type}
    if operator not in ("is_set", "is_not_set") or value is not None:
        found["value"] = value
    return found


def cohort_filter(cohort_id: int | str, *, negated: bool = False) -> dict[str, Any]:
    """A filter matching members of cohort `cohort_id` (its definition goes in `document`)."""
    found: dict[str, Any] = {"key": "id", "type": "cohort", "value": int(cohort_id)}
    if negated:
        found["negation"] = True
    return found


def depends_on(flag_key: str, value: bool | str = True) -> dict[str, Any]:
    """A filter matching when flag `flag_key` evaluates to `value` for the same person
    (a direct dependency: the chain the server would send is just that flag)."""
    return {
        "key": flag_key,
        "type": "flag",
        "operator": "flag_evaluates_to",
        "value": value,
        "dependency_chain": [flag_key],
    }


def cohort(*filters: Mapping[str, Any], match: str = "AND") -> dict[str, Any]:
    """A cohort definition whose members satisfy all (`AND`) or any (`OR`) of `filters`."""
    return {"type": "OR", "values": [{"type": match, "values": [dict(f) for f in filters]}]}


class FlagBuilder:
    """Builds one flag definition; methods return the builder so calls chain.

    A flag with no `condition()` call gets one unconditional 100 % condition when built.
    """

    def __init__(self, key: str, *, flag_id: int | None = None, version: int = 1) -> None:
        self.key = key
        self.flag_id = flag_id if flag_id is not None else next(_ids)
        self.version = version
        self._active = True
        self._conditions: list[dict[str, Any]] = []
        self._variants: list[dict[str, Any]] = []
        self._payloads: dict[str, Any] = {}
        self._aggregation: int | None = None
        self._holdout: dict[str, Any] | None = None
        self._experience_continuity = False

    def active(self, on: bool = True) -> FlagBuilder:
        """Inactive flags are False for everyone."""
        self._active = on
        return self

    def condition(
        self,
        *filters: Mapping[str, Any],
        rollout: float | None = 100,
        variant: str | None = None,
    ) -> FlagBuilder:
        """A release condition: all `filters` must match, then `rollout` % of people pass
        (by hash); `variant` forces the variant for people it lets in."""
        found: dict[str, Any] = {
            "properties": [dict(f) for f in filters],
            "rollout_percentage": rollout,
        }
        if variant is not None:
            found["variant"] = variant
        self._conditions.append(found)
        return self

    def rollout(self, percentage: float) -> FlagBuilder:
        """An unconditional condition letting `percentage` % of people in."""
        return self.condition(rollout=percentage)

    def variants(self, shares: Mapping[str, float]) -> FlagBuilder:
        """Make the flag multivariate: `{variant: percentage}`, shares summing to 100."""
        self._variants = [
            {"key": name, "name": name, "rollout_percentage": share}
            for name, share in shares.items()
        ]
        return self

    def payload(self, value: bool | str, payload: Any) -> FlagBuilder:
        """The payload returned with `value` (True or a variant key)."""
        slot = "true" if value is True else "false" if value is False else str(value)
        self._payloads[slot] = json.dumps(payload)
        return self

    def for_groups(self, group_type_index: int) -> FlagBuilder:
        """Evaluate the flag per group of type `group_type_index` instead of per person."""
        self._aggregation = group_type_index
        return self

    def holdout(self, holdout_id: int, percentage: float) -> FlagBuilder:
        """Hold `percentage` % of people out (they get the holdout's variant)."""
        self._holdout = {"id": holdout_id, "exclusion_percentage": percentage}
        return self

    def build(self) -> dict[str, Any]:
        """The flag as the definitions endpoint sends it (a fresh dict each call)."""
        conditions = self._conditions or [{"properties": [], "rollout_percentage": 100}]
        filters: dict[str, Any] = {
            "groups": [dict(c) for c in conditions],
            "payloads": dict(self._payloads),
        }
        if self._variants:
            filters["multivariate"] = {"variants": [dict(v) for v in self._variants]}
        if self._aggregation is not None:
            filters["aggregation_group_type_index"] = self._aggregation
        if self._holdout is not None:
            filters["holdout"] = dict(self._holdout)
        return {
            "id": self.flag_id,
            "key": self.key,
            "name": self.key,
            "active": self._active,
            "deleted": False,
            "version": self.version,
            "ensure_experience_continuity": self._experience_continuity,
            "filters": filters,
        }


def document(
    flags: Iterable[FlagBuilder | Mapping[str, Any]],
    *,
    cohorts: Mapping[int | str, Mapping[str, Any]] | None = None,
    group_type_mapping: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A definitions document holding `flags` (built or already plain) and `cohorts`."""
    return {
        "flags": [f.build() if isinstance(f, FlagBuilder) else dict(f) for f in flags],
        "group_type_mapping": dict(group_type_mapping or {}),
        "cohorts": {str(k): dict(v) for k, v in (cohorts or {}).items()},
    }
