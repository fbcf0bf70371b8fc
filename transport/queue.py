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

An item is either an event's encoded bytes or, from `Client.capture`'s fast path, a
`Deferred` record of the call's arguments (anything that is not bytes or a marker) that the
worker turns into bytes (`prepare`) as it takes them, so the event is built and encoded off
the caller's thread, in capture order.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "Deferred",
    "EventQueue",
    "FlushMarker",
    "Prepare",
    "PrepareMany",
]

log = logging.getLogger("hogkit.transport")


# `take` pops, builds and lets go of the queue's items this many at a time: each item's
# memory is then freed while the building has it in cache, and reused for the next ones,
# instead of a whole burst being built before any of it is freed (bench_client.py shows
# the difference on a large backlog).
_TAKE_CHUNK = 512
# No encoded event is smaller (`$lib`, ids and timestamps alone are larger): the floor of
# `take`'s estimate of an event's size.
_MIN_EVENT_BYTES = 64
# How often a capture waiting for room (`block_seconds`) looks again.
_BLOCK_POLL = 0.0005


Deferred = Any
"""A captured event not built yet (never bytes or a `FlushMarker`); only the worker's
`prepare` functions read its fields."""

Prepare = Callable[[Deferred], bytes | None]
"""Turns a `Deferred` into encoded bytes, or None when the event must be dropped."""

PrepareMany = Callable[[list[Deferred]], list[bytes | None]]
"""Encodes many `Deferred` items at once (a burst's worth in one call): bytes for each, in
order, or None for one it leaves to the per-item `Prepare`. Never raises."""


def _sleep_zero() -> None:
    time.sleep(0)


# Offers the GIL to other threads without waiting for anything.
_yield = getattr(os, "sched_yield", None) or _sleep_zero


class FlushMarker:
    """Settled by the worker once everything queued ahead of it was sent or given up on.

    `mark` is then the number of events ahead of it (see `books.py`), and `delivered` the
    flush's answer. A waiter that gives up first calls `abandon`: its window then stays open
    for the next flush instead of being closed by an answer nobody read.
    """

    __slots__ = ("_lock", "abandoned", "delivered", "done", "mark")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.delivered = False
        self.abandoned = False
        self.mark = 0
        self._lock = threading.Lock()

    def settle(self, conclude: Callable[[int], bool], mark: int) -> None:
        """Record the answer: `conclude(mark)` unless the waiter has gone."""
        with self._lock:
            self.mark = mark
            self.delivered = False if self.abandoned else conclude(mark)
            self.done.set()

    def abandon(self) -> bool:
        """The waiter stops waiting; True only if a clean answer arrived meanwhile."""
        with self._lock:
            self.abandoned = True
            return self.done.is_set() and self.delivered


Spill = Callable[[bytes], bool]
"""Stores an encoded event that does not fit (the on-disk spool); False when it cannot."""


class EventQueue:
    """Encoded events waiting for the worker, at most `maxsize` of them.

    With a memory budget (`max_bytes`), `maxsize` is what the budget holds of events of the
    size the worker saw last (and never fewer than `min_size`), so a burst of small events
    is absorbed rather than dropped, and large events cannot exhaust memory. A counted
    bound is kept on the hot path (a size per event would be a shared sum producers race
    on); the worker re-derives it as it learns the events' size.

    When full, `put` waits up to `block_seconds` for room (opt-in), then hands the event to
    `spill` (opt-in: the spool), and only then drops it.
    """

    def __init__(
        self,
        maxsize: int,
        wake_at: int,
        *,
        max_bytes: int = 0,
        block_seconds: float = 0.0,
        spill: Spill | None = None,
    ) -> None:
        self.min_size = max(1, maxsize)
        self.max_bytes = max(0, max_bytes)
        self.block_seconds = max(0.0, block_seconds)
        self.spill = spill
        self.wake_at = max(1, wake_at)
        self._fit(256.0)
        self.wake = threading.Event()
        # True from a producer's `wake.set()` until the worker clears `wake`: producers test
        # this plain attribute, not `wake.is_set()` (a method call per event in a burst).
        self.awake = False
        self._items: collections.deque[bytes | Deferred | FlushMarker] = collections.deque()
        # The mean size of the events `take` encoded last: how many unbuilt ones it builds
        # for a given room, so that it does not build (in a burst, while the application's
        # threads wait for the GIL) events that will not fit and must wait anyway.
        self._event_bytes = 256.0
        # The body size (events and commas) of what `take` returned last, for the worker.
        self.taken_bytes = 0
        # Flush markers in `_items`: they are no events, so `waiting_events` leaves them out.
        self._marks_lock = threading.Lock()
        self._marks = 0
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._dropped_reported = 0
        self._in_burst = False

    def __len__(self) -> int:
        return len(self._items)

    def waiting_events(self) -> int:
        """The events queued (built or not), not counting the flush markers among them:
        what the books count as accepted and still in flight."""
        return max(0, len(self._items) - self._marks)

    def _fit(self, event_bytes: float) -> None:
        """Bounds for events of `event_bytes` each (see the class docstring)."""
        size = self.min_size
        if self.max_bytes:
            size = max(size, int(self.max_bytes // max(event_bytes, _MIN_EVENT_BYTES)))
        self.maxsize = size
        self.high_water = max(1, size // 4)
        self.half = max(1, size // 2)
        # `defer` takes unbuilt events only while fewer than this many wait, so a worker
        # that falls far behind is handed ready-made events and the capturing threads share
        # its work. Half, not a quarter: below half the caller would encode one by one
        # (dearer than the worker's bulk encoder) events the worker could still have taken.
        # Half of `min_size` at most: an unbuilt event takes several times the memory of
        # its encoding, and the budget counts encoded bytes.
        self.defer_below = min(self.half, max(1, self.min_size // 2))

    def put(self, event: bytes | Deferred) -> bool:
        """Queue one event; when the queue is full, wait, spill or drop (counted) it, as
        configured: False when it was dropped. Never blocks unless `block_seconds` is set."""
        items = self._items
        if len(items) >= self.maxsize:
            return self._full(event)
        items.append(event)
        waiting = len(items)
        if waiting >= self.wake_at:
            if not self.awake:
                self.awake = True
                self.wake.set()
            if waiting >= self.high_water and (waiting >= self.half or not waiting & 7):
                _yield()
        return True

    def defer(self, item: Deferred) -> bool:
        """Queue an unbuilt event for the worker to build; False when the worker is so far
        behind (`defer_below` waiting) that the caller should build it and `put` the bytes.

        There is room below `defer_below` by construction, so nothing is dropped and no
        thread yields here: this is the capture fast path's whole cost in the queue.
        """
        waiting = self._items
        if len(waiting) >= self.defer_below:
            return False
        waiting.append(item)
        if len(waiting) >= self.wake_at and not self.awake:
            self.awake = True
            self.wake.set()
        return True

    def _full(self, event: bytes | Deferred) -> bool:
        """The queue is full: wait for room (if allowed), else spill, else drop."""
        items = self._items
        if self.block_seconds:
            until = time.monotonic() + self.block_seconds
            while len(items) >= self.maxsize and time.monotonic() < until:
                self.wake.set()
                time.sleep(_BLOCK_POLL)
            if len(items) < self.maxsize:
                items.append(event)
                return True
        if self.spill is not None and type(event) is bytes and self.spill(event):
            return True
        self._drop()
        return False

    def _drop(self) -> None:
        with self._drop_lock:
            self._dropped += 1
            first = not self._in_burst
            self._in_burst = True
        if first:
            log.warning(
                "event queue full (%d events): dropping new events until the worker catches up",
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
        marker = FlushMarker()
        with self._marks_lock:
            self._marks += 1
        self._items.append(marker)
        self.wake.set()
        return marker

    def take(
        self,
        max_bytes: int,
        prepare: Prepare | None = None,
        prepare_many: PrepareMany | None = None,
    ) -> tuple[list[bytes], FlushMarker | None]:
        """The next events, in order, up to a flush marker or `max_bytes` (commas included).

        Worker only. `Deferred` items are encoded first, together through `prepare_many`
        when given, one by one with `prepare` otherwise and for what `prepare_many` left
        (dropping those `prepare` answers None for). Only about as many as the room holds
        are built (judged by the size of the events built last); the rest stay queued,
        unbuilt. The first event is always taken, whatever its size, so the queue cannot
        stall on it. Items are popped in bulk and any surplus is pushed back on the left,
        which is safe because producers only ever append on the right.
        """
        items = self._items
        events: list[bytes] = []
        size = 0  # of `events`, commas included
        marker: FlushMarker | None = None
        built: list[bytes] = []
        before = 0  # `size` before the last chunk
        while marker is None and (size < max_bytes or not events):
            room = max_bytes - size
            count = min(len(items), _TAKE_CHUNK)
            if not count:
                break
            # Popped in C: `iter(popleft, _NEVER)` calls `popleft` until `islice` stops it.
            taken = list(itertools.islice(iter(items.popleft, _NEVER), count))
            kinds = set(map(type, taken))
            if FlushMarker in kinds:
                for index, item in enumerate(taken):
                    if isinstance(item, FlushMarker):
                        marker = item
                        items.extendleft(reversed(taken[index + 1 :]))
                        del taken[index:]
                        break
            ready = kinds.issubset(_READY)
            if ready:
                built = taken  # type: ignore[assignment]  # bytes only (no marker left)
            else:
                fits = int(room / self._event_bytes * 1.1) + 1
                if len(taken) > fits:  # the rest go back unbuilt, the marker after them
                    if marker is not None:
                        items.appendleft(marker)
                        marker = None
                    items.extendleft(reversed(taken[fits:]))
                    del taken[fits:]
                built = _encoded(taken, prepare, prepare_many, bytes not in kinds)
            built_bytes = sum(map(len, built))
            if built and not ready:
                self._event_bytes = max(float(_MIN_EVENT_BYTES), built_bytes / len(built))
            # (All of `taken` dropped by `prepare` leaves `events` empty: take on, so that
            # an empty answer keeps meaning an empty queue.)
            events += built
            before, size = size, size + built_bytes + len(built)
        if size > max_bytes and len(events) > 1:
            # Only the last chunk crossed the limit: cut inside it.
            first = len(events) - len(built)
            ends = list(itertools.accumulate((len(event) + 1 for event in built), initial=before))
            cut = max(1, first + bisect.bisect_right(ends, max_bytes) - 1)
            if marker is not None:
                items.appendleft(marker)
                marker = None
            items.extendleft(reversed(events[cut:]))
            del events[cut:]
            size = ends[cut - first]
        self.taken_bytes = size
        if events and self.max_bytes:
            self._fit(size / len(events))
        if marker is not None:
            with self._marks_lock:
                self._marks -= 1
        return events, marker

    def take_all(
        self, prepare: Prepare | None = None, prepare_many: PrepareMany | None = None
    ) -> tuple[list[bytes], list[FlushMarker]]:
        """Empty the queue: its events (encoded) and its markers. Worker only, when it stops."""
        pending: list[bytes | Deferred] = []
        markers: list[FlushMarker] = []
        items = self._items
        while items:
            item = items.popleft()
            if isinstance(item, FlushMarker):
                markers.append(item)
            else:
                pending.append(item)
        with self._marks_lock:
            self._marks -= len(markers)
        return _encoded(pending, prepare, prepare_many), markers


_READY = frozenset((bytes, FlushMarker))
_NEVER = object()  # a sentinel no queued item is


def _encoded(
    items: list[Any],
    prepare: Prepare | None,
    prepare_many: PrepareMany | None = None,
    all_deferred: bool = False,
) -> list[bytes]:
    """`items` as encoded events, in order: bytes kept, `Deferred` ones through
    `prepare_many` (all at once) and then `prepare` (what it left), dropped when None.
    `all_deferred` says no item is bytes (a burst's usual take), sparing a pass over them."""
    built: list[bytes | None] | None = None
    if prepare_many is not None:
        deferred = items if all_deferred else [item for item in items if type(item) is not bytes]
        if deferred:
            built = prepare_many(deferred)
            if len(deferred) == len(items) and None not in built:
                return built  # type: ignore[return-value]  # no None in it
    later = iter(built) if built is not None else None
    out: list[bytes] = []
    append = out.append
    for item in items:
        if type(item) is bytes:
            append(item)
            continue
        data = next(later) if later is not None else None
        if data is None and prepare is not None:
            data = prepare(item)
        if data is not None:
            append(data)
    return out
