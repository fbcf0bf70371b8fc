"""`thread=N`: N sender threads, several batches in flight at once, each settled once in
the books; flush waits for every sender; shutdown reports what is unsettled once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from hogkit.transport.client import Client
from hogkit.transport.errors import DeliveryFailed
from httpserver import LoopbackServer, Reply, Request
from test_delivery_accounting import Gate, recorder


class Rendezvous:
    """A /batch/ handler that holds each request until `wanted` are inside at once (or 10 s
    pass), then answers slowly: the peak shows how many requests overlapped."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.inside = 0
        self.peak = 0
        self.met = threading.Event()
        self.answered: list[float] = []  # when each request left the rendezvous
        self.lock = threading.Lock()

    def __call__(self, _request: Request) -> Reply:
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            if self.inside >= self.wanted:
                self.met.set()
        self.met.wait(10)
        with self.lock:
            self.inside -= 1
            self.answered.append(time.monotonic())
        return Reply(delay=0.2)


def test_four_senders_send_four_batches_at_once_and_every_event_once(
    loopback: LoopbackServer,
) -> None:
    meeting = Rendezvous(4)
    loopback.handle("/batch/", meeting)
    client = Client("phc_threads", host=loopback.url, thread=4, flush_at=10, timeout=20)
    uuids = [client.capture("e", distinct_id="u", properties={"i": i}) for i in range(40)]
    assert client.flush(30)
    assert meeting.peak == 4
    arrivals = sorted(r.time for r in loopback.requests("/batch/"))
    assert arrivals[3] <= min(meeting.answered)  # four arrived before any was answered
    assert sorted(e["uuid"] for e in loopback.events()) == sorted(uuids)
    stats = client.stats()
    assert (stats.accepted, stats.delivered, stats.in_flight) == (40, 40, 0)
    assert client.shutdown(5)


def test_a_failing_server_with_three_senders_reports_each_event_once(
    loopback: LoopbackServer,
) -> None:
    loopback.handle("/batch/", lambda _request: Reply.status_only(500))
    reports, on_error = recorder()
    client = Client(
        "phc_threads", host=loopback.url, thread=3, flush_at=10, max_retries=0, on_error=on_error
    )
    uuids = [client.capture("e", distinct_id="u", properties={"i": i}) for i in range(30)]
    assert not client.flush(20)
    assert not client.shutdown(5)
    counts = Counter(e["uuid"] for _, events in reports for e in events)
    assert counts == Counter(uuids)
    assert client.stats().dropped == {"retries_exhausted": 30}
    assert client.stats().in_flight == 0


def test_flush_waits_for_every_sender(loopback: LoopbackServer) -> None:
    """The first batch is the slowest: a flush that waited for one sender only would answer
    before it was delivered."""
    loopback.script("/batch/", Reply(delay=0.6), then=Reply())
    client = Client("phc_threads", host=loopback.url, thread=3, flush_at=5, timeout=20)
    for i in range(15):
        client.capture("e", distinct_id="u", properties={"i": i})
    assert client.flush(30)
    stats = client.stats()
    assert (stats.delivered, stats.in_flight) == (15, 0)
    assert len(loopback.events()) == 15
    assert client.shutdown(5)


def test_a_timed_out_flush_says_false_while_senders_hold_batches() -> None:
    gate = Gate()
    client = Client("phc_threads", transport=gate, thread=2, flush_at=5)
    for i in range(10):
        client.capture("e", distinct_id="u", properties={"i": i})
    assert not client.flush(0.3)
    gate.open.set()
    assert client.flush(10)
    assert len(gate.sink.events) == 10
    assert client.shutdown(5)


@pytest.mark.parametrize("threads", [1, 3])
def test_batches_held_by_every_sender_at_the_deadline_are_reported_once(threads: int) -> None:
    gate = Gate()
    reports, on_error = recorder()
    client = Client("phc_threads", transport=gate, on_error=on_error, flush_at=10, thread=threads)
    uuids = [client.capture("e", distinct_id="u", properties={"i": i}) for i in range(50)]
    assert client.shutdown(0.3) is False
    gate.open.set()  # the late answers change nothing and report nothing twice
    client.shutdown(1)
    counts = Counter(e["uuid"] for _, events in reports for e in events)
    assert counts == Counter(uuids)
    assert all(isinstance(e, DeliveryFailed) and e.reason == "deadline" for e, _ in reports)
    stats = client.stats()
    assert stats.dropped == {"deadline": 50} and stats.in_flight == 0


@pytest.mark.parametrize(("thread", "senders"), [(1, 1), (3, 3), (0, 1)])
def test_thread_option_starts_that_many_senders(thread: int, senders: int) -> None:
    before = set(threading.enumerate())
    client = Client("phc_threads", transport=Gate(), thread=thread)
    started = [t for t in threading.enumerate() if t not in before]
    assert len([t for t in started if t.name.startswith("hogkit-sender")]) == senders
    client.shutdown(0)
