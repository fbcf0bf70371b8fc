"""The background threads per client that turn queued events into delivered batches.

One worker thread and `senders` sender threads (the `thread` option; one by default). The
worker takes what is waiting, builds the events the capture fast path queued unbuilt, and
adds them to the next batch; a free sender takes that batch whole, then joins, compresses
and delivers it (retries included). While the sender
waits on the network or compresses (both release the GIL), the worker is already filling
the next batch, so a burst drains at the pace of the slower half rather than of both added
up, and a slow server does not stop the queue from being drained. Besides the queue, the
pipeline holds at most one batch per sender plus the next one, each within the body limit;
when all are full the worker waits and the queue absorbs the rest (and drops when full).
With one sender, batches are sent one at a time, in capture order. With several, a batch
holds at most `batch_events` events (so a burst spreads over the senders, as a slow
server is then the bottleneck), several are in flight at once and they may complete in
any order: the books settle each batch's own runs, and a flush waits for every sender.

Each wakeup drains everything waiting, in batches as large as the body limit allows,
rather than one `flush_at`-sized batch: under a burst, the queue empties as fast as the
network takes bytes, instead of the producers outrunning a worker that sends 100 events
per round trip. `flush_at` only decides when a quiet worker wakes up; `flush_interval`
bounds how long an event waits when fewer than `flush_at` are queued.

Events queued unbuilt by `Client.capture`'s fast path are built and encoded by the
worker, by the client's `prepare_many` (a whole batch at once) and `prepare` (one by one,
for what the bulk encoder leaves) functions, as they are taken (`WorkerBuild`,
`worker_build.py`); one that cannot be (too large, say) is reported and counted as lost
like a failed delivery, so the next flush says so. A flush marker is settled once every
batch before it has been sent.

Every event is numbered as it is taken from the queue and settled in the pipeline's
`Books` (`books.py`): delivered, or lost with a reason, exactly once. A flush marker
carries the number of events ahead of it, so a flush answers for exactly those.

With a spool, its `SpoolReplay` (`replay.py`) sends what waits on disk through the same
sender while the queue is idle, and before a flush answers.

Neither thread dies on an exception (they log and carry on), and neither calls back into
the client's lifecycle: failures and drops go to the `report` callback, through the books.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from hogkit.core.accounting import Reason
from hogkit.core.batch import BATCH_OVERHEAD_BYTES, MAX_BATCH_BYTES

from .books import Books, Spans, first
from .errors import DeliveryFailed, EventTooLarge, QueueFull
from .queue import Deferred, EventQueue, FlushMarker, Prepare, PrepareMany
from .replay import SpoolReplay
from .spool import Spool
from .transports import Cancelled, SendResult, Transport
from .worker_build import WorkerBuild

__all__ = [
    "Report",
    "Worker",
]

log = logging.getLogger("hogkit.transport")

# The next batch is "full" when less than this (or a quarter of the body limit) is left in
# it: the worker then waits for the sender rather than take a sliver of the queue.
_MIN_ROOM = 64 * 1024

Report = Callable[[Exception, Sequence[bytes]], None]


class Worker:
    """Sends what `queue` holds through `transport`; settles every event in `books`."""

    def __init__(
        self,
        queue: EventQueue,
        transport: Transport,
        *,
        flush_interval: float,
        report: Report,
        books: Books | None = None,
        spool: Spool | None = None,
        max_body_bytes: int = MAX_BATCH_BYTES,
        prepare: Prepare | None = None,
        prepare_many: PrepareMany | None = None,
        describe: Callable[[Deferred], bytes] | None = None,
        senders: int = 1,
        batch_events: int = 0,
    ) -> None:
        """`describe(item)` is what `on_error` gets for a queued item that could not be
        built: enough of the event to tell which call it was (without it, no event)."""
        self.queue = queue
        self.build = WorkerBuild(prepare, prepare_many)
        self._describe = describe
        self.transport = transport
        self.flush_interval = max(0.001, flush_interval)
        self.books = books if books is not None else Books(report)
        self.books.waiting = queue.waiting_events
        self.max_bytes = max(1, max_body_bytes - BATCH_OVERHEAD_BYTES)
        self._replay = (
            None
            if spool is None
            else SpoolReplay(
                spool, self.books, self._send_and_wait, self._busy, self.max_bytes // 2
            )
        )
        self.stop = threading.Event()
        # Guards the hand-off, which both threads update.
        self._lock = threading.Condition()
        self._next: list[bytes] = []  # the batch the sender takes next, filled by the worker
        self._next_spans: Spans = []  # its events' numbers
        self._next_bytes = 0  # its body size (events and commas)
        self._sending: list[tuple[list[bytes], Spans]] = []  # the batches being sent
        self._pieces: list[tuple[list[bytes], Spans]] = []  # split, not handed on yet
        self._senders = max(1, senders)
        # Events per batch with several senders (0: as many as the body limit allows).
        self._batch_events = max(1, batch_events) if self._senders > 1 else 0
        self._closing = False
        self._retiring = False
        self.thread = threading.Thread(target=self._run, name="hogkit-worker", daemon=True)
        self.senders = [
            threading.Thread(target=self._send_loop, name=f"hogkit-sender-{n}", daemon=True)
            for n in range(self._senders)
        ]

    @property
    def delivered(self) -> int:
        return self.books.ledger.delivered

    @property
    def lost(self) -> int:
        return self.books.ledger.dropped_total

    def start(self) -> bool:
        """Start the threads; False, with any started one ending at once, where a thread
        cannot start (Python 3.12.0 and 3.12.1 at interpreter exit, or a process out of
        threads)."""
        try:
            for sender in self.senders:
                sender.start()
            self.thread.start()
        except RuntimeError:
            self.stop.set()
            with self._lock:
                self._closing = True
                self._lock.notify_all()
            return False
        return True

    def is_current(self) -> bool:
        """True on the worker's own threads (where waiting for a flush would deadlock)."""
        current = threading.current_thread()
        return current is self.thread or current in self.senders

    def halt(self, timeout: float) -> None:
        """Stop both threads (what is still queued is reported lost), waiting at most
        `timeout` seconds for the worker's thread (not at all on the worker's own threads)."""
        self.stop.set()
        self.queue.wake.set()
        if not self.is_current():
            self.thread.join(max(0.0, timeout))

    def retire(self) -> None:
        """The owner is gone: send what is queued, then let both threads end."""
        self._retiring = True
        self.queue.wake.set()

    def give_up(self) -> None:
        """At a shutdown or exit deadline (after `stop`): report as lost every event not
        settled yet, with the batches the sender still holds, once."""
        if not self.is_current():
            with self._lock:
                held = [*self._sending, (list(self._next), list(self._next_spans))]
                held.extend(self._pieces)
            for events, spans in held:
                error = DeliveryFailed(
                    "the deadline passed while these events were being sent", "deadline"
                )
                self.books.lost(Reason.DEADLINE, error, spans, events)
        self.books.give_up()

    def _run(self) -> None:
        queue, stop = self.queue, self.stop
        while not stop.is_set():
            queue.wake.wait(self.flush_interval)
            queue.wake.clear()
            queue.awake = False
            if stop.is_set():
                break
            try:
                self._drain()
            except Exception:
                log.exception("the worker hit an unexpected error; continuing")
            if self._replay is not None and not len(queue) and not stop.is_set():
                self._replay.when_idle()
            if self._retiring and not len(queue):
                self._retire_when_sent()
        self._abandon()

    def _retire_when_sent(self) -> None:
        """Stop once the sender has sent what it holds (its owner is gone)."""
        with self._lock:
            while self._next or self._sending:
                self._lock.wait(0.1)
        if not len(self.queue):
            self.stop.set()

    def _drain(self) -> None:
        queue = self.queue
        while not self.stop.is_set():
            room = self._room()
            batch, marker = queue.take(room, self.build.one, self.build.many)
            spans = self._number(batch)
            if batch:
                self._hand_off(batch, spans, queue.taken_bytes)
            self._count_drops()
            if marker is not None:
                if self._replay is not None:
                    self._replay.pending()  # a flush covers the spooled events too
                self._settle(marker)
            elif not batch:
                return

    def _number(self, batch: list[bytes]) -> Spans:
        """Numbers for the events of a take, then for those of it that could not be built
        (which are lost at once)."""
        spans = self.books.number(len(batch))
        describe = self._describe
        for error, item in self.build.take_failures():
            reason = Reason.TOO_LARGE if isinstance(error, EventTooLarge) else Reason.INVALID
            described = () if describe is None else (describe(item),)
            self.books.lost(reason, error, self.books.number(1), described)
        return spans

    def _count_drops(self) -> None:
        dropped = self.queue.end_burst()
        if dropped:
            error = QueueFull(dropped, self.queue.maxsize)
            self.books.lost_new(Reason.QUEUE_FULL, error, dropped)

    def _room(self) -> int:
        """Bytes the next batch can still take, once it has a fair amount of room left.

        Waits while every sender is busy and the next batch is (nearly) full: the queue
        holds what arrives meanwhile.
        """
        full_at = self.max_bytes - min(_MIN_ROOM, self.max_bytes // 4)
        with self._lock:
            while (
                self._next_bytes > full_at
                and len(self._sending) >= self._senders
                and not self.stop.is_set()
            ):
                self._lock.wait(0.1)
            return max(1, self.max_bytes - self._next_bytes)

    def _hand_off(self, batch: list[bytes], spans: Spans, size: int) -> None:
        """Hand `batch` on, in pieces of `batch_events` events with several senders."""
        step = self._batch_events
        if not step or len(batch) <= step:
            self._hand_off_one(batch, spans, size)
            return
        pieces: list[tuple[list[bytes], Spans]] = []
        for at in range(0, len(batch), step):
            piece = batch[at : at + step]
            piece_spans, spans = first(spans, len(piece))
            pieces.append((piece, piece_spans))
        with self._lock:
            self._pieces = pieces  # what `give_up` reports if the deadline comes first
        while pieces:
            piece, piece_spans = pieces[0]
            self._hand_off_one(piece, piece_spans, sum(map(len, piece)) + len(piece))
            with self._lock:
                pieces.pop(0)

    def _hand_off_one(self, batch: list[bytes], spans: Spans, size: int) -> None:
        """Add `batch` (`size` bytes with its commas) to what the sender takes next (when
        it fits: else after the sender took that). After a stop it is handed over anyway:
        the transport then answers at once that it was cancelled, and the sender reports
        the events as not delivered.
        """
        with self._lock:
            while self._next and self._full(size) and not self.stop.is_set():
                self._lock.wait(0.1)
            self._next.extend(batch)
            self._next_spans.extend(spans)
            self._next_bytes += size
            self._lock.notify_all()

    def _full(self, size: int) -> bool:
        """The next batch cannot take `size` more bytes (or, with several senders, any more
        events)."""
        if self._batch_events and len(self._next) >= self._batch_events:
            return True
        return self._next_bytes + size > self.max_bytes

    def _send_loop(self) -> None:
        lock = self._lock
        while True:
            with lock:
                while not self._next and not self._closing:
                    lock.wait()
                if not self._next:
                    return
                sending = (self._next, self._next_spans)
                self._next, self._next_spans, self._next_bytes = [], [], 0
                self._sending.append(sending)
                lock.notify_all()
            try:
                self._deliver(*sending)
            except Exception:
                log.exception("a sender hit an unexpected error; continuing")
            finally:
                with lock:
                    self._sending = [held for held in self._sending if held is not sending]
                    lock.notify_all()

    def _deliver(self, batch: list[bytes], spans: Spans) -> None:
        try:
            result = self.transport.send(batch, stop=self.stop)
        except Exception as exc:
            log.exception("the transport raised; treating the batch as failed")
            result = SendResult(0, tuple(batch), exc)
        self.books.settle(spans, result)

    def _send_and_wait(self, chunk: list[bytes], size: int) -> None:
        """Hand replayed events to the sender and wait until they are settled."""
        self._hand_off(chunk, self.books.number(len(chunk)), size)
        self._wait_sent()

    def _busy(self) -> bool:
        """Live events wait (they go before replayed ones), or the worker is stopping."""
        return bool(len(self.queue)) or self.stop.is_set()

    def _settle(self, marker: FlushMarker) -> None:
        """Settled once the sender has finished every batch handed to it before the marker
        (after a stop, without waiting: the window is then still open, and not clean)."""
        self._wait_sent()
        marker.settle(self.books.conclude, self.books.mark())

    def _wait_sent(self) -> None:
        """Until the sender has sent all it was handed, or the worker is stopped."""
        with self._lock:
            while (self._next or self._sending) and not self.stop.is_set():
                self._lock.wait(0.1)

    def _abandon(self) -> None:
        """After a stop: whatever is still queued will not be sent; say so, release waiters."""
        events, markers = self.queue.take_all(self.build.one, self.build.many)
        spans = self._number(events)
        if events:
            error = Cancelled("the client shut down before these events were sent")
            self.books.lost(Reason.DEADLINE, error, spans, events)
        self._count_drops()
        for marker in markers:
            marker.settle(self.books.conclude, self.books.mark())
        with self._lock:
            self._closing = True  # the senders finish what they were handed, then exit
            self._lock.notify_all()
