"""The event pipeline: every event on its way from a Client method to the network.

One seam for all events: a built `Event` goes through `submit` (`before_send`, then
`Delivery`: the size check, then the queue or a sync send), and `capture` calls go through
`capture`, which either queues the call's checked arguments for the worker to build (the
common call: the caller's thread only samples the clock and draws a uuid) or builds the
event and submits it. Inside a context (`contexts.py`) a capture call first gets the
context's distinct id, session, device and tags; the other event methods merge them the
same way before building.

The pipeline decides whether an event is taken at all (disabled, closed) and which path it
takes; its collaborators do the rest: `DeferredEncoder` (`deferred.py`) builds queued
calls, `CaptureBuilder` (`capture_build.py`) builds the other capture calls, `Delivery`
(`delivery.py`) owns the queue, the worker and the books, and `apply_before_send`
(`before_send.py`) runs the hook.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from hogkit.core.accounting import Stats
from hogkit.core.encoding import PlainCapture, encode_event
from hogkit.core.event import Event, EventContext, FlagsArg
from hogkit.core.normalize import PLAIN_VALUE_TYPES, STR_KEY_TYPES, is_plain

from .before_send import BeforeSend, apply_before_send
from .capture_build import CaptureBuilder, FlagsForCapture
from .contexts import current_context, with_context
from .deferred import DeferredEncoder
from .delivery import Delivery
from .ids import new_uuid
from .problems import Problems, log, unknown_arguments
from .spool import Spool
from .stamps import clock
from .tracing import with_span
from .transports import Transport

__all__ = [
    "DEFAULT_QUEUE_BYTES",
    "BeforeSend",
    "EventPipeline",
    "FlagsForCapture",
]

DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024
"""The queue's default memory budget, in bytes of encoded events."""


class EventPipeline:
    """Takes, builds and hands on events; see the module docstring."""

    def __init__(
        self,
        context: EventContext,
        transport: Transport,
        problems: Problems,
        *,
        max_queue_size: int,
        flush_at: int,
        flush_interval: float,
        sync_mode: bool,
        send: bool,
        before_send: BeforeSend | None,
        exit_timeout: float = 1.0,
        max_queue_bytes: int = 0,
        block_when_full: float = 0.0,
        spool: Spool | None = None,
        senders: int = 1,
    ) -> None:
        self._encoder = DeferredEncoder(context)
        self.delivery = Delivery(
            transport,
            problems,
            self._encoder,
            max_queue_size=max_queue_size,
            flush_at=flush_at,
            flush_interval=flush_interval,
            sync_mode=sync_mode,
            send=send,
            max_queue_bytes=max_queue_bytes,
            block_when_full=block_when_full,
            spool=spool,
            senders=senders,
        )
        self.exit_timeout = exit_timeout
        self.transport = transport
        self.problems = problems
        self.sync_mode = sync_mode
        self.send = send
        self._before_send = before_send
        self._disabled = False
        self._closed = False
        self._warned_closed = False
        # The queue while `capture` may take its fast path, else None (see `_refresh`).
        self._fast = self.delivery.queue
        # Builds the capture calls the fast path does not take (and holds `flags_for_capture`).
        self.builder = CaptureBuilder(self._encoder)
        # `capture_trace_context`: events from `capture` carry the active span's ids.
        self.trace_context = False

    # -- state ----------------------------------------------------------------------------------

    @property
    def context(self) -> EventContext:
        """What every event built here carries (library, system and super properties, ...)."""
        return self._encoder.context

    @context.setter
    def context(self, context: EventContext) -> None:
        self._encoder.context = context

    @property
    def before_send(self) -> BeforeSend | None:
        return self._before_send

    @before_send.setter
    def before_send(self, hook: BeforeSend | None) -> None:
        self._before_send = hook
        self._refresh()

    @property
    def disabled(self) -> bool:
        """True while the client sends nothing (it can be resumed)."""
        return self._disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self._disabled = value
        self._refresh()

    @property
    def closed(self) -> bool:
        """True once the client was shut down (for good)."""
        return self._closed

    def close(self) -> bool:
        """Refuse events from now on; True the first time."""
        first = not self._closed
        self._closed = True
        self._refresh()
        return first

    def _refresh(self) -> None:
        """Keep `_fast` in step with everything that rules the fast path out as a whole
        (closed or disabled, a `before_send` hook, no queue), so `capture` tests one value."""
        usable = not self._disabled and not self._closed and self._before_send is None
        self._fast = self.delivery.queue if usable else None

    def _inactive(self) -> str | None:
        """Nothing is sent while disabled or closed; the first refusal after shutdown says so."""
        if self._closed and not self._warned_closed:
            self._warned_closed = True
            log.warning("the client was shut down; events are no longer sent")
        return None

    def start(self, enabled: bool) -> None:
        """A fresh queue and worker (at construction and in a forked child)."""
        self.delivery.start(enabled)
        self._refresh()

    def stats(self) -> Stats:
        """What became of the events accepted so far: accepted, delivered, dropped by
        reason, retried, in flight, duplicated (see `hogkit.core.accounting.Stats`).

        Exact once the client is idle (after a flush or shutdown); while events move, a
        consistent snapshot of each counter, not of all of them at one instant.
        """
        return self.delivery.stats()

    # -- capture --------------------------------------------------------------------------------

    def capture(
        self,
        /,
        event: str,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        groups: Mapping[str, Any] | None = None,
        flags: FlagsArg = None,
        disable_geoip: bool | None = None,
        send_feature_flags: Any = None,
        **unknown: Any,
    ) -> str | None:
        """Queue an event; returns its uuid, or None if it was not accepted.

        Without a `distinct_id` the event is personless (`$process_person_profile: false`).
        `flags` (an `evaluate_flags` snapshot or a `{key: value}` mapping) adds
        `$feature/<key>` and `$active_feature_flags` without any request.
        `send_feature_flags` (deprecated) evaluates flags for the event; `flags` wins.

        Inside a context, the context's values are merged in first (`contexts.with_context`).
        The common call (a str event and id, flat properties of plain values, no hook, no
        explicit time, uuid or flags) only samples the clock, draws the uuid and queues the
        arguments (a shallow copy of a plain dict is a snapshot of it): the worker builds
        and encodes the event, many at once. While half the queue is waiting, the caller
        encodes instead, so a worker that falls far behind gets ready-made events.
        """
        if unknown:
            unknown_arguments("capture", unknown)
        if current_context() is not None:
            distinct_id, properties = with_context(distinct_id, properties)
        if self.trace_context:
            properties = with_span(properties)
        queue = self._fast
        if (
            queue is not None
            and type(event) is str
            and event
            and (distinct_id is None or type(distinct_id) is str)
            and timestamp is None
            and uuid is None
            and flags is None
            and (send_feature_flags is None or send_feature_flags is False)
            and (
                properties is None
                # `is_plain`, inline: a call is a measurable share of this path.
                or (
                    type(properties) is dict
                    and PLAIN_VALUE_TYPES.issuperset(map(type, properties.values()))
                    and STR_KEY_TYPES.issuperset(map(type, properties))
                )
            )
            and (groups is None or is_plain(groups))
            # Read by the worker: a value whose truth cannot be told is left to the build
            # below, whose failure the caller hears of, not to an event already accepted.
            and (disable_geoip is None or type(disable_geoip) is bool)
        ):
            event_id = new_uuid()
            if queue.defer(
                PlainCapture(
                    clock(),
                    event_id,
                    event,
                    distinct_id,
                    properties.copy() if properties else None,
                    groups.copy() if groups else None,
                    disable_geoip,
                )
            ):
                return event_id
            # The worker is behind: encode here, the way it would have (no copy needed).
            call = PlainCapture(
                clock(), event_id, event, distinct_id, properties, groups, disable_geoip
            )
            try:
                data = self._encoder.now(call)
            except Exception as exc:
                return self._failed("capture", exc)
            return event_id if queue.put(data) else None
        if self._disabled or self._closed:
            return self._inactive()
        try:
            builder = self.builder
            anonymous = None
            if send_feature_flags is not None:
                flags, anonymous = builder.flags_for(
                    distinct_id, groups, flags, send_feature_flags, disable_geoip
                )
            if (
                flags is not None
                and self._before_send is None
                and type(event) is str
                and timestamp is None
                and uuid is None
            ):
                # No hook needs an `Event`: straight to wire bytes (see `capture_build`).
                data, event_id = builder.wire(
                    event, distinct_id, properties, groups, flags, disable_geoip, anonymous
                )
                return self.delivery.deliver(data, event, event_id)
            built = builder.event(
                event,
                distinct_id,
                properties,
                timestamp,
                uuid,
                groups,
                flags,
                disable_geoip,
                anonymous,
            )
            return self.submit(built)
        except Exception as exc:
            return self._failed("capture", exc)

    def emit(self, name: str, build: Callable[[], Event | None]) -> str | None:
        """What every other event method shares: nothing while closed, the built event
        (None sends nothing) through `submit`, and any problem to the error path.

        `build` samples the clock and draws ids itself, so they come in the order it needs.
        """
        if self._disabled or self._closed:
            return self._inactive()
        try:
            ev = build()
            return None if ev is None else self.submit(ev)
        except Exception as exc:
            return self._failed(name, exc)

    def submit(self, ev: Event) -> str | None:
        """Send a built event: `before_send`, size check, then the queue or a sync send."""
        sent = self._send(ev)
        return None if type(sent) is bool else sent

    def settle(self, ev: Event) -> bool:
        """`submit` for events a dedup cache remembers: True when the event was queued or
        `before_send` returned None for it (the application's choice, which a later read
        would only repeat), False when it could not be queued, so a later read tries again."""
        sent = self._send(ev)
        return sent if type(sent) is bool else sent is not None

    def _send(self, ev: Event) -> str | bool | None:
        """`ev` after `before_send` (see `apply_before_send`), encoded and delivered: the
        uuid queued (None when it could not be), or the hook's verdict when it kept the
        event back."""
        hook = self._before_send
        if hook is not None:
            hooked = apply_before_send(hook, ev, self.problems)
            if type(hooked) is bool:
                return hooked
            ev = hooked
        return self.delivery.deliver(encode_event(ev), ev.event, ev.uuid)

    def _failed(self, name: str, exc: Exception) -> str | None:
        """The error path; None, the uuid of no event, for the caller to return."""
        self.problems.fail(name, exc)
        return None

    # -- flush and stop -------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until everything accepted so far was handled; True only when all of it was
        delivered (and nothing since the previous answered flush was lost). From the
        worker's own thread (an `on_error` callback) it does not wait, and answers False.
        """
        return self.delivery.flush(timeout)

    def shutdown(self, timeout: float) -> bool:
        """Refuse events from now on, then flush and stop within `timeout` seconds; True
        only when every event ever accepted was delivered. What is still queued, sending or
        waiting to retry at the deadline is reported to `on_error` as lost, once."""
        deadline = time.monotonic() + max(0.0, timeout)
        self.close()
        return self.delivery.shutdown(deadline - time.monotonic())

    def stop(self, timeout: float) -> None:
        """Stop sync sends and the worker, waiting at most `timeout` for its thread."""
        self.delivery.stop(timeout)
