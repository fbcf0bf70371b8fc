"""The worker's half of a fast-path `capture`: turning queued call records into wire bytes.

`capture` queues a `PlainCapture` record for the common call; the worker builds and encodes
a burst of them at once (`many`), and one by one (`one`) whatever the bulk loop leaves.
"""

from __future__ import annotations

import msgspec
from hogkit.core.batch import check_event_size
from hogkit.core.encoding import PlainCapture, encode_capture, encode_plain_captures
from hogkit.core.event import EventContext
from hogkit.core.flag_properties import FlagLayouts
from hogkit.core.limits import MAX_EVENT_BYTES
from hogkit.core.normalize import clean_text
from hogkit.core.timestamps import TimestampMemo

from .errors import EventTooLarge
from .ids import new_uuid
from .problems import short_text
from .queue import Deferred

__all__ = ["DeferredEncoder"]


class DeferredEncoder:
    """Encodes `PlainCapture` records with one client's `EventContext`.

    It owns the `TimestampMemo` its events' timestamps are formatted through (a burst
    shares its second) and the `FlagLayouts` of the flags its events carry, and lends
    both to the pipeline's other encoding calls (`memo`, `layouts`).
    """

    __slots__ = ("context", "layouts", "memo")

    def __init__(self, context: EventContext) -> None:
        self.context = context
        self.memo = TimestampMemo()
        self.layouts = FlagLayouts()

    def many(self, items: list[Deferred]) -> list[bytes | None]:
        """The worker's bulk half of fast-path captures: a burst encoded in one core call.

        None for the ones the core leaves to `one` (which also rejects events
        over the size limit, with the reason).
        """
        # `owned`: the queue's copies of the properties, which nothing else sees.
        return encode_plain_captures(self.context, items, owned=True, memo=self.memo)

    def now(self, call: PlainCapture) -> bytes:
        """A call encoded by the capturing thread itself (the worker is far behind): the
        bulk loop's bytes, else `one`'s. Its dicts are the caller's, so not `owned`."""
        data = encode_plain_captures(self.context, (call,), memo=self.memo)[0]
        return self.one(call) if data is None else data

    def one(self, item: Deferred) -> bytes:
        """The worker's half of a fast-path `capture`: the event's wire bytes. Raises if
        unusable."""
        call: PlainCapture = item
        event, distinct_id = call.event, call.distinct_id
        data = encode_capture(
            self.context,
            event,
            distinct_id=distinct_id,
            properties=call.properties,
            groups=call.groups,
            timestamp=call.when,
            uuid=call.uuid,
            anonymous_id=None if distinct_id else new_uuid(),
            disable_geoip=call.disable_geoip,
            plain=True,  # `capture` queued it only after `is_plain` said so
            memo=self.memo,
        )
        if len(data) > MAX_EVENT_BYTES:
            problem = check_event_size(data) or "too large"
            raise EventTooLarge(f"{short_text(event)}: {problem}")
        return data

    def identity(self, item: Deferred) -> bytes:
        """What `on_error` gets for a queued call that could not be built (too large, say):
        its event name, distinct id and the uuid `capture` returned, so the application can
        tell which call's event was lost. Its fields are text (`capture` queues only such
        calls), which always encodes."""
        call: PlainCapture = item
        distinct_id = call.distinct_id
        return _IDENTITY.encode(
            {
                "event": clean_text(call.event),
                "distinct_id": None if distinct_id is None else clean_text(distinct_id),
                "uuid": call.uuid,
            }
        )


_IDENTITY = msgspec.json.Encoder()
