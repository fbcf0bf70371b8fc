"""The Celery integration's differences from posthog 7.91.1 that the differential found, each
run side by side with posthog's integration on one app, worker and loopback server
(`celery_twin`), so each test fails if hogkit's integration drifts from posthog's again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery_twin import Layer, Observed, Options, Sides, TaskRun, celery_sides, run_both
from twin import event_differences

ALL_ON = {"capture_exceptions": True, "capture_task_lifecycle_events": True}
PRODUCER = [Layer(False, "producer-user", "producer-session", {"origin": "web"})]


@pytest.fixture(scope="module")
def sides() -> Iterator[Sides]:
    with celery_sides() as both:
        yield both


def plan(outcome: dict[str, Any], **changes: Any) -> dict[str, Any]:
    base = {"tags": {}, "capture": False, "capture_as": None, "hooks": [], "outcome": outcome}
    return {**base, **changes}


def same(
    sides: Sides, tasks: list[TaskRun], *, eager: bool = False, task_filter: str | None = None
) -> Observed:
    """hogkit's observation, once it is checked to equal posthog's."""
    options = Options({**ALL_ON, "propagate_context": True}, task_filter, True, eager)
    ref, kit = run_both(sides, options, tasks)
    assert kit.results == ref.results
    assert kit.filter_calls == ref.filter_calls
    assert kit.events == ref.events, event_differences(ref.events, kit.events)
    return kit


def named(observed: Observed, event: str) -> dict[str, Any]:
    (found,) = [e for e in observed.events if e["event"] == event]
    return found


RETURNS = {"kind": "return", "value": 7}


def test_published_event_has_a_hostname_key_without_a_value(sides: Sides) -> None:
    kit = same(sides, [TaskRun("x", plan(RETURNS), [], [])])
    props = named(kit, "celery task published")["properties"]
    assert "celery_hostname" in props and props["celery_hostname"] is None


def test_queue_is_the_one_the_delivery_names_not_the_routing_key(sides: Sides) -> None:
    kit = same(sides, [TaskRun("x", plan(RETURNS), [], [])])
    props = named(kit, "celery task started")["properties"]
    assert props["celery_routing_key"] == "celerydiff-q" and props["celery_queue"] is None


@pytest.mark.parametrize("eager", [False, True])
def test_after_return_runs_once_the_task_context_is_closed(sides: Sides, eager: bool) -> None:
    hooks = ["after_return", "on_success"]
    kit = same(sides, [TaskRun("x", plan(RETURNS, hooks=hooks), [], PRODUCER)], eager=eager)
    inside, after = named(kit, "hook on_success"), named(kit, "hook after_return")
    assert inside["properties"]["celery_task_id"] == "task-0"
    assert "celery_task_id" not in after["properties"]


def test_a_rejected_task_s_late_failure_names_the_task(sides: Sides) -> None:
    kit = same(sides, [TaskRun("x", plan({"kind": "reject"}), [], PRODUCER)])
    props = named(kit, "celery task failure")["properties"]
    assert (props["celery_task_id"], props["error_type"]) == ("task-0", "Reject")


def test_an_exception_s_mechanism_is_task(sides: Sides) -> None:
    failing = {"kind": "raise", "error": "ValueError", "message": "boom"}
    kit = same(sides, [TaskRun("x", plan(failing), [], PRODUCER)], eager=True)
    (exception,) = named(kit, "$exception")["properties"]["$exception_list"]
    assert exception["mechanism"]["type"] == "task"


def test_the_filter_is_asked_once_per_outcome(sides: Sides) -> None:
    failing = {"kind": "raise", "error": "KeyError", "message": "k"}
    kit = same(sides, [TaskRun("x", plan(failing), [], [])], eager=True, task_filter="everything")
    assert [call[1]["celery_state"] for call in kit.filter_calls] == ["started", "failure"]


def test_a_filter_failing_at_start_leaves_the_task_outside_any_context(sides: Sides) -> None:
    task = TaskRun("x", plan(RETURNS, capture=True), [], PRODUCER)
    kit = same(sides, [task], eager=True, task_filter="raises on start")
    assert named(kit, "inside task")["distinct_id"] == "producer-user"  # the producer's own
    assert "celery_task_id" not in named(kit, "inside task")["properties"]


@pytest.mark.parametrize("kind", ["reject", "ignore"])
def test_a_task_ending_without_an_outcome_leaves_no_context_open(sides: Sides, kind: str) -> None:
    after = TaskRun("x", plan(RETURNS, capture=True), [], [])
    kit = same(sides, [TaskRun("x", plan({"kind": kind}), [], PRODUCER), after])
    assert kit.left_open == []
    assert named(kit, "inside task")["properties"]["celery_task_id"] == "task-1"
