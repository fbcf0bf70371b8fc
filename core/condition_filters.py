"""A condition's filters, walked in order as posthog-python walks them.

Every filter is looked at until one fails (a definite False beats anything undecided
before it); a filter that needs the server stops the walk at once unless an earlier one
was already undecided, and then only later conditions can still decide the flag.
`bind_filters` makes the walk over one condition's checks that condition's one check, so
the evaluator (`evaluate.match_flag`) calls every condition's filters the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from .compile import Check, CompiledFlag
from .property_matcher import INLINE_IN
from .reasons import Unresolved, stronger
from .signals import BROKEN, NeedsServer

__all__ = ["bind_filters"]


def bind_filters(flags: Iterable[CompiledFlag]) -> None:
    """Give each condition whose filters need walking (several, or one several conditions
    share) `_filters` bound to its checks as its one check, so evaluation calls every
    condition's filters the same way. Part of compiling: run once, before any evaluation."""
    for flag in flags:
        for condition in flag.conditions:
            if condition.checks and condition.single is None:
                condition.single = functools.partial(_filters, condition.checks)


def _filters(
    checks: tuple[Check, ...],
    run: Any,
    distinct_id: object,
    props: Mapping[str, object],
) -> Any:
    """A condition's filters: True when all match, the index of the first that failed,
    or why they are undecided (an `Unresolved`, a `NeedsServer` or BROKEN)."""
    reason: Unresolved | None = None
    server: NeedsServer | None = None
    now = run.now
    # Shared matchers are remembered on the person's properties only.
    memo = run.memo if props is run.person else None
    for index, (slot, plain, check, kind, lookup, argument, negate) in enumerate(checks):
        if not plain:
            result = check(run, distinct_id, props)
        elif slot >= 0 and memo is not None:
            result = memo.get(slot)
            if result is None:
                result = memo[slot] = check(props, now)
        elif kind == INLINE_IN and type(value := props.get(lookup)) is str:  # type: ignore[call-overload]
            # The commonest filter, a text value, answered in place (see `operators.Inline`).
            result = (value.lower() in argument) is not negate
        else:
            result = check(props, now)
        if result is True:
            continue
        if result is False:
            return index
        if type(result) is Unresolved:
            reason = stronger(reason, result)
        elif type(result) is NeedsServer:
            # Only the first undecided filter may send the flag to the server; after
            # another undecided one, later conditions can still decide it.
            if reason is None:
                server = result
            reason = stronger(reason, result.reason)
        elif reason is None:
            return BROKEN
        else:
            break
    return server or reason or True
