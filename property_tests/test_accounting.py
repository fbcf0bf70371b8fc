"""The accounting ledger against a per-event model: every history keeps the books balanced
and every flush verdict matches what happened to the events in its window."""

from __future__ import annotations

import pytest
from hogkit.core import accounting as acc
from hypothesis import given
from hypothesis import strategies as st

# One step of a history: accept some events, settle a run of unsettled ones (deliver or drop),
# retry, or flush (take a mark now, judge it later and close it if settled).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("accept"), st.integers(1, 6)),
        st.tuples(
            st.just("settle"),
            st.integers(0, 10_000),
            st.integers(1, 4),
            st.sampled_from([None, *acc.Reason]),
        ),
        st.tuples(st.just("retry"), st.integers(1, 3)),
        st.tuples(st.just("flush"), st.integers(0, 10_000)),
    ),
    max_size=60,
)


def model_verdict(outcomes: list[object], baseline: int, mark: int) -> acc.Verdict:
    window = outcomes[baseline:mark]
    if any(o is None for o in window):
        return acc.Verdict.PENDING
    if any(o != "delivered" for o in window):
        return acc.Verdict.LOST
    return acc.Verdict.DELIVERED


@given(steps)
def test_books_balance_and_verdicts_match_the_model(history: list[tuple[object, ...]]) -> None:
    ledger = acc.Ledger()
    outcomes: list[object] = []  # per event: None (in flight), "delivered" or a Reason
    baseline = 0
    marks: list[int] = []
    for step in history:
        if step[0] == "accept":
            n = int(step[1])  # type: ignore[call-overload]
            ledger = acc.accept(ledger, n)
            outcomes += [None] * n
        elif step[0] == "settle":
            open_runs = acc.unsettled(ledger, 0, ledger.accepted)
            assert [i for lo, hi in open_runs for i in range(lo, hi)] == [
                i for i, o in enumerate(outcomes) if o is None
            ]
            if not open_runs:
                continue
            lo, hi = open_runs[int(step[1]) % len(open_runs)]  # type: ignore[call-overload]
            stop = min(hi, lo + int(step[2]))  # type: ignore[call-overload]
            reason = step[3]
            if reason is None:
                ledger = acc.deliver(ledger, lo, stop)
            else:
                assert isinstance(reason, acc.Reason)
                ledger = acc.drop(ledger, reason, lo, stop)
            for i in range(lo, stop):
                outcomes[i] = "delivered" if reason is None else reason
        elif step[0] == "retry":
            ledger = acc.retry(ledger, int(step[1]))  # type: ignore[call-overload]
        else:
            marks.append(ledger.accepted)
            mark = marks[int(step[1]) % len(marks)]  # type: ignore[call-overload]
            expected = (
                model_verdict(outcomes, baseline, mark)
                if mark > baseline
                else (acc.Verdict.DELIVERED)
            )
            assert acc.verdict(ledger, mark) is expected
            ledger = acc.close(ledger, mark)
            if expected is not acc.Verdict.PENDING and mark > baseline:
                baseline = mark
            assert ledger.baseline == baseline

        stats = acc.stats(ledger)
        dropped = sum(stats.dropped.values())
        assert stats.delivered + dropped + stats.in_flight == stats.accepted == len(outcomes)
        assert stats.delivered == outcomes.count("delivered")
        assert stats.in_flight == outcomes.count(None)
        for reason in acc.Reason:
            assert stats.dropped.get(reason.value, 0) == outcomes.count(reason)


def test_a_timed_out_flush_leaves_its_window_open_so_a_later_loss_is_reported() -> None:
    ledger = acc.accept(acc.Ledger(), 10)
    mark = ledger.accepted
    assert acc.verdict(ledger, mark) is acc.Verdict.PENDING
    ledger = acc.close(ledger, mark)  # the first flush gave up: nothing moves
    assert ledger.baseline == 0
    ledger = acc.deliver(ledger, 0, 6)
    ledger = acc.drop(ledger, acc.Reason.DEADLINE, 6, 10)
    ledger = acc.accept(ledger, 5)
    ledger = acc.deliver(ledger, 10, 15)
    assert acc.verdict(ledger, ledger.accepted) is acc.Verdict.LOST
    ledger = acc.close(ledger, ledger.accepted)
    assert acc.verdict(ledger, ledger.accepted) is acc.Verdict.DELIVERED


def test_an_event_is_settled_once() -> None:
    ledger = acc.deliver(acc.accept(acc.Ledger(), 4), 0, 2)
    with pytest.raises(ValueError):
        acc.drop(ledger, acc.Reason.QUEUE_FULL, 1, 3)
    with pytest.raises(ValueError):
        acc.deliver(ledger, 3, 5)


def test_runs_merge_so_the_ledger_stays_small() -> None:
    ledger = acc.accept(acc.Ledger(), 1000)
    for start in range(0, 1000, 10):
        ledger = acc.deliver(ledger, start, start + 10)
    assert ledger.settled == ((0, 1000),)
    assert acc.stats(ledger).dropped == {}
