"""Sending what waits in the on-disk spool, between live batches.

The spool holds events the queue had no room for (this process's) and what earlier
processes left behind. The worker replays it while its queue is idle, always yielding to
live events: a replay stops between chunks when new events are queued, and resumes later.
A segment is acknowledged only for events delivered or reported lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable

from hogkit.core.accounting import Reason

from .books import Books
from .errors import DeliveryFailed
from .spool import Segment, Spool

__all__ = ["SpoolReplay"]

log = logging.getLogger("hogkit.transport")

# How often an idle worker looks for spool segments other processes left behind.
_REPLAY_EVERY = 30.0

SendAndWait = Callable[[list[bytes], int], None]
"""Sends a chunk of events (`size` bytes with commas) and returns once they are settled."""


class SpoolReplay:
    """Replays one spool through a worker's `send_and_wait`; see the module docstring."""

    def __init__(
        self,
        spool: Spool,
        books: Books,
        send_and_wait: SendAndWait,
        busy: Callable[[], bool],
        chunk_bytes: int,
    ) -> None:
        self._spool = spool
        self._books = books
        self._send_and_wait = send_and_wait
        self._busy = busy
        self._chunk_bytes = max(1, chunk_bytes)
        self._next_look = 0.0  # what earlier processes left is sent at the start

    def when_idle(self) -> None:
        """The queue is idle: replay this process's overflow, and every `_REPLAY_EVERY`
        seconds look for what other processes left."""
        now = time.monotonic()
        if self._books.has_spooled() or now >= self._next_look:
            self._next_look = now + _REPLAY_EVERY
            self.run()

    def pending(self) -> None:
        """Replay this process's overflow now, if there is any (before a flush answers)."""
        if self._books.has_spooled():
            self.run()

    def run(self) -> None:
        """Send what waits in the spool: this process's segment (sealed first), then what
        earlier processes left; stop early when `busy`."""
        spool = self._spool
        try:
            if spool.writing:
                spool.close()
            with contextlib.closing(spool.replay()) as segments:
                for segment in segments:
                    self._replay_segment(segment)
                    if self._busy():
                        return
        except OSError:
            log.exception("the worker could not read the spool; trying again later")

    def _replay_segment(self, segment: Segment) -> None:
        own = f"-{os.getpid()}-" in os.path.basename(segment.path)
        books = self._books
        chunk: list[bytes] = []
        size = 0
        torn = 0
        records = segment.records()
        while True:
            record = next(records, None)
            if record is not None:
                chunk.append(record)
                size += len(record) + 1
                if size < self._chunk_bytes:
                    continue
            if chunk:
                if own:
                    books.spooled(-len(chunk))
                self._send_and_wait(chunk, size)
                segment.ack()
            lost, torn = segment.torn - torn, segment.torn
            if lost:
                error = DeliveryFailed(f"{lost} damaged records in the spool", "spool_torn")
                books.lost_new(Reason.SPOOL_TORN, error, lost)
                books.spooled(-lost if own else 0)
            if record is None or self._busy():
                return
            chunk, size = [], 0
