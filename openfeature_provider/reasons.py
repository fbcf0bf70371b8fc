"""OpenFeature reasons from hogkit's structured ones.

hogkit's `Reason.kind` says which part of a flag decided, and for a matched condition
`Reason.decided_by` says whether the bucketing hash, the condition's filters or nothing
at all picked the value. The mapping:

- inactive flag: DISABLED;
- a matched condition that everyone passes with one possible value: STATIC;
- a matched condition whose filters decided, or feature enrollment: TARGETING_MATCH;
- anything a hash decided (partial rollout either way, a variant drawn among several, a
  holdout): SPLIT;
- no condition matched, no conditions, group not given: DEFAULT.
"""

from __future__ import annotations

from typing import Any

from hogkit.core import FlagResult, FlagSet
from openfeature.flag_evaluation import Reason

__all__ = ["flag_signature", "reason_of"]

_DEFAULT_KINDS = frozenset(
    {"no_condition_match", "no_conditions", "group_not_provided", "condition_skipped"}
)
_SPLIT_KINDS = frozenset({"out_of_rollout", "early_exit", "holdout"})
_MATCHED = {"hash": Reason.SPLIT, "filters": Reason.TARGETING_MATCH, "everyone": Reason.STATIC}


def reason_of(result: FlagResult) -> Reason:
    """The OpenFeature reason for a locally evaluated result."""
    reason = result.reason
    kind = reason.kind
    if kind == "condition_match":
        return _MATCHED.get(reason.decided_by or "", Reason.TARGETING_MATCH)
    if kind == "flag_inactive":
        return Reason.DISABLED
    if kind in _SPLIT_KINDS:
        return Reason.SPLIT
    if kind in _DEFAULT_KINDS:
        return Reason.DEFAULT
    if kind == "feature_enrollment":
        return Reason.TARGETING_MATCH if result.value is not False else Reason.DEFAULT
    return Reason.UNKNOWN


def flag_signature(flagset: FlagSet | None, key: str) -> Any:
    """What tells one definition of a flag from another (None: not defined), for naming
    the flags a download changed."""
    info = flagset.flag(key) if flagset is not None else None
    return None if info is None else (info.id, info.version, info.signature)
