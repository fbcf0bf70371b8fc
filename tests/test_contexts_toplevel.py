"""The context functions at the top level of `hogkit`, and contexts on the queued capture path."""

from __future__ import annotations

import pytest
from hogkit.transport import Client, MemoryTransport, contexts

import hogkit

CONTEXT_FUNCTIONS = [
    "new_context",
    "scoped",
    "tag",
    "get_tags",
    "identify_context",
    "set_context_session",
    "set_context_device_id",
    "get_context_distinct_id",
    "get_context_session_id",
    "get_context_device_id",
]


@pytest.mark.parametrize("name", CONTEXT_FUNCTIONS)
def test_top_level_names_are_the_context_functions(name: str) -> None:
    assert name in hogkit.__all__
    assert getattr(hogkit, name) is getattr(contexts, name)


def test_top_level_getters_read_the_current_context() -> None:
    with hogkit.new_context():
        hogkit.identify_context("user-7")
        hogkit.set_context_session("s-7")
        hogkit.set_context_device_id("d-7")
        hogkit.tag("plan", "pro")
        seen = (
            hogkit.get_context_distinct_id(),
            hogkit.get_context_session_id(),
            hogkit.get_context_device_id(),
            hogkit.get_tags(),
        )
    assert seen == ("user-7", "s-7", "d-7", {"plan": "pro"})
    assert hogkit.get_context_distinct_id() is None
    assert hogkit.get_tags() == {}


def test_plain_capture_on_a_queued_client_gets_the_context() -> None:
    """A call that would take the queue's fast path still gets the context's values."""
    memory = MemoryTransport()
    client = Client("phc_test", transport=memory)
    try:
        with hogkit.new_context():
            hogkit.identify_context("queued-user")
            hogkit.set_context_session("queued-session")
            hogkit.tag("step", "checkout")
            client.capture("plain", properties={"n": 1})
        client.capture("after", properties={"n": 2})
        assert client.flush(5.0)
    finally:
        client.shutdown(5.0)
    inside, after = sorted(memory.events, key=lambda e: e["properties"]["n"])
    assert inside["distinct_id"] == "queued-user"
    assert inside["properties"]["$session_id"] == "queued-session"
    assert inside["properties"]["step"] == "checkout"
    assert "$process_person_profile" not in inside["properties"]
    assert after["properties"]["$process_person_profile"] is False
    assert "step" not in after["properties"]


def test_client_context_methods_capture_through_the_clients_exception_path() -> None:
    memory = MemoryTransport()
    client = Client("phc_test", sync_mode=True, transport=memory)
    with pytest.raises(ValueError), client.new_context(capture_exceptions=True):
        client.identify_context("failing-user")
        raise ValueError("boom")
    (event,) = memory.events
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "failing-user"
    assert event["properties"]["$exception_list"][0]["type"] == "ValueError"
