"""The bounded event queue and the worker that drains it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import msgspec
import pytest
from gated import Gate
from hogkit.core.batch import MAX_BATCH_BYTES
from hogkit.core.errors import HogkitError
from hogkit.transport import MemoryTransport, SendResult, Transport
from hogkit.transport.errors import QueueFull
from hogkit.transport.queue import EventQueue, FlushMarker
from hogkit.transport.transports import Cancelled
from hogkit.transport.worker import Worker
from hypothesis import given
from hypothesis import strategies as st


def events(n: int, start: int = 0) -> list[bytes]:
    return [b'{"i":%d}' % i for i in range(start, start + n)]


def test_put_and_take_keep_order() -> None:
    queue = EventQueue(maxsize=10, wake_at=100)
    for item in events(5):
        assert queue.put(item)
    assert len(queue) == 5
    batch, marker = queue.take(max_bytes=1000)
    assert batch == events(5) and marker is None and len(queue) == 0


def test_a_full_queue_drops_the_newest_and_counts() -> None:
    queue = EventQueue(maxsize=3, wake_at=100)
    accepted = [queue.put(item) for item in events(6)]
    assert accepted == [True, True, True, False, False, False]
    assert queue.dropped == 3
    assert queue.take(1000)[0] == events(3)


def test_drops_are_logged_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    queue = EventQueue(maxsize=1, wake_at=100)
    caplog.set_level(logging.WARNING, logger="hogkit")
    queue.put(b"1")
    for item in events(5):
        queue.put(item)
    assert queue.end_burst() == 5
    queue.take(1000)
    queue.put(b"2")
    queue.put(b"3")
    assert queue.end_burst() == 1
    full = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(full) == 2  # one line for each burst, not one per dropped event


def test_the_worker_is_woken_at_the_threshold_not_before() -> None:
    queue = EventQueue(maxsize=100, wake_at=3)
    queue.put(b"1")
    queue.put(b"2")
    assert not queue.wake.is_set()
    queue.put(b"3")
    assert queue.wake.is_set()


def test_take_stops_at_the_byte_limit_but_always_takes_one() -> None:
    queue = EventQueue(maxsize=100, wake_at=100)
    for item in (b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 50):
        queue.put(item)
    assert queue.take(max_bytes=25) == ([b"a" * 10, b"b" * 10], None)
    assert queue.taken_bytes == 22  # what the body spends on them, commas included
    assert queue.take(max_bytes=25) == ([b"c" * 10], None)
    assert queue.take(max_bytes=25) == ([b"d" * 50], None)
    assert queue.taken_bytes == 51


def test_take_stops_at_a_flush_marker() -> None:
    queue = EventQueue(maxsize=100, wake_at=100)
    queue.put(b"1")
    marker = queue.mark()
    queue.put(b"2")
    assert queue.wake.is_set()
    assert queue.take(1000) == ([b"1"], marker)
    assert queue.take(1000) == ([b"2"], None)


def test_markers_are_never_refused() -> None:
    queue = EventQueue(maxsize=1, wake_at=100)
    queue.put(b"1")
    marker = queue.mark()
    assert queue.take_all() == ([b"1"], [marker])


class Recorder:
    """A transport that records batches and fails the ones it is told to."""

    def __init__(self, fail: bool = False, raises: bool = False) -> None:
        self.fail = fail
        self.raises = raises
        self.batches: list[list[bytes]] = []

    def send(self, batch: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        self.batches.append(list(batch))
        if self.raises:
            raise RuntimeError("transport bug")
        if self.fail:
            return SendResult(0, tuple(batch), HogkitError("refused"))
        return SendResult(len(batch))


def run_worker(
    queue: EventQueue,
    transport: Transport,
    *,
    flush_interval: float = 60.0,
    max_body_bytes: int = MAX_BATCH_BYTES,
) -> tuple[Worker, list[tuple[Exception, list[bytes]]]]:
    reports: list[tuple[Exception, list[bytes]]] = []
    worker = Worker(
        queue,
        transport,
        flush_interval=flush_interval,
        report=lambda e, evs: reports.append((e, list(evs))),
        max_body_bytes=max_body_bytes,
    )
    worker.start()
    return worker, reports


def stop(worker: Worker) -> None:
    worker.stop.set()
    worker.queue.wake.set()
    worker.thread.join(5)
    assert not worker.thread.is_alive()


def test_a_flush_marker_settles_after_everything_before_it() -> None:
    queue = EventQueue(maxsize=1000, wake_at=1000)
    transport = MemoryTransport()
    worker, _ = run_worker(queue, transport)
    for item in events(250):
        queue.put(item)
    marker = queue.mark()
    assert marker.done.wait(5) and marker.delivered
    assert [e["i"] for e in transport.events] == list(range(250))
    assert len(transport.batches) == 1  # one wakeup drains everything in one body
    stop(worker)


def test_the_interval_sends_a_partial_batch() -> None:
    queue = EventQueue(maxsize=1000, wake_at=1000)
    transport = MemoryTransport()
    worker, _ = run_worker(queue, transport, flush_interval=0.05)
    queue.put(b'{"i":1}')
    assert _wait_until(lambda: len(transport.events) == 1)
    stop(worker)


def test_batches_respect_the_body_limit() -> None:
    queue = EventQueue(maxsize=1000, wake_at=1000)
    recorder = Recorder()
    worker, _ = run_worker(queue, recorder, max_body_bytes=1024 + 100)
    for item in events(30):
        queue.put(item)
    assert queue.mark().done.wait(5)
    sizes = [sum(len(e) + 1 for e in batch) for batch in recorder.batches]
    assert len(recorder.batches) > 1 and max(sizes) <= 100
    assert [e for batch in recorder.batches for e in batch] == events(30)
    stop(worker)


def test_failures_are_reported_and_make_the_flush_false() -> None:
    queue = EventQueue(maxsize=1000, wake_at=1000)
    worker, reports = run_worker(queue, Recorder(fail=True))
    queue.put(b"1")
    marker = queue.mark()
    assert marker.done.wait(5) and not marker.delivered
    assert [(str(e), evs) for e, evs in reports] == [("refused", [b"1"])]
    assert worker.lost == 1
    assert queue.mark().done.wait(5)  # nothing lost since: the next flush is clean
    stop(worker)


def test_the_worker_survives_a_raising_transport() -> None:
    queue = EventQueue(maxsize=1000, wake_at=1000)
    recorder = Recorder(raises=True)
    worker, reports = run_worker(queue, recorder)
    queue.put(b"1")
    assert not (marker := queue.mark()).done.wait(5) or not marker.delivered
    recorder.raises = False
    queue.put(b"2")
    second = queue.mark()
    assert second.done.wait(5) and second.delivered
    assert worker.thread.is_alive() and isinstance(reports[0][0], RuntimeError)
    stop(worker)


def test_drops_are_reported_by_the_worker() -> None:
    queue = EventQueue(maxsize=2, wake_at=1000)
    for item in events(5):
        queue.put(item)
    worker, reports = run_worker(queue, Recorder())
    marker = queue.mark()
    assert marker.done.wait(5) and not marker.delivered
    assert any(isinstance(e, QueueFull) and e.count == 3 for e, _ in reports)
    stop(worker)


def test_stopping_abandons_what_is_left_and_releases_waiters() -> None:
    queue = EventQueue(maxsize=1000, wake_at=1000)
    worker, reports = run_worker(queue, Recorder())
    worker.stop.set()
    queue.put(b"late")
    marker: FlushMarker = queue.mark()
    worker.thread.join(5)
    assert marker.done.is_set() and not marker.delivered
    assert [(type(e), evs) for e, evs in reports] == [(Cancelled, [b"late"])]


def encode_deferred(item: tuple[object, ...]) -> bytes | None:
    """A stand-in for the client's builder: ("ok", i) encodes, ("drop", i) is dropped."""
    kind, i = item
    if kind == "raise":
        raise HogkitError(f"cannot build {i}")
    return None if kind == "drop" else b'{"i":%d}' % i  # type: ignore[str-bytes-safe]


def test_deferred_items_are_built_in_order_as_they_are_taken() -> None:
    queue = EventQueue(maxsize=100, wake_at=100)
    queue.put(b'{"i":0}')
    queue.put(("ok", 1))
    queue.put(("drop", 2))
    marker = queue.mark()
    queue.put(("ok", 3))
    assert queue.take(1000, encode_deferred) == ([b'{"i":0}', b'{"i":1}'], marker)
    assert queue.take(1000, encode_deferred) == ([b'{"i":3}'], None)
    assert queue.take(1000, encode_deferred) == ([], None)


def test_take_goes_past_items_that_were_all_dropped() -> None:
    queue = EventQueue(maxsize=5000, wake_at=5000)
    for i in range(1500):  # more than one bulk pop, every one dropped
        queue.put(("drop", i))
    queue.put(("ok", 1500))
    assert queue.take(1000, encode_deferred) == ([b'{"i":1500}'], None)


def test_surplus_of_a_size_cut_goes_back_already_encoded() -> None:
    queue = EventQueue(maxsize=100, wake_at=100)
    for i in range(10):
        queue.put(("ok", i))
    built: list[object] = []

    def counting(item: tuple[object, ...]) -> bytes | None:
        built.append(item)
        return encode_deferred(item)

    first, _ = queue.take(len(b'{"i":0}') * 3 + 3, counting)
    rest, _ = queue.take(1000, counting)
    assert first + rest == [b'{"i":%d}' % i for i in range(10)] and len(first) == 3
    assert len(built) == 10  # each event built exactly once


def test_events_the_worker_cannot_build_are_reported_as_lost() -> None:
    queue = EventQueue(maxsize=1000, wake_at=1000)
    reports: list[tuple[Exception, list[bytes]]] = []
    transport = MemoryTransport()
    worker = Worker(
        queue,
        transport,
        flush_interval=60.0,
        report=lambda e, evs: reports.append((e, list(evs))),
        prepare=encode_deferred,
    )
    worker.start()
    queue.put(("ok", 1))
    queue.put(("raise", 2))
    queue.put(("ok", 3))
    marker = queue.mark()
    assert marker.done.wait(5) and not marker.delivered
    assert [e["i"] for e in transport.events] == [1, 3]
    assert [str(e) for e, _ in reports] == ["cannot build 2"] and worker.lost == 1
    queue.put(("ok", 4))
    assert (clean := queue.mark()).done.wait(5) and clean.delivered
    worker.stop.set()
    queue.put(("ok", 5))
    worker.queue.wake.set()
    worker.thread.join(5)
    assert [e["i"] for e in transport.events] == [1, 3, 4]
    assert isinstance(reports[-1][0], Cancelled) and reports[-1][1] == [b'{"i":5}']


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


burst_operations = st.lists(
    st.one_of(
        # A run of events queued at once (up to twice a take chunk), built or unbuilt.
        st.tuples(
            st.just("burst"),
            st.tuples(st.integers(1, 1100), st.integers(1, 120), st.booleans()),
        ),
        st.tuples(st.just("mark"), st.none()),
        st.tuples(
            st.just("take"),
            st.one_of(st.integers(min_value=1, max_value=200), st.integers(1, 60_000)),
        ),
    ),
    max_size=16,
)


@given(burst_operations)
def test_take_preserves_order_markers_sizes_and_limits(
    ops: list[tuple[str, object]],
) -> None:
    """Whatever the interleaving, across take's chunks (built and unbuilt items, markers,
    cuts inside a chunk): every event comes out once and in order, split where markers
    were (each marker in turn), a batch of several fits its limit, and `taken_bytes` is
    what the batch spends in a body."""
    queue = EventQueue(maxsize=100_000, wake_at=100_000)
    expected: list[bytes | str] = []  # events, and "|" where a marker was queued
    seen: list[bytes | str] = []
    markers: list[FlushMarker] = []

    def build(item: tuple[object, ...]) -> bytes:
        _, data = item
        assert isinstance(data, bytes)
        return data

    def build_many(items: list[tuple[object, ...]]) -> list[bytes | None]:
        return [build(item) for item in items]

    def take(limit: int) -> None:
        batch, marker = queue.take(limit, build, build_many)
        assert queue.taken_bytes == sum(len(e) + 1 for e in batch)
        if len(batch) > 1:
            assert queue.taken_bytes <= limit
        seen.extend(batch)
        if marker is not None:
            seen.append("|")
            assert marker is markers[seen.count("|") - 1]

    serial = 0
    for op, arg in ops:
        if op == "burst":
            assert isinstance(arg, tuple)
            count, width, unbuilt = arg
            for _ in range(count):
                data = b"%d:" % serial + b"x" * (width + serial % 7)
                serial += 1
                queue.put(("ok", data) if unbuilt else data)
                expected.append(data)
        elif op == "mark":
            markers.append(queue.mark())
            expected.append("|")
        else:
            assert isinstance(arg, int)
            take(arg)
    while len(queue):
        take(60_000)
    assert seen == expected


def encode_many(items: list[tuple[object, ...]]) -> list[bytes | None]:
    """A stand-in for the client's bulk builder: builds ("ok", i), leaves the rest."""
    return [b'{"i":%d,"bulk":1}' % i if kind == "ok" else None for kind, i in items]  # type: ignore[str-bytes-safe]


def test_the_bulk_builder_runs_once_and_leaves_the_rest_to_the_per_item_one() -> None:
    queue = EventQueue(maxsize=100, wake_at=100)
    queue.put(b'{"i":0}')
    queue.put(("ok", 1))
    queue.put(("drop", 2))  # left by the bulk builder, dropped by the per-item one
    queue.put(("ok", 3))
    calls: list[int] = []

    def counting(items: list[tuple[object, ...]]) -> list[bytes | None]:
        calls.append(len(items))
        return encode_many(items)

    batch, _ = queue.take(1000, encode_deferred, counting)
    assert batch == [b'{"i":0}', b'{"i":1,"bulk":1}', b'{"i":3,"bulk":1}']
    assert calls == [3]  # every deferred item in one call
    queue.put(("ok", 4))
    assert queue.take(1000, encode_deferred, counting) == ([b'{"i":4,"bulk":1}'], None)


def test_the_worker_drains_the_queue_while_the_sender_waits_on_the_network() -> None:
    queue = EventQueue(maxsize=10_000, wake_at=1)
    gate = Gate()
    worker, reports = run_worker(queue, gate, max_body_bytes=1024 + 400)
    queue.put(b'{"i":0}')
    assert gate.sending.wait(5)  # the first batch is stuck "on the network"
    for item in events(30):
        queue.put(item)
    # The worker keeps taking: the queue empties into the next batch, up to its body limit.
    assert _wait_until(lambda: len(queue) < 30)
    gate.open.set()
    marker = queue.mark()
    assert marker.done.wait(5) and marker.delivered and not reports
    batches = [[msgspec.json.encode(e) for e in batch] for batch in gate.sink.batches]
    sent = [e for batch in batches for e in batch]
    assert sent == [b'{"i":0}', *events(30)]  # every event once, in order
    assert all(sum(len(e) + 1 for e in batch) <= 400 for batch in batches)
    stop(worker)


def test_a_flush_from_the_senders_error_callback_does_not_wait_for_itself() -> None:
    queue = EventQueue(maxsize=100, wake_at=100)
    answers: list[bool] = []
    holder: list[Worker] = []

    def report(error: Exception, evs: Sequence[bytes]) -> None:
        answers.append(holder[0].is_current())

    worker = Worker(queue, Recorder(fail=True), flush_interval=60.0, report=report)
    holder.append(worker)
    worker.start()
    queue.put(b"1")
    assert queue.mark().done.wait(5)
    assert answers == [True]  # reported on the sender thread, which counts as the worker's
    assert not worker.is_current()
    stop(worker)
