"""Where an accepted event's bytes go: the queue (for the worker to send) or, in sync mode,
the transport at once; and the books of what became of each of them.

`Delivery` owns the queue, the worker and the books. It starts a fresh set at construction
and in a forked child (the parent's threads do not exist there). The worker's threads hold
neither the delivery nor its pipeline: when a client is dropped without `shutdown()`, the
worker is adopted (`orphans.py`), sends what is queued, and its threads end.
"""

from __future__ import annotations

import threading
import time
import weakref

from hogkit.core.accounting import Reason, Stats
from hogkit.core.batch import check_event_size
from hogkit.core.limits import MAX_EVENT_BYTES

from . import orphans
from .books import Books, reason_of
from .deferred import DeferredEncoder
from .errors import EventTooLarge, with_reason
from .problems import Problems, log, short_text
from .queue import EventQueue
from .spool import Spool
from .transports import Transport
from .worker import Worker

__all__ = ["Delivery", "exit_flush_started"]


_exiting = False


def exit_flush_started() -> None:
    """The interpreter is exiting and the exit flush has begun: a pipeline started from
    now on sends each event in the capturing call, since no flush is left to deliver
    what a worker would still hold when the process ends."""
    global _exiting
    _exiting = True


class Delivery:
    """The queue, worker and books of one pipeline; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        problems: Problems,
        encoder: DeferredEncoder,
        *,
        max_queue_size: int,
        flush_at: int,
        flush_interval: float,
        sync_mode: bool,
        send: bool,
        max_queue_bytes: int = 0,
        block_when_full: float = 0.0,
        spool: Spool | None = None,
        senders: int = 1,
    ) -> None:
        self.transport = transport
        self.problems = problems
        self.sync_mode = sync_mode
        self.send = send
        self._encoder = encoder
        self._max_queue_size = max_queue_size
        self._max_queue_bytes = max_queue_bytes
        self._block_when_full = block_when_full
        self._flush_at = flush_at
        self._flush_interval = flush_interval
        self._spool = spool
        self._senders = senders
        # The queue while a worker sends (None: sync mode, `send=False` or not started).
        self.queue: EventQueue | None = None
        self._worker: Worker | None = None
        self._stop_sync = threading.Event()
        self._books = Books(problems.delivery)

    def start(self, enabled: bool) -> None:
        """A fresh queue and worker (at construction and in a forked child)."""
        self.queue = self._worker = None
        self._stop_sync = threading.Event()
        self._books = Books(self.problems.delivery)
        if not (enabled and not self.sync_mode and self.send) or _exiting:
            return
        queue = EventQueue(
            self._max_queue_size,
            self._flush_at,
            max_bytes=self._max_queue_bytes,
            block_seconds=self._block_when_full,
            # Not a method of this object: the worker must not keep it alive.
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
            describe=self._encoder.identity,
            senders=self._senders,
            batch_events=self._flush_at,
        )
        if not worker.start():
            # Events then go as in sync mode: sent by the call that captures them, rather
            # than queued for threads that do not exist.
            log.warning(
                "no thread could start to send events (the interpreter is exiting, or the "
                "process has no threads left): each event is sent by the call capturing it"
            )
            return
        self.queue, self._worker = queue, worker
        # Holds the worker, not this object: a dropped client lets its threads end.
        weakref.finalize(self, orphans.adopt, worker)

    def stats(self) -> Stats:
        """What became of the events accepted so far (see `hogkit.core.accounting.Stats`)."""
        return self._books.stats()

    def deliver(self, data: bytes, event: str, event_id: str) -> str | None:
        """An encoded event's size check, then the queue or a sync send; its uuid if
        accepted, else None (a problem goes to the error path)."""
        if len(data) > MAX_EVENT_BYTES:
            problem = check_event_size(data) or "too large"
            error = EventTooLarge(f"{short_text(event)}: {problem}")
            self.problems.fail("capture", with_reason(error, Reason.TOO_LARGE.value))
            return None
        queue = self.queue
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
        return books.settle(spans, result)

    def flush(self, timeout: float) -> bool:
        """Wait until everything accepted so far was handled; True only when all of it was
        delivered (and nothing since the previous answered flush was lost).

        Called from the worker itself (an `on_error` callback) it does not wait: the worker
        cannot wait for itself.
        """
        queue, worker = self.queue, self._worker
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
        reported as lost (reason "deadline"), once."""
        deadline = time.monotonic() + max(0.0, timeout)
        self.flush(deadline - time.monotonic())
        self.stop(deadline - time.monotonic())
        if self._worker is not None:
            self._worker.give_up()
        else:
            self._books.give_up()
        if self._spool is not None:
            self._spool.close()  # what is left there is sent at the next start
        return self._books.all_delivered()

    def stop(self, timeout: float) -> None:
        """Stop sync sends and the worker, waiting at most `timeout` for its thread."""
        self._stop_sync.set()
        worker = self._worker
        if worker is not None:
            worker.halt(timeout)
