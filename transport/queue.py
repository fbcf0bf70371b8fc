"""The bounded hand-off between capturing threads and the worker.

`put` is on every capture's path, so it is a few C-level deque operations and no lock: a
deque's `append` and `popleft` are atomic, there is one consumer, and the bound is checked
before appending (concurrent producers can overshoot it by at most one event each). The
worker is woken through an Event only when `wake_at` events are waiting, not per event.

Under a burst from many threads, the worker (and any thread doing I/O, the worker's HTTP
exchange included) waits its turn for the GIL behind every producer, one switch interval
each, while the producers fill the queue. So once a quarter of the queue is waiting, every
eighth `put` yields the GIL (a `sched_yield`, never a wait), and past half full every `put`
does: producers keep going at nearly full speed, and the worker gets to run often enough to
keep up instead of events being dropped.

A flush is a marker placed in the same deque: everything captured before `flush()` was
called is ahead of it, so when the worker reaches the marker it has handled exactly those
events, whatever other threads capture meanwhile.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import logging
import os
import threading
import time

log = logging.getLogger("hogkit.transport")


# Real encoded events are larger than this (`$lib`, ids and timestamps alone exceed it), so
# a body of `max_bytes` holds fewer than `max_bytes // _MIN_EVENT_BYTES` events: `take`
# pops at most that many (or 1024) at once and pushes back what does not fit.
_MIN_EVENT_BYTES = 64


def _sleep_zero() -> None:
    time.sleep(0)


# Offers the GIL to other threads without waiting for anything.
_yield = getattr(os, "sched_yield", None) or _sleep_zero


class FlushMarker:
    """Set by the worker once everything queued ahead of it has been sent or given up on."""

    __slots__ = ("delivered", "done", "drops_before")

    def __init__(self, drops_before: int) -> None:
        self.done = threading.Event()
        self.delivered = False
        self.drops_before = drops_before  # queue-full drops counted when the flush began

    def settle(self, delivered: bool) -> None:
        self.delivered = delivered
        self.done.set()


class EventQueue:
    """Encoded events waiting for the worker, at most `maxsize` of them."""

    def __init__(self, maxsize: int, wake_at: int) -> None:
        self.maxsize = max(1, maxsize)
        self.wake_at = max(1, wake_at)
        self.high_water = max(1, self.maxsize // 4)
        self.half = max(1, self.maxsize // 2)
        self.wake = threading.Event()
        self._items: collections.deque[bytes | FlushMarker] = collections.deque()
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._dropped_reported = 0
        self._in_burst = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: bytes) -> bool:
        """Queue one encoded event; False (and counted) when the queue is full. Never blocks."""
        items = self._items
        if len(items) >= self.maxsize:
            self._drop()
            return False
        items.append(event)
        waiting = len(items)
        if waiting >= self.wake_at:
            if not self.wake.is_set():
                self.wake.set()
            if waiting >= self.high_water and (waiting >= self.half or not waiting & 7):
                _yield()
        return True

    def _drop(self) -> None:
        with self._drop_lock:
            self._dropped += 1
            first = not self._in_burst
            self._in_burst = True
        if first:
            log.warning(
                "event queue full (max_queue_size=%d): dropping new events until the "
                "worker catches up",
                self.maxsize,
            )
        if not self.wake.is_set():
            self.wake.set()

    def end_burst(self) -> int:
        """Events dropped since the last call; the next drop logs again. Worker only."""
        with self._drop_lock:
            count = self._dropped - self._dropped_reported
            self._dropped_reported = self._dropped
            self._in_burst = False
        return count

    @property
    def dropped(self) -> int:
        """Every event dropped because the queue was full, since the queue was made."""
        return self._dropped

    def mark(self) -> FlushMarker:
        """Queue a flush marker (never refused) and wake the worker."""
        marker = FlushMarker(self._dropped)
        self._items.append(marker)
        self.wake.set()
        return marker

    def take(self, max_bytes: int) -> tuple[list[bytes], FlushMarker | None]:
        """The next events, in order, up to a flush marker or `max_bytes` (commas included).

        Worker only. The first event is always taken, whatever its size, so the queue
        cannot stall on it. Items are popped in bulk and any surplus is pushed back on the
        left, which is safe because producers only ever append on the right.
        """
        items = self._items
        count = min(len(items), max(1024, max_bytes // _MIN_EVENT_BYTES))
        if not count:
            return [], None
        popleft = items.popleft
        taken = [popleft() for _ in range(count)]
        marker: FlushMarker | None = None
        if FlushMarker in set(map(type, taken)):
            for index, item in enumerate(taken):
                if isinstance(item, FlushMarker):
                    marker = item
                    items.extendleft(reversed(taken[index + 1 :]))
                    del taken[index:]
                    break
        events: list[bytes] = taken  # type: ignore[assignment]
        if sum(map(len, events)) + len(events) > max_bytes and len(events) > 1:
            fits = bisect.bisect_right(
                list(itertools.accumulate(len(event) + 1 for event in events)), max_bytes
            )
            cut = max(1, fits)
            if marker is not None:
                items.appendleft(marker)
                marker = None
            items.extendleft(reversed(events[cut:]))
            del events[cut:]
        return events, marker

    def take_all(self) -> tuple[list[bytes], list[FlushMarker]]:
        """Empty the queue: its events and its markers. Worker only, when it stops."""
        events: list[bytes] = []
        markers: list[FlushMarker] = []
        items = self._items
        while items:
            item = items.popleft()
            if isinstance(item, FlushMarker):
                markers.append(item)
            else:
                events.append(item)
        return events, markers
