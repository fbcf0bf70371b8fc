"""The one background thread per client that turns queued events into delivered batches.

Each wakeup drains everything waiting, in batches as large as the body limit allows, rather
than one `flush_at`-sized batch: under a burst, the queue empties as fast as the network
takes bytes, instead of the producers outrunning a worker that sends 100 events per
round trip. `flush_at` only decides when a quiet worker wakes up; `flush_interval` bounds
how long an event waits when fewer than `flush_at` are queued.

The thread never dies on an exception (it logs and carries on), and it never calls back
into the client's lifecycle: failures and drops go to the `report` callback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from hogkit.core.batch import BATCH_OVERHEAD_BYTES, MAX_BATCH_BYTES
from hogkit.core.errors import HogkitError

from .queue import EventQueue, FlushMarker
from .transports import Cancelled, SendResult, Transport

log = logging.getLogger("hogkit.transport")

Report = Callable[[Exception, Sequence[bytes]], None]


class QueueFull(HogkitError):
    """Events were dropped because the queue was full."""

    def __init__(self, count: int, maxsize: int) -> None:
        super().__init__(f"{count} events dropped: the queue was full (max_queue_size={maxsize})")
        self.count = count


class Worker:
    """Sends what `queue` holds through `transport`; reports losses through `report`."""

    def __init__(
        self,
        queue: EventQueue,
        transport: Transport,
        *,
        flush_interval: float,
        report: Report,
        max_body_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.queue = queue
        self.transport = transport
        self.flush_interval = max(0.001, flush_interval)
        self.report = report
        self.max_bytes = max(1, max_body_bytes - BATCH_OVERHEAD_BYTES)
        self.stop = threading.Event()
        self.delivered = 0
        self.lost = 0
        self._failed_since_marker = 0
        self._drops_at_marker = 0
        self.thread = threading.Thread(target=self._run, name="hogkit-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def is_current(self) -> bool:
        return threading.current_thread() is self.thread

    def _run(self) -> None:
        queue, stop = self.queue, self.stop
        while not stop.is_set():
            queue.wake.wait(self.flush_interval)
            queue.wake.clear()
            if stop.is_set():
                break
            try:
                self._drain()
            except Exception:
                log.exception("hogkit worker: unexpected error; continuing")
        self._abandon()

    def _drain(self) -> None:
        queue = self.queue
        while not self.stop.is_set():
            batch, marker = queue.take(self.max_bytes)
            if batch:
                self._deliver(batch)
            dropped = queue.end_burst()
            if dropped:
                self._report_drops(dropped)
            if marker is not None:
                self._settle(marker)
            elif not batch:
                return

    def _deliver(self, batch: list[bytes]) -> None:
        try:
            result = self.transport.send(batch, stop=self.stop)
        except Exception as exc:
            log.exception("hogkit worker: the transport raised; treating the batch as failed")
            result = SendResult(0, tuple(batch), exc)
        self.delivered += result.delivered
        if result.failed:
            error = result.error or HogkitError("the transport did not deliver these events")
            self._fail(error, result.failed)

    def _fail(self, error: Exception, events: Sequence[bytes]) -> None:
        self.lost += len(events)
        self._failed_since_marker += len(events)
        self._report(error, events)

    def _report_drops(self, count: int) -> None:
        self.lost += count
        self._report(QueueFull(count, self.queue.maxsize), ())

    def _report(self, error: Exception, events: Sequence[bytes]) -> None:
        try:
            self.report(error, events)
        except Exception:
            log.exception("hogkit worker: error while reporting a delivery failure")

    def _settle(self, marker: FlushMarker) -> None:
        """A flush is clean when nothing queued since the previous one failed or was dropped."""
        dropped = marker.drops_before - self._drops_at_marker
        marker.settle(self._failed_since_marker == 0 and dropped == 0)
        self._failed_since_marker = 0
        self._drops_at_marker = marker.drops_before

    def _abandon(self) -> None:
        """After a stop: whatever is still queued will not be sent; say so, release waiters."""
        events, markers = self.queue.take_all()
        if events:
            self._fail(Cancelled("the client shut down before these events were sent"), events)
        dropped = self.queue.end_burst()
        if dropped:
            self._report_drops(dropped)
        for marker in markers:
            marker.settle(False)
