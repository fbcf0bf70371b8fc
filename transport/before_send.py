"""The `before_send` hook: the application's last look at an event before it is queued.

The hook gets the event as posthog-python's message dict and answers with a dict to send
instead (normalised again) or None to drop it. A hook that raises or answers anything else
drops the event too: a broken hook must not break capturing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hogkit.core.event import Event

from .ids import new_uuid
from .problems import Problems, log, short_text

__all__ = ["BeforeSend", "apply_before_send"]

BeforeSend = Callable[[dict[str, Any]], Any]
"""A hook that sees (and may change or drop) every event before it is queued."""


def apply_before_send(hook: BeforeSend, ev: Event, problems: Problems) -> Event | bool:
    """The event `hook` wants sent instead of `ev`; True when the hook dropped it (answered
    None: the application's choice), False when it failed (raised, reported through
    `problems`, or answered something else). Dedup caches keep a chosen drop's key and free
    a failed one's."""
    try:
        result = hook(ev.to_message())
    except Exception as exc:
        log.error(
            "before_send raised %s; the event %s was dropped",
            type(exc).__name__,
            short_text(ev.event),
        )
        problems.tell(exc, [])
        return False
    if result is None:
        log.debug("before_send dropped the event %s", short_text(ev.event))
        return True
    if not isinstance(result, dict):
        log.error(
            "before_send returned %s, not a dict or None; the event %r was dropped",
            type(result).__name__,
            ev.event,
        )
        return False
    return Event.from_message(result, fallback_uuid=new_uuid())
