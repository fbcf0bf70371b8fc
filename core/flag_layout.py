"""Settling what needs every compiled flag at once: filter checks and memo slots.

Kept apart from `compile` and `compile_flags`, which work one flag at a time: this pass
runs after all flags are compiled, lays out each condition's checks (see `Check`), gives
matchers several conditions share a memo slot, and decides which flags evaluation may
take the direct path for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping

from .cohorts import CHECKED_TYPES, CohortRef, Filter
from .compile import Check, CompiledCondition, CompiledFlag
from .condition_filters import bind_filters
from .dependencies import DependencyFilter
from .property_matcher import INLINE_IN, PropertyMatcher
from .reasons import Unresolved

__all__ = ["finish_flags"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_NEITHER = (False, False)


def finish_flags(
    flags: Mapping[str, CompiledFlag],
    dependencies: Iterable[DependencyFilter],
    condition_filters: Collection[Filter],
) -> tuple[int, bool]:
    """Settle what needs every flag; returns how many memo slots evaluation needs, and
    whether any flag may read the `distinct_id` person property.

    Each condition gets its filter checks (see `Check`): a matcher used in more than one
    place (identical filters share one) gets a memo slot, so one evaluation runs it once
    per person however many flags ask. Whether a definition counts as unsupported (which
    ranks a missing device id or a stop at the server) is settled here too.

    `condition_filters` holds every filter of a release condition once per flag it was
    compiled for (`CohortCompiler.condition_filters`), which is how matchers are counted.
    A flag whose key is defined again counts with its earlier definition too: at worst a
    matcher then used once gets a memo slot, which only caches its outcome.
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
    # Compiled filters and conditions define no __eq__, so they are keys by identity.
    # Most small sets repeat no filter at all, which one set tells without counting.
    uses: Counter[Filter] | None = None
    if len(set(condition_filters)) < len(condition_filters):
        uses = Counter(condition_filters)
    slots: dict[Filter, int] = {}
    # Per condition (conditions may be shared by flags): whether it reads distinct_id,
    # and whether a filter of it may need the server.
    done: dict[CompiledCondition, tuple[bool, bool]] = {}
    any_reads_id = False
    for flag in flags.values():
        may_stop = mixed = False
        for condition in flag.conditions:
            laid = done.get(condition)
            if laid is None:
                laid = done[condition] = _lay_out(condition, uses, slots)
            if laid[0]:
                flag.reads_id = any_reads_id = True
                may_stop = may_stop or laid[1]
            if condition.mixed:
                mixed = True
                if not all(check[1] for check in condition.checks):
                    flag.own_memo = True
        if not shared:
            flag.own_memo = True
        # A parent is evaluated as a dependency exactly as for the person, unless it is a
        # group's flag or reads another group's properties (a dependency sees no groups).
        elif flag.key in parents:
            flag.remembered = not mixed and not flag.is_group
        # Cohorts that cannot stop at the server leave nothing for `evaluate_flag` to
        # settle either (only a filter that may stop can reach a dependency).
        bucketing = flag.device_bucketing
        if flag.active and flag.fixed is None and not (flag.is_group or bucketing or flag.gated):
            flag.direct = not may_stop
        # Only read for device bucketing and for filters that may stop at the server.
        if bucketing or may_stop:
            flag.definition_unsupported = any(
                counted and reason is _UNSUPPORTED
                for reason, _, counted in flag.static_problems(flags)
            )
    return len(slots), any_reads_id


def _lay_out(
    condition: CompiledCondition,
    uses: Mapping[Filter, int] | None,
    slots: dict[Filter, int],
) -> tuple[bool, bool]:
    """Give a condition its checks; whether any of them may read `distinct_id` (any
    cohort or dependency may), and whether any may need the server (a dependency always
    may, a cohort when its body may)."""
    filters = condition.filters
    if not filters:
        return _NEITHER
    checks: list[Check] = []
    reads_id = may_stop = False
    for item in filters:
        kind = type(item)
        if kind in CHECKED_TYPES:
            reads_id = True
            check = item.check  # type: ignore[union-attr]
            if kind is not CohortRef:
                may_stop = True
            else:
                may_stop = may_stop or item.stops  # type: ignore[union-attr]
                if item.same:  # type: ignore[union-attr]
                    check = item.target.check  # type: ignore[union-attr]
            checks.append((-1, False, check, 0, None, None, False))
            continue
        matcher: PropertyMatcher = item  # type: ignore[assignment]
        inline = matcher.inline
        if inline is not None:
            way, lookup, argument, negate = inline
            checks.append((-1, True, matcher.match, way, lookup, argument, negate))
        else:
            # Matchers answered in place cost about what a memo lookup does, so only the
            # others get a memo slot, and only when shared.
            slot = -1
            if uses is not None and uses[item] > 1:
                slot = slots.setdefault(item, len(slots))
            checks.append((slot, True, matcher.match, 0, None, None, False))
        if matcher.key == "distinct_id":
            reads_id = True
    laid = condition.checks = tuple(checks)
    first = laid[0]
    if len(laid) == 1 and first[0] < 0:
        condition.single = first[2]
        condition.single_plain = first[1]
        if first[3] == INLINE_IN:
            condition.single_in = first[4]
            condition.single_targets = first[5]
            condition.single_negate = first[6]
    else:
        condition.single = bind_filters(laid)
    return reads_id, may_stop
