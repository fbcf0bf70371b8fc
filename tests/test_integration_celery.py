"""Celery: a real worker (solo pool, in-memory broker) running tasks published in a context."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery_twin import restored_logging
from hogkit.integrations.celery import PosthogCeleryIntegration
from hogkit.transport import Client, MemoryTransport, contexts

app = Celery("hogkit_test", broker="memory://", backend="cache+memory://")
app.conf.task_default_queue = "hogkit-q"


@app.task(name="tests.add")
def add(x: int, y: int) -> int:
    contexts.tag("inside", True)
    assert hog is not None
    hog.capture("adding", properties={"sum": x + y})
    return x + y


@app.task(name="tests.fail")
def fail() -> None:
    raise ValueError("task failed")


hog: Client | None = None


@pytest.fixture(scope="module")
def worker() -> Iterator[tuple[Client, MemoryTransport]]:
    global hog
    memory = MemoryTransport()
    hog = Client("phc_test", sync_mode=True, transport=memory)
    integration = PosthogCeleryIntegration(hog, capture_task_lifecycle_events=False)
    integration.instrument()
    with (
        restored_logging(),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
    ):
        yield hog, memory
    integration.shutdown()
    hog.shutdown()
    hog = None


def run_in_context(task: Any, *args: Any) -> Any:
    with contexts.new_context():
        contexts.identify_context("producer-user")
        contexts.set_context_session("producer-session")
        contexts.tag("origin", "web")
        return task.apply_async(args=args)


def test_task_gets_producer_context_and_task_properties(
    worker: tuple[Client, MemoryTransport],
) -> None:
    _, memory = worker
    memory.clear()
    result = run_in_context(add, 2, 3)
    assert result.get(timeout=20) == 5
    (event,) = memory.events
    props = event["properties"]
    assert event["distinct_id"] == "producer-user"
    assert props["$session_id"] == "producer-session"
    assert (props["origin"], props["inside"], props["sum"]) == ("web", True, 5)
    assert props["celery_task_name"] == "tests.add"
    assert props["celery_task_id"] == result.id
    assert props["celery_retry_count"] == 0
    # Celery's worker requests name the routing key, not the queue (posthog sends None too).
    assert (props["celery_routing_key"], props["celery_queue"]) == ("hogkit-q", None), props


def test_task_failure_captured_once(worker: tuple[Client, MemoryTransport]) -> None:
    _, memory = worker
    memory.clear()
    result = run_in_context(fail)
    with pytest.raises(ValueError, match="task failed"):
        result.get(timeout=20)
    (event,) = memory.events
    props = event["properties"]
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "producer-user"
    assert props["$exception_source"] == "celery.task_failure"
    assert props["celery_task_name"] == "tests.fail"
    assert props["origin"] == "web"


WORKER_APP = """
import os
from celery import Celery, signals
from hogkit.integrations.celery import PosthogCeleryIntegration
from hogkit.transport import Client, FileTransport

HERE = os.path.dirname(os.path.abspath(__file__))
box = os.path.join(HERE, "broker")
app = Celery("worker_app", broker="filesystem://")
app.conf.broker_transport_options = {"data_folder_in": box, "data_folder_out": box}
client = Client(
    "phc_test",
    transport=FileTransport(os.path.join(HERE, "events.jsonl")),
    flush_at=1000,
    flush_interval=3600,
)
PosthogCeleryIntegration(client).instrument()


@signals.worker_shutdown.connect
def count_sent(**kwargs):
    # Connected after the integration's handler, so this runs after its flush.
    path = os.path.join(HERE, "events.jsonl")
    lines = open(path).read().count("\\n") if os.path.exists(path) else 0
    open(os.path.join(HERE, "sent_at_shutdown"), "w").write(str(lines))


@app.task(name="worker_app.hello")
def hello(name):
    client.capture("hello task ran", properties={"name": name})
    open(os.path.join(HERE, "task_ran"), "w").write("yes")
"""


def test_worker_shutdown_flushes_the_client(tmp_path: Path) -> None:
    (tmp_path / "broker").mkdir()
    (tmp_path / "worker_app.py").write_text(WORKER_APP)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker_app",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        producer = subprocess.run(
            [sys.executable, "-c", "import worker_app; worker_app.hello.delay('ada')"],
            cwd=tmp_path,
            env=env,
            timeout=60,
            check=True,
        )
        assert producer.returncode == 0
        deadline = time.monotonic() + 60
        while not (tmp_path / "task_ran").exists():
            assert time.monotonic() < deadline, "the worker never ran the task"
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
            time.sleep(0.1)
        written = tmp_path / "events.jsonl"
        before = written.read_text() if written.exists() else ""  # the producer's, at its exit
        assert "hello task ran" not in before  # the worker's are batched, not yet sent
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    sent = int((tmp_path / "sent_at_shutdown").read_text())
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    assert sent == len(events)
    assert "hello task ran" in names and "celery task success" in names
