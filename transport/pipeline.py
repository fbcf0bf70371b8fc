"""The event pipeline: every event on its way from a Client method to the network.

One seam for all events: a built `Event` goes through `submit` (`before_send`, the size
check, then the queue or a sync send), and `capture` calls go through `capture`, which
either queues the call's checked arguments for the worker to build (the common call: the
caller's thread only samples the clock and draws a uuid) or builds the event and submits
it. Inside a context (`contexts.py`) a capture call first gets the context's distinct id,
session, device and tags; the other event methods merge them the same way before building.

The pipeline owns the queue, the worker and the books (`books.py`: what became of every
accepted event); it starts a fresh set at construction and in a forked child (the parent's
threads do not exist there). The worker's threads do not keep the pipeline alive: when a
client is dropped without `shutdown()`, its worker sends what is queued and its threads end.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from hogkit.core import events as core
from hogkit.core.accounting import Reason, Stats
from hogkit.core.batch import check_event_size
from hogkit.core.encoding import (
    PlainCapture,
    encode_capture_call,
    encode_event,
    encode_plain_captures,
)
from hogkit.core.errors import HogkitError
from hogkit.core.event import Event, EventContext, FlagsArg
from hogkit.core.limits import MAX_EVENT_BYTES
from hogkit.core.normalize import PLAIN_VALUE_TYPES, STR_KEY_TYPES, is_plain

from . import orphans, stamps
from .books import Books
from .contexts import current_context, with_context
from .deferred import DeferredEncoder, short_name
from .errors import EventTooLarge, with_reason
from .ids import new_uuid
from .problems import Problems, log
from .queue import EventQueue
from .spool import Spool
from .stamps import clock
from .transports import Transport
from .worker import Worker, reason_of

__all__ = [
    "DEFAULT_QUEUE_BYTES",
    "BeforeSend",
    "EventPipeline",
    "FlagsForCapture",
]

DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024
"""The queue's default memory budget, in bytes of encoded events."""

BeforeSend = Callable[[dict[str, Any]], Any]
"""A hook that sees (and may change or drop) every event before it is queued."""


FlagsForCapture = Callable[[Any, Mapping[str, Any] | None, Any], FlagsArg]
"""(distinct id, groups, the `send_feature_flags` option) -> the flags an event carries."""


class EventPipeline:
    """Builds, checks and queues events; see the module docstring."""

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
    ) -> None:
        self._context = context
        self._encoder = DeferredEncoder(context)
        self.exit_timeout = exit_timeout
        self.transport = transport
        self.problems = problems
        self.sync_mode = sync_mode
        self.send = send
        self._max_queue_size = max_queue_size
        self._max_queue_bytes = max_queue_bytes
        self._block_when_full = block_when_full
        self._spool = spool
        self._flush_at = flush_at
        self._flush_interval = flush_interval
        self._before_send = before_send
        self._disabled = False
        self._closed = False
        self._warned_closed = False
        self._queue: EventQueue | None = None
        self._worker: Worker | None = None
        # The queue while `capture` may take its fast path, else None (see `_refresh`).
        self._fast: EventQueue | None = None
        self._stop_sync = threading.Event()
        self._books = Books(problems.delivery)
        # Evaluates flags for `capture(send_feature_flags=...)`; the Client wires it up.
        self.flags_for_capture: FlagsForCapture | None = None

    # -- state ----------------------------------------------------------------------------------

    @property
    def context(self) -> EventContext:
        """What every event built here carries (library, system and super properties, ...)."""
        return self._context

    @context.setter
    def context(self, context: EventContext) -> None:
        self._context = context
        self._encoder = DeferredEncoder(context)
        if self._worker is not None:
            self._worker.prepare, self._worker.prepare_many = self._encoder.one, self._encoder.many

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
        self._fast = self._queue if usable else None

    def _inactive(self) -> str | None:
        """Nothing is sent while disabled or closed; the first refusal after shutdown says so."""
        if self._closed and not self._warned_closed:
            self._warned_closed = True
            log.warning("the client was shut down; events are no longer sent")
        return None

    def start(self, enabled: bool) -> None:
        """A fresh queue and worker (at construction and in a forked child)."""
        self._queue = self._worker = None
        self._stop_sync = threading.Event()
        self._books = Books(self.problems.delivery)
        if enabled and not self.sync_mode and self.send:
            queue = EventQueue(
                self._max_queue_size,
                self._flush_at,
                max_bytes=self._max_queue_bytes,
                block_seconds=self._block_when_full,
                # Not a method of the pipeline: the worker must not keep it alive.
                spill=self._books.spiller(self._spool) if self._spool is not None else None,
            )
            worker = Worker(
                queue,
                self.transport,
                flush_interval=self._flush_interval,
                report=self.problems.delivery,
                books=self._books,
                spool=self._spool,
                prepare=self._encoder.one,
                prepare_many=self._encoder.many,
            )
            worker.start()
            self._queue, self._worker = queue, worker
            # Holds the worker, not the pipeline: a dropped client lets its threads end.
            weakref.finalize(self, orphans.adopt, worker)
        self._refresh()

    def stats(self) -> Stats:
        """What became of the events accepted so far (see `hogkit.core.accounting.Stats`)."""
        return self._books.stats()

    # -- capture --------------------------------------------------------------------------------

    def capture(
        self,
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
        if current_context() is not None:
            distinct_id, properties = with_context(distinct_id, properties)
        queue = self._fast
        if (
            queue is not None
            and type(event) is str
            and event
            and (distinct_id is None or type(distinct_id) is str)
            and timestamp is None
            and uuid is None
            and flags is None
            and not send_feature_flags
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
                data = encode_plain_captures(self.context, (call,))[0]
                if data is None:
                    data = self._encoder.one(call)
            except Exception as exc:
                return self._failed("capture", exc)
            return event_id if queue.put(data) else None
        if self._disabled or self._closed:
            return self._inactive()
        try:
            if send_feature_flags:
                flags = self._flags_for(distinct_id, groups, flags, send_feature_flags)
            if (
                flags is not None
                and self._before_send is None
                and type(event) is str
                and timestamp is None
                and uuid is None
            ):
                # No hook needs an `Event`: straight to wire bytes, where the snapshot's
                # `$feature/...` properties are spliced in as one fragment.
                event_id = new_uuid()
                data = encode_capture_call(
                    self.context,
                    event,
                    distinct_id,
                    properties,
                    groups,
                    clock(),
                    event_id,
                    flags,
                    stamps.anonymous_id(distinct_id),
                    disable_geoip,
                    False,  # plain: not checked here
                )
                return self._deliver(data, event, event_id)
            ev = core.capture(
                self.context,
                event,
                distinct_id=distinct_id,
                properties=properties,
                groups=groups,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                flags=flags,
                anonymous_id=stamps.anonymous_id(distinct_id),
                disable_geoip=disable_geoip,
            )
            return self.submit(ev)
        except Exception as exc:
            return self._failed("capture", exc)

    def _flags_for(
        self, distinct_id: Any, groups: Mapping[str, Any] | None, flags: FlagsArg, option: Any
    ) -> FlagsArg:
        """`capture(send_feature_flags=...)`: the flags to attach, through `flags_for_capture`."""
        if flags is not None:
            log.warning("capture: both flags and send_feature_flags given; using flags")
            return flags
        if self.flags_for_capture is None:
            return None
        return self.flags_for_capture(distinct_id, groups, option)

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
        if self._before_send is not None:
            hooked = self._run_before_send(self._before_send, ev)
            if hooked is None:
                return None
            ev = hooked
        return self._deliver(encode_event(ev), ev.event, ev.uuid)

    # -- delivery -------------------------------------------------------------------------------

    def _deliver(self, data: bytes, event: str, event_id: str) -> str | None:
        """An encoded event's size check, then the queue or a sync send; its uuid if accepted."""
        if len(data) > MAX_EVENT_BYTES:
            problem = check_event_size(data) or "too large"
            error = EventTooLarge(f"{short_name(event)}: {problem}")
            return self._failed("capture", with_reason(error, Reason.TOO_LARGE.value))
        queue = self._queue
        if queue is not None:
            return event_id if queue.put(data) else None
        if not self.send:
            return event_id
        return event_id if self._send_now(data) else None

    def _send_now(self, data: bytes) -> bool:
        """`sync_mode`: send in the caller's thread, with the transport's retries."""
        books = self._books
        spans = books.number(1)
        try:
            result = self.transport.send([data], stop=self._stop_sync)
        except Exception as exc:
            books.lost(reason_of(exc), exc, spans, [data])
            return False
        books.retried(result.retried, result.duplicated)
        rest = books.delivered(spans, result.delivered)
        if result.failed:
            error = result.error or HogkitError("not delivered")
            books.lost(reason_of(error), error, rest, result.failed)
            return False
        return True

    def _run_before_send(self, hook: BeforeSend, ev: Event) -> Event | None:
        try:
            result = hook(ev.to_message())
        except Exception as exc:
            log.error(
                "before_send raised %s; the event %r was dropped", type(exc).__name__, ev.event
            )
            self.problems.tell(exc, [])
            return None
        if result is None:
            log.debug("before_send dropped the event %r", ev.event)
            return None
        if not isinstance(result, dict):
            log.error(
                "before_send returned %s, not a dict or None; the event %r was dropped",
                type(result).__name__,
                ev.event,
            )
            return None
        return Event.from_message(result, fallback_uuid=new_uuid())

    def _failed(self, name: str, exc: Exception) -> str | None:
        """The error path; None, the uuid of no event, for the caller to return."""
        self.problems.fail(name, exc)
        return None

    # -- flush and stop -------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until everything accepted so far was handled; True only when all of it was
        delivered (and nothing since the previous answered flush was lost).

        Called from the worker itself (an `on_error` callback) it does not wait: the worker
        cannot wait for itself.
        """
        queue, worker = self._queue, self._worker
        if queue is None or worker is None or not worker.thread.is_alive():
            return self._books.conclude(self._books.mark()) and not (
                queue is not None and len(queue)
            )
        marker = queue.mark()
        if worker.is_current():
            marker.abandon()
            return False
        if marker.done.wait(max(0.0, timeout)):
            return marker.delivered
        return marker.abandon()

    def shutdown(self, timeout: float) -> bool:
        """Flush and stop within `timeout` seconds; True only when every event ever accepted
        was delivered. What is still queued, sending or waiting to retry at the deadline is
        reported to `on_error` as lost (reason "deadline"), once."""
        deadline = time.monotonic() + max(0.0, timeout)
        self.close()
        self.flush(deadline - time.monotonic())
        self.stop(deadline - time.monotonic())
        self._give_up()
        if self._spool is not None:
            self._spool.close()  # what is left there is sent at the next start
        return self._books.all_delivered()

    def _give_up(self) -> None:
        if self._worker is not None:
            self._worker.give_up()
        else:
            self._books.give_up()

    def stop(self, timeout: float) -> None:
        """Stop sync sends and the worker, waiting at most `timeout` for its thread."""
        self._stop_sync.set()
        worker = self._worker
        if worker is not None:
            worker.stop.set()
            worker.queue.wake.set()
            if not worker.is_current():
                worker.thread.join(max(0.0, timeout))
