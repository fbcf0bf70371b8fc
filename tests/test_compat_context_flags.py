"""Flag reads and the events built whole inside a context, side by side with posthog
7.91.1: a read that names no device id takes the context's (`set_context_device_id`), for
local bucketing and in the `/flags` request, `evaluate_flags()` without a distinct id takes
the context's (`identify_context`), and flag events, aliases and group updates carry what
the context gives them. Every expectation is the reference's, run in the same test."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import posthog
import pytest
from httpserver import Reply
from twin import (
    Twin,
    definitions,
    event_differences,
    experiment_record,
    flag,
    flags_response,
    record,
)

import hogkit

# A half rollout bucketed by device: its value depends on the device id alone.
BY_DEVICE = flag(
    "by-device",
    1,
    groups=[{"properties": [], "rollout_percentage": 50}],
    bucketing_identifier="device_id",
)
DOC = definitions(BY_DEVICE)
ANSWER = flags_response(record("remote-only", "arm", fid=2), record("by-device", True, fid=1))
DEVICES = [f"device-{n}" for n in range(12)]


def _in_context(module: Any, device: str, read: Callable[[], Any]) -> Any:
    with module.new_context():
        module.identify_context("context-user")
        module.set_context_device_id(device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return read()


def _bodies(twin: Twin, sdk: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.json().items() if k not in ("api_key", "sent_at")}
        for r in twin.requests("/flags/", sdk)
    ]


def _both(twin: Twin, read: Callable[[Any], Any]) -> tuple[list[Any], list[Any]]:
    """`read(client)` inside a context for each device, on each SDK."""
    out = []
    for module, client in ((posthog, twin.ref), (hogkit, twin.kit)):
        out.append([_in_context(module, d, lambda c=client: read(c)) for d in DEVICES])
    return out[0], out[1]


LOCAL_READS: dict[str, Callable[[Any], Any]] = {
    "get_feature_flag": lambda c: c.get_feature_flag("by-device", "user-1"),
    "get_feature_flag without events": lambda c: c.get_feature_flag(
        "by-device", "user-1", send_feature_flag_events=False
    ),
    "feature_enabled": lambda c: c.feature_enabled("by-device", "user-1"),
    "get_all_flags": lambda c: c.get_all_flags("user-1"),
    "evaluate_flags": lambda c: c.evaluate_flags("user-1").get_flag("by-device"),
    "evaluate_flags for the context's person": lambda c: c.evaluate_flags().get_flag("by-device"),
}


@pytest.mark.parametrize("read", list(LOCAL_READS), ids=list(LOCAL_READS))
def test_local_read_buckets_by_the_contexts_device(read: str) -> None:
    with Twin(DOC, [Reply.json(ANSWER)]) as twin:
        twin.run(lambda c: c.load_feature_flags())
        ref, kit = _both(twin, LOCAL_READS[read])
        assert kit == ref
        assert len(set(map(repr, ref))) > 1  # the device decides, both ways
        assert _bodies(twin, "kit") == _bodies(twin, "ref") == []


REMOTE_READS: dict[str, Callable[[Any], Any]] = {
    "get_feature_flag": lambda c: c.get_feature_flag("remote-only", "user-1"),
    "get_all_flags": lambda c: c.get_all_flags("user-1"),
    "evaluate_flags": lambda c: c.evaluate_flags("user-1").get_flag("remote-only"),
    "evaluate_flags for the context's person": lambda c: c.evaluate_flags().get_flag("remote-only"),
    "get_feature_variants": lambda c: c.get_feature_variants("user-1"),
    "get_flags_decision for the context's person": lambda c: (
        c.get_flags_decision()["flags"]["remote-only"].variant
    ),
}


@pytest.mark.parametrize("read", list(REMOTE_READS), ids=list(REMOTE_READS))
def test_flags_request_names_the_contexts_device_and_person(read: str) -> None:
    with Twin(None, [Reply.json(ANSWER)], local=False) as twin:
        ref, kit = _both(twin, REMOTE_READS[read])
        assert kit == ref
        bodies = _bodies(twin, "ref")
        assert [b["device_id"] for b in bodies] == DEVICES
        assert _bodies(twin, "kit") == bodies


def _tagged_context(module: Any, action: Callable[[], Any]) -> None:
    with module.new_context():
        module.identify_context("context-user")
        module.set_context_session("session-1")
        module.tag("plan", "pro")
        module.tag("$feature_flag_response", "a tag may not replace the read's value")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            action()


def _tags_sorted(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with `$context_tags` in name order: posthog-python sends a set's order."""
    for event in events:
        for where in (event["properties"], event.get("$set") or {}):
            if "$context_tags" in where:
                where["$context_tags"] = sorted(where["$context_tags"])
    return events


EVENTS_IN_A_CONTEXT: dict[str, Callable[[Any], Any]] = {
    "get_feature_flag, remote": lambda c: c.get_feature_flag("remote-only", "user-1"),
    "get_feature_flag, local": lambda c: c.get_feature_flag("local", "user-1"),
    "evaluate_flags reads": lambda c: [
        c.evaluate_flags("user-1").get_flag(k) for k in ("local", "remote-only")
    ],
    "alias": lambda c: c.alias("old-id", "new-id"),
    "group_identify": lambda c: c.group_identify("company", "acme", {"name": "Acme"}),
    "group_identify with a distinct id": lambda c: c.group_identify(
        "company", "acme", distinct_id="user-2"
    ),
    "set": lambda c: c.set(distinct_id="user-1", properties={"a": 1}),
    "capture": lambda c: c.capture("clicked"),
}


@pytest.mark.parametrize("action", list(EVENTS_IN_A_CONTEXT), ids=list(EVENTS_IN_A_CONTEXT))
def test_events_inside_a_context(action: str) -> None:
    """Flag events carry the context's tags (under their own properties), `$context_tags`
    and `$session_id` as captures do; alias and group updates its `$session_id`, and a
    group update without a distinct id the context's person."""
    with Twin(definitions(flag("local", 3)), [Reply.json(ANSWER)]) as twin:
        twin.run(lambda c: c.load_feature_flags())
        for module, client in ((posthog, twin.ref), (hogkit, twin.kit)):
            _tagged_context(module, lambda c=client: EVENTS_IN_A_CONTEXT[action](c))
        ref, kit = _tags_sorted(twin.ref_events()), _tags_sorted(twin.kit_events())
        assert ref
        assert kit == ref, event_differences(ref, kit)


def test_minimal_flag_event_inside_a_context_keeps_only_the_session() -> None:
    answer = {**ANSWER, "minimalFlagCalledEvents": True}
    answer["flags"] = {
        "remote-only": {**ANSWER["flags"]["remote-only"], "metadata": {"has_experiment": False}}
    }
    with Twin(None, [Reply.json(answer)], local=False) as twin:
        for module, client in ((posthog, twin.ref), (hogkit, twin.kit)):
            _tagged_context(module, lambda c=client: c.get_feature_flag("remote-only", "u"))
        ref, kit = _tags_sorted(twin.ref_events()), _tags_sorted(twin.kit_events())
        assert ref[0]["properties"]["$session_id"] == "session-1"
        assert kit == ref, event_differences(ref, kit)


# A record assigning an experiment arm: its read also sends `$experiment_exposure`.
EXPERIMENT = experiment_record("experiment", "test", fid=4)
NAMELESS_READS: dict[str, Callable[[Any, Any], Any]] = {
    "get_feature_flag, local": lambda c, who: c.get_feature_flag("local", who),
    "get_feature_flag, remote": lambda c, who: c.get_feature_flag("remote-only", who),
    "feature_enabled": lambda c, who: c.feature_enabled("local", who),
    "get_feature_flag_result": lambda c, who: c.get_feature_flag_result("remote-only", who),
    "an experiment arm": lambda c, who: c.get_feature_flag("experiment", who),
}


@pytest.mark.parametrize("who", [None, ""], ids=["None", "empty"])
@pytest.mark.parametrize("read", list(NAMELESS_READS), ids=list(NAMELESS_READS))
def test_a_read_naming_no_person_reports_for_the_contexts_person(read: str, who: Any) -> None:
    """An older read given no distinct id inside an identified context sends its flag
    events as the context's person, as a capture without one is sent (deduplicated under
    the id the read was given, so one report in all), not as a personless event."""
    answer = {**ANSWER, "flags": {**ANSWER["flags"], "experiment": EXPERIMENT}}
    with Twin(definitions(flag("local", 3)), [Reply.json(answer)]) as twin:
        twin.run(lambda c: c.load_feature_flags())
        for module, client in ((posthog, twin.ref), (hogkit, twin.kit)):
            for person in ("context-1", "context-2"):
                with module.new_context():
                    module.identify_context(person)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", DeprecationWarning)
                        NAMELESS_READS[read](client, who)
        ref, kit = _tags_sorted(twin.ref_events()), _tags_sorted(twin.kit_events())
        assert {e["distinct_id"] for e in ref} == {"context-1"}
        assert kit == ref, event_differences(ref, kit)
