"""Cases the client-level differential (property_tests/test_client_differential.py) found,
kept as focused comparisons with posthog 7.91.1 over real HTTP (see `twin.py`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpserver import Reply
from twin import Twin, event_differences

ABSENT = object()

# A record's `reason` as a server may write it: the description text, empty, null or left out,
# the whole reason empty or null, in both record shapes.
REASONS: list[Any] = [
    {"code": "condition_match", "description": "Matched condition set 1"},
    {"code": "condition_match", "description": None},
    {"code": "condition_match", "description": ""},
    {"code": "condition_match"},
    {"code": "", "description": None},
    {"description": None},
    {},
    None,
    ABSENT,
]


def _record(shape: str, reason: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"key": "beta", "metadata": {"id": 1, "version": 2}}
    if shape == "typed":
        record["value"] = True
    else:
        record.update(enabled=True, variant=None)
    if reason is not ABSENT:
        record["reason"] = reason
    return record


def _result_reason(client: Any) -> Any:
    result = client.get_feature_flag_result("beta", "user-1")
    return None if result is None else (result.get_value(), result.reason)


@pytest.mark.parametrize("shape", ["typed", "older"])
@pytest.mark.parametrize("reason", REASONS, ids=repr)
def test_result_reason_of_a_server_record(shape: str, reason: Any) -> None:
    """`get_feature_flag_result(...).reason` is the record's description as posthog reads
    it: a null description stays None in a record without `value`, and an empty reason
    object reads as "" in a typed record but as no reason in an older one."""
    answer = {"flags": {"beta": _record(shape, reason)}, "requestId": "req-1"}
    with Twin(remote=[Reply.json(answer)], local=False) as twin:
        ref, kit = twin.run(_result_reason)
        assert kit == ref
        ref_events, kit_events = twin.flag_events()
        assert kit_events == ref_events, event_differences(ref_events, kit_events)


def _flags_bodies(twin: Twin, sdk: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.json().items() if k not in ("api_key", "sent_at")}
        for r in twin.requests("/flags/", sdk)
    ]


@pytest.mark.parametrize("distinct_id", [42, uuid.UUID(int=7)], ids=["int", "uuid"])
@pytest.mark.parametrize(
    "option", [True, {}, {"only_evaluate_locally": False}], ids=["true", "empty", "remote"]
)
def test_capture_asks_for_flags_with_the_distinct_id_as_text(distinct_id: Any, option: Any) -> None:
    """`capture(send_feature_flags=...)` asks `/flags` for the person the event is sent as:
    the distinct id's text, as every flag read does, not the number or object given."""
    answer = {"flags": {"beta": _record("typed", {"code": "condition_match"})}}
    with Twin(remote=[Reply.json(answer)], local=False) as twin:
        twin.run(
            lambda c: c.capture("checkout", distinct_id=distinct_id, send_feature_flags=option)
        )
        assert _flags_bodies(twin, "kit") == _flags_bodies(twin, "ref")
        assert twin.kit_events() == twin.ref_events()
