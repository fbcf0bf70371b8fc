"""Every accepted event ends delivered or reported lost once, with a reason; flush and
shutdown say True only when nothing was lost; `client.stats()` balances."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from typing import Any

from hogkit.core.accounting import Reason
from hogkit.transport.client import Client
from hogkit.transport.errors import DeliveryFailed, QueueFull
from hogkit.transport.transports import MemoryTransport, SendResult
from httpserver import LoopbackServer, Reply


class Gate:
    """A transport that holds every batch until `open` is set: a sender stuck on the network."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.sink = MemoryTransport()

    def send(self, events: Sequence[bytes], *, stop: threading.Event | None = None) -> SendResult:
        self.open.wait(30)
        return self.sink.send(events)


def recorder() -> tuple[list[tuple[Exception, list[dict[str, Any]]]], Any]:
    reports: list[tuple[Exception, list[dict[str, Any]]]] = []
    lock = threading.Lock()

    def on_error(error: Exception, events: list[dict[str, Any]]) -> None:
        with lock:
            reports.append((error, events))

    return reports, on_error


def test_a_clean_run_balances_and_says_true() -> None:
    transport = MemoryTransport()
    client = Client("phc_books", transport=transport)
    for i in range(500):
        client.capture("e", distinct_id="u", properties={"i": i})
    assert client.flush(10)
    stats = client.stats()
    assert (stats.accepted, stats.delivered, stats.in_flight) == (500, 500, 0)
    assert dict(stats.dropped) == {}
    assert client.shutdown(5)
    assert len(transport.events) == 500


def test_queue_full_drops_reach_on_error_with_their_count_and_reason() -> None:
    gate = Gate()
    reports, on_error = recorder()
    client = Client(
        "phc_books",
        transport=gate,
        max_queue_size=10,
        max_queue_bytes=0,  # a bound in events only
        flush_at=1,
        on_error=on_error,
    )
    # Large enough that the batches the sender holds fill up and the queue overflows.
    pad = "x" * 10_000
    returned = [client.capture("e", distinct_id="u", properties={"p": pad}) for _ in range(2000)]
    assert not client.flush(0.2)  # the sender is stuck: nothing settled in time
    gate.open.set()
    assert not client.flush(10)  # everything settled now, and some of it was dropped
    assert client.shutdown(5) is False
    stats = client.stats()
    refused = returned.count(None)
    full = [e for e, _ in reports if isinstance(e, QueueFull)]
    assert refused > 0 and sum(e.count for e in full) == refused
    assert all(getattr(e, "reason", None) == Reason.QUEUE_FULL.value for e in full)
    assert stats.dropped == {"queue_full": refused}
    assert stats.delivered == len(gate.sink.events) == 2000 - refused
    assert stats.accepted == stats.delivered + refused and stats.in_flight == 0


def test_a_rejected_batch_is_reported_once_with_its_events_and_reason(
    loopback: LoopbackServer,
) -> None:
    loopback.handle("/batch/", lambda _request: Reply.status_only(400))
    reports, on_error = recorder()
    client = Client("phc_books", host=loopback.url, on_error=on_error, max_retries=0)
    uuids = [client.capture("e", distinct_id="u") for _ in range(5)]
    assert not client.flush(10)
    assert client.flush(1)  # the loss was told to the flush before; nothing since
    assert not client.shutdown(5)  # shutdown has the final word: not everything arrived
    (error, events), *others = reports
    assert others == [] and getattr(error, "reason", None) == "server_rejected"
    assert sorted(e["uuid"] for e in events) == sorted(uuids)
    assert client.stats().dropped == {"server_rejected": 5}


def test_a_flush_that_timed_out_leaves_its_losses_for_the_next(loopback: LoopbackServer) -> None:
    release = threading.Event()

    def slow_failure(_request: object) -> Reply:
        release.wait(10)
        return Reply.status_only(400)

    loopback.handle("/batch/", slow_failure)
    client = Client("phc_books", host=loopback.url, max_retries=0, timeout=20)
    client.capture("e", distinct_id="u")
    assert not client.flush(0.3)
    release.set()
    assert not client.flush(10)  # the first window ended in a loss: still reported
    client.shutdown(5)


def test_events_in_flight_at_the_shutdown_deadline_are_reported_as_lost() -> None:
    gate = Gate()
    reports, on_error = recorder()
    client = Client("phc_books", transport=gate, on_error=on_error, flush_at=10)
    uuids = {client.capture("e", distinct_id="u", properties={"i": i}) for i in range(50)}
    assert client.shutdown(0.3) is False
    lost = {e["uuid"] for _, events in reports for e in events}
    assert lost == uuids
    assert all(isinstance(e, DeliveryFailed) and e.reason == "deadline" for e, _ in reports)
    gate.open.set()  # the late answer changes nothing and reports nothing twice
    client.shutdown(1)
    stats = client.stats()
    assert stats.dropped == {"deadline": 50} and stats.in_flight == 0
    assert sum(len(events) for _, events in reports) == 50


def test_losses_at_interpreter_exit_reach_on_error(loopback: LoopbackServer) -> None:
    loopback.handle("/batch/", lambda _request: Reply.hang())
    script = textwrap.dedent(
        f"""
        import atexit
        lost = []
        # Registered before hogkit's own hook, so it runs after it.
        atexit.register(lambda: print(sorted(set(r for r, _ in lost)), sum(n for _, n in lost)))
        from hogkit.transport.client import Client
        def on_error(error, events):
            lost.append((getattr(error, "reason", None), len(events)))
        client = Client("phc_exit", host={loopback.url!r}, on_error=on_error,
                        exit_timeout=0.5, timeout=30, flush_at=50)
        for i in range(500):
            client.capture("e", distinct_id="u", properties={{"i": i}})
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "['deadline'] 500"


def test_the_memory_budget_absorbs_a_backlog_a_small_count_would_drop() -> None:
    gate = Gate()
    reports, on_error = recorder()
    client = Client("phc_books", transport=gate, max_queue_size=10, on_error=on_error)
    uuids = [client.capture("e", distinct_id="u", properties={"i": i}) for i in range(20_000)]
    gate.open.set()
    assert client.shutdown(30)
    assert None not in uuids and reports == []
    assert len(gate.sink.events) == 20_000


def test_a_small_budget_drops_beyond_it_and_blocking_waits_instead() -> None:
    pad = "x" * 1000
    for block, expect_drops in ((0.0, True), (5.0, False)):
        gate = Gate()
        client = Client(
            "phc_books",
            transport=gate,
            max_queue_size=1,
            max_queue_bytes=64 * 1024,
            block_when_full=block,
            flush_at=1,
        )
        threading.Timer(0.5, gate.open.set).start()
        uuids = [client.capture("e", distinct_id="u", properties={"p": pad}) for _ in range(8000)]
        assert client.shutdown(30) is not expect_drops
        assert (None in uuids) is expect_drops
        stats = client.stats()
        assert stats.delivered + sum(stats.dropped.values()) == stats.accepted == 8000


def test_losses_of_a_dropped_client_at_exit_reach_on_error(loopback: LoopbackServer) -> None:
    loopback.handle("/batch/", lambda _request: Reply.hang())
    script = textwrap.dedent(
        f"""
        import atexit, gc
        lost = []
        atexit.register(lambda: print(sorted(set(r for r, _ in lost)), sum(n for _, n in lost)))
        from hogkit.transport.client import Client
        def on_error(error, events):
            lost.append((getattr(error, "reason", None), len(events)))
        client = Client("phc_exit", host={loopback.url!r}, on_error=on_error,
                        timeout=30, flush_at=50)
        for i in range(300):
            client.capture("e", distinct_id="u", properties={{"i": i}})
        del client  # never shut down
        gc.collect()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "['deadline'] 300"


def test_a_burst_from_eight_threads_is_delivered_in_full(loopback: LoopbackServer) -> None:
    """200,000 ordinary events from eight threads at once, default settings: none lost."""
    reports, on_error = recorder()
    client = Client("phc_books", host=loopback.url, on_error=on_error)

    def burst(thread: int) -> None:
        for i in range(25_000):
            client.capture("burst", distinct_id=f"thread-{thread}", properties={"i": i})

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.shutdown(120)
    assert reports == []
    assert len({e["uuid"] for e in loopback.events()}) == 200_000
    assert client.stats().delivered == 200_000


def test_events_the_caller_encodes_while_the_worker_is_behind_match_the_workers() -> None:
    """Past `defer_below` waiting calls the capturing thread encodes the event itself (the
    bulk loop, else the per-event encoder); what arrives is what the worker would send."""
    calls = [
        ("e", "u", {"i": 1, "name": "plain"}),
        ("e", None, {"i": 2}),  # personless: left to the per-event encoder
        ("e", "ü-user", {"i": 3}),  # a non-ASCII id: the same
        ("e", "u", {"i": 4, "$lib": "mine"}),  # a key of the common properties: the same
        ("e", "u", None),
    ]

    def delivered(max_queue_size: int, gate: Gate) -> list[dict[str, Any]]:
        client = Client("phc_books", transport=gate, max_queue_size=max_queue_size)
        for event, distinct_id, properties in calls * 4:
            assert client.capture(event, distinct_id=distinct_id, properties=properties)
        gate.open.set()
        assert client.shutdown(10)
        events = [event for batch in gate.sink.batches for event in batch]
        for event in events:
            assert event.pop("uuid") and event.pop("timestamp")
            if event["properties"].get("$process_person_profile") is False:
                assert event.pop("distinct_id")  # the anonymous id: a fresh uuid each
        return events

    blocked = Gate()
    behind = delivered(2, blocked)  # one call deferred, the rest encoded by the caller
    roomy = Gate()
    roomy.open.set()
    assert behind == delivered(10_000, roomy)
    assert len(behind) == len(calls) * 4
