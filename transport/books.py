"""The pipeline's books: which accepted events were delivered or lost, reported exactly once.

The rules live in `hogkit.core.accounting`; this holds the current `Ledger` behind a lock
and hands every loss to the report callback (`on_error` and the log). Settling takes the
lock; reporting happens after it is released, so an `on_error` callback may read
`stats()` or call `flush()` without deadlocking.

Events are numbered by the worker as it takes them from the queue (queue-full drops when it
learns of them), so the numbers of one batch are a few contiguous runs (`Spans`). Which
event of a batch holds which of its numbers does not matter: every flush marker falls
between takes, never inside one, so a flush's window always holds whole batches.

A loss is settled only for numbers not settled yet: when a shutdown has already reported a
batch still being sent as lost at its deadline, the sender's late answer for it changes
nothing and reports nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import attrs
from hogkit.core import accounting as acc
from hogkit.core.errors import HogkitError

from .errors import DeliveryFailed, EventTooLarge, with_reason
from .spool import Spool
from .transports import Cancelled, SendResult

__all__ = ["Books", "Spans", "first", "reason_of"]

log = logging.getLogger("hogkit")

Spans = list[tuple[int, int]]
"""Event numbers as sorted `[start, stop)` runs."""

Report = Callable[[Exception, Sequence[bytes]], None]


def first(spans: Spans, count: int) -> tuple[Spans, Spans]:
    """The first `count` numbers of `spans`, and the rest."""
    head: Spans = []
    tail: Spans = []
    for lo, hi in spans:
        take = min(max(count, 0), hi - lo)
        if take:
            head.append((lo, lo + take))
        if lo + take < hi:
            tail.append((lo + take, hi))
        count -= take
    return head, tail


class Books:
    """One pipeline's ledger; see the module docstring."""

    def __init__(self, report: Report) -> None:
        self._lock = threading.Lock()
        self._ledger = acc.Ledger()
        self._report = report
        # How many accepted events the worker has not numbered yet (the queue's length).
        self.waiting: Callable[[], int] = lambda: 0
        # Events this process wrote to the spool and has not replayed yet: accepted, not
        # numbered until they are replayed.
        self._spooled = 0

    @property
    def ledger(self) -> acc.Ledger:
        return self._ledger

    def number(self, count: int) -> Spans:
        """The next `count` numbers, for events just taken from the queue."""
        if count <= 0:
            return []
        with self._lock:
            start = self._ledger.accepted
            self._ledger = acc.accept(self._ledger, count)
        return [(start, start + count)]

    def spooled(self, count: int) -> None:
        """`count` events went to the spool (positive) or came back from it (negative)."""
        with self._lock:
            self._spooled = max(0, self._spooled + count)

    def spiller(self, spool: Spool) -> Callable[[bytes], bool]:
        """What the queue calls with an event it has no room for: the spool takes it, if
        it has room itself (False: the event is dropped). Holds the books and the spool
        only, never the pipeline."""

        def spill(data: bytes) -> bool:
            try:
                stored = spool.append((data,)) == 1
            except OSError as exc:
                log.warning("could not write to the spool: %s", type(exc).__name__)
                return False
            if stored:
                self.spooled(1)
            return stored

        return spill

    def has_spooled(self) -> bool:
        return self._spooled > 0

    def mark(self) -> int:
        """Everything numbered so far: a flush's window ends here."""
        return self._ledger.accepted

    def delivered(self, spans: Spans, count: int) -> Spans:
        """The first `count` numbers of `spans` arrived; returns the rest."""
        head, tail = first(spans, count)
        with self._lock:
            ledger = self._ledger
            for lo, hi in head:
                for start, stop in acc.unsettled(ledger, lo, hi):
                    ledger = acc.deliver(ledger, start, stop)
            self._ledger = ledger
        return tail

    def retried(self, count: int, duplicated: int) -> None:
        if count or duplicated:
            with self._lock:
                self._ledger = acc.retry(self._ledger, count, duplicated=duplicated)

    def settle(self, spans: Spans, result: SendResult) -> bool:
        """The transport's answer for a batch numbered `spans`: its retries, what arrived
        and what did not (reported, with the reason its error gives). True when all did."""
        self.retried(result.retried, result.duplicated)
        rest = self.delivered(spans, result.delivered)
        if not result.failed:
            return True
        error = result.error or HogkitError("the transport did not deliver these events")
        self.lost(reason_of(error), error, rest, result.failed)
        return False

    def lost(
        self,
        reason: acc.Reason,
        error: Exception,
        spans: Spans,
        events: Sequence[bytes] = (),
    ) -> None:
        """The numbers in `spans` (the i-th paired with `events[i]`, when there is one) will
        not be delivered: settle those not settled yet and report them, once."""
        reported: list[bytes] = []
        count = 0
        with self._lock:
            ledger = self._ledger
            offset = 0
            for lo, hi in spans:
                for start, stop in acc.unsettled(ledger, lo, hi):
                    ledger = acc.drop(ledger, reason, start, stop)
                    count += stop - start
                    reported.extend(events[offset + start - lo : offset + stop - lo])
                offset += hi - lo
            self._ledger = ledger
        if count:
            self._report(with_reason(error, reason.value), reported)

    def lost_new(self, reason: acc.Reason, error: Exception, count: int) -> None:
        """`count` events never numbered (queue-full drops, events that could not be
        built) are lost: number and report them at once."""
        self.lost(reason, error, self.number(count))

    def give_up(self) -> None:
        """At a shutdown or exit deadline: report every event still unsettled as lost."""
        with self._lock:
            runs = acc.unsettled(self._ledger, 0, self._ledger.accepted)
        if runs:
            count = sum(hi - lo for lo, hi in runs)
            error = DeliveryFailed(
                f"{count} events were still on their way when the deadline passed",
                acc.Reason.DEADLINE.value,
            )
            self.lost(acc.Reason.DEADLINE, error, list(runs))

    def conclude(self, mark: int) -> bool:
        """A flush's answer for the window ending at `mark`: True only when every event in
        it was delivered. A settled window is closed (see `hogkit.core.accounting`)."""
        with self._lock:
            verdict = acc.verdict(self._ledger, mark)
            self._ledger = acc.close(self._ledger, mark)
            spooled = self._spooled
        return verdict is acc.Verdict.DELIVERED and not spooled

    def all_delivered(self) -> bool:
        """Every event ever accepted was delivered (shutdown's final word)."""
        ledger = self._ledger
        pending = ledger.in_flight or self.waiting() or self._spooled
        return ledger.dropped_total == 0 and not pending

    def stats(self) -> acc.Stats:
        """The counters; events still queued count as accepted and in flight."""
        with self._lock:
            ledger, spooled = self._ledger, self._spooled
        waiting = self.waiting() + spooled
        if waiting:
            ledger = acc.accept(ledger, waiting)
        return attrs.evolve(acc.stats(ledger), spooled=spooled)


def reason_of(error: Exception) -> acc.Reason:
    """Why a batch that failed with `error` is lost."""
    if isinstance(error, Cancelled):
        return acc.Reason.DEADLINE
    if isinstance(error, EventTooLarge):
        return acc.Reason.TOO_LARGE
    return acc.status_reason(getattr(error, "status", None))
