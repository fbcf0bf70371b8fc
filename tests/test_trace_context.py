"""`capture_trace_context`: OpenTelemetry trace and span ids on events, next to posthog 7.91.1.

Real tracers and spans (opentelemetry-sdk), real HTTP: each scenario runs in the same span for
both SDKs, and the events the loopback server received are compared property for property.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from httpserver import Reply
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from twin import Twin, event_differences, flags_response, record

_PROVIDER = TracerProvider()
TRACER = _PROVIDER.get_tracer("hogkit-tests")


@pytest.fixture
def twin_with(request: pytest.FixtureRequest) -> Iterator[Callable[..., Twin]]:
    made: list[Twin] = []

    def make(**options: Any) -> Twin:
        reply = Reply.json(flags_response(record("beta", True, fid=5)))
        twin = Twin(remote=[reply], local=False, **options)
        made.append(twin)
        return twin

    yield make
    for twin in made:
        twin.close()


def assert_same_events(twin: Twin) -> list[dict[str, Any]]:
    ref, kit = twin.ref_events(), twin.kit_events()
    assert kit == ref, event_differences(ref, kit)
    return ref


def run_in_one_span(twin: Twin, action: Callable[[Any], Any]) -> None:
    """`action` on both clients inside the same span, so both see the same ids."""
    with TRACER.start_as_current_span("request"):
        twin.run(action)


def _capture(client: Any) -> Any:
    return client.capture("checkout", distinct_id="user-1", properties={"plan": "pro"})


@pytest.mark.parametrize("enabled", [True, False])
def test_capture_inside_a_span(twin_with: Callable[..., Twin], enabled: bool) -> None:
    twin = twin_with(capture_trace_context=enabled)
    with TRACER.start_as_current_span("request") as span:
        twin.run(_capture)
        ids = span.get_span_context()
    (event,) = assert_same_events(twin)
    if enabled:
        assert event["properties"]["$trace_id"] == f"{ids.trace_id:032x}"
        assert event["properties"]["$span_id"] == f"{ids.span_id:016x}"
    else:
        assert "$trace_id" not in event["properties"]


def test_explicit_ids_win_over_the_span(twin_with: Callable[..., Twin]) -> None:
    twin = twin_with(capture_trace_context=True)
    run_in_one_span(
        twin,
        lambda c: c.capture(
            "checkout", distinct_id="user-1", properties={"$trace_id": "mine", "n": 1}
        ),
    )
    (event,) = assert_same_events(twin)
    assert event["properties"]["$trace_id"] == "mine"
    assert "$span_id" in event["properties"]


def test_no_active_span_adds_nothing(twin_with: Callable[..., Twin]) -> None:
    twin = twin_with(capture_trace_context=True)
    twin.run(_capture)
    (event,) = assert_same_events(twin)
    assert "$trace_id" not in event["properties"]


def test_a_span_that_is_not_sampled_still_has_valid_ids(twin_with: Callable[..., Twin]) -> None:
    twin = twin_with(capture_trace_context=True)
    outer = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0x0AF7651916CD43DD8448EB211C80319C,
            span_id=0x00F067AA0BA902B7,
            is_remote=True,
            trace_flags=trace.TraceFlags(0),
        )
    )
    with trace.use_span(outer):
        twin.run(_capture)
    (event,) = assert_same_events(twin)
    assert event["properties"]["$trace_id"] == "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize("enabled", [True, False])
def test_flag_events_inside_a_span(twin_with: Callable[..., Twin], enabled: bool) -> None:
    twin = twin_with(capture_trace_context=enabled)
    run_in_one_span(twin, lambda c: c.evaluate_flags("user-1").get_flag("beta"))
    (event,) = assert_same_events(twin)
    assert event["event"] == "$feature_flag_called"
    assert ("$trace_id" in event["properties"]) is enabled


@pytest.mark.parametrize("enabled", [True, False])
def test_exceptions_carry_the_span_whatever_the_option(
    twin_with: Callable[..., Twin], enabled: bool
) -> None:
    twin = twin_with(capture_trace_context=enabled)

    def fail(client: Any) -> Any:
        try:
            raise ValueError("boom")
        except ValueError as exc:
            return client.capture_exception(exc, distinct_id="user-1")

    run_in_one_span(twin, fail)
    ref, kit = twin.ref_events(), twin.kit_events()
    assert [e["event"] for e in ref] == [e["event"] for e in kit] == ["$exception"]
    for name in ("$trace_id", "$span_id"):
        assert kit[0]["properties"][name] == ref[0]["properties"][name]


def test_hogkit_never_imports_opentelemetry_itself() -> None:
    script = textwrap.dedent(
        """
        import sys
        from hogkit import Client
        client = Client("phc_x", host="http://127.0.0.1:9", send=False, capture_trace_context=True)
        client.capture("e", distinct_id="u")
        try:
            raise ValueError("x")
        except ValueError as exc:
            client.capture_exception(exc, distinct_id="u")
        client.shutdown()
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
