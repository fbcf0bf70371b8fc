"""What happened to every accepted event, and whether a flush may say "all delivered".

The shell numbers events in the order it accepts them (0, 1, 2, ...). A batch, a queue-full
rejection or a deadline loss settles a contiguous run of those numbers: `[start, stop)`.
The ledger is an immutable value; the shell keeps the current one behind its lock and
replaces it with the value each rule returns.

Why ranges and not per-event flags: a FIFO queue hands events to the sender in acceptance
order, so the settled numbers collapse to one prefix plus a few runs still being retried.
The value stays small however many events pass through, and a flush verdict is a couple of
comparisons.

The flush rule. A flush (or shutdown) takes a mark: the number of events accepted when it
was called. Its answer covers the window from the ledger's `baseline` up to that mark:

- `PENDING` while some event in the window is neither delivered nor dropped;
- `DELIVERED` when every event in the window was delivered;
- `LOST` when every event in the window is settled and at least one was dropped.

A flush that gives up before the window settles answers False and leaves the baseline
where it is, so a later flush still sees those events and answers False if any of them was
lost. Once a flush has told the caller the outcome of its whole window (`close`), the
baseline moves to its mark: a loss is reported to one flush, not to every flush after it.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping

import attrs

from .retry import is_retryable_status

__all__ = [
    "Ledger",
    "Reason",
    "Stats",
    "Verdict",
    "accept",
    "close",
    "deliver",
    "drop",
    "retry",
    "stats",
    "status_reason",
    "unsettled",
    "verdict",
]

Span = tuple[int, int]


class Reason(enum.Enum):
    """Why an accepted event was not delivered; the value is the name `on_error` sees."""

    QUEUE_FULL = "queue_full"
    SERVER_REJECTED = "server_rejected"
    TOO_LARGE = "too_large"
    DEADLINE = "deadline"
    RETRIES_EXHAUSTED = "retries_exhausted"
    SPOOL_TORN = "spool_torn"
    INVALID = "invalid"  # could not be built or encoded (a bug, or a value that broke it)


class Verdict(enum.Enum):
    """The state of a flush's window of events."""

    PENDING = "pending"
    DELIVERED = "delivered"
    LOST = "lost"


_REASONS = tuple(Reason)


@attrs.frozen
class Ledger:
    """Counters plus the settled and lost runs of event numbers.

    `settled` and `lost` are sorted, disjoint, non-adjacent `[start, stop)` runs. `lost`
    only keeps runs at or after `baseline` (older losses were already reported by a flush).
    """

    accepted: int = 0
    delivered: int = 0
    dropped: tuple[int, ...] = (0,) * len(_REASONS)
    retried: int = 0
    duplicated: int = 0
    settled: tuple[Span, ...] = ()
    lost: tuple[Span, ...] = ()
    baseline: int = 0

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped)

    @property
    def in_flight(self) -> int:
        """Accepted and not yet delivered or dropped: queued, sending or waiting to retry."""
        return self.accepted - self.delivered - self.dropped_total


@attrs.frozen
class Stats:
    """The public counters (`client.stats()`). `in_flight` counts events queued, being
    sent, waiting to retry, or waiting in the on-disk spool (`spooled` of them)."""

    accepted: int
    delivered: int
    dropped: Mapping[str, int]
    retried: int
    in_flight: int
    duplicated: int
    spooled: int = 0


def accept(ledger: Ledger, count: int = 1) -> Ledger:
    """`count` more events were accepted; they take the next numbers."""
    if count < 0:
        raise ValueError("count must not be negative")
    return attrs.evolve(ledger, accepted=ledger.accepted + count)


def deliver(ledger: Ledger, start: int, stop: int, *, duplicated: int = 0) -> Ledger:
    """Events `[start, stop)` reached the server. `duplicated` counts copies it already had
    (a batch the server stored and then answered with an error, sent again)."""
    settled = _add(ledger.settled, _checked(ledger, start, stop))
    return attrs.evolve(
        ledger,
        delivered=ledger.delivered + (stop - start),
        duplicated=ledger.duplicated + duplicated,
        settled=settled,
    )


def drop(ledger: Ledger, reason: Reason, start: int, stop: int) -> Ledger:
    """Events `[start, stop)` will never be delivered, for `reason`."""
    span = _checked(ledger, start, stop)
    counts = list(ledger.dropped)
    counts[_REASONS.index(reason)] += stop - start
    lost = ledger.lost
    if stop > ledger.baseline:
        lost = _add(lost, (max(start, ledger.baseline), stop))
    return attrs.evolve(
        ledger, dropped=tuple(counts), settled=_add(ledger.settled, span), lost=lost
    )


def retry(ledger: Ledger, count: int, *, duplicated: int = 0) -> Ledger:
    """`count` events are being sent again after a failed attempt; `duplicated` of them
    after an attempt the server may have stored (it answered with an error, or the answer
    did not arrive in time), so the server may now hold them twice."""
    return attrs.evolve(
        ledger, retried=ledger.retried + count, duplicated=ledger.duplicated + duplicated
    )


def status_reason(status: int | None) -> Reason:
    """Why a batch the server answered with `status` (None: no answer) is lost for good.

    413 says the events are too large; a status the sender does not retry is a refusal; the
    rest (no answer, 408, 429, 5xx) were retried until the attempts ran out.
    """
    if status == 413:
        return Reason.TOO_LARGE
    if status is not None and not is_retryable_status(status):
        return Reason.SERVER_REJECTED
    return Reason.RETRIES_EXHAUSTED


def unsettled(ledger: Ledger, start: int, stop: int) -> tuple[Span, ...]:
    """The runs inside `[start, stop)` not yet settled: what a shutdown must still report."""
    runs: list[Span] = []
    cursor = start
    for lo, hi in ledger.settled:
        if hi <= cursor:
            continue
        if lo >= stop:
            break
        if lo > cursor:
            runs.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < stop:
        runs.append((cursor, stop))
    return tuple(runs)


def verdict(ledger: Ledger, mark: int) -> Verdict:
    """The outcome of the window `[baseline, mark)` (see the module docstring)."""
    if mark <= ledger.baseline:
        return Verdict.DELIVERED
    if unsettled(ledger, ledger.baseline, mark):
        return Verdict.PENDING
    if any(lo < mark for lo, _ in ledger.lost):
        return Verdict.LOST
    return Verdict.DELIVERED


def close(ledger: Ledger, mark: int) -> Ledger:
    """A flush reported its settled window `[baseline, mark)`; later flushes start at `mark`.

    A window still pending is left open (the flush timed out and answered False).
    """
    if mark <= ledger.baseline or verdict(ledger, mark) is Verdict.PENDING:
        return ledger
    lost = tuple((max(lo, mark), hi) for lo, hi in ledger.lost if hi > mark)
    return attrs.evolve(ledger, baseline=mark, lost=lost)


def stats(ledger: Ledger) -> Stats:
    return Stats(
        accepted=ledger.accepted,
        delivered=ledger.delivered,
        dropped=types.MappingProxyType(
            {reason.value: n for reason, n in zip(_REASONS, ledger.dropped, strict=True) if n}
        ),
        retried=ledger.retried,
        in_flight=ledger.in_flight,
        duplicated=ledger.duplicated,
    )


def _checked(ledger: Ledger, start: int, stop: int) -> Span:
    """Reject a run that was never accepted or is (partly) settled already: an event is
    delivered or dropped once, and a second outcome is a bug in the caller."""
    if not 0 <= start < stop <= ledger.accepted:
        raise ValueError(f"run [{start}, {stop}) is outside the accepted [0, {ledger.accepted})")
    if unsettled(ledger, start, stop) != ((start, stop),):
        raise ValueError(f"run [{start}, {stop}) is already partly settled")
    return (start, stop)


def _add(spans: tuple[Span, ...], span: Span) -> tuple[Span, ...]:
    """Insert a run into sorted disjoint runs, merging it with any it touches."""
    lo, hi = span
    out: list[Span] = []
    for a, b in spans:
        if b < lo or a > hi:
            out.append((a, b))
        else:
            lo, hi = min(lo, a), max(hi, b)
    out.append((lo, hi))
    out.sort()
    return tuple(out)
