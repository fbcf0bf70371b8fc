"""The errors the shell reports to `on_error` (or raises with `debug=True`).

They live together so a caller can import every exception it may meet from one place
(`hogkit` re-exports them all).
"""

from __future__ import annotations

from hogkit.core.errors import HogkitError

__all__ = ["DeliveryFailed", "EventTooLarge", "QueueFull", "with_reason"]


class EventTooLarge(HogkitError):
    """An event whose JSON exceeds the per-event limit; it is not sent."""


class QueueFull(HogkitError):
    """Events were dropped because the queue was full (`maxsize` events, the most its
    memory budget or `max_queue_size` allowed)."""

    def __init__(self, count: int, maxsize: int) -> None:
        super().__init__(f"{count} events dropped: the queue was full ({maxsize} events)")
        self.count = count
        self.maxsize = maxsize


class DeliveryFailed(HogkitError):
    """Accepted events that will not be delivered, when no other error says why (the
    shutdown or exit deadline passed while they were queued, sending or waiting to retry).

    Every error `on_error` receives for lost events carries `reason`, one of the values of
    `hogkit.core.accounting.Reason`: "queue_full", "server_rejected", "too_large",
    "deadline", "retries_exhausted" or "spool_torn".
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def with_reason(error: Exception, reason: str) -> Exception:
    """`error`, carrying `reason` for `on_error` (wrapped in `DeliveryFailed` if it cannot)."""
    try:
        error.reason = reason  # type: ignore[attr-defined]
    except AttributeError:
        wrapped = DeliveryFailed(f"{type(error).__name__}: {error}", reason)
        wrapped.__cause__ = error
        return wrapped
    return error
