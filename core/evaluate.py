"""Evaluating compiled flags for one person (or group), exactly as posthog 7.91.1 does.

This is the one evaluator; it reads in posthog-python's order:

1. `evaluate_flag`: the flag is active; experience continuity sends it to the server;
   then whose flag it is (a group's, or the person's, bucketed on the device id when
   asked);
2. `match_flag`: feature enrollment, the holdout, then the release conditions in order;
   a condition's filters (`condition_filters`: properties, cohorts, dependencies), its
   rollout, then the variant. Payloads are attached when a snapshot is read.

A condition's filters are walked as `condition_filters` describes; a condition with
undecided filters leaves the flag undecided only if no later condition matches.

`Run` holds one evaluation call's inputs (its groups and device id in a
`call_inputs.CallContext`) and what it may reuse within the call: the
outcome of matchers several flags share, and the values of flags evaluated as
dependencies (a flag's value is a function of the call's inputs, so a parent evaluated
for one dependent holds for every other, and a parent decided for the person holds for
the flags after it). That holds until a chain member cannot be decided: posthog-python's
memo lives for one top-level flag, so a flag that meets such a member is evaluated again
with a memo of its own, and the shared one is dropped (`_afresh`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from .call_inputs import NO_CONTEXT, UNENCODABLE, CallContext, call_context, encode
from .compile import (
    ENROLLED_OUTCOME,
    GROUP_MISSING_OUTCOME,
    HELD_OUT,
    INACTIVE_OUTCOME,
    NO_CONDITIONS_OUTCOME,
    NOT_ENROLLED_OUTCOME,
    CompiledCondition,
    CompiledFlag,
    Holdout,
    Outcome,
)
from .hashing import HOLDOUT_PREFIX
from .reasons import Unresolved, stronger
from .signals import BROKEN, DROPPED, NEEDS_SERVER_DEPENDENCY, Broken, Dropped, NeedsServer
from .signals import Outcome as FilterOutcome

__all__ = [
    "DROPPED",
    "Run",
    "evaluate_all",
    "evaluate_flag",
    "evaluate_one",
    "make_run",
]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_MISSING = Unresolved.MISSING_CONTEXT
_UNRESOLVED_DEPENDENCY = Unresolved.UNRESOLVED_DEPENDENCY
_VARIANT_SALT = b"variant"
_ABSENT: Any = object()
_sha1 = hashlib.sha1
# The dependency-cache context of the person's own flags.
_PERSON = (0, 0)


# What matching a flag gives: a (value, reason token) outcome, or why it was not decided.
Matched = Outcome | Unresolved | NeedsServer | Broken | Dropped


class _Dependencies:
    """What evaluating dependencies keeps for the rest of a call; made when a dependency
    is first met (most calls meet none)."""

    __slots__ = ("active", "caches", "failed", "own", "tainted")

    def __init__(self) -> None:
        # Dependency values per (bucketing value, properties) context.
        self.caches: dict[tuple[int, int], dict[Any, Any]] = {}
        # The person's own context's values, once made (see `Run.person_cache`).
        self.own: dict[Any, Any] | None = None
        # Dependencies being evaluated (to notice loops), and whether one was noticed.
        self.active: set[str] = set()
        self.tainted = False
        # Whether a chain member of the flag being evaluated could not be decided.
        self.failed = False


class Run(msgspec.Struct):
    """The inputs of one `FlagSet.evaluate` call and what the call may reuse. Made by
    `make_run`, once per call: a struct because its construction is a share of a
    single-flag read that a Python `__init__` would double."""

    flags: Mapping[str, CompiledFlag]
    now: datetime
    distinct_id: object
    # The evaluated id as hash input (UTF-8), encoded once.
    distinct_bytes: bytes
    person: Mapping[str, object]
    context: CallContext = NO_CONTEXT
    # Per memo slot, the outcome of a matcher several conditions share on the person's
    # properties (absent: not run yet). A dict rather than a list of every slot: a call
    # that asks for one flag of many should not pay for every shared matcher.
    memo: dict[int, Any] = msgspec.field(default_factory=dict)
    # The dependency values the flag being evaluated uses (see `dependency_cache`).
    cache: dict[Any, Any] | None = None
    deps: _Dependencies | None = None

    def dependency_cache(self, distinct_id: object, properties: object) -> dict[Any, Any]:
        """The dependency values for one context, shared by every flag of the call.

        After a loop between dependencies was noticed, what was stored may depend on
        where evaluation entered the loop, so the shared values are dropped."""
        deps = self.deps
        if deps is None:
            deps = self.deps = _Dependencies()
        caches = deps.caches
        if deps.tainted:
            caches.clear()
            deps.own = None
            deps.tainted = False
        if distinct_id is self.distinct_id and properties is self.person:
            context = _PERSON
        else:
            context = (id(distinct_id), id(properties))
        cache = caches.get(context)
        if cache is None:
            cache = caches[context] = {}
        return cache

    def person_cache(self) -> dict[Any, Any]:
        """`dependency_cache` for the person's own context, kept at hand."""
        deps = self.deps
        if deps is None or deps.own is None or deps.tainted:
            own = self.dependency_cache(self.distinct_id, self.person)
            assert self.deps is not None
            self.deps.own = own
            return own
        return deps.own

    def evaluate_dependency(
        self, key: str, distinct_id: object, properties: Mapping[str, object]
    ) -> FilterOutcome | None:
        """Evaluate chain member `key` into the cache; an outcome only when it failed.

        As in posthog-python, a dependency sees no groups, and a group flag evaluated as a
        dependency buckets on whatever id the dependent flag is evaluated for."""
        flag = self.flags[key]
        cache = self.cache
        assert cache is not None
        if not flag.active:
            cache[key] = False
            return None
        if flag.experience_continuity:
            return self._undecided(cache, key)
        if flag.malformed is not None:
            return BROKEN
        value_bytes = (
            self.distinct_bytes if distinct_id is self.distinct_id else encode(distinct_id)
        )
        # A group flag buckets on the id its dependent is evaluated for, unless that id is
        # None: then, as for a person's flag, on the device id when the flag asks for it.
        if flag.device_bucketing and (not flag.is_group or distinct_id is None):
            if not self.context.device_id:
                return self._undecided(cache, key)
            value_bytes = self.context.device_bytes
        deps = self.deps
        if deps is None:
            deps = self.deps = _Dependencies()
        active = deps.active
        if key in active:
            # Definitions that loop without the server marking the cycle; posthog-python
            # recurses until Python stops it.
            deps.tainted = True
            return BROKEN
        active.add(key)
        try:
            result = match_flag(self, flag, distinct_id, properties, value_bytes, False)
        finally:
            active.discard(key)
        if type(result) is tuple:
            cache[key] = result[0]
            return None
        if type(result) is Unresolved:
            return self._undecided(cache, key)
        if type(result) is NeedsServer:
            return NEEDS_SERVER_DEPENDENCY
        return BROKEN

    def _undecided(self, cache: dict[Any, Any], key: str) -> FilterOutcome:
        """Note that chain member `key` could not be decided. posthog-python then skips it
        in later chains of the same top-level flag (comparing its None) where a fresh walk
        would stop at it, so from here on this flag's memo holds what only this flag may
        read (see `_afresh`)."""
        cache[key] = None
        deps = self.deps
        if deps is None:
            deps = self.deps = _Dependencies()
        deps.failed = True
        return _UNRESOLVED_DEPENDENCY


def evaluate_all(
    run: Run,
    flags: tuple[CompiledFlag, ...],
    outcomes: dict[str, Outcome],
    unresolved: dict[str, Unresolved],
) -> None:
    """Evaluate `flags` into `outcomes` and `unresolved` (a flag DROPPED goes in neither).

    A flag compilation marked `direct` (active, for the person, bucketed on the distinct
    id, without enrollment, holdout, cohorts or dependencies) has nothing for
    `evaluate_flag` to settle before its conditions, so it goes to `match_flag` at once.
    """
    distinct_id = run.distinct_id
    person = run.person
    value_bytes = run.distinct_bytes
    result: Any
    for flag in flags:
        try:
            if flag.direct:
                result = match_flag(run, flag, distinct_id, person, value_bytes, True)
            else:
                result = evaluate_flag(run, flag)
        except Exception:
            result = _failed(run)
        if type(result) is tuple:
            outcomes[flag.key] = result
            if flag.remembered:
                # What evaluating it as a dependency would store, for the flags after it.
                run.person_cache()[flag.key] = result[0]
        elif result is not DROPPED:
            unresolved[flag.key] = result


def evaluate_one(run: Run, flag: CompiledFlag) -> Matched:
    """One flag as `evaluate_all` evaluates each (for a caller asking for one value)."""
    try:
        if flag.direct:
            return match_flag(run, flag, run.distinct_id, run.person, run.distinct_bytes, True)
        return evaluate_flag(run, flag)
    except Exception:
        return _failed(run)


def _failed(run: Run) -> Unresolved:
    """Why a flag whose evaluation raised needs the server: never raise into the caller;
    a definition this broken needs the server. Hashing an id with no UTF-8 form fails as
    it does in posthog-python: missing context."""
    if run.distinct_bytes is UNENCODABLE or run.context.device_bytes is UNENCODABLE:
        return _MISSING
    return _UNSUPPORTED


def evaluate_flag(run: Run, flag: CompiledFlag) -> Outcome | Unresolved | Dropped:
    """One top-level flag: its (value, reason token), why it needs the server, or
    DROPPED when posthog-python would fail on it."""
    if not flag.active:
        return INACTIVE_OUTCOME
    if flag.fixed is not None:
        return flag.fixed
    if flag.is_group:
        name = flag.group_name
        if name is None:
            return _UNSUPPORTED
        context = run.context
        if name not in context.groups:
            # The server would answer False too, so this is decided locally.
            return GROUP_MISSING_OUTCOME
        distinct_id = context.groups[name]
        person = context.group_props[name]
        value_bytes = context.group_bytes[name]
        if distinct_id is None and flag.device_bucketing:
            # posthog-python reads a group key of None as no bucketing value at all and
            # takes the flag's own identifier instead: the device id, which may be missing.
            if not context.device_id:
                return _MISSING
            value_bytes = context.device_bytes
        run.cache = _cache_for(run, flag, distinct_id, person) if flag.reads_id else None
    else:
        value_bytes = run.distinct_bytes
        if flag.device_bucketing:
            if not run.context.device_id:
                return _UNSUPPORTED if flag.definition_unsupported else _MISSING
            value_bytes = run.context.device_bytes
        distinct_id = run.distinct_id
        person = run.person
        if flag.reads_id:
            # The person's shared memo, unless the flag keeps its own (see `_cache_for`).
            run.cache = {} if flag.own_memo else run.person_cache()
        else:
            run.cache = None
    result = match_flag(run, flag, distinct_id, person, value_bytes, True)
    deps = run.deps
    if deps is not None and deps.failed:
        result = _afresh(run, flag, deps, result, (distinct_id, person, value_bytes))
    if type(result) is NeedsServer:
        # The loop stopped at the server; a problem in the rest of the definition outranks.
        return _UNSUPPORTED if flag.definition_unsupported else result.reason
    if type(result) is Broken:
        return _UNSUPPORTED
    return result  # type: ignore[return-value]


def _afresh(
    run: Run,
    flag: CompiledFlag,
    deps: _Dependencies,
    result: Matched,
    inputs: tuple[object, Mapping[str, object], bytes],
) -> Matched:
    """`result` of a top-level flag during which a chain member could not be decided, or
    the flag evaluated again with a memo of its own.

    posthog-python keeps a memo per top-level flag: an undecided member it meets again is
    skipped rather than walked, and parents evaluated after it may come out otherwise
    than when evaluated afresh. What the shared memo held from earlier flags was decided
    afresh, so from the first undecided member on it may not stand in for this flag's own
    memo: the flag is evaluated again from an empty one (as posthog-python does), and the
    shared memo, which now holds what only this flag may read, is dropped."""
    deps.failed = False
    if flag.own_memo:
        return result
    deps.tainted = True
    run.cache = {}
    distinct_id, props, value_bytes = inputs
    result = match_flag(run, flag, distinct_id, props, value_bytes, True)
    deps.failed = False
    return result


def _cache_for(run: Run, flag: CompiledFlag, distinct_id: object, props: object) -> dict[Any, Any]:
    """The dependency memo a top-level flag uses. A flag with dependencies under a
    condition on another group's properties may evaluate a parent in that context, so it
    keeps a memo of its own (posthog-python keeps one per top-level flag)."""
    if flag.own_memo:
        return {}
    return run.dependency_cache(distinct_id, props)


def match_flag(
    run: Run,
    flag: CompiledFlag,
    distinct_id: object,
    props: Mapping[str, object],
    value_bytes: bytes,
    top: bool,
) -> Matched:
    """Enrollment, holdout, then the release conditions in order, for one bucketing value
    (UTF-8). A condition matches when its filters do (`condition_filters`) and the bucketing value
    is inside its rollout; its value is then the override, the variant, or True.

    `top` is False for a dependency, which (as in posthog-python) sees no groups. When no
    condition matches, the reason is the first condition whose rollout excluded the
    value, else the first failed filter, else the first skipped condition.
    """
    if flag.gated:
        gated = _gate(flag, props, value_bytes)
        if gated is not None:
            return gated
    reason: Unresolved | None = None
    first_out = first_miss = first_skip = None
    for condition in flag.conditions:
        cond_props, cond_bytes = props, value_bytes
        if condition.mixed:
            context = _group_context(run, condition, top)
            if context is None:
                first_skip = first_skip or condition.skipped_outcome
                continue
            cond_props, cond_bytes = context
        if condition.checks:
            # The filters as one check (see `condition_filters.bind_filters`).
            found: Any
            if (lookup := condition.single_in) is not None and type(
                value := cond_props.get(lookup)  # type: ignore[call-overload]
            ) is str:
                # A text value against a text filter, answered in place (`property_matcher.Inline`).
                found = (value.lower() in condition.single_targets) is not condition.single_negate
            elif condition.single_plain:
                found = condition.single(cond_props, run.now)
            else:
                found = condition.single(run, distinct_id, cond_props)
            if found is not True:
                if found is False or type(found) is int:
                    first_miss = first_miss or condition.misses[found]
                elif type(found) is Unresolved:
                    reason = stronger(reason, found)
                else:
                    return found  # type: ignore[no-any-return]
                continue
        cut = condition.cut
        if cut is None:
            return condition.matched or _variant(flag.hasher.copy(), condition, cond_bytes)
        # The rollout hash continues the flag's primed prefix hash, and the variant hash
        # continues the rollout hash (its input is the rollout's plus a salt).
        state = flag.hasher.copy()
        state.update(cond_bytes)
        if state.digest() < cut:
            return condition.matched or _variant(state, condition, b"")
        # Out of the rollout: `excluded` is the out-of-rollout outcome, the early-exit
        # one when the flag stops at the first such condition, or DROPPED for a rollout
        # that is not a number.
        excluded = condition.excluded
        if excluded is not condition.out_outcome:
            return excluded if reason is None or excluded is DROPPED else reason
        first_out = first_out or excluded
    return reason or first_out or first_miss or first_skip or NO_CONDITIONS_OUTCOME


def _group_context(
    run: Run, condition: CompiledCondition, top: bool
) -> tuple[Mapping[str, object], bytes] | None:
    """The properties and bucketing value of a condition on another group's properties;
    None when it is skipped (the group was not passed, or this is a dependency)."""
    name = condition.group_name
    context = run.context
    if not top or name is None or name not in context.groups:
        return None
    return context.group_props[name], context.group_bytes[name]


def _gate(flag: CompiledFlag, props: Mapping[str, object], value_bytes: bytes) -> Matched | None:
    """Feature enrollment decides the flag outright; a holdout decides it for the values
    it holds out. None: the release conditions decide."""
    if flag.enrollment:
        return _enrollment(flag, props)
    holdout = flag.holdout
    if type(holdout) is not Holdout:
        return BROKEN
    if holdout.always or _sha1(HOLDOUT_PREFIX + value_bytes).digest() < holdout.cut:
        return (holdout.value, HELD_OUT)
    return None


def _variant(state: Any, condition: CompiledCondition, value_bytes: bytes) -> Outcome:
    """The variant whose range holds the variant bucket (True when none does): `state`
    is the flag's hash fed with the prefix and, unless `value_bytes` is given, the
    bucketing value."""
    state.update(value_bytes + _VARIANT_SALT)
    bucket = state.digest()
    for low, high, outcome in condition.variant_outcomes:
        if low <= bucket < high:
            return outcome
    return condition.on_match_true


def _enrollment(flag: CompiledFlag, props: Mapping[str, object]) -> Matched:
    if flag.is_group:
        return _UNSUPPORTED
    enrolled = props.get(flag.enrollment_key, _ABSENT)
    if enrolled is _ABSENT:
        return _MISSING
    if enrolled is True or (isinstance(enrolled, str) and enrolled == "true"):
        return ENROLLED_OUTCOME
    return NOT_ENROLLED_OUTCOME


def make_run(
    flags: Mapping[str, CompiledFlag],
    now: datetime,
    distinct_id: object,
    person: Mapping[str, object],
    groups: object,
    group_properties: object,
    device_id: object,
) -> Run:
    """One call's inputs (see `call_inputs.call_context` for the groups and device id)."""
    distinct_bytes = (
        distinct_id.encode()
        if type(distinct_id) is str and distinct_id.isascii()
        else encode(distinct_id)
    )
    if not groups and not device_id:
        return Run(flags, now, distinct_id, distinct_bytes, person)
    context = call_context(groups, group_properties, device_id)
    return Run(flags, now, distinct_id, distinct_bytes, person, context)
