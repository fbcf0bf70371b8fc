"""The core's own exceptions. The core raises nothing else for bad input.

Two more classes here are never raised at all: `InconclusiveMatchError` and
`RequiresServerEvaluation` carry posthog-python's names, so code written against it that
catches them still imports. Local evaluation in hogkit reports a flag it cannot decide as a
result with an `Unresolved` reason, not as an exception.
"""

from __future__ import annotations

from .reasons import Unresolved

__all__ = [
    "DefinitionsError",
    "HogkitError",
    "InconclusiveMatchError",
    "InvalidEvent",
    "RequiresServerEvaluation",
]


class HogkitError(Exception):
    """Base class for every exception hogkit raises on purpose."""


class DefinitionsError(HogkitError, ValueError):
    """Flag definitions that cannot be read at all: invalid JSON, or a document of the wrong shape.

    A single malformed flag inside a good document does not raise; it compiles to a flag
    that reports `unsupported_definition`.
    """


class InvalidEvent(HogkitError, ValueError):
    """A builder or `Event.from_message` was given something that cannot become an event."""


class _Undecided(Exception):
    """An exception naming why a flag was left undecided (`reason`, by keyword)."""

    reason: Unresolved = Unresolved.UNSUPPORTED_DEFINITION

    def __init__(self, *args: object, reason: Unresolved | None = None) -> None:
        super().__init__(*args)
        if reason is not None:
            self.reason = reason


class InconclusiveMatchError(_Undecided):
    """A flag local evaluation could not decide, and `reason` why.

    hogkit never raises it: an undecided flag is a result with an `Unresolved` reason. It
    exists so that `except InconclusiveMatchError` in code moved from posthog-python still
    imports.
    """


class RequiresServerEvaluation(_Undecided):
    """A flag only the server can decide (a static cohort, say), and `reason` why.

    hogkit never raises it either: such a flag is sent to `/flags`, or reported unresolved.
    It exists so that code moved from posthog-python that catches it still imports.
    """
