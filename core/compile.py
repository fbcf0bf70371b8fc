"""Turning decoded definitions into the structures evaluation walks.

Everything that does not depend on the person is worked out here, once: filters become
matchers (identical filters share one, and so do identical release conditions, variant
tables and payloads), cohorts become trees, group type indexes become group names,
rollout percentages and variant ranges become digest cut-offs (`hashing.above_cut`),
payloads are decoded, the hash is primed with each flag's prefix, and the (value, reason
token) outcomes evaluation stores are prepared, so evaluating a flag allocates almost
nothing. `Reason`s themselves are built from tokens only when asked for.

`finish_flags` then gives matchers that several simple flags share a memo slot, so one
evaluation of every flag runs each of them once.

Compiled objects are plain classes with `__slots__`, never modified once `FlagSet`
has been built, so any number of threads may share them.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Hashable, Iterator, Mapping
from datetime import datetime
from typing import Any

import msgspec

from .cohorts import CohortCompiler, CohortRef, Filter, filter_problems
from .definitions import ConditionDefinition, FlagDefinition, MalformedFlag, VariantDefinition
from .dependencies import DependencyFilter
from .hashing import NEVER, above_cut, at_least_cut, bucket_prefix
from .operators import Inline, PropertyMatcher
from .reasons import Unresolved
from .signals import BROKEN, Broken
from .snapshot import FlagValue, Reason, thaw

__all__ = ["CompiledCondition", "CompiledFlag", "Holdout", "Outcome", "Token", "compile_flag"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_ABSENT: Any = object()
_CONTINUITY = Unresolved.EXPERIENCE_CONTINUITY

# (kind, condition index or -1, filter index or -1): what a Reason is built from.
Token = tuple[str, int, int]
# A decided flag as a snapshot stores it: its value and the token of its reason.
Outcome = tuple[FlagValue, Token]
Match = Callable[[Mapping[str, object], datetime], "bool | Unresolved"]
INACTIVE: Token = ("flag_inactive", -1, -1)
NO_CONDITIONS: Token = ("no_conditions", -1, -1)
NO_CONDITIONS_OUTCOME: Outcome = (False, NO_CONDITIONS)
_NO_INLINE: Inline = (0, None, None, False)
GROUP_MISSING: Token = ("group_not_provided", -1, -1)
ENROLLED: Token = ("feature_enrollment", -1, 1)
NOT_ENROLLED: Token = ("feature_enrollment", -1, 0)
HELD_OUT: Token = ("holdout", -1, -1)


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
    operator = raw.get("operator") or "exact"
    return item.key, f"{item.key!r} {operator} {raw.get('value')!r}"


@functools.lru_cache(maxsize=256)
def _tokens(index: int) -> tuple[Token, Token, Token, Token, tuple[Token, ...]]:
    """The reason tokens of condition `index`, shared by every flag."""
    return (
        ("condition_match", index, -1),
        ("out_of_rollout", index, -1),
        ("early_exit", index, -1),
        ("condition_skipped", index, -1),
        tuple([("no_condition_match", index, at) for at in range(8)]),
    )


class CompiledCondition:
    """One release condition, ready to evaluate."""

    __slots__ = (
        "aggregation",
        "checks",
        "cut",
        "early_outcome",
        "filters",
        "group_name",
        "index",
        "matched",
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
        "simple",
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
    ) -> None:
        self.index = index
        self.raw_filters = definition.properties or ()
        simple = True
        for item in filters:
            if type(item) is CohortRef or type(item) is DependencyFilter:
                simple = False
        self.filters = filters
        self.simple = simple
        # (memo slot or -1, the matcher's bound `match`, outcome if it fails) per filter,
        # for the simple-flag loop; slots are handed out by `finish_flags` once every flag
        # is known.
        self.checks: tuple[tuple[int, Match, Outcome, int, Hashable, Any, bool], ...] = ()
        # For evaluating the flag on its own, per filter: (match, outcome if it fails,
        # then the matcher's `inline` form spread out: kind (0 when it has none), lookup
        # key, argument, negate).
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
        tokens = _tokens(index)
        self.on_match: Token = tokens[0]
        self.on_out_of_rollout: Token = tokens[1]
        self.on_early_exit: Token = tokens[2]
        self.on_skipped: Token = tokens[3]
        misses = tokens[4]
        if len(filters) > len(misses):
            misses = tuple([("no_condition_match", index, at) for at in range(len(filters))])
        self.no_match: tuple[Token, ...] = misses
        # Outcomes the simple-flag loop stores as they are (no allocation per flag).
        self.out_outcome: Outcome = (False, self.on_out_of_rollout)
        self.early_outcome: Outcome = (False, self.on_early_exit)
        # None when a variant must be picked by hashing; then `variant_outcomes` has the
        # outcome of each variant's range.
        self.on_match_true: Outcome = (True, self.on_match)
        self.matched: Outcome | None = None
        if self.override is not None:
            self.matched = (self.override, self.on_match)
        elif not variants:
            self.matched = self.on_match_true
        self.variant_outcomes: tuple[tuple[bytes, bytes, Outcome], ...] = tuple(
            [(low, high, (variant or True, self.on_match)) for low, high, variant in variants]
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


class CompiledFlag:
    """One flag, ready to evaluate."""

    __slots__ = (
        "active",
        "conditions",
        "definition_unsupported",
        "device_bucketing",
        "early_exit",
        "enrollment",
        "enrollment_key",
        "experience_continuity",
        "fixed",
        "fresh",
        "group_index",
        "group_name",
        "has_experiment",
        "hasher",
        "holdout",
        "id",
        "is_group",
        "key",
        "malformed",
        "prefix",
        "reads_id",
        "simple",
        "uses_memo",
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
        # is cheaper than starting a new one.
        self.hasher = hashlib.sha1(self.prefix)
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
        self.definition_unsupported = False
        self.simple = False
        self.reads_id = False
        self.uses_memo = False

    def fresh_payload(self, value: FlagValue) -> Any:
        """A private copy of the payload for a value (see `payload_source`)."""
        if value is True:
            source = self.fresh.get("true")
        elif value is False:
            source = self.fresh.get("false")
        else:
            source = self.fresh.get(value)
        return None if source is None else source()

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
        reference's classifier)."""
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
    """A payload as the reference returns it: JSON text decoded (NaN and Infinity refused,
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
    active = flag.active = bool(definition.active)
    continuity = flag.experience_continuity = bool(definition.ensure_experience_continuity)
    if isinstance(definition, MalformedFlag):
        flag.malformed = definition.problem
        flag.fixed = _CONTINUITY if continuity else _UNSUPPORTED
        return flag
    if continuity:
        flag.fixed = _CONTINUITY
    value = definition.id
    if type(value) is int:
        flag.id = value
    value = definition.version
    if type(value) is int:
        flag.version = value
    value = definition.has_experiment
    if type(value) is bool:
        flag.has_experiment = value
    filters = definition.filters
    if filters is None:
        flag.simple = active and not continuity
        return flag
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
    multivariate = filters.multivariate
    if multivariate is not None and multivariate.variants:
        flag.variants, flag.variant_keys = _variant_table(multivariate.variants, compiler)
    payloads = filters.payloads
    # Payloads of any other shape are ignored: the reference still returns the value.
    if payloads and (type(payloads) is dict or isinstance(payloads, Mapping)):
        seen = compiler.payloads
        by_value: dict[str, Any] = {}
        for name, raw in payloads.items():
            if type(name) is str:
                payload = raw
                if type(raw) is str:
                    payload = seen.get(raw, _ABSENT)
                    if payload is _ABSENT:
                        payload = seen[raw] = decode_payload(raw)
                by_value[name] = payload
        flag.fresh = {name: payload_source(payload) for name, payload in by_value.items()}
    simple = active and not continuity and aggregation is None and not flag.device_bucketing
    simple = simple and not flag.enrollment and flag.holdout is None
    if filters.groups:
        conditions = []
        compile_filter = compiler.compile_filter
        shared = compiler.conditions
        for index, condition in enumerate(filters.groups):
            raw_filters = condition.properties
            compiled_filters = (
                tuple([compile_filter(raw) for raw in raw_filters]) if raw_filters else ()
            )
            # Conditions alike in everything evaluation and reasons read are compiled once
            # (filters alike already share a matcher, so comparing matchers suffices).
            # Types ride along where equal values read differently (0, 0.0 and False
            # name different group types; -0.0 prints differently in reasons).
            pct = condition.rollout_percentage
            override = condition.variant
            group_index = condition.aggregation_group_type_index
            share_key: Hashable = (
                index,
                compiled_filters,  # compared by identity: compiled filters define no __eq__
                pct if pct else repr(pct),
                flag.variants,
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
            try:
                compiled = shared.get(share_key)
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
                )
                if share_key is not None:
                    shared[share_key] = compiled
            if compiled.mixed or not compiled.simple:
                simple = False
            conditions.append(compiled)
        flag.conditions = tuple(conditions)
    flag.simple = simple
    return flag


def finish_flags(flags: Mapping[str, CompiledFlag]) -> int:
    """Settle what needs every flag; returns how many memo slots evaluation needs.

    Whether a definition counts as unsupported is only read when evaluating non-simple
    flags (to rank a missing device id or a stop at the server), so simple flags skip it.
    Simple flags instead get their condition checks: a matcher used in more than one place
    (identical filters share one) gets a memo slot, so one evaluation runs it once per
    person however many flags ask.
    """
    uses: dict[int, int] = {}
    simple_flags = []
    for flag in flags.values():
        if flag.simple:
            simple_flags.append(flag)
            for condition in flag.conditions:
                for item in condition.filters:
                    uses[id(item)] = uses.get(id(item), 0) + 1
            continue
        flag.definition_unsupported = any(
            counted and reason is _UNSUPPORTED for reason, _, counted in flag.static_problems(flags)
        )
    slots: dict[int, int] = {}
    # Per condition (conditions may be shared by flags): (uses the memo, reads distinct_id).
    done: dict[int, tuple[bool, bool]] = {}
    for flag in simple_flags:
        for condition in flag.conditions:
            known = done.get(id(condition))
            if known is None:
                checks = []
                uses_memo = reads_id = False
                for index, item in enumerate(condition.filters):
                    miss: Outcome = (False, condition.no_match[index])
                    slot = -1
                    if uses[id(item)] > 1:
                        slot = slots.setdefault(id(item), len(slots))
                        uses_memo = True
                    matcher: PropertyMatcher = item  # type: ignore[assignment]
                    if matcher.key == "distinct_id":
                        reads_id = True
                    inline = matcher.inline or _NO_INLINE
                    checks.append((slot, matcher.match, miss, *inline))
                condition.checks = tuple(checks)
                known = done[id(condition)] = (uses_memo, reads_id)
            if known[0]:
                flag.uses_memo = True
            if known[1]:
                flag.reads_id = True
    return len(slots)
