"""Every fault a PostHog endpoint can show, against the public Client API.

Per cell: capture never blocks the caller, flush() and shutdown() return within their
bounds and tell the truth, every accepted event is either stored by the server or reported
to `on_error` (once), and the server sees no event twice unless it stored a batch and then
answered with an error. `test_cell_counters` checks `client.stats()` and the reason each
loss is reported with.

The time bounds are correctness bounds: a faulty server would hold an unbounded client for
tens of seconds or forever; the margins allow for a loaded machine.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from hogkit.core.accounting import Reason
from hogkit.core.errors import HogkitError
from hogkit.transport.client import Client
from hogkit.transport.flags_transport import HttpFlagsTransport
from httpserver import LoopbackServer, Reply, unused_url

EVENTS = 30
FLUSH_LIMIT = 2.0
SHUTDOWN_LIMIT = 2.0
MARGIN = 1.0
CAPTURE_BOUND = 0.5
REDIRECT_TARGET = "/elsewhere/"  # answered with the server's default: a 2xx that stores
SLOW = b" " * 200 + b'{"status": 1}'  # 1 byte every 0.2 s: more than 40 s in full


@attrs.frozen
class Cell:
    name: str
    setup: Callable[[LoopbackServer], str]  # prepares the server, returns the client's host
    # The server keeps batches whose answer the client never gets (an error after storing,
    # or a reply too slow to arrive): duplicates there are allowed, and counted.
    stores_then_fails: bool = False
    # The client never sees a success: every event must be reported lost, and flush and
    # shutdown must say False.
    all_lost: bool = False
    reason: Reason | None = None  # the reason every loss must carry, when it is certain


def always(reply: Callable[[], Reply]) -> Callable[[LoopbackServer], str]:
    def setup(server: LoopbackServer) -> str:
        server.handle("/batch/", lambda _request: reply())
        return server.url

    return setup


def first(reply: Callable[[], Reply]) -> Callable[[LoopbackServer], str]:
    def setup(server: LoopbackServer) -> str:
        server.script("/batch/", reply())
        return server.url

    return setup


def accept_then_close(server: LoopbackServer) -> str:
    server.accept_then_close()
    return server.url


CELLS = [
    Cell("ok", lambda server: server.url),
    Cell("500", always(lambda: Reply.status_only(500)), all_lost=True),
    Cell("502", always(lambda: Reply.status_only(502)), all_lost=True),
    Cell("503", always(lambda: Reply.status_only(503)), all_lost=True),
    Cell("503-once", first(lambda: Reply.status_only(503))),
    Cell("429-retry-after", always(lambda: Reply.too_many("0.2")), all_lost=True),
    Cell("429-once", first(lambda: Reply.too_many("0.2"))),
    Cell("413", always(lambda: Reply.status_only(413)), all_lost=True, reason=Reason.TOO_LARGE),
    Cell(
        "400", always(lambda: Reply.status_only(400)), all_lost=True, reason=Reason.SERVER_REJECTED
    ),
    Cell("hang", always(Reply.hang), all_lost=True),
    Cell(
        "trickle-body",
        always(lambda: Reply.trickle(1, 0.2, "body", body=SLOW)),
        stores_then_fails=True,
        all_lost=True,
    ),
    Cell(
        "trickle-headers",
        always(lambda: Reply.trickle(1, 0.2, "headers", body=SLOW)),
        stores_then_fails=True,
        all_lost=True,
    ),
    Cell("reset-mid-request", always(lambda: Reply.reset_mid_request(after=64)), all_lost=True),
    Cell("reset-after-body", always(Reply.reset_after_body), all_lost=True),
    Cell("reset-once", first(Reply.reset_after_body)),
    Cell("accept-then-close", accept_then_close, all_lost=True),
    Cell("garbage", always(Reply.garbage), all_lost=True),
    # Followed to the same host, where the batch is stored (see `REDIRECT_TARGET`).
    Cell("307", always(lambda: Reply.redirect(307, REDIRECT_TARGET))),
    Cell("308", always(lambda: Reply.redirect(308, REDIRECT_TARGET))),
    Cell(
        "stored-then-failed",
        always(Reply.stored_then_failed),
        stores_then_fails=True,
        all_lost=True,
    ),
    Cell("stored-then-failed-once", first(Reply.stored_then_failed), stores_then_fails=True),
    Cell("refused", lambda server: unused_url(), all_lost=True),
    Cell("unresolvable", lambda server: "http://no-such-host.invalid", all_lost=True),
]


@attrs.define
class Run:
    """One cell's run: what the caller saw and what the server and `on_error` got."""

    accepted: list[str]
    capture_max: float
    flush_result: bool
    flush_elapsed: float
    shutdown_result: bool
    shutdown_elapsed: float
    stored: Counter[str]
    dropped: Counter[str]
    reasons: list[Any]
    client: Client


class Runs(dict[str, Run]):
    """Each cell runs once, on first use; both test functions read the same run."""

    def __init__(self) -> None:
        super().__init__()
        self.servers: list[LoopbackServer] = []

    def __missing__(self, name: str) -> Run:
        cell = next(c for c in CELLS if c.name == name)
        server = LoopbackServer()
        self.servers.append(server)
        self[name] = run_cell(cell, server)
        return self[name]


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    cells = Runs()
    yield cells
    for server in cells.servers:
        server.close()


def run_cell(cell: Cell, server: LoopbackServer) -> Run:
    host = cell.setup(server)
    dropped: Counter[str] = Counter()
    reasons: list[Any] = []
    lock = threading.Lock()

    def on_error(error: Exception, events: list[dict[str, Any]]) -> None:
        with lock:
            reasons.append(getattr(error, "reason", None))
            dropped.update(str(event.get("uuid")) for event in events)

    client = Client(
        "phc_fault_matrix",
        host=host,
        on_error=on_error,
        flush_at=10,
        flush_interval=0.2,
        timeout=1.0,
        max_retries=2,
        retry_backoff=0.05,
        retry_backoff_cap=0.2,
    )
    accepted: list[str] = []
    slowest = 0.0
    for i in range(EVENTS):
        started = time.monotonic()
        uuid = client.capture("fault", distinct_id=f"user-{i}", properties={"i": i})
        slowest = max(slowest, time.monotonic() - started)
        if uuid is not None:
            accepted.append(uuid)
    started = time.monotonic()
    flushed = client.flush(FLUSH_LIMIT)
    flush_elapsed = time.monotonic() - started
    started = time.monotonic()
    shut = client.shutdown(SHUTDOWN_LIMIT)
    shutdown_elapsed = time.monotonic() - started
    stored = Counter(
        str(event["uuid"]) for path in ("/batch/", REDIRECT_TARGET) for event in server.events(path)
    )
    with lock:
        return Run(
            accepted,
            slowest,
            flushed,
            flush_elapsed,
            shut,
            shutdown_elapsed,
            stored,
            Counter(dropped),
            list(reasons),
            client,
        )


def violations(cell: Cell, run: Run) -> list[str]:
    """Every rule this run broke (all of them, so one failure shows the cell's whole state)."""
    accepted = set(run.accepted)
    delivered = set(run.stored) & accepted
    lost = set(run.dropped)
    everything_arrived = delivered == accepted and not lost and not cell.all_lost
    rules = [
        (len(accepted) == EVENTS, "a capture was refused"),
        (run.capture_max < CAPTURE_BOUND, f"a capture blocked {run.capture_max:.2f}s"),
        (run.flush_elapsed < FLUSH_LIMIT + MARGIN, f"flush took {run.flush_elapsed:.1f}s"),
        (
            run.shutdown_elapsed < SHUTDOWN_LIMIT + MARGIN,
            f"shutdown took {run.shutdown_elapsed:.1f}s",
        ),
        (lost <= accepted, "on_error reported events never captured"),
        (max(run.dropped.values(), default=1) == 1, "a loss was reported twice"),
        (
            delivered | lost == accepted,
            f"{len(accepted - delivered - lost)} events neither delivered nor reported lost",
        ),
        # flush: True means everything before it was delivered.
        (not run.flush_result or everything_arrived, "flush() said True but events were lost"),
        # shutdown has the final word: nothing is in flight after it.
        (
            run.shutdown_result == everything_arrived,
            f"shutdown() said {run.shutdown_result} ({len(delivered)} delivered, "
            f"{len(lost)} reported lost of {len(accepted)})",
        ),
    ]
    if not cell.stores_then_fails:
        rules += [
            (not delivered & lost, f"{len(delivered & lost)} events both delivered and lost"),
            (max(run.stored.values(), default=1) == 1, "duplicates at the server"),
        ]
    if cell.all_lost:
        # (flush and shutdown must also say False: `everything_arrived` is False here)
        rules.append(
            (
                lost == accepted,
                f"{len(accepted - lost)} events never acknowledged not reported lost",
            )
        )
    return [message for holds, message in rules if not holds]


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_cell(cell: Cell, runs: Runs) -> None:
    """Bounded, truthful, and every event accounted for."""
    assert violations(cell, runs[cell.name]) == []


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_cell_counters(cell: Cell, runs: Runs) -> None:
    """`client.stats()` balances with what the server and `on_error` saw, and every loss
    carries a reason."""
    run = runs[cell.name]
    stats = run.client.stats()  # type: ignore[attr-defined]
    dropped = sum(stats.dropped.values())
    assert stats.accepted == len(run.accepted)
    assert stats.in_flight == 0
    assert stats.delivered + dropped == stats.accepted
    assert dropped == sum(run.dropped.values())
    if not cell.stores_then_fails:
        assert stats.delivered == len(set(run.stored) & set(run.accepted))
    else:
        assert stats.duplicated == sum(run.stored.values()) - len(run.stored)
    known = {reason.value for reason in Reason}
    for reason in run.reasons:
        value = reason.value if isinstance(reason, Reason) else reason
        assert value in known, f"a loss reported without a known reason: {reason!r}"
        if cell.reason is not None:
            assert value == cell.reason.value


def test_a_burst_beyond_the_old_queue_is_delivered_in_full(loopback: LoopbackServer) -> None:
    """200,000 ordinary events from one thread, default settings: none lost."""
    lost: list[int] = []
    client = Client(
        "phc_fault_matrix", host=loopback.url, on_error=lambda e, events: lost.append(len(events))
    )
    for i in range(200_000):
        client.capture("burst", distinct_id="burst-user", properties={"i": i})
    assert client.shutdown(60.0)
    assert sum(lost) == 0
    assert len({e["uuid"] for e in loopback.events()}) == 200_000


def test_remote_flags_hold_the_caller_no_longer_than_their_timeout(
    loopback: LoopbackServer,
) -> None:
    """A /flags server that trickles its answer cannot stretch the per-request timeout."""
    loopback.handle("/flags/", lambda _request: Reply.trickle(1, 0.2, "body", body=SLOW))
    client = Client(
        "phc_fault_matrix", host=loopback.url, feature_flags_request_timeout_seconds=1.0
    )
    try:
        started = time.monotonic()
        client.get_feature_flag("beta", "user-1")
        elapsed = time.monotonic() - started
    finally:
        client.shutdown(1.0)
    assert loopback.requests("/flags/"), "the remote evaluation was attempted"
    assert elapsed < 1.0 + MARGIN


def test_a_definitions_fetch_is_bounded_by_its_timeout(loopback: LoopbackServer) -> None:
    """The poller's download: a trickling server cannot keep one fetch past its timeout."""
    loopback.handle("/flags/definitions", lambda _request: Reply.trickle(1, 0.2, "body", body=SLOW))
    transport = HttpFlagsTransport("phc_fault_matrix", loopback.url, secret_key="phs_matrix")
    started = time.monotonic()
    with contextlib.suppress(HogkitError):  # failing is fine; waiting is what is measured
        transport.fetch_definitions(etag=None, timeout=1.0)
    elapsed = time.monotonic() - started
    assert loopback.requests("/flags/definitions"), "the download was attempted"
    assert elapsed < 1.0 + MARGIN
