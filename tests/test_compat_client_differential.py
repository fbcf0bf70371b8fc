"""Cases the client-level differential (property_tests/test_client_differential.py) found,
kept as focused comparisons with posthog 7.91.1 over real HTTP (see `twin.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from compare import decision_view
from httpserver import Reply
from twin import (
    Twin,
    definitions,
    event_differences,
    experiment_record,
    flag,
    personless_marked,
)

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


def _on_for(operator: str, value: Any) -> dict[str, Any]:
    """A flag on for whoever's `distinct_id` person property passes `operator value`."""
    rule = {"key": "distinct_id", "type": "person", "operator": operator, "value": value}
    return flag("by-id", 1, groups=[{"properties": [rule], "rollout_percentage": 100}])


OLDER_READS: dict[str, Callable[[Any, Any], Any]] = {
    "get_feature_flag": lambda c, who: c.get_feature_flag("by-id", who),
    "feature_enabled": lambda c, who: c.feature_enabled("by-id", who),
    "get_feature_flag_result": lambda c, who: _plain_result(
        c.get_feature_flag_result("by-id", who)
    ),
    "get_all_flags": lambda c, who: c.get_all_flags(who),
    "get_all_flags_and_payloads": lambda c, who: c.get_all_flags_and_payloads(who),
}


def _plain_result(result: Any) -> Any:
    return None if result is None else (result.get_value(), result.payload)


@pytest.mark.parametrize("method", sorted(OLDER_READS))
@pytest.mark.parametrize(
    ("operator", "value"),
    [("exact", ["None"]), ("regex", "^N"), ("is_date_after", "2025-01-01"), ("exact", ["42"])],
)
@pytest.mark.parametrize("distinct_id", [None, 42], ids=["None", "int"])
def test_older_reads_match_the_distinct_id_property_as_given(
    method: str, operator: str, value: Any, distinct_id: Any
) -> None:
    """An older read buckets a distinct id that is not text by its text ("None", "42"),
    but a flag filtering on the `distinct_id` person property sees the id as given: None
    is not the text "None", so such a flag is off, decided locally, no server asked."""
    answer = {"flags": {"by-id": _record("typed", {"code": "condition_match"})}}
    with Twin(definitions(_on_for(operator, value)), [Reply.json(answer)]) as twin:
        ref, kit = twin.run(lambda c: OLDER_READS[method](c, distinct_id))
        assert kit == ref
        ref_events, kit_events = twin.flag_events()
        assert personless_marked(kit_events) == personless_marked(ref_events), event_differences(
            ref_events, kit_events
        )
        assert _flags_bodies(twin, "kit") == _flags_bodies(twin, "ref")


SPLIT = experiment_record("exp", "test", fid=3)

READS_BY_ID: dict[str, Callable[[Any, str, Any], Any]] = {
    "get_feature_flag": lambda c, key, who: c.get_feature_flag(key, who),
    "evaluate_flags": lambda c, key, who: c.evaluate_flags(who).get_flag(key),
}


@pytest.mark.parametrize("second", sorted(READS_BY_ID))
@pytest.mark.parametrize("first", sorted(READS_BY_ID))
@pytest.mark.parametrize(
    ("one", "other"),
    [(42, "42"), (42, 42), ("42", "42"), (None, ""), (None, None), (uuid.UUID(int=7), None)],
    ids=["int-text", "int-int", "text-text", "None-empty", "None-None", "uuid-None"],
)
@pytest.mark.parametrize("key", ["on", "exp"])
def test_flag_events_are_deduplicated_by_the_distinct_id_as_given(
    key: str, one: Any, other: Any, first: str, second: str
) -> None:
    """An older read remembers what it reported under the distinct id as given, so a read
    under 42 and one under "42" (or a snapshot of 42, which reads it as "42") each report,
    as do None and ""; an experiment exposure is remembered under the id's text."""
    if other is None and "evaluate_flags" in (first, second):
        other = one  # a snapshot of a None id answers nothing
    doc = definitions(flag("on", 1))
    answer = {"flags": {"exp": SPLIT}, "requestId": "req-1"}
    with Twin(doc, [Reply.json(answer)]) as twin:
        twin.run(lambda c: READS_BY_ID[first](c, key, one))
        twin.run(lambda c: READS_BY_ID[second](c, key, other))
        ref_events, kit_events = map(personless_marked, twin.flag_events())
        assert kit_events == ref_events, event_differences(ref_events, kit_events)


@pytest.mark.parametrize("failed", [True, False], ids=["failed", "answered"])
@pytest.mark.parametrize("match_value", [None, True, "test"])
def test_payload_read_of_an_experiment_record_with_a_match_value(
    failed: bool, match_value: Any
) -> None:
    """A config-version-2 record the server marked failed reports its config version and
    reason code even when the read names a `match_value`; an answered one reports its rule
    only when the record, not the caller, supplied the value."""
    record = {**SPLIT, "failed": True} if failed else SPLIT
    answer = {"flags": {"exp": record}, "requestId": "req-1"}
    with Twin(remote=[Reply.json(answer)], local=False) as twin:
        ref, kit = twin.run(
            lambda c: c.get_feature_flag_payload(
                "exp", "user-1", match_value=match_value, send_feature_flag_events=True
            )
        )
        assert kit == ref
        ref_events, kit_events = twin.flag_events()
        assert kit_events == ref_events, event_differences(ref_events, kit_events)


@pytest.mark.parametrize("stored", ["1e309", "[-1e400, 1]", '{"big": 1e999}'])
def test_a_payload_number_beyond_a_double_reads_as_posthog_reads_it(stored: str) -> None:
    """JSON numbers too large for a double are JSON all the same (they read as infinite):
    the bulk getters keep the text, the other reads decode it, and the event's payload is
    what each SDK's encoder makes of infinity."""
    with Twin(definitions(flag("f0", payloads={"true": stored}))) as twin:
        reads: list[Callable[[Any], Any]] = [
            lambda c: c.get_all_flags_and_payloads("user-1"),
            lambda c: c.get_feature_flag_payload("f0", "user-1"),
            lambda c: c.get_feature_flag_result("f0", "user-1").payload,
            lambda c: c.evaluate_flags("user-1").get_flag_payload("f0"),
        ]
        for read in reads:
            ref, kit = twin.run(read)
            assert repr(kit) == repr(ref)
        ref_events, kit_events = twin.flag_events()
        assert kit_events == ref_events, event_differences(ref_events, kit_events)
        assert len(ref_events) >= 1


# `get_flags_decision` records as a server may write them: metadata and reasons empty,
# partial or full, in both record shapes; failed records with a payload; a number as the
# typed value (its own payload).
DECISION_RECORDS: list[dict[str, Any]] = [
    {
        "key": "a",
        "enabled": True,
        "variant": None,
        "metadata": {"version": 1, "has_experiment": False},
    },
    {"key": "b", "value": True, "metadata": {}, "reason": {}},
    {"key": "c", "value": "test", "metadata": {"id": 3, "has_experiment": True}},
    {"key": "d", "enabled": True, "variant": None, "metadata": {}, "reason": {}},
    {"key": "e", "enabled": True, "metadata": {"payload": '{"a": 1}'}, "failed": True},
    {"key": "f", "value": True, "metadata": {"payload": "[1]"}, "failed": True},
    {"key": "g", "value": 3, "metadata": {"payload": "ignored"}},
    {"key": "h", "enabled": True, "reason": {"code": None, "description": "d"}},
    {"key": "i", "value": False, "reason": {"code": None}, "metadata": {"description": None}},
]


@pytest.mark.parametrize("record", DECISION_RECORDS, ids=[r["key"] for r in DECISION_RECORDS])
def test_flags_decision_records_read_as_posthog_reads_them(record: dict[str, Any]) -> None:
    """Each record's reason and metadata (description, `has_experiment`, payload) as
    posthog's `get_flags_decision` shows them: present for a typed record whenever sent,
    for an older one when not empty; a failed record without its payload."""
    body = {"flags": {record["key"]: record}, "errorsWhileComputingFlags": False}
    with Twin(remote=[Reply.json(body)], local=False) as twin:
        ref, kit = twin.run(lambda c: decision_view(c.get_flags_decision("user-1")))
        assert kit == ref
