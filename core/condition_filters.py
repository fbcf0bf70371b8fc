"""A condition's filters, walked in order as posthog-python walks them.

Every filter is looked at until one fails (a definite False beats anything undecided
before it); a filter that needs the server stops the walk at once unless an earlier one
was already undecided, and then only later conditions can still decide the flag.
`bind_filters` makes the walk over one condition's checks that condition's one check, so
the evaluator (`evaluate.match_flag`) calls every condition's filters the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .compile import Check
from .property_matcher import (
    INLINE_CONTAINS,
    INLINE_ENDS,
    INLINE_EXACT,
    INLINE_GT,
    INLINE_GTE,
    INLINE_IN,
    INLINE_LT,
    INLINE_STARTS,
)
from .reasons import Unresolved, stronger
from .signals import BROKEN, NeedsServer

__all__ = ["bind_filters"]


def bind_filters(checks: tuple[Check, ...]) -> Any:
    """The one check of a condition whose checks need walking (several of them), or whose
    only check is a matcher other conditions share (kept in the call's memo): evaluation
    then calls every condition's filters the same way. Part of compiling (see
    `flag_layout.finish_flags`), before any evaluation."""
    slot, plain, check = checks[0][:3]
    if len(checks) == 1 and plain:
        return _remembered(slot, check)
    return functools.partial(_filters, checks)


def _remembered(slot: int, match: Any) -> Any:
    """The check of a condition whose one filter is a matcher other conditions share: its
    outcome on the person's properties is kept in the call's memo, so it runs once."""

    def check(run: Any, distinct_id: object, props: Mapping[str, object]) -> Any:
        if props is not run.person:
            return match(props, run.now)
        memo = run.memo
        result = memo.get(slot)
        if result is None:
            result = memo[slot] = match(props, run.now)
        return result

    return check


def _filters(
    checks: tuple[Check, ...],
    run: Any,
    distinct_id: object,
    props: Mapping[str, object],
) -> Any:
    """A condition's filters: True when all match, the index of the first that failed,
    or why they are undecided (an `Unresolved`, a `NeedsServer` or BROKEN)."""
    # Shared matchers are remembered on the person's properties only.
    memo = run.memo if props is run.person else None
    index = 0
    result: Any
    lookup: Any
    for slot, plain, check, kind, lookup, argument, negate in checks:
        # The commonest filters answered in place (see `property_matcher.Inline`).
        if kind == INLINE_IN and type(value := props.get(lookup)) is str:
            result = (value.lower() in argument) is not negate
        elif (
            INLINE_CONTAINS <= kind <= INLINE_ENDS
            and type(value := props.get(lookup)) is str
            and value.isascii()
        ):
            folded = value.lower()
            result = (
                argument in folded if kind == INLINE_CONTAINS
                else folded.startswith(argument) if kind == INLINE_STARTS
                else folded.endswith(argument)
            ) is not negate  # fmt: skip
        elif kind >= INLINE_GT and (
            (type(value := props.get(lookup)) is int and -INLINE_EXACT < value < INLINE_EXACT)
            or (type(value) is float and value - value == 0)
        ):
            result = (
                value > argument if kind == INLINE_GT
                else value >= argument if kind == INLINE_GTE
                else value < argument if kind == INLINE_LT
                else value <= argument
            )  # fmt: skip
        elif not plain:
            result = check(run, distinct_id, props)
        elif slot < 0 or memo is None:
            result = check(props, run.now)
        else:
            result = memo.get(slot)
            if result is None:
                result = memo[slot] = check(props, run.now)
        if result is not True:
            if result is False:
                return index
            return _undecided(checks, index, result, run, distinct_id, props)
        index += 1  # noqa: SIM113 (enumerate's tuple per filter is a noticeable share)
    return True


def _undecided(
    checks: tuple[Check, ...],
    index: int,
    first: Any,
    run: Any,
    distinct_id: object,
    props: Mapping[str, object],
) -> Any:
    """The rest of the walk once filter `index` was undecided (`first`): a definite False
    after it still wins, and only the first undecided filter may send the flag to the
    server; after another undecided one, later conditions can still decide it."""
    if type(first) is Unresolved:
        reason: Unresolved | None = first
        server: NeedsServer | None = None
    elif type(first) is NeedsServer:
        reason, server = first.reason, first
    else:
        return BROKEN
    now = run.now
    for at in range(index + 1, len(checks)):
        plain, check = checks[at][1:3]
        result = check(props, now) if plain else check(run, distinct_id, props)
        if result is True:
            continue
        if result is False:
            return at
        if type(result) is Unresolved:
            reason = stronger(reason, result)
        elif type(result) is NeedsServer:
            reason = stronger(reason, result.reason)
        else:
            break
    return server or reason
