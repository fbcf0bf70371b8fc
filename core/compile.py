"""Turning decoded definitions into the structures evaluation walks.

Everything that does not depend on the person is worked out here, once: filters become
matchers (identical filters share one, and so do identical release conditions, variant
tables and payloads), cohorts become trees, group type indexes become group names,
rollout percentages and variant ranges become digest cut-offs (`hashing.above_cut`),
payloads are decoded, the hash is primed with each flag's prefix, and the (value, reason
token) outcomes evaluation stores are prepared, so evaluating a flag allocates almost
nothing. `Reason`s themselves are built from tokens only when asked for.

`finish_flags` then lays out each condition's filter checks (see `Check`) and gives
matchers that several conditions share a memo slot, so one evaluation of every flag runs
each of them once.

Compiled objects are plain classes with `__slots__`, written only while compiling and
never again once `FlagSet` has been built, so any number of threads may share them.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import msgspec

from .cohorts import CohortCompiler, CohortRef, Filter, NotAnObject, filter_problems, is_matcher
from .definitions import ConditionDefinition, FlagDefinition, MalformedFlag, VariantDefinition
from .dependencies import DependencyFilter
from .hashing import NEVER, above_cut, at_least_cut, bucket_prefix
from .operators import INLINE_IN, Inline, PropertyMatcher
from .reasons import Unresolved
from .repair import Repaired, repair
from .signals import BROKEN, DROPPED, Broken
from .snapshot import FlagValue, Reason, thaw

__all__ = [
    "Check",
    "CompiledCondition",
    "CompiledFlag",
    "Holdout",
    "Outcome",
    "Token",
    "compile_flag",
    "finish_flags",
]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_ABSENT: Any = object()
_CONTINUITY = Unresolved.EXPERIENCE_CONTINUITY

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
_NO_INLINE: Inline = (0, None, None, False)
GROUP_MISSING: Token = ("group_not_provided", -1, -1)
ENROLLED: Token = ("feature_enrollment", -1, 1)
NOT_ENROLLED: Token = ("feature_enrollment", -1, 0)
HELD_OUT: Token = ("holdout", -1, -1)
INACTIVE_OUTCOME: Outcome = (False, INACTIVE)
GROUP_MISSING_OUTCOME: Outcome = (False, GROUP_MISSING)
ENROLLED_OUTCOME: Outcome = (True, ENROLLED)
NOT_ENROLLED_OUTCOME: Outcome = (False, NOT_ENROLLED)


class Holdout:
    """`filters.holdout`: a share of bucketing values that never sees the flag."""

    __slots__ = ("always", "cut", "id", "percentage", "value")

    def __init__(self, holdout_id: Any, percentage: float) -> None:
        self.id = holdout_id
        self.percentage = percentage
        self.always = percentage == 100.0
        # Held out unless the bucket exceeds the share (NaN holds out everyone).
        self.cut = above_cut(percentage / 100)
        self.value = f"holdout-{holdout_id}"


def _read_holdout(raw: Any) -> Holdout | Broken | None:
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        return BROKEN
    percentage = raw.get("exclusion_percentage")
    holdout_id = raw.get("id")
    if percentage is None or holdout_id is None:
        return None
    try:
        # The server clamps rather than rejects; NaN survives the clamp and holds out all.
        clamped = min(max(float(percentage), 0.0), 100.0)
    except (TypeError, ValueError, OverflowError):
        return BROKEN
    return Holdout(holdout_id, clamped)


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


@functools.lru_cache(maxsize=256)
def _tokens(index: int, filters: int) -> tuple[Any, ...]:
    """The reason tokens and prepared outcomes of condition `index` with `filters` filters,
    shared by every flag: (on_match, on_out_of_rollout, on_early_exit, on_skipped,
    no_match tokens, miss outcomes, skipped, out-of-rollout, early-exit and matched-True
    outcomes)."""
    match: Token = ("condition_match", index, -1)
    out: Token = ("out_of_rollout", index, -1)
    early: Token = ("early_exit", index, -1)
    skipped: Token = ("condition_skipped", index, -1)
    no_match = tuple([("no_condition_match", index, at) for at in range(filters)])
    misses = tuple([(False, token) for token in no_match])
    return (
        match,
        out,
        early,
        skipped,
        no_match,
        misses,
        (False, skipped),
        (False, out),
        (False, early),
        (True, match),
    )


@functools.lru_cache(maxsize=1024)
def _variant_outcomes(
    variants: tuple[tuple[bytes, bytes, str], ...], on_match: Token
) -> tuple[tuple[bytes, bytes, Outcome], ...]:
    return tuple([(low, high, (variant or True, on_match)) for low, high, variant in variants])


class CompiledCondition:
    """One release condition, ready to evaluate."""

    __slots__ = (
        "aggregation",
        "checks",
        "cut",
        "early_outcome",
        "excluded",
        "filters",
        "group_name",
        "index",
        "matched",
        "misses",
        "mixed",
        "no_match",
        "on_early_exit",
        "on_match",
        "on_match_true",
        "on_out_of_rollout",
        "on_skipped",
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
        rollout_broken: bool = False,
        early_exit: bool = False,
    ) -> None:
        self.index = index
        self.raw_filters = definition.properties or ()
        self.filters = filters
        # Laid out by `finish_flags` once every flag is known (memo slots need them all).
        self.checks: tuple[Check, ...] = ()
        # The condition's filters as one check: its only filter's (when it needs no memo
        # slot), else the walk over `checks` (set by `evaluate.bind_filters`). Called as
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
        cut = None if pct is None else above_cut(pct / 100)
        self.cut: bytes | None = None if cut is NEVER else cut
        override = definition.variant
        self.override: str | None = (
            override if override and type(override) is str and override in variant_keys else None
        )
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
        self.on_match: Token
        self.no_match: tuple[Token, ...]
        self.misses: tuple[Outcome, ...]
        self.on_match_true: Outcome
        (
            self.on_match,
            self.on_out_of_rollout,
            self.on_early_exit,
            self.on_skipped,
            self.no_match,
            self.misses,
            self.skipped_outcome,
            self.out_outcome,
            self.early_outcome,
            self.on_match_true,
        ) = _tokens(index, len(filters))
        # What a bucketing value outside the rollout gets: the out-of-rollout outcome,
        # the early-exit one for a flag that stops there, DROPPED for a broken rollout.
        self.excluded: Any = self.early_outcome if early_exit else self.out_outcome
        if rollout_broken:
            self.cut = b""
            self.excluded = DROPPED
        # None when a variant must be picked by hashing; then `variant_outcomes` has the
        # outcome of each variant's range.
        self.matched: Outcome | None = None
        if self.override is not None:
            self.matched = (self.override, self.on_match)
        elif not variants:
            self.matched = self.on_match_true
        self.variant_outcomes: tuple[tuple[bytes, bytes, Outcome], ...] = (
            _variant_outcomes(variants, self.on_match) if variants else ()
        )

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
        "prefix",
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

    def __init__(self, key: str) -> None:
        self.key = key
        self.id: int | None = None
        self.version: int | None = None
        self.has_experiment: bool | None = None
        self.prefix = bucket_prefix(key)
        # The bucketing hash with the prefix already fed in: evaluation copies it, which
        # is cheaper than hashing the prefix again. Never updated itself.
        self.hasher = hashlib.sha1(self.prefix)
        # Whether the flag is evaluated in the person's context with nothing to settle
        # first (see `evaluate.evaluate_all`).
        self.direct = False
        self.active = False
        self.experience_continuity = False
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
        self.fresh: Mapping[str, Callable[[], Any]] = {}
        # The payloads as the definitions hold them (text stays text), and where the flag
        # is meant to be evaluated: what the older bulk getters and runtime queries report.
        self.stored: Mapping[str, Any] = {}
        self.runtime: Any = None
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

    def fresh_payload(self, value: FlagValue) -> Any:
        """A private copy of the payload for a value (see `payload_source`)."""
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

    def variant_for(self, digest: bytes) -> str | None:
        """The variant whose [low, high) range holds the variant bucket of `digest`."""
        for low, high, variant in self.variants:
            if low <= digest < high:
                return variant
        return None

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


def decode_payload(raw: Any) -> Any:
    """A payload as posthog-python returns it: JSON text decoded (NaN and Infinity refused,
    anything undecodable None), any other value as it is."""
    if not isinstance(raw, str):
        return raw
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        pass
    # msgspec is stricter in places (numbers beyond a double); Python's json decides.
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decode_json = msgspec.json.Decoder().decode


def payload_source(payload: Any) -> Callable[[], Any]:
    """A callable giving a private copy of a decoded payload on every call.

    Scalars are shared as they are. Objects and arrays are kept as compact JSON and
    decoded again per read (msgspec's C decoder is several times faster than a recursive
    copy in Python), unless that JSON would not give back exactly the same values
    (numbers beyond 64 bits, non-JSON types, text with lone surrogates): those are copied.
    """
    if type(payload) is not dict and type(payload) is not list:
        return itertools.repeat(payload).__next__
    try:
        raw = msgspec.json.encode(payload)
        same = _identical(_decode_json(raw), payload)
    except Exception:
        same = False
    if same:
        return functools.partial(_decode_json, raw)
    return functools.partial(thaw, payload)


def _identical(copy: Any, original: Any) -> bool:
    """Equal values of the same types, all the way down (so 1 is not 1.0, nor NaN NaN)."""
    if type(copy) is not type(original):
        return False
    if type(copy) is dict:
        return list(copy) == list(original) and all(
            _identical(copy[key], original[key]) for key in copy
        )
    if type(copy) is list:
        return len(copy) == len(original) and all(map(_identical, copy, original))
    return bool(copy == original)


def _variant_table(
    variants: list[VariantDefinition], compiler: CohortCompiler
) -> tuple[tuple[tuple[bytes, bytes, str], ...], tuple[str, ...]]:
    """Each variant's digest range [low, high) and the variant keys; shared by flags with
    the same variants."""
    shares = tuple([(variant.key, variant.rollout_percentage) for variant in variants])
    found = compiler.variant_tables.get(shares)
    if found is None:
        table = []
        low: float = 0
        for key, percentage in shares:
            high = low + percentage / 100
            table.append((at_least_cut(low), at_least_cut(high), key))
            low = high
        found = compiler.variant_tables[shares] = (
            tuple(table),
            tuple([key for key, _ in shares]),
        )
    return found


def compile_flag(
    definition: FlagDefinition | MalformedFlag,
    compiler: CohortCompiler,
    group_type_mapping: Mapping[str, Any],
) -> CompiledFlag:
    flag = CompiledFlag(definition.key)
    flag.active = bool(definition.active)
    continuity = flag.experience_continuity = bool(definition.ensure_experience_continuity)
    repaired: Repaired | None = None
    if isinstance(definition, MalformedFlag):
        if isinstance(definition.raw, dict):
            flag.runtime = definition.raw.get("evaluation_runtime")
        repaired = repair(definition)
        if repaired is None:
            flag.malformed = definition.problem
            flag.fixed = _CONTINUITY if continuity else _UNSUPPORTED
            return flag
        definition = repaired.definition
    if continuity:
        flag.fixed = _CONTINUITY
    _read_metadata(flag, definition)
    filters = definition.filters
    if filters is None:
        return flag
    _read_filters(flag, definition, compiler, group_type_mapping)
    if filters.groups:
        flag.conditions = tuple(
            [
                _condition(flag, index, condition, compiler, group_type_mapping, repaired)
                for index, condition in enumerate(filters.groups)
            ]
        )
    return flag


def _read_metadata(flag: CompiledFlag, definition: FlagDefinition) -> None:
    """Id, version and experiment marker, kept only when of the type the API promises."""
    flag.runtime = definition.evaluation_runtime
    value = definition.id
    if type(value) is int:
        flag.id = value
    value = definition.version
    if type(value) is int:
        flag.version = value
    value = definition.has_experiment
    if type(value) is bool:
        flag.has_experiment = value


def _read_filters(
    flag: CompiledFlag,
    definition: FlagDefinition,
    compiler: CohortCompiler,
    group_type_mapping: Mapping[str, Any],
) -> None:
    """Everything in `filters` but the release conditions."""
    filters = definition.filters
    assert filters is not None
    aggregation = filters.aggregation_group_type_index
    if aggregation is not None:
        flag.is_group = True
        flag.group_index = aggregation
        name = group_type_mapping.get(str(aggregation))
        flag.group_name = name if name and isinstance(name, Hashable) else None
    identifier = definition.bucketing_identifier or filters.bucketing_identifier
    if identifier == "device_id":
        flag.device_bucketing = True
    if filters.feature_enrollment is True:
        flag.enrollment = True
        flag.enrollment_key = f"$feature_enrollment/{flag.key}"
    if filters.early_exit:
        flag.early_exit = True
    if filters.holdout:
        flag.holdout = _read_holdout(filters.holdout)
    flag.gated = flag.enrollment or flag.holdout is not None
    multivariate = filters.multivariate
    if multivariate is not None and multivariate.variants:
        flag.variants, flag.variant_keys = _variant_table(multivariate.variants, compiler)
    payloads = filters.payloads
    # Payloads of any other shape are ignored: posthog-python still returns the value.
    if payloads and (type(payloads) is dict or isinstance(payloads, Mapping)):
        flag.fresh = _payload_sources(payloads, compiler.payloads)
        flag.stored = {name: raw for name, raw in payloads.items() if type(name) is str}


def _payload_sources(
    payloads: Mapping[Any, Any], seen: dict[str, Callable[[], Any]]
) -> dict[str, Callable[[], Any]]:
    """A fresh-copy source per value's payload; one per distinct JSON text, decoded once
    (flags often repeat them)."""
    sources: dict[str, Callable[[], Any]] = {}
    for name, raw in payloads.items():
        if type(name) is not str:
            continue
        if type(raw) is str:
            source = seen.get(raw)
            if source is None:
                source = seen[raw] = payload_source(decode_payload(raw))
        else:
            source = payload_source(raw)
        sources[name] = source
    return sources


def _condition(
    flag: CompiledFlag,
    index: int,
    condition: ConditionDefinition,
    compiler: CohortCompiler,
    group_type_mapping: Mapping[str, Any],
    repaired: Repaired | None,
) -> CompiledCondition:
    """One release condition, shared with an earlier flag's when they are alike in
    everything evaluation and reasons read (filters alike already share a matcher, so
    comparing matchers suffices). Types ride along where equal values read differently
    (0, 0.0 and False name different group types; -0.0 prints differently in reasons)."""
    raw_filters = condition.properties
    broken_rollout = repaired is not None and index in repaired.broken_rollouts
    not_objects = repaired.not_objects.get(index, ()) if repaired is not None else ()
    compile_filter = compiler.compile_filter
    compiled_filters: tuple[Filter, ...] = ()
    if raw_filters:
        compiled_filters = tuple(
            [
                NotAnObject() if at in not_objects else compile_filter(raw)
                for at, raw in enumerate(raw_filters)
            ]
        )
    pct = condition.rollout_percentage
    override = condition.variant
    group_index = condition.aggregation_group_type_index
    aggregation = flag.group_index
    share_key: Hashable = (
        index,
        compiled_filters,  # compared by identity: compiled filters define no __eq__
        pct if pct else repr(pct),
        flag.variants,
        broken_rollout,
        flag.early_exit,
    )
    if override is not None or group_index is not None or aggregation is not None:
        share_key = (
            share_key,
            override,
            type(override),
            group_index,
            type(group_index),
            aggregation,
            type(aggregation),
        )
    shared = compiler.conditions
    try:
        compiled: CompiledCondition | None = shared.get(share_key)
    except TypeError:  # an unhashable variant or group type index
        share_key = None
        compiled = None
    if compiled is None:
        compiled = CompiledCondition(
            index,
            condition,
            compiled_filters,
            flag.variant_keys,
            flag.variants,
            aggregation,
            group_type_mapping,
            broken_rollout,
            flag.early_exit,
        )
        if share_key is not None:
            shared[share_key] = compiled
    return compiled


def finish_flags(
    flags: Mapping[str, CompiledFlag], dependencies: Iterable[DependencyFilter] = ()
) -> int:
    """Settle what needs every flag; returns how many memo slots evaluation needs.

    Each condition gets its filter checks (see `Check`): a matcher used in more than one
    place (identical filters share one) gets a memo slot, so one evaluation runs it once
    per person however many flags ask. Whether a definition counts as unsupported (which
    ranks a missing device id or a stop at the server) is settled here too.
    """
    # Dependency values are shared between the flags of one evaluation only when every
    # chain can be walked without meeting a missing member (which posthog-python marks in
    # its memo as a side effect, for the rest of one flag).
    shared = True
    parents: set[object] = set()
    for dependency in dependencies:
        dependency.settle(flags)
        shared = shared and dependency.resolvable
        if shared:
            parents.update(dependency.chain)
    uses: dict[int, int] = {}
    for flag in flags.values():
        for condition in flag.conditions:
            for item in condition.filters:
                uses[id(item)] = uses.get(id(item), 0) + 1
    slots: dict[int, int] = {}
    # Per condition (conditions may be shared by flags): whether it reads distinct_id.
    done: dict[int, bool] = {}
    for flag in flags.values():
        for condition in flag.conditions:
            reads_id = done.get(id(condition))
            if reads_id is None:
                reads_id = done[id(condition)] = _lay_out(condition, uses, slots)
            flag.reads_id = flag.reads_id or reads_id
            if condition.mixed and not all(check[1] for check in condition.checks):
                flag.own_memo = True
        if not shared:
            flag.own_memo = True
        # A parent is evaluated as a dependency exactly as for the person, unless it is a
        # group's flag or reads another group's properties (a dependency sees no groups).
        flag.remembered = (
            shared
            and flag.key in parents
            and not flag.is_group
            and not any(condition.mixed for condition in flag.conditions)
        )
        may_stop = flag.reads_id and _may_stop(flag)
        # Cohorts that cannot stop at the server leave nothing for `evaluate_flag` to
        # settle either (only a filter that may stop can reach a dependency).
        flag.direct = (
            flag.active
            and flag.fixed is None
            and not (flag.is_group or flag.device_bucketing or flag.gated or may_stop)
        )
        # Only read for device bucketing and for filters that may stop at the server.
        if flag.device_bucketing or may_stop:
            flag.definition_unsupported = any(
                counted and reason is _UNSUPPORTED
                for reason, _, counted in flag.static_problems(flags)
            )
    return len(slots)


def _may_stop(flag: CompiledFlag) -> bool:
    """Whether a filter of the flag may need the server (a dependency always may)."""
    return any(
        not check[1] and (type(item) is not CohortRef or item.stops)
        for condition in flag.conditions
        for check, item in zip(condition.checks, condition.filters, strict=True)
    )


def _lay_out(
    condition: CompiledCondition,
    uses: Mapping[int, int],
    slots: dict[int, int],
) -> bool:
    """Give a condition its checks; whether any of them may read `distinct_id` (any
    cohort or dependency may)."""
    checks: list[Check] = []
    reads_id = False
    for item in condition.filters:
        if not is_matcher(item):
            reads_id = True
            check = item.check  # type: ignore[union-attr]
            if type(item) is CohortRef and item.same:
                check = item.target.check  # type: ignore[union-attr]
            checks.append((-1, False, check, *_NO_INLINE))
            continue
        matcher: PropertyMatcher = item  # type: ignore[assignment]
        slot = -1
        # Matchers answered in place cost about what a memo lookup does.
        if uses[id(item)] > 1 and matcher.inline is None:
            slot = slots.setdefault(id(item), len(slots))
        if matcher.key == "distinct_id":
            reads_id = True
        checks.append((slot, True, matcher.match, *(matcher.inline or _NO_INLINE)))
    condition.checks = tuple(checks)
    if len(checks) == 1 and checks[0][0] < 0:
        slot, plain, check, kind, lookup, argument, negate = checks[0]
        condition.single = check
        condition.single_plain = plain
        if kind == INLINE_IN:
            condition.single_in = lookup
            condition.single_targets = argument
            condition.single_negate = negate
    return reads_id
