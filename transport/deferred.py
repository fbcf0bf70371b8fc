"""The worker's half of a fast-path `capture`: turning queued call records into wire bytes.

`capture` queues a `PlainCapture` record for the common call; the worker builds and encodes
a burst of them at once (`many`), and one by one (`one`) whatever the bulk loop leaves.
"""

from __future__ import annotations

from hogkit.core.batch import check_event_size
from hogkit.core.encoding import PlainCapture, encode_capture, encode_plain_captures
from hogkit.core.event import EventContext
from hogkit.core.limits import MAX_EVENT_BYTES

from .errors import EventTooLarge
from .ids import new_uuid
from .queue import Deferred

__all__ = ["DeferredEncoder", "short_name"]

_NAME_CHARS = 80


def short_name(event: object) -> str:
    """An event name for a log line: its repr, cut to a readable length (a name can be
    as large as the event itself)."""
    text = repr(event) if isinstance(event, str) else type(event).__name__
    if len(text) > _NAME_CHARS:
        text = f"{text[:_NAME_CHARS]}... ({len(text)} chars)"
    return text


class DeferredEncoder:
    """Encodes `PlainCapture` records with one client's `EventContext`."""

    __slots__ = ("_context",)

    def __init__(self, context: EventContext) -> None:
        self._context = context

    def many(self, items: list[Deferred]) -> list[bytes | None]:
        """The worker's bulk half of fast-path captures: a burst encoded in one core call.

        None for the ones the core leaves to `one` (which also rejects events
        over the size limit, with the reason).
        """
        return encode_plain_captures(self._context, items, owned=True)  # the queue's copies

    def one(self, item: Deferred) -> bytes:
        """The worker's half of a fast-path `capture`: the event's wire bytes. Raises if unusable."""
        call: PlainCapture = item
        event, distinct_id = call.event, call.distinct_id
        data = encode_capture(
            self._context,
            event,
            distinct_id=distinct_id,
            properties=call.properties,
            groups=call.groups,
            timestamp=call.when,
            uuid=call.uuid,
            anonymous_id=None if distinct_id else new_uuid(),
            disable_geoip=call.disable_geoip,
            plain=True,  # `capture` queued it only after `is_plain` said so
        )
        if len(data) > MAX_EVENT_BYTES:
            problem = check_event_size(data) or "too large"
            raise EventTooLarge(f"{short_name(event)}: {problem}")
        return data
