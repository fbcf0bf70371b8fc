"""The README's framework sections, run as written and then driven with real requests and tasks."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from hogkit.transport import Client, MemoryTransport, contexts

README = Path(__file__).resolve().parents[1] / "README.md"
HEADERS = {"X-POSTHOG-DISTINCT-ID": "reader", "X-POSTHOG-SESSION-ID": "reader-session"}


def section_code(heading: str) -> str:
    """The python blocks under a `### heading`, up to the next heading, joined."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n### {heading}\n")
    end = re.compile(r"^#{2,3} ", re.MULTILINE).search(text, start + 5)
    body = text[start : end.start() if end else len(text)]
    blocks = re.findall(r"^```python\n(.*?)^```", body, re.MULTILINE | re.DOTALL)
    assert blocks, heading
    return "\n".join(blocks)


def run_section(heading: str) -> tuple[dict[str, Any], MemoryTransport]:
    memory = MemoryTransport()
    namespace: dict[str, Any] = {
        "__name__": "readme_section",
        "client": Client("phc_test", sync_mode=True, transport=memory),
    }
    exec(compile(section_code(heading), f"README.md ({heading})", "exec"), namespace)
    return namespace, memory


def test_flask_section() -> None:
    namespace, memory = run_section("Flask")
    response = namespace["app"].test_client().get("/checkout", headers=HEADERS)
    assert response.status_code == 200
    (event,) = memory.events
    assert event["distinct_id"] == "reader"
    assert event["properties"]["$session_id"] == "reader-session"
    assert event["properties"]["$current_url"] == "http://localhost/checkout"


def test_asgi_section() -> None:
    from starlette.testclient import TestClient

    namespace, memory = run_section("Starlette, FastAPI and other ASGI apps")
    response = TestClient(namespace["api"]).get("/orders/12", headers=HEADERS)
    assert response.json() == {"order_id": 12}
    (event,) = memory.events
    assert (event["distinct_id"], event["properties"]["order_id"]) == ("reader", 12)
    assert event["properties"]["$request_path"] == "/orders/12"


def test_django_section() -> None:
    import test_integration_django as django_app  # configures Django with its views
    from django.test import Client as DjangoClient
    from django.test import override_settings

    namespace, memory = run_section("Django")
    with override_settings(
        MIDDLEWARE=namespace["MIDDLEWARE"],
        POSTHOG_MW_CLIENT=namespace["POSTHOG_MW_CLIENT"],
        REST_FRAMEWORK={**django_app.settings.REST_FRAMEWORK, **namespace["REST_FRAMEWORK"]},
    ):
        response = DjangoClient(raise_request_exception=False).get("/broken", headers=HEADERS)
    assert response.status_code == 500
    (event,) = memory.events
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "reader"
    assert event["properties"]["$exception_source"] == "django.middleware"


def test_celery_section() -> None:
    from celery.contrib.testing.worker import start_worker

    namespace, memory = run_section("Celery")
    try:
        with start_worker(namespace["tasks"], pool="solo", perform_ping_check=False):
            with contexts.new_context():
                contexts.identify_context("reader")
                namespace["send_receipt"].delay(99)
            deadline = time.monotonic() + 30
            while not any(e["event"] == "receipt sent" for e in memory.events):
                if time.monotonic() > deadline:
                    pytest.fail(f"the task never ran: {memory.events}")
                time.sleep(0.05)
    finally:
        namespace["integration"].uninstrument()
    (event,) = [e for e in memory.events if e["event"] == "receipt sent"]
    assert event["distinct_id"] == "reader"
    assert event["properties"]["order_id"] == 99
    assert event["properties"]["celery_task_name"] == "readme_section.send_receipt"
