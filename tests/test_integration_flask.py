"""Flask: a real app through Flask's test client, events read from a MemoryTransport."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, abort
from hogkit.integrations.flask import PosthogFlaskIntegration
from hogkit.transport import Client, MemoryTransport, contexts

HEADERS = {"X-POSTHOG-DISTINCT-ID": "flask-user", "X-POSTHOG-SESSION-ID": "flask-session"}


@pytest.fixture
def setup() -> Iterator[tuple[Flask, MemoryTransport, Client]]:
    memory = MemoryTransport()
    client = Client("phc_test", sync_mode=True, transport=memory)
    app = Flask(__name__)
    PosthogFlaskIntegration(app, client=client, capture_exceptions=True)

    @app.get("/ok")
    def ok() -> str:
        contexts.tag("view", "ok")
        client.capture("page_loaded")
        return "ok"

    @app.get("/broken")
    def broken() -> str:
        contexts.tag("view", "broken")
        raise ValueError("flask view failed")

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    yield app, memory, client
    client.shutdown()


def test_request_context_reaches_events(setup: tuple[Flask, MemoryTransport, Client]) -> None:
    app, memory, _ = setup
    assert app.test_client().get("/ok?token=secret", headers=HEADERS).status_code == 200
    (event,) = memory.events
    props = event["properties"]
    assert event["distinct_id"] == "flask-user"
    assert props["$session_id"] == "flask-session"
    assert props["$current_url"] == "http://localhost/ok"
    assert (props["$request_method"], props["$request_path"], props["view"]) == ("GET", "/ok", "ok")


def test_unhandled_error_captured_once(setup: tuple[Flask, MemoryTransport, Client]) -> None:
    app, memory, _ = setup
    app.testing = False  # let Flask answer 500 instead of re-raising into the test
    assert app.test_client().get("/broken", headers=HEADERS).status_code == 500
    (event,) = memory.events
    props = event["properties"]
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "flask-user"
    assert props["$session_id"] == "flask-session"
    assert props["$exception_source"] == "flask.got_request_exception"
    assert props["$current_url"] == "http://localhost/broken"
    assert props["view"] == "broken"
    assert props["$exception_list"][0]["value"] == "flask view failed"


def test_handled_404_captures_nothing(setup: tuple[Flask, MemoryTransport, Client]) -> None:
    app, memory, _ = setup
    assert app.test_client().get("/missing", headers=HEADERS).status_code == 404
    assert memory.events == []
    assert contexts.context_values() is None  # the request's context was closed
