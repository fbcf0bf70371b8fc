"""The Client's flag reads: `evaluate_flags` and the deprecated single-flag API on top of it.

Every read, old or new, goes through one `FlagService.evaluate` snapshot, so the deprecated
calls get local-first evaluation, the single `/flags` fallback and deduplicated
`$feature_flag_called` for free, and cannot drift from the new API. Like every public
Client method, none of them raises into the caller unless `debug=True`.
"""

from __future__ import annotations

import sys
import threading
import warnings

from .evaluations import FlagEvaluations
from .flag_query import FlagQuery
from .flags import FlagService
from .problems import Problems

__all__ = ["FlagReads", "deprecated"]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def deprecated(name: str, instead: str) -> None:
    """One DeprecationWarning per method per process, pointing at the application's call
    (the first frame outside hogkit, however deep inside hogkit the check is made)."""
    if name in _warned:  # the common case, without the lock
        return
    with _warned_lock:
        if name in _warned:
            return
        _warned.add(name)
    warnings.warn(
        f"`{name}` is deprecated; use {instead} instead (one evaluation, one request).",
        DeprecationWarning,
        stacklevel=_first_outside_hogkit(),
    )


def _first_outside_hogkit() -> int:
    """`warnings.warn`'s stacklevel, called from `deprecated`, of the nearest calling frame
    that is not hogkit's own code (1 is `deprecated` itself)."""
    frame = sys._getframe(2)  # whoever called `deprecated`
    level = 2
    while (
        frame.f_back is not None
        and frame.f_globals.get("__name__", "").partition(".")[0] == "hogkit"
    ):
        frame = frame.f_back
        level += 1
    return level


class FlagReads:
    """Flag reads for a Client: a `FlagService` plus the never-raise error path."""

    __slots__ = ("_problems", "service")

    def __init__(self, service: FlagService, problems: Problems) -> None:
        self.service = service
        self._problems = problems

    def evaluate(self, name: str, query: FlagQuery) -> FlagEvaluations | None:
        """One snapshot, or None (after the error path) when evaluation failed."""
        try:
            return self.service.evaluate(
                query.distinct_id,
                query.person_properties,
                query.groups,
                query.group_properties,
                query.flag_keys,
                query.only_evaluate_locally,
                query.disable_geoip,
                query.device_id,
            )
        except Exception as exc:
            self._problems.fail(name, exc)
            return None
