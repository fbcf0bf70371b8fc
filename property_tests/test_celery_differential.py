"""Celery differential: hogkit's integration against posthog 7.91.1's, on one app and worker.

Each example draws the integration's options (`capture_exceptions`,
`capture_task_lifecycle_events`, `propagate_context`, a task filter of several kinds, the
client passed or left to the module's default) and 1-4 tasks: a name, arguments, the
producer contexts it is published from (nested, fresh or not, with an identity, a session
and tags), tags and an event inside the task, events from its `on_*`/`after_return`
hooks, and its outcome (a value, an exception of several kinds, retries that end in
success, failure or `max_retries` exceeded, `Reject`, `Ignore`). The same app runs the
tasks twice, on a real worker thread (solo pool, in-memory broker) or eagerly: once
instrumented with posthog's integration and client, then with hogkit's, each connected
only for its own run. Both must send the loopback server the same events, ask the filter
the same questions, and leave the tasks with the same results.

What is relaxed, and why (nothing else is):

- Events are compared without `uuid`, `timestamp`, `$lib` and `$lib_version`, a
  personless event's random distinct id is checked and compared as a marker, and each
  run's random task ids are replaced by their order of publishing.
- `celery_task_duration_ms` is a clock reading: compared for presence only.
- On a worker, the producer's `celery task published` event and the worker's first events
  are sent from two threads at once, so a worker run's events (and filter calls) are
  compared as a multiset; an eager run's are compared in order.
- posthog's integration never closes the context of a task that ends in `Reject` or
  `Ignore` (it closes contexts on the outcome signals, which such a task does not send):
  the context stays open in the worker's thread until the garbage collector finalizes it,
  and that resets posthog's context in whichever task is running then. The harness closes
  such a context when the task's run ends (`celery_twin`), which is what hogkit's
  integration does itself; hogkit is checked to leave no context open (`left_open`).
- A blank distinct id or session id set in a nested producer context is not drawn: posthog
  lets it hide the outer context's, hogkit's contexts ignore it (a difference of the
  contexts, not of the integration).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
from celery_twin import TASK_NAMES, Layer, Options, Sides, TaskRun, celery_sides, run_both
from client_compare import describe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import quiet_logger
from twin import event_differences


class Example(NamedTuple):
    options: Options
    tasks: list[TaskRun]


ids = st.sampled_from(["user-1", "ü-2", " spaced "])
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
tag_names = st.sampled_from(["origin", "plan", "celery_task_name", "celery_state", "n"])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner),
    max_leaves=5,
)
tags = st.dictionaries(tag_names, json_values, max_size=3)
layers = st.lists(
    st.builds(Layer, st.booleans(), st.none() | ids, st.none() | ids, tags), max_size=2
)
messages = st.sampled_from(["boom", "", "ünïcode ✓", "x" * 40])
outcomes = st.one_of(
    st.fixed_dictionaries({"kind": st.just("return"), "value": json_values}),
    st.fixed_dictionaries(
        {
            "kind": st.just("raise"),
            "error": st.sampled_from(
                ["ValueError", "KeyError", "TaskError", "Empty", "Unprintable"]
            ),
            "message": messages,
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("retry"),
            "times": st.integers(0, 2),
            "then": st.sampled_from(["return", "raise", "exceed"]),
            "with_exc": st.booleans(),
            "message": messages,
        }
    ),
    st.fixed_dictionaries({"kind": st.sampled_from(["reject", "ignore"])}),
)
plans = st.fixed_dictionaries(
    {
        "tags": tags,
        "capture": st.booleans(),
        "capture_as": st.none() | ids,
        "hooks": st.lists(
            st.sampled_from(["on_success", "on_failure", "on_retry", "after_return"]),
            unique=True,
            max_size=2,
        ),
        "outcome": outcomes,
    }
)
task_runs = st.builds(
    TaskRun,
    st.sampled_from(TASK_NAMES),
    plans,
    st.lists(json_values, max_size=2),
    layers,
)
option_sets = st.builds(
    Options,
    st.fixed_dictionaries(
        {
            "capture_exceptions": st.booleans(),
            "capture_task_lifecycle_events": st.booleans(),
            "propagate_context": st.booleans(),
        }
    ),
    st.none()
    | st.sampled_from(
        [
            "everything",
            "not published",
            "plain only",
            "hostname",
            "raises on failure",
            "raises on start",
        ]
    ),
    st.booleans(),
    st.booleans(),
)
examples = st.builds(Example, option_sets, st.lists(task_runs, min_size=1, max_size=4))


@pytest.fixture(scope="module")
def sides() -> Iterator[Sides]:
    # Both SDKs log each failure a filter or an exception's text causes, by design.
    with quiet_logger("posthog"), quiet_logger("hogkit"), celery_sides() as both:
        yield both


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(example=examples)
def test_hogkit_celery_integration_matches_posthog(sides: Sides, example: Example) -> None:
    ref, kit = run_both(sides, example.options, example.tasks)
    context = describe(example)
    assert kit.results == ref.results, context
    assert kit.filter_calls == ref.filter_calls, context
    assert kit.events == ref.events, f"{event_differences(ref.events, kit.events)}\n{context}"
    assert kit.left_open == [], context
