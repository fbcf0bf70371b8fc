"""Flag reads side by side with posthog 7.91.1 over real HTTP: values, payloads, errors, events.

Each test performs the same read on both SDKs (see `twin.py`) and asks for equal return values
and equal flag events; the expectation is always what the reference did in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from httpserver import Reply
from twin import (
    DEFS,
    Twin,
    definitions,
    event_differences,
    flag,
    flags_response,
    person_rule,
    record,
    snapshot_reads,
)

LOCAL_ON = flag("local-on", 1, payloads={"true": '{"data": "payload1"}'})
LOCAL_NUMBER = flag("local-number", 2, payloads={"true": "100"})
LOCAL_NOT_JSON = flag("local-not-json", 3, payloads={"true": "not json {"})
NEEDS_SERVER = flag(
    "needs-server",
    4,
    groups=[{"properties": [person_rule("plan", "pro")], "rollout_percentage": 100}],
)
MULTI = flag(
    "multi",
    5,
    multivariate={
        "variants": [
            {"key": "arm-a", "rollout_percentage": 100},
            {"key": "arm-b", "rollout_percentage": 0},
        ]
    },
    payloads={"arm-a": '{"arm": "a"}', "arm-b": '{"arm": "b"}'},
)

DOC = definitions(LOCAL_ON, LOCAL_NUMBER, LOCAL_NOT_JSON, NEEDS_SERVER, MULTI)

SERVER_ANSWER = flags_response(
    record("local-on", "variant-1", fid=1, payload='{"from": "server"}'),
    record("needs-server", True, fid=4),
)


def result_view(result: Any) -> Any:
    """A `get_feature_flag_result` answer as plain data."""
    if result is None:
        return None
    return (result.key, result.enabled, result.variant, result.payload, result.reason)


SINGLE_READS: dict[str, Callable[[Any, str], Any]] = {
    "get_feature_flag": lambda c, key: c.get_feature_flag(key, "user-1"),
    "feature_enabled": lambda c, key: c.feature_enabled(key, "user-1"),
    "get_feature_flag_result": lambda c, key: result_view(c.get_feature_flag_result(key, "user-1")),
    "get_feature_flag_payload": lambda c, key: c.get_feature_flag_payload(
        key, "user-1", send_feature_flag_events=True
    ),
    "evaluate_flags": lambda c, key: snapshot_reads(c.evaluate_flags("user-1"), [key]),
}


def assert_same_read(twin: Twin, read: Callable[[Any], Any]) -> None:
    ref, kit = twin.run(read)
    assert kit == ref, f"returned: reference {ref!r}, hogkit {kit!r}"
    ref_events, kit_events = twin.flag_events()
    assert kit_events == ref_events, event_differences(ref_events, kit_events)


# ---------------------------------------------------------------- 1: the reason on local reads


@pytest.mark.parametrize("method", sorted(SINGLE_READS))
@pytest.mark.parametrize("key", ["local-on", "multi"])
def test_locally_evaluated_read_sends_the_reference_event(method: str, key: str) -> None:
    with Twin(DOC, [Reply.json(SERVER_ANSWER)]) as twin:
        assert_same_read(twin, lambda c: SINGLE_READS[method](c, key))


SERVER_REASONS = {
    "described": {"code": "condition_match", "description": "Matched condition set 1"},
    "code only": {"code": "condition_match"},
    "none": None,
}


@pytest.mark.parametrize("method", sorted(SINGLE_READS))
@pytest.mark.parametrize("reason", list(SERVER_REASONS))
def test_server_read_sends_the_reference_reason(method: str, reason: str) -> None:
    """A flag decided by `/flags` reports the record's reason description, when it has one."""
    answer = flags_response(
        {**record("needs-server", True, fid=4), "reason": SERVER_REASONS[reason]}
    )
    with Twin(DOC, [Reply.json(answer)]) as twin:
        assert_same_read(twin, lambda c: SINGLE_READS[method](c, "needs-server"))


# ---------------------------------------------------------------- 2: error text when /flags fails

FAILURES: dict[str, Callable[[], Reply]] = {
    "timeout": lambda: Reply(200, b"{}", delay=0.8),
    "api_error_500": lambda: Reply(500, b'{"detail": "boom"}'),
    "connection_error": Reply.reset,
    "quota_limited": lambda: Reply.json({**flags_response(), "quotaLimited": ["feature_flags"]}),
    "unknown_error": lambda: Reply(200, b"this is not json", {"Content-Type": "application/json"}),
    "errors_while_computing": lambda: Reply.json(
        flags_response(record("other", True), errorsWhileComputingFlags=True)
    ),
    "evaluation_failed": lambda: Reply.json(
        flags_response({**record("needs-server", False, fid=4), "failed": True})
    ),
    "quota_limited_with_errors": lambda: Reply.json(
        {
            **flags_response(record("other", True), errorsWhileComputingFlags=True),
            "quotaLimited": ["feature_flags"],
        }
    ),
    "evaluation_failed_with_errors": lambda: Reply.json(
        flags_response(
            {**record("needs-server", False, fid=4), "failed": True},
            errorsWhileComputingFlags=True,
        )
    ),
}


def _timeout_for(failure: str) -> float:
    """A short request timeout where the server is scripted to be slow (keeps the run short)."""
    return 0.15 if failure == "timeout" else 0.4


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("method", sorted(SINGLE_READS))
def test_error_text_for_a_flag_that_needs_the_server(failure: str, method: str) -> None:
    with Twin(DOC, [FAILURES[failure]()], flags_timeout=_timeout_for(failure)) as twin:
        assert_same_read(twin, lambda c: SINGLE_READS[method](c, "needs-server"))


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("method", sorted(SINGLE_READS))
def test_error_text_for_an_unknown_flag_without_local_evaluation(failure: str, method: str) -> None:
    with Twin(
        remote=[FAILURES[failure]()], local=False, flags_timeout=_timeout_for(failure)
    ) as twin:
        assert_same_read(twin, lambda c: SINGLE_READS[method](c, "anything"))


# ---------------------------------------------------------------- 3 and 4: all flags at once


@pytest.mark.parametrize("method", ["get_all_flags", "get_all_flags_and_payloads"])
def test_all_flags_when_one_flag_needs_the_server(method: str) -> None:
    with Twin(DOC, [Reply.json(SERVER_ANSWER)]) as twin:
        assert_same_read(twin, lambda c: getattr(c, method)("user-1"))


@pytest.mark.parametrize(
    "failure", ["timeout", "api_error_500", "quota_limited", "unknown_error", "evaluation_failed"]
)
@pytest.mark.parametrize("method", ["get_all_flags", "get_all_flags_and_payloads"])
def test_all_flags_when_the_server_fails(method: str, failure: str) -> None:
    """A request that fails (or a quota-limited answer) leaves the local results standing."""
    with Twin(DOC, [FAILURES[failure]()], flags_timeout=_timeout_for(failure)) as twin:
        assert_same_read(twin, lambda c: getattr(c, method)("user-1"))


@pytest.mark.parametrize("method", ["get_all_flags", "get_all_flags_and_payloads"])
def test_all_flags_when_the_server_failed_a_locally_decided_flag(method: str) -> None:
    """The server's answer wins, except for a flag it failed: that one keeps its local
    value and payload."""
    answer = flags_response(
        {**record("local-on", False, fid=1), "failed": True}, record("needs-server", True, fid=4)
    )
    with Twin(DOC, [Reply.json(answer)]) as twin:
        assert_same_read(twin, lambda c: getattr(c, method)("user-1"))


# A flag whose rollout is text: posthog-python fails on it, leaves it out of its local
# answer, and asks the server for every flag, whose answer then wins as it would for a flag
# that needs the server.
BROKEN_ROLLOUT = {
    "id": 6,
    "key": "broken-rollout",
    "active": True,
    "filters": {"groups": [{"properties": [], "rollout_percentage": "50"}]},
}
BROKEN_DOC = definitions(LOCAL_ON, BROKEN_ROLLOUT, MULTI)
BROKEN_ANSWER = flags_response(
    record("local-on", False, fid=1), record("broken-rollout", True, fid=6)
)
BROKEN_READS: dict[str, Callable[[Any], Any]] = {
    "get_all_flags": lambda c: c.get_all_flags("user-1"),
    "get_all_flags_and_payloads": lambda c: c.get_all_flags_and_payloads("user-1"),
    "evaluate_flags": lambda c: snapshot_reads(
        c.evaluate_flags("user-1"), ["local-on", "broken-rollout", "multi"]
    ),
    "local only": lambda c: c.get_all_flags("user-1", only_evaluate_locally=True),
}


@pytest.mark.parametrize("read", sorted(BROKEN_READS))
def test_all_flags_when_local_evaluation_fails_on_a_flag(read: str) -> None:
    with Twin(BROKEN_DOC, [Reply.json(BROKEN_ANSWER)]) as twin:
        assert_same_read(twin, BROKEN_READS[read])
        asked = len(twin.requests("/flags/", "kit"))
        assert asked == len(twin.requests("/flags/", "ref"))
        assert asked == (0 if read == "local only" else 1)


# Payloads as definitions may hold them: JSON text (spaced, a decimal with a trailing zero,
# an integer beyond a double, null), JSON values, and text that is not JSON.
STORED_PAYLOADS = {
    "spaced": '{"ok": true}',
    "decimal": "1.10",
    "big": "12345678901234567890123",
    "null": "null",
    "object": {"ok": True},
    "number": 7,
    "list": [1, "x"],
    "not-json": "not json",
}
STORED = definitions(
    *(flag(key, i, payloads={"true": p}) for i, (key, p) in enumerate(STORED_PAYLOADS.items(), 1))
)

PAYLOAD_READS: dict[str, Callable[[Any], Any]] = {
    "get_all_flags_and_payloads": lambda c: c.get_all_flags_and_payloads("user-1"),
    "get_feature_flag_payload": lambda c: [
        c.get_feature_flag_payload(key, "user-1") for key in STORED_PAYLOADS
    ],
    "get_feature_flag_result": lambda c: [
        result_view(c.get_feature_flag_result(key, "user-1")) for key in STORED_PAYLOADS
    ],
    "evaluate_flags": lambda c: snapshot_reads(c.evaluate_flags("user-1"), list(STORED_PAYLOADS)),
}


@pytest.mark.parametrize("read", sorted(PAYLOAD_READS))
def test_payloads_as_stored_in_the_definitions(read: str) -> None:
    with Twin(STORED, [Reply(500)]) as twin:
        assert_same_read(twin, PAYLOAD_READS[read])


@pytest.mark.parametrize("read", sorted(PAYLOAD_READS))
def test_payloads_as_the_server_sends_them(read: str) -> None:
    answer = flags_response(
        *(
            record(key, True, fid=i, payload=p)
            for i, (key, p) in enumerate(STORED_PAYLOADS.items(), 1)
        )
    )
    with Twin(remote=[Reply.json(answer)], local=False) as twin:
        assert_same_read(twin, PAYLOAD_READS[read])


@pytest.mark.parametrize("method", ["get_all_flags", "get_all_flags_and_payloads"])
def test_all_flags_evaluated_locally(method: str) -> None:
    doc = definitions(LOCAL_ON, LOCAL_NUMBER, LOCAL_NOT_JSON, MULTI)
    with Twin(doc, [Reply(500)]) as twin:
        assert_same_read(twin, lambda c: getattr(c, method)("user-1"))


def test_all_flags_and_payloads_only_locally() -> None:
    with Twin(DOC, [Reply.json(SERVER_ANSWER)]) as twin:
        assert_same_read(
            twin, lambda c: c.get_all_flags_and_payloads("user-1", only_evaluate_locally=True)
        )


VALUE_PAYLOADS = flags_response(
    # A number or object `value` is the flag's own payload, whatever its metadata carries.
    {"key": "count", "value": 5, "metadata": {"id": 1, "payload": '"ignored"'}},
    {"key": "shape", "value": {"a": "é", "b": [1, 2.5]}, "metadata": {"id": 2}},
    {"key": "arm", "value": "v", "metadata": {"id": 3, "payload": '{"x": 1}'}},
    {"key": "on", "value": True, "metadata": {"id": 4, "payload": {"raw": "object"}}},
    {"key": "down", "value": True, "failed": True, "metadata": {"id": 5, "payload": "2"}},
)


@pytest.mark.parametrize(
    "method",
    ["get_all_flags_and_payloads", "get_feature_payloads", "get_feature_flags_and_payloads"],
)
def test_bulk_payloads_of_values_that_are_payloads(method: str) -> None:
    with Twin(remote=[Reply.json(VALUE_PAYLOADS)], local=False) as twin:
        assert_same_read(twin, lambda c: getattr(c, method)("user-1"))


# ---------------------------------------------------------------- 5: payload for a chosen value


@pytest.mark.parametrize("match_value", ["arm-a", "arm-b", True, "no-such-arm"])
def test_payload_for_a_match_value(match_value: Any) -> None:
    with Twin(DOC, [Reply.json(SERVER_ANSWER)]) as twin:
        assert_same_read(
            twin, lambda c: c.get_feature_flag_payload("multi", "user-1", match_value=match_value)
        )


def test_payload_for_a_match_value_of_a_boolean_flag() -> None:
    with Twin(DOC, [Reply.json(SERVER_ANSWER)]) as twin:
        assert_same_read(
            twin, lambda c: c.get_feature_flag_payload("local-on", "user-1", match_value=True)
        )


# ---------------------------------------------------------------- 7: unencodable person properties


@pytest.mark.parametrize("method", sorted(SINGLE_READS))
def test_lone_surrogate_in_person_properties(method: str) -> None:
    answer = flags_response(record("needs-server", True, fid=4), record("local-on", True, fid=1))
    props = {"nickname": "\ud800"}

    def read(c: Any) -> Any:
        if method == "evaluate_flags":
            flags = c.evaluate_flags("user-1", person_properties=props)
            return snapshot_reads(flags, ["needs-server", "local-on"])
        if method == "get_feature_flag_result":
            return result_view(
                c.get_feature_flag_result("needs-server", "user-1", person_properties=props)
            )
        return getattr(c, method)("needs-server", "user-1", person_properties=props)

    with Twin(DOC, [Reply.json(answer)]) as twin:
        assert_same_read(twin, read)
        assert len(twin.requests("/flags/", "kit")) == len(twin.requests("/flags/", "ref")) >= 1


@pytest.mark.parametrize("method", ["get_all_flags", "get_all_flags_and_payloads"])
@pytest.mark.parametrize(
    "where",
    [
        {"person_properties": {"nickname": "\ud800"}},
        {"groups": {"company": "\udc00"}, "group_properties": {"company": {"n": "\ud800"}}},
    ],
    ids=["person", "group"],
)
def test_lone_surrogate_in_a_bulk_read(method: str, where: dict[str, Any]) -> None:
    answer = flags_response(record("needs-server", True, fid=4), record("local-on", True, fid=1))
    with Twin(DOC, [Reply.json(answer)]) as twin:
        assert_same_read(twin, lambda c: getattr(c, method)("user-1", **where))
        assert len(twin.requests("/flags/", "kit")) == len(twin.requests("/flags/", "ref")) >= 1


# ---------------------------------------------------------------- 8: 304 with a new ETag


def etags_sent_over_loads(twin: Twin, loads: int) -> dict[str, list[str | None]]:
    """Each SDK's `If-None-Match` per definitions request, after `loads` explicit loads."""
    for _ in range(loads):
        twin.run(lambda c: c.load_feature_flags())
    return {
        sdk: [r.headers.get("if-none-match") for r in twin.requests(DEFS, sdk)]
        for sdk in ("ref", "kit")
    }


@pytest.mark.parametrize("new_etag", ['"gen-2"', None])
def test_the_etag_sent_after_a_304(new_etag: str | None) -> None:
    """A 304 naming a new ETag replaces the stored one; a 304 naming none keeps it."""
    not_modified = Reply(304, b"", {"ETag": new_etag} if new_etag else {})
    replies = [Reply.json(DOC, headers={"ETag": '"gen-1"'}), not_modified, not_modified]
    with Twin(DOC, definition_replies=replies) as twin:
        sent = etags_sent_over_loads(twin, 3)
        assert len(sent["ref"]) >= 3
        assert sent["kit"][:3] == sent["ref"][:3]
        # The definitions stay in use after the 304s.
        assert_same_read(twin, lambda c: c.get_all_flags("user-1", only_evaluate_locally=True))


def test_the_etag_after_a_reply_without_one() -> None:
    """A 200 without an ETag leaves none stored; a 304 then keeps that (none)."""
    replies = [Reply.json(DOC, headers={"ETag": '"gen-1"'}), Reply.json(DOC), Reply(304, b"")]
    with Twin(DOC, definition_replies=replies) as twin:
        sent = etags_sent_over_loads(twin, 4)
        assert len(sent["ref"]) >= 4
        assert sent["kit"][:4] == sent["ref"][:4]
