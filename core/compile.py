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

Compiled objects are plain classes with `__slots__`, written only while compiling and
never again once `FlagSet` has been built, so any number of threads may share them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .cohorts import CohortRef, Filter, NotAnObject, filter_problems
from .compile_tables import CompileTables
from .definitions import ConditionDefinition
from .dependencies import DependencyFilter
from .hashing import NEVER, above_cut, bucket_prefix
from .reasons import Unresolved
from .signals import BROKEN, DROPPED, Broken
from .snapshot import FlagValue, Reason, thaw

__all__ = [
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
_NO_PAYLOADS: Mapping[str, Any] = MappingProxyType({})


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


def _make_tokens(index: int, filters: int) -> tuple[Any, ...]:
    """The reason tokens and prepared outcomes of condition `index` with `filters` filters:
    (the on-match token, the miss outcome of each filter, and the skipped, out-of-rollout,
    early-exit and matched-True outcomes)."""
    match: Token = ("condition_match", index, -1)
    misses = tuple([(False, ("no_condition_match", index, at)) for at in range(filters)])
    return (
        match,
        misses,
        (False, ("condition_skipped", index, -1)),
        (False, ("out_of_rollout", index, -1)),
        (False, ("early_exit", index, -1)),
        (True, match),
    )


# The tokens of the first few conditions with a few filters, which nearly every flag's
# conditions are: constants (read-only), made at import rather than once per compile.
_FIRST_TOKENS: Mapping[tuple[int, int], tuple[Any, ...]] = MappingProxyType(
    {(index, filters): _make_tokens(index, filters) for index in range(4) for filters in range(6)}
)


def _tokens(index: int, filters: int, tables: CompileTables) -> tuple[Any, ...]:
    """`_make_tokens`, shared by every flag: a constant for the commonest shapes, made once
    per compile (kept in `tables`) for the rest."""
    made = _FIRST_TOKENS.get((index, filters))
    if made is None:
        made = tables.tokens.get((index, filters))
        if made is None:
            made = tables.tokens[(index, filters)] = _make_tokens(index, filters)
    return made


def _prepared(
    index: int, filters: int, pct: float | None, tables: CompileTables
) -> tuple[Any, ...]:
    """`_tokens` followed by the rollout's cut-off (None when nobody is out of it), for
    condition `index` with `filters` filters and rollout `pct`: conditions alike in
    these three, the commonest sharing there is, find all of it in one lookup of
    `tables.prepared`."""
    cut = None if pct is None else above_cut(pct / 100)
    return (*_tokens(index, filters, tables), None if cut is NEVER else cut)


def _variant_outcomes(
    variants: tuple[tuple[bytes, bytes, str], ...], on_match: Token, tables: CompileTables
) -> tuple[tuple[bytes, bytes, Outcome], ...]:
    """Each variant's range with its outcome, once per compile for a variant table."""
    made = tables.variant_outcomes.get((variants, on_match))
    if made is None:
        made = tables.variant_outcomes[(variants, on_match)] = tuple(
            [(low, high, (variant or True, on_match)) for low, high, variant in variants]
        )
    return made


class CompiledCondition:
    """One release condition, ready to evaluate."""

    __slots__ = (
        "aggregation",
        "checks",
        "cut",
        "excluded",
        "filters",
        "group_name",
        "index",
        "matched",
        "misses",
        "mixed",
        "on_match_true",
        "out_outcome",
        "override",
        "raw_filters",
        "rollout",
        "rollout_broken",
        "single",
        "single_in",
        "single_negate",
        "single_plain",
        "single_targets",
        "skipped_outcome",
        "variant_outcomes",
    )

    def __init__(
        self,
        index: int,
        definition: ConditionDefinition,
        filters: tuple[Filter, ...],
        variant_keys: tuple[str, ...],
        variants: tuple[tuple[bytes, bytes, str], ...],
        flag_aggregation: Any,
        group_type_mapping: Mapping[str, Any],
        tables: CompileTables,
        rollout_broken: bool = False,
        early_exit: bool = False,
    ) -> None:
        self.index = index
        self.raw_filters = definition.properties or ()
        self.filters = filters
        # Laid out by `flag_layout.finish_flags` once every flag is known (memo slots need all).
        self.checks: tuple[Check, ...] = ()
        # The condition's filters as one check: its only filter's (when it needs no memo
        # slot), else the walk over `checks` (`condition_filters.bind_filters`). Called as
        # `match(props, now)` when `single_plain`, otherwise `check(run, distinct_id, props)`.
        self.single: Any = None
        self.single_plain = False
        # For a single text filter with an inline form: (lookup key, targets, negate).
        self.single_in: Hashable | None = None
        self.single_targets: Any = None
        self.single_negate = False
        # A rollout that is not a number: reaching it fails the whole flag, as in
        # posthog-python, which then leaves the flag out of its answer.
        self.rollout_broken = rollout_broken
        pct = definition.rollout_percentage
        self.rollout = pct
        # Out of the rollout when the bucket exceeds pct / 100: digests at or above `cut`.
        # None when nobody can be (100%, the commonest rollout): no hashing at all then.
        self.cut: bytes | None
        override = definition.variant
        if not (override and type(override) is str and override in variant_keys):
            override = None
        self.override: str | None = override
        aggregation = definition.aggregation_group_type_index
        self.aggregation = aggregation
        # A condition aggregating differently from its flag ("mixed targeting") reads the
        # group's properties and buckets on the group key.
        self.mixed = mixed = aggregation is not None and aggregation != flag_aggregation
        name = group_type_mapping.get(str(aggregation)) if mixed else None
        self.group_name: Hashable | None = name if name and isinstance(name, Hashable) else None
        # Reason tokens (kind, condition, filter): Reasons are built only when asked for.
        # Outcomes evaluation stores as they are (no allocation per flag); `misses[i]` is
        # the outcome when filter i fails.
        self.misses: tuple[Outcome, ...]
        on_match: Token
        early: Outcome
        out: Outcome
        matched_true: Outcome
        shape = (index, len(filters), pct)
        prepared = tables.prepared.get(shape)
        if prepared is None:
            prepared = tables.prepared[shape] = _prepared(index, len(filters), pct, tables)
        (
            on_match,
            self.misses,
            self.skipped_outcome,
            out,
            early,
            matched_true,
            self.cut,
        ) = prepared
        self.out_outcome = out
        self.on_match_true = matched_true
        # What a bucketing value outside the rollout gets: the out-of-rollout outcome,
        # the early-exit one for a flag that stops there, DROPPED for a broken rollout.
        self.excluded: Any = early if early_exit else out
        if rollout_broken:
            self.cut = b""
            self.excluded = DROPPED
        # None when a variant must be picked by hashing; then (and only then, as nothing
        # else reads them) `variant_outcomes` has the outcome of each variant's range.
        self.variant_outcomes: tuple[tuple[bytes, bytes, Outcome], ...] = ()
        self.matched: Outcome | None
        if override is not None:
            self.matched = (override, on_match)
        elif not variants:
            self.matched = matched_true
        else:
            self.matched = None
            self.variant_outcomes = _variant_outcomes(variants, on_match, tables)

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


class CompiledFlag:
    """One flag, ready to evaluate."""

    __slots__ = (
        "active",
        "conditions",
        "definition_unsupported",
        "device_bucketing",
        "direct",
        "early_exit",
        "enrollment",
        "enrollment_key",
        "experience_continuity",
        "fixed",
        "fresh",
        "gated",
        "group_index",
        "group_name",
        "has_experiment",
        "hasher",
        "holdout",
        "id",
        "is_group",
        "key",
        "malformed",
        "own_memo",
        "reads_id",
        "remembered",
        "runtime",
        "stored",
        "variant_keys",
        "variants",
        "version",
    )

    key: str
    active: bool
    experience_continuity: bool
    malformed: str | None
    fixed: Unresolved | None
    conditions: tuple[CompiledCondition, ...]
    variants: tuple[tuple[bytes, bytes, str], ...]
    holdout: Holdout | Broken | None
    definition_unsupported: bool

    def __init__(self, key: str, active: bool, continuity: bool, runtime: Any) -> None:
        self.key = key
        self.id: int | None = None
        self.version: int | None = None
        self.has_experiment: bool | None = None
        # The bucketing hash with the flag's prefix already fed in (see `prime_hash`):
        # evaluation copies it, which is cheaper than hashing the prefix again. Never
        # updated itself; None while no condition hashes (evaluation never reads it then).
        self.hasher: Any = None
        # Whether the flag is evaluated in the person's context with nothing to settle
        # first (see `evaluate.evaluate_all`).
        self.direct = False
        self.active = active
        self.experience_continuity = continuity
        self.malformed = None
        self.fixed = None
        self.is_group = False
        self.group_index: Any = None
        self.group_name: Hashable | None = None
        self.device_bucketing = False
        self.enrollment = False
        self.enrollment_key = ""  # set when the flag uses feature enrollment
        self.holdout = None
        self.early_exit = False
        self.conditions = ()
        self.variants = ()
        self.variant_keys: tuple[str, ...] = ()
        self.fresh: Mapping[str, Callable[[], Any]] = _NO_PAYLOADS
        # The payloads as the definitions hold them (text stays text), and where the flag
        # is meant to be evaluated: what the older bulk getters and runtime queries report.
        self.stored: Mapping[str, Any] = _NO_PAYLOADS
        self.runtime: Any = runtime
        self.definition_unsupported = False
        # Whether evaluating it may read the `distinct_id` person property (only then must
        # evaluation add it to the person's properties).
        self.reads_id = False
        # Whether feature enrollment or a holdout may decide it before its conditions.
        self.gated = False
        # Whether a cohort or dependency sits in a condition on another group's
        # properties (see `evaluate._cache_for`).
        self.own_memo = False
        # Whether its value, decided for the person, is kept for the flags that depend on
        # it (see `evaluate.evaluate_all`).
        self.remembered = False

    def prime_hash(self) -> None:
        """Give the flag its primed bucketing hash: only flags with a condition that
        hashes (a rollout below 100% or variants to pick) need one."""
        self.hasher = hashlib.sha1(bucket_prefix(self.key))

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
