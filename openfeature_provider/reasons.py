"""OpenFeature reasons from hogkit's structured ones.

hogkit's `Reason.kind` says which part of a flag decided, not whether a hash took part; the
compiled condition it names does (a partial rollout, or a variant picked among several).
So the mapping reads both:

- inactive flag: DISABLED;
- a matched condition with no filters and a full rollout (and a fixed variant, if any): STATIC;
- a matched condition with filters, or feature enrollment: TARGETING_MATCH;
- anything a hash decided (partial rollout either way, a variant among several, a
  holdout): SPLIT;
- no condition matched, no conditions, group not given: DEFAULT.
"""

from __future__ import annotations

from typing import Any

from hogkit.core import FlagResult, FlagSet
from openfeature.flag_evaluation import Reason

__all__ = ["compiled_flag", "flag_signature", "reason_of"]

_DEFAULT_KINDS = frozenset(
    {"no_condition_match", "no_conditions", "group_not_provided", "condition_skipped"}
)
_SPLIT_KINDS = frozenset({"out_of_rollout", "early_exit", "holdout"})


def compiled_flag(flagset: FlagSet | None, key: str) -> Any:
    """The compiled form of one flag, or None.

    `FlagSet` keeps its compiled flags private and offers no per-flag accessor yet; this is
    the one place that reaches them, and only reads.
    """
    if flagset is None:
        return None
    flags = getattr(flagset, "_flags", None)
    return flags.get(key) if flags is not None else None


def _hash_picks_variant(flag: Any, condition: Any) -> bool:
    """A multivariate flag without the condition's override, with more than one variant
    that can actually come up."""
    if getattr(condition, "override", None) is not None:
        return False
    variants = getattr(flag, "variants", ()) or ()
    live = [name for low, high, name in variants if low != high]
    return len(live) > 1


def _matched(flag: Any, index: int | None) -> Reason:
    conditions = getattr(flag, "conditions", ()) if flag is not None else ()
    if index is None or not 0 <= index < len(conditions):
        return Reason.TARGETING_MATCH
    condition = conditions[index]
    rollout = getattr(condition, "rollout", None)
    if (rollout is not None and rollout < 100) or _hash_picks_variant(flag, condition):
        return Reason.SPLIT
    return Reason.TARGETING_MATCH if getattr(condition, "filters", ()) else Reason.STATIC


def reason_of(result: FlagResult, flagset: FlagSet | None) -> Reason:
    """The OpenFeature reason for a locally evaluated result."""
    kind = result.reason.kind
    if kind == "flag_inactive":
        return Reason.DISABLED
    if kind in _SPLIT_KINDS:
        return Reason.SPLIT
    if kind in _DEFAULT_KINDS:
        return Reason.DEFAULT
    if kind == "feature_enrollment":
        return Reason.TARGETING_MATCH if result.value is not False else Reason.DEFAULT
    if kind == "condition_match":
        return _matched(compiled_flag(flagset, result.key), result.reason.condition_index)
    return Reason.UNKNOWN


def flag_signature(flagset: FlagSet | None, key: str) -> tuple[Any, ...] | None:
    """What distinguishes one definition of a flag from another, for change detection:
    id, version and activity, each condition's rollout, override and filter count, the
    variants and the payloads."""
    flag = compiled_flag(flagset, key)
    if flag is None:
        return None
    conditions = tuple(
        (c.rollout, c.override, len(c.filters), c.aggregation) for c in flag.conditions
    )
    payloads = tuple(sorted((slot, repr(make())) for slot, make in flag.fresh.items()))
    return (flag.id, flag.version, flag.active, conditions, flag.variants, payloads)
