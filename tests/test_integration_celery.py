"""Celery: a real worker (solo pool, in-memory broker) running tasks published in a context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
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
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
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
    assert props["celery_queue"] == "hogkit-q", props


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
