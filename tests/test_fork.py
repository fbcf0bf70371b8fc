"""After `os.fork()`, a child gets its own queue, worker and connections, and its events arrive.

This is the gunicorn/uwsgi `preload_app` and multiprocessing-fork situation: the client is
created in the parent, the child inherits it with none of its threads.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator

import pytest
from hogkit.transport import Client
from httpserver import LoopbackServer

KEY = "phc_fork_test"


def wait_for_child(pid: int, timeout: float = 30.0) -> int:
    """The child's exit code; kills it if it does not finish in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child did not finish")


@pytest.fixture
def client(loopback: LoopbackServer) -> Iterator[Client]:
    made = Client(KEY, host=loopback.url, flush_interval=60, flush_at=1000)
    yield made
    made.shutdown(timeout=2)


def test_a_forked_child_delivers_its_own_events(loopback: LoopbackServer, client: Client) -> None:
    client.capture("parent warm-up", distinct_id="parent")
    assert client.flush(5)  # the parent now holds a keep-alive connection and a live worker
    client.capture("parent queued", distinct_id="parent")  # still queued at the fork
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only, never return into pytest
        code = 1
        try:
            for i in range(3):
                client.capture("child event", distinct_id="child", properties={"i": i})
            code = 0 if client.flush(10) else 2
        finally:
            os._exit(code)
    assert wait_for_child(pid) == 0
    assert client.flush(5)
    events = loopback.events()
    names = sorted(e["event"] for e in events)
    assert names == ["child event"] * 3 + ["parent queued", "parent warm-up"]
    assert len({e["uuid"] for e in events}) == 5  # nothing sent twice, by either process
    child_requests = [
        r for r in loopback.requests("/batch/") if r.json()["batch"][0]["event"] == "child event"
    ]
    parent_peers = {r.peer for r in loopback.requests("/batch/") if r not in child_requests}
    assert child_requests and child_requests[0].peer not in parent_peers  # its own connection


def test_child_event_ids_differ_from_the_parents(loopback: LoopbackServer, client: Client) -> None:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            client.capture("same moment", distinct_id="x")
            code = 0 if client.flush(10) else 2
        finally:
            os._exit(code)
    client.capture("same moment", distinct_id="x")
    assert wait_for_child(pid) == 0
    assert client.flush(5)
    ids = [e["uuid"] for e in loopback.events()]
    assert len(ids) == 2 and ids[0] != ids[1]


def _child_job(client: Client, count: int) -> None:
    for i in range(count):
        client.capture("from a pool worker", distinct_id="mp", properties={"i": i})
    if not client.flush(10):
        raise SystemExit(3)


def test_multiprocessing_fork_workers_deliver(loopback: LoopbackServer, client: Client) -> None:
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_child_job, args=(client, 50)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert [p.exitcode for p in processes] == [0, 0]
    events = loopback.events()
    assert len(events) == 100 and len({e["uuid"] for e in events}) == 100


def test_a_child_of_a_shut_down_client_stays_shut(loopback: LoopbackServer, client: Client) -> None:
    client.shutdown(timeout=2)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if client.capture("zombie", distinct_id="z") is None else 2
        finally:
            os._exit(code)
    assert wait_for_child(pid) == 0
    assert loopback.requests() == []
