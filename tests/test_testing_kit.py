"""hogkit.testing: overrides, the capture sink and the builder, on real clients."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import types

import pytest
from hogkit.core import FlagSet
from hogkit.testing import (
    CaptureSink,
    FlagBuilder,
    cohort,
    cohort_filter,
    definitions_for,
    depends_on,
    document,
    override_flags,
    prop,
)
from hogkit.transport.client import Client
from httpserver import LoopbackServer, Reply

DEFS, FLAGS = "/flags/definitions", "/flags/"


def test_override_forbids_the_server_and_restores_the_client(loopback: LoopbackServer) -> None:
    loopback.script(DEFS, then=Reply.json(document([FlagBuilder("real")])))
    loopback.script(FLAGS, then=Reply.json({"flags": {}}))
    sink = CaptureSink()
    client = Client(
        "phc_test", loopback.url, transport=sink, sync_mode=True, secret_key="phs_secret"
    )
    try:
        with override_flags(client, {"a": True, "b": "blue"}, payloads={"b": [1, 2]}):
            snap = client.evaluate_flags("user-1")
            assert dict(snap.flag_values) == {"a": True, "b": "blue"}
            assert snap.get_flag("unknown") is None
            assert snap.get_flag("b") == "blue"
            assert snap.get_flag_payload("b") == [1, 2]
        assert loopback.requests(FLAGS) == []
        called = sink.assert_captured("$feature_flag_called", "user-1", **{"$feature_flag": "b"})
        assert called["properties"]["$feature_flag_response"] == "blue"
        assert called["properties"]["locally_evaluated"] is True
        assert client.evaluate_flags("user-1").get_flag("real") is True
    finally:
        client.shutdown(0.0)


def test_override_through_a_module_default_client() -> None:
    client = Client("phc_test", transport=CaptureSink(), sync_mode=True, flag_definitions=[])
    module = types.SimpleNamespace(default_client=client)
    with override_flags(module, {"x": False}):
        assert client.evaluate_flags("u").get_flag("x") is False
    assert client.evaluate_flags("u").get_flag("x") is None
    with pytest.raises(TypeError), override_flags(object(), {"x": True}):
        pass
    client.shutdown(0.0)


def test_sink_filters_by_event_and_distinct_id() -> None:
    sink = CaptureSink()
    client = Client("phc_test", transport=sink, sync_mode=True)
    client.capture("a", distinct_id="u1", properties={"n": 1})
    client.capture("b", distinct_id="u1")
    client.capture("a", distinct_id="u2", properties={"n": 2})
    assert [e["distinct_id"] for e in sink.events("a")] == ["u1", "u2"]
    assert [e["event"] for e in sink.events(distinct_id="u1")] == ["a", "b"]
    assert sink.assert_captured("a", n=2)["distinct_id"] == "u2"
    with pytest.raises(AssertionError, match="captured"):
        sink.assert_captured("a", "u1", n=2)
    sink.assert_not_captured("c")
    with pytest.raises(AssertionError):
        sink.assert_not_captured("b", "u1")
    sink.clear()
    assert sink.captured == []
    client.shutdown(0.0)


def test_builder_cohorts_and_dependencies_compile_and_evaluate() -> None:
    doc = document(
        [
            FlagBuilder("parent").condition(prop("plan", "pro")),
            FlagBuilder("child").condition(depends_on("parent")),
            FlagBuilder("members").condition(cohort_filter(7)),
        ],
        cohorts={7: cohort(prop("country", "fr"), prop("seats", 5, "gt"))},
    )
    fs = FlagSet.from_document(doc)
    now = dt.datetime(2026, 6, 15, tzinfo=dt.timezone.utc)
    pro = fs.evaluate("u", person_properties={"plan": "pro", "country": "fr", "seats": 9}, now=now)
    free = fs.evaluate(
        "u", person_properties={"plan": "free", "country": "fr", "seats": 1}, now=now
    )
    assert dict(pro.flag_values) == {"parent": True, "child": True, "members": True}
    assert dict(free.flag_values) == {"parent": False, "child": False, "members": False}


def test_definitions_for_rejects_values_that_are_not_flags() -> None:
    with pytest.raises(TypeError):
        definitions_for({"n": 3})  # type: ignore[dict-item]


def test_optional_dependencies_stay_optional() -> None:
    """The client and the testing kit's core import neither openfeature nor hypothesis."""
    code = (
        "import sys, hogkit.core, hogkit.transport, hogkit.transport.client, hogkit.testing; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'openfeature', 'hypothesis'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
