"""The errors the shell reports to `on_error` (or raises with `debug=True`).

They live together so a caller can import every exception it may meet from one place
(`hogkit` re-exports them all).
"""

from __future__ import annotations

from hogkit.core.errors import HogkitError

__all__ = ["EventTooLarge", "QueueFull"]


class EventTooLarge(HogkitError):
    """An event whose JSON exceeds the per-event limit; it is not sent."""


class QueueFull(HogkitError):
    """Events were dropped because the queue held `max_queue_size` events already."""

    def __init__(self, count: int, maxsize: int) -> None:
        super().__init__(f"{count} events dropped: the queue was full (max_queue_size={maxsize})")
        self.count = count
        self.maxsize = maxsize
