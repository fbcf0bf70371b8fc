"""Turning decoded definitions into the structures evaluation walks.

Everything that does not depend on the person is worked out here, once: filters become
matchers (identical filters share one, and so do identical release conditions, variant
tables and payloads), cohorts become trees, group type indexes become group names,
rollout percentages and variant ranges become digest cut-offs (`hashing.above_cut`), payloads
are decoded, the hash of each flag that hashes is primed with its prefix, and the (value,
reason token) outcomes evaluation stores are prepared, so evaluating a flag allocates
almost nothing. `Reason`s themselves are built from tokens only when asked for.

This module defines those structures; `compile_flags` builds them from definitions and
`payloads` decodes and copies payloads. `flag_layout.finish_flags` then lays out each
condition's filter checks (see `Check`) and gives matchers that several conditions share a
memo slot, so one evaluation of every flag runs each of them once.

Compiled flags and conditions are msgspec structs (their defaults are filled in C, and
field reads cost what slot reads do); like every other compiled object they are written
only while compiling and never again once `FlagSet` has been built, so any number of
threads may share them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec

from .cohorts import CohortRef, Filter, NotAnObject, filter_problems
from .compile_tables import CompileTables
from .dependencies import DependencyFilter
from .reasons import Unresolved
from .signals import BROKEN, Broken
from .snapshot import FlagValue, Reason, thaw

__all__ = [
    "NO_PAYLOADS",
    "Check",
    "CompiledCondition",
    "CompiledFlag",
    "Holdout",
    "Outcome",
    "Token",
]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION

# (kind, condition index or -1, filter index or -1): what a Reason is built from.
Token = tuple[str, int, int]
# A decided flag as a snapshot stores it: its value and the token of its reason.
Outcome = tuple[FlagValue, Token]
Match = Callable[[Mapping[str, object], datetime], "bool | Unresolved"]
# One filter of a condition, as evaluation walks it: (memo slot or -1, plain, check, then
# the matcher's `inline` form spread out: kind (0 when it has none), lookup key, argument,
# negate). A plain filter is a property matcher, checked as `check(props, now)`; any other
# (cohort, dependency) as `check(run, distinct_id, props)`.
Check = tuple[int, bool, Any, int, Hashable, Any, bool]
INACTIVE: Token = ("flag_inactive", -1, -1)
NO_CONDITIONS: Token = ("no_conditions", -1, -1)
NO_CONDITIONS_OUTCOME: Outcome = (False, NO_CONDITIONS)
GROUP_MISSING: Token = ("group_not_provided", -1, -1)
ENROLLED: Token = ("feature_enrollment", -1, 1)
NOT_ENROLLED: Token = ("feature_enrollment", -1, 0)
HELD_OUT: Token = ("holdout", -1, -1)
INACTIVE_OUTCOME: Outcome = (False, INACTIVE)
GROUP_MISSING_OUTCOME: Outcome = (False, GROUP_MISSING)
ENROLLED_OUTCOME: Outcome = (True, ENROLLED)
NOT_ENROLLED_OUTCOME: Outcome = (False, NOT_ENROLLED)
# What a flag without payloads holds: one read-only empty mapping, not two dicts per flag.
NO_PAYLOADS: Mapping[str, Any] = MappingProxyType({})


class Holdout:
    """`filters.holdout`: a share of bucketing values that never sees the flag."""

    __slots__ = ("always", "cut", "id", "percentage", "value")

    def __init__(self, holdout_id: Any, percentage: float, tables: CompileTables) -> None:
        self.id = holdout_id
        self.percentage = percentage
        self.always = percentage == 100.0
        # Held out unless the bucket exceeds the share (NaN holds out everyone).
        self.cut = tables.above_cut(percentage / 100)
        self.value = f"holdout-{holdout_id}"


def _describe(raw: Mapping[str, Any], item: Filter) -> tuple[str, str]:
    """(label, description) of a filter, for reasons."""
    if isinstance(item, CohortRef):
        verb = "not in" if item.negate else "in"
        return item.label, f"{verb} cohort {item.cohort_id}"
    if isinstance(item, DependencyFilter):
        return item.label, f"flag {item.key!r} evaluates to {item.expected!r}"
    if isinstance(item, NotAnObject):
        return item.label, "a filter that is not an object"
    operator = raw.get("operator") or "exact"
    return item.key, f"{item.key!r} {operator} {raw.get('value')!r}"


class CompiledCondition(msgspec.Struct, eq=False, gc=False):
    """One release condition, ready to evaluate (built by `compile_flags`; a struct for
    the same reasons as `CompiledFlag`)."""

    index: int
    raw_filters: Sequence[Mapping[str, Any]]
    filters: tuple[Filter, ...]
    rollout: float | None
    rollout_broken: bool
    # Out of the rollout when the bucket exceeds rollout / 100: digests at or above `cut`.
    # None when nobody can be (100%, the commonest rollout): no hashing at all then.
    cut: bytes | None
    override: str | None
    aggregation: Any
    mixed: bool
    group_name: Hashable | None
    # Reason tokens (kind, condition, filter): Reasons are built only when asked for.
    # Outcomes evaluation stores as they are (no allocation per flag); `misses[i]` is
    # the outcome when filter i fails.
    misses: tuple[Outcome, ...]
    skipped_outcome: Outcome
    out_outcome: Outcome
    on_match_true: Outcome
    excluded: Any
    # None when a variant must be picked by hashing; then (and only then, as nothing
    # else reads them) `variant_outcomes` has the outcome of each variant's range.
    matched: Outcome | None
    variant_outcomes: tuple[tuple[bytes, bytes, Outcome], ...]
    # Laid out by `flag_layout.finish_flags` once every flag is known (memo slots need all).
    checks: tuple[Check, ...] = ()
    # The condition's filters as one check: its only filter's (when it needs no memo
    # slot), else the walk over `checks` (`condition_filters.bind_filters`). Called as
    # `match(props, now)` when `single_plain`, otherwise `check(run, distinct_id, props)`.
    single: Any = None
    single_plain: bool = False
    # For a single text filter with an inline form: (lookup key, targets, negate).
    single_in: Hashable | None = None
    single_targets: Any = None
    single_negate: bool = False

    def __repr__(self) -> str:
        # Short: a field-by-field repr would spell out every check and matcher.
        return f"<CompiledCondition {self.index}>"

    def reason(self, token: Token) -> Reason:
        kind, index, position = token
        share = "" if self.rollout is None else f"{self.rollout:g}% "
        if kind == "no_condition_match":
            label, text = _describe(self.raw_filters[position], self.filters[position])
            return Reason(kind, index, label, f"condition {index}: {text} did not match")
        if kind == "condition_match":
            detail = f"condition {index} matched"
            if self.override is not None:
                detail += f"; it sets variant {self.override!r}"
            return Reason(kind, index, None, detail, self.decided_by())
        elif kind == "out_of_rollout":
            detail = (
                f"condition {index} matched but its {share}rollout excludes this bucketing value"
            )
        elif kind == "early_exit":
            detail = (
                f"condition {index} matched but its {share}rollout excludes this bucketing "
                "value, and the flag stops at the first such condition"
            )
        else:
            detail = (
                f"condition {index} targets group type index {self.aggregation!r}, "
                "which was not passed in groups"
            )
        return Reason(kind, index, None, detail)

    def decided_by(self) -> str:
        """What picks the value when this condition matches (see `Reason.decided_by`):
        fixed by the compiled rollout cut-off, filters and variant ranges."""
        drawn = sum(1 for low, high, _ in self.variant_outcomes if low != high)
        if self.cut is not None or (self.matched is None and drawn > 1):
            return "hash"
        return "filters" if self.filters else "everyone"


class CompiledFlag(msgspec.Struct, eq=False, gc=False):
    """One flag, ready to evaluate.

    A struct rather than a class with `__slots__`: `compile_flags.compile_flag` builds it
    with every field it knows in one call, and the struct fills the rest from defaults
    without running Python code. `eq=False` keeps identity equality and hashing, which
    the memo tables of a compile rely on. Like the decoded definitions, compiled flags
    and conditions are not tracked by the garbage collector (`gc=False`): nothing made
    after them refers back to them (matchers, cohort trees, checks and payload sources
    are all built first), so neither can be part of a reference cycle.
    """

    key: str
    active: bool
    experience_continuity: bool
    # Where the flag is meant to be evaluated, as the definition says: what the older bulk
    # getters and runtime queries report.
    runtime: Any
    id: int | None = None
    version: int | None = None
    has_experiment: bool | None = None
    fixed: Unresolved | None = None
    malformed: str | None = None
    conditions: tuple[CompiledCondition, ...] = ()
    # The bucketing hash with the flag's prefix already fed in (see `compile_flags`):
    # evaluation copies it, which is cheaper than hashing the prefix again. Never
    # updated itself; None while no condition hashes (evaluation never reads it then).
    hasher: Any = None
    is_group: bool = False
    group_index: Any = None
    group_name: Hashable | None = None
    device_bucketing: bool = False
    enrollment: bool = False
    enrollment_key: str = ""  # set when the flag uses feature enrollment
    early_exit: bool = False
    holdout: Holdout | Broken | None = None
    # Whether feature enrollment or a holdout may decide it before its conditions.
    gated: bool = False
    variants: tuple[tuple[bytes, bytes, str], ...] = ()
    variant_keys: tuple[str, ...] = ()
    fresh: Mapping[str, Callable[[], Any]] = NO_PAYLOADS
    # The payloads as the definitions hold them (text stays text).
    stored: Mapping[str, Any] = NO_PAYLOADS
    # Settled by `flag_layout.finish_flags` once every flag is known:
    # whether the flag is evaluated in the person's context with nothing to settle
    # first (see `evaluate.evaluate_all`);
    direct: bool = False
    definition_unsupported: bool = False
    # whether evaluating it may read the `distinct_id` person property (only then must
    # evaluation add it to the person's properties);
    reads_id: bool = False
    # whether a cohort or dependency sits in a condition on another group's properties
    # (see `evaluate._cache_for`);
    own_memo: bool = False
    # whether its value, decided for the person, is kept for the flags that depend on it
    # (see `evaluate.evaluate_all`).
    remembered: bool = False

    def __repr__(self) -> str:
        # Short: a field-by-field repr would spell out payloads and every condition.
        return f"<CompiledFlag {self.key!r}>"

    def fresh_payload(self, value: FlagValue) -> Any:
        """A private copy of the payload for a value (see `payloads.payload_source`)."""
        if value is True:
            source = self.fresh.get("true")
        elif value is False:
            source = self.fresh.get("false")
        else:
            source = self.fresh.get(value)
        return None if source is None else source()

    def payload_sent(self, value: FlagValue) -> Any:
        """The payload for a value as the definitions hold it (never re-encoded), or None."""
        name = "true" if value is True else "false" if value is False else value
        return thaw(self.stored.get(name))

    def reason_for(self, token: Token) -> Reason:
        """The Reason a token stands for (built on demand: most are never asked for)."""
        kind, index, position = token
        if index >= 0:
            return self.conditions[index].reason(token)
        if kind == "flag_inactive":
            return Reason(kind, None, None, "the flag is not active")
        if kind == "no_conditions":
            return Reason(kind, None, None, "the flag has no release conditions")
        if kind == "group_not_provided":
            return Reason(
                kind,
                None,
                None,
                f"a group flag for group type {self.group_name!r}, which was not passed in groups",
            )
        if kind == "feature_enrollment":
            opted = "opted in" if position else "not opted in"
            return Reason(kind, None, self.enrollment_key, f"the person has {opted}")
        holdout = self.holdout
        assert isinstance(holdout, Holdout)
        return Reason(
            kind,
            None,
            None,
            f"held out by holdout {holdout.id!r} ({holdout.percentage:g}% of bucketing values)",
        )

    def static_problems(
        self, flags: Mapping[str, CompiledFlag]
    ) -> Iterator[tuple[Unresolved, str, bool]]:
        """Every problem visible in the definition: (reason, message, counted by the
        posthog-python's classifier)."""
        if self.experience_continuity:
            yield (
                Unresolved.EXPERIENCE_CONTINUITY,
                "experience continuity is on: only the server remembers a person's value",
                True,
            )
        if self.malformed is not None:
            yield _UNSUPPORTED, self.malformed, True
            return
        if self.is_group and self.group_name is None:
            yield (
                _UNSUPPORTED,
                f"group type index {self.group_index!r} is not in group_type_mapping",
                True,
            )
        if self.enrollment and self.is_group:
            yield _UNSUPPORTED, "a group flag uses feature enrollment (a person property)", False
        if self.holdout is BROKEN:
            yield _UNSUPPORTED, "the holdout's exclusion_percentage is not a number", False
        for condition in self.conditions:
            if condition.rollout_broken:
                yield (
                    _UNSUPPORTED,
                    f"condition {condition.index}: rollout_percentage is not a number",
                    False,
                )
            for item in condition.filters:
                for reason, message, counted in filter_problems(item, flags, set()):
                    yield reason, f"condition {condition.index}: {message}", counted
                if isinstance(item, DependencyFilter) and item.problem is None:
                    for member in item.chain:
                        parent = flags.get(member) if isinstance(member, str) else None
                        if parent is not None and parent.active and parent.fixed is not None:
                            yield (
                                Unresolved.UNRESOLVED_DEPENDENCY,
                                f"condition {condition.index}: depends on flag {member!r}, "
                                f"which needs the server ({parent.fixed.value})",
                                False,
                            )
