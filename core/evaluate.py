"""Evaluating compiled flags for one person (or group), exactly as posthog 7.91.1 does.

The order of checks is the reference's: inactive, experience continuity, group or person
context (with device-id bucketing), feature enrollment, holdout, then the release
conditions in order. Within a condition every filter is looked at until one fails (a
definite False beats anything undecided before it); a condition with undecided filters
leaves the flag undecided only if no later condition matches, and a filter that needs
the server stops the flag at once, unless an earlier filter was already undecided.

This module holds the general path, for flags that are not "simple" (groups, device-id
bucketing, enrollment, holdouts, cohorts, dependencies); `FlagSet.evaluate` runs simple
flags itself, by the same rules. `Run` holds one evaluation call's inputs; the
dependency memo it carries lives for one top-level flag, as in the reference (so
dependencies are re-evaluated per dependent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .cohorts import Filter, check_filter
from .compile import (
    ENROLLED,
    GROUP_MISSING,
    HELD_OUT,
    INACTIVE,
    NO_CONDITIONS,
    NOT_ENROLLED,
    CompiledCondition,
    CompiledFlag,
    Token,
)
from .hashing import HOLDOUT_PREFIX
from .operators import PropertyMatcher
from .reasons import PRECEDENCE, Unresolved, stronger
from .signals import BROKEN, NEEDS_SERVER_DEPENDENCY, Broken, NeedsServer, Outcome
from .snapshot import FlagValue

__all__ = ["UNENCODABLE", "Run", "as_dict", "encode", "evaluate_flag", "make_run"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_MISSING = Unresolved.MISSING_CONTEXT
_UNRESOLVED_DEPENDENCY = Unresolved.UNRESOLVED_DEPENDENCY
_RANK = {reason: rank for rank, reason in enumerate(PRECEDENCE)}
_VARIANT_SALT = b"variant"
_ABSENT: Any = object()
_sha1 = hashlib.sha1


class _Unencodable:
    """Stands in for a bucketing value that has no UTF-8 text: hashing it fails like the
    reference does, but only for the flags that actually hash it."""

    __slots__ = ()

    def __radd__(self, other: bytes) -> bytes:
        raise UnicodeError("the bucketing value cannot be encoded as UTF-8")


UNENCODABLE: Any = _Unencodable()


def encode(value: object) -> bytes:
    """A bucketing value as hash input: formatted like an f-string, then UTF-8."""
    try:
        return f"{value}".encode()
    except Exception:
        # Lone surrogates, or an object whose formatting fails.
        return UNENCODABLE  # type: ignore[no-any-return]


# What matching a flag's properties gives: a value, or why it could not be decided.
Matched = FlagValue | Unresolved | NeedsServer | Broken


class Run:
    """The inputs of one `FlagSet.evaluate` call, plus the per-flag dependency memo."""

    __slots__ = (
        "active",
        "cache",
        "device_bytes",
        "device_id",
        "distinct_bytes",
        "flags",
        "group_bytes",
        "group_props",
        "groups",
        "now",
        "person",
    )

    def __init__(
        self,
        flags: Mapping[str, CompiledFlag],
        now: datetime,
        groups: Mapping[Any, Any],
        group_props: Mapping[Any, Mapping[str, object]],
        device_id: object,
        distinct_id: object = None,
        person: Mapping[str, object] | None = None,
    ) -> None:
        self.flags = flags
        # The evaluated id as hash input, and the person's properties with `distinct_id`.
        self.distinct_bytes = encode(distinct_id)
        if person is None:
            person = {}
        self.person = person if "distinct_id" in person else {**person, "distinct_id": distinct_id}
        self.now = now
        self.groups = groups
        self.group_props = group_props
        self.group_bytes = {name: encode(key) for name, key in groups.items()}
        self.device_id = device_id
        self.device_bytes = encode(device_id)
        self.cache: dict[Any, FlagValue | None] | None = None
        self.active: set[str] = set()

    def evaluate_dependency(
        self, key: str, distinct_id: object, properties: Mapping[str, object]
    ) -> Outcome | None:
        """Evaluate chain member `key` into the memo; an outcome only when it failed."""
        flag = self.flags[key]
        cache = self.cache
        assert cache is not None
        if not flag.active:
            cache[key] = False
            return None
        if flag.experience_continuity:
            cache[key] = None
            return _UNRESOLVED_DEPENDENCY
        if flag.malformed is not None:
            return BROKEN
        if flag.is_group:
            # Quirk kept from the reference: a group-flag dependency buckets on whatever
            # distinct id the dependent flag is being evaluated for.
            value_bytes = encode(distinct_id)
        elif flag.device_bucketing:
            if not self.device_id:
                cache[key] = None
                return _UNRESOLVED_DEPENDENCY
            value_bytes = self.device_bytes
        else:
            value_bytes = encode(distinct_id)
        if key in self.active:
            # Definitions that loop without the server marking the cycle; the reference
            # recurses until Python stops it.
            return BROKEN
        self.active.add(key)
        try:
            value, _ = match_flag(self, flag, distinct_id, properties, value_bytes, False)
        finally:
            self.active.discard(key)
        if value is True or value is False or type(value) is str:
            cache[key] = value
            return None
        if isinstance(value, Unresolved):
            cache[key] = None
            return _UNRESOLVED_DEPENDENCY
        if isinstance(value, NeedsServer):
            return NEEDS_SERVER_DEPENDENCY
        return BROKEN


def evaluate_flag(
    run: Run,
    flag: CompiledFlag,
    distinct_id: object,
    distinct_bytes: bytes,
    person_props: Mapping[str, object],
) -> tuple[FlagValue | Unresolved, Token | None]:
    """One top-level flag: its value and reason, or why it needs the server."""
    if not flag.active:
        return False, INACTIVE
    if flag.fixed is not None:
        return flag.fixed, None
    run.cache = None
    if flag.is_group:
        name = flag.group_name
        if name is None:
            return _UNSUPPORTED, None
        if name not in run.groups:
            # The server would answer False too, so this is decided locally.
            return False, GROUP_MISSING
        key = run.groups[name]
        value, reason = match_flag(
            run, flag, key, run.group_props[name], run.group_bytes[name], True
        )
    else:
        if flag.device_bucketing:
            if not run.device_id:
                return (_UNSUPPORTED if flag.definition_unsupported else _MISSING), None
            value_bytes = run.device_bytes
        else:
            value_bytes = distinct_bytes
        value, reason = match_flag(run, flag, distinct_id, person_props, value_bytes, True)
    if type(value) is str or value is True or value is False:
        return value, reason
    if isinstance(value, Unresolved):
        return value, None
    if isinstance(value, NeedsServer):
        # The loop stopped at the server; a problem in the rest of the definition outranks.
        return (_UNSUPPORTED if flag.definition_unsupported else value.reason), None
    return _UNSUPPORTED, None


def _check_filters(
    run: Run, filters: tuple[Filter, ...], distinct_id: object, props: Mapping[str, object]
) -> tuple[Outcome, int]:
    """A condition's filters when some are cohorts or dependencies: (outcome, index of the
    filter that failed or -1)."""
    reason: Unresolved | None = None
    server: NeedsServer | None = None
    for index, item in enumerate(filters):
        result = check_filter(item, run, distinct_id, props)
        if result is True:
            continue
        if result is False:
            return False, index
        if isinstance(result, Unresolved):
            reason = stronger(reason, result)
        elif isinstance(result, NeedsServer):
            # Only the first undecided filter may send the flag to the server; after
            # another undecided one, later conditions can still decide it.
            if reason is None:
                server = result
            reason = stronger(reason, result.reason)
        else:
            if reason is None:
                return BROKEN, -1
            break
    if server is not None:
        return server, -1
    if reason is not None:
        return reason, -1
    return True, -1


def match_flag(
    run: Run,
    flag: CompiledFlag,
    distinct_id: object,
    props: Mapping[str, object],
    value_bytes: bytes,
    top: bool,
) -> tuple[Matched, Token | None]:
    """Enrollment, holdout and the condition loop for one bucketing value (UTF-8).

    `top` is False for a dependency, which (as in the reference) sees no groups.
    """
    if flag.enrollment:
        if flag.is_group:
            return _UNSUPPORTED, None
        enrolled = props.get(flag.enrollment_key, _ABSENT)
        if enrolled is _ABSENT:
            return _MISSING, None
        if enrolled is True or (isinstance(enrolled, str) and enrolled == "true"):
            return True, ENROLLED
        return False, NOT_ENROLLED
    holdout = flag.holdout
    if holdout is not None:
        if holdout is BROKEN:
            return BROKEN, None
        assert not isinstance(holdout, Broken)
        if holdout.always or _sha1(HOLDOUT_PREFIX + value_bytes).digest() < holdout.cut:
            return holdout.value, HELD_OUT

    now = run.now
    reason: Unresolved | None = None
    first_out: Token | None = None
    first_miss: Token | None = None
    first_skip: Token | None = None
    rollout_digest = b""
    condition: CompiledCondition
    for condition in flag.conditions:
        cond_props = props
        cond_bytes = value_bytes
        if condition.mixed:
            name = condition.group_name
            if not top or name is None or name not in run.groups:
                if first_skip is None:
                    first_skip = condition.on_skipped
                continue
            cond_props = run.group_props[name]
            cond_bytes = run.group_bytes[name]
        filters = condition.filters
        if filters:
            if condition.simple:
                undecided: Unresolved | None = None
                failed: PropertyMatcher | None = None
                for matcher in filters:
                    result = matcher.match(cond_props, now)  # type: ignore[union-attr]
                    if result is True:
                        continue
                    if result is False:
                        failed = matcher  # type: ignore[assignment]
                        break
                    if undecided is None or _RANK[result] < _RANK[undecided]:
                        undecided = result
                if failed is not None:
                    if first_miss is None:
                        first_miss = condition.no_match[filters.index(failed)]
                    continue
                if undecided is not None:
                    reason = stronger(reason, undecided)
                    continue
            else:
                outcome, failed_at = _check_filters(run, filters, distinct_id, cond_props)
                if outcome is False:
                    if first_miss is None:
                        first_miss = condition.no_match[failed_at]
                    continue
                if isinstance(outcome, Unresolved):
                    reason = stronger(reason, outcome)
                    continue
                if outcome is not True:
                    return outcome, None
        cut = condition.cut
        if cut is not None:
            if cond_bytes is value_bytes:
                if not rollout_digest:
                    rollout_digest = _sha1(flag.prefix + value_bytes).digest()
                digest = rollout_digest
            else:
                digest = _sha1(flag.prefix + cond_bytes).digest()
            if digest >= cut:
                if flag.early_exit:
                    if reason is not None:
                        return reason, None
                    return False, condition.on_early_exit
                if first_out is None:
                    first_out = condition.on_out_of_rollout
                continue
        if condition.override is not None:
            return condition.override, condition.on_match
        if flag.variants:
            variant = flag.variant_for(_sha1(flag.prefix + cond_bytes + _VARIANT_SALT).digest())
            if variant:
                return variant, condition.on_match
        return True, condition.on_match
    if reason is not None:
        return reason, None
    return False, first_out or first_miss or first_skip or NO_CONDITIONS


def make_run(
    flags: Mapping[str, CompiledFlag],
    now: datetime,
    groups: object,
    group_properties: object,
    device_id: object,
    distinct_id: object,
    person: Mapping[str, object],
) -> Run:
    """What flags beyond the simple ones need. Groups and their properties are read as
    the reference reads them: each group's properties get `$group_key`, and properties
    of types not in `groups` are dropped; person properties get `distinct_id` when they
    lack it."""
    group_map = as_dict(groups)
    group_props: dict[Any, dict[str, object]] = {}
    if group_map:
        extra = as_dict(group_properties)
        for name, key in group_map.items():
            enriched: dict[str, object] = {"$group_key": key}
            enriched.update(as_dict(extra.get(name)))
            group_props[name] = enriched
    return Run(flags, now, group_map, group_props, device_id, distinct_id, person)


def as_dict(value: object) -> dict[Any, Any]:
    """A private copy of a caller's mapping; anything that is not one counts as empty."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        return dict(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return {}
