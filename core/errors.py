"""The core's own exceptions. The core raises nothing else for bad input."""

from __future__ import annotations

__all__ = [
    "DefinitionsError",
    "HogkitError",
    "InvalidEvent",
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
