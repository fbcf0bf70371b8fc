"""Experiments and `/flags?v=4` attribution side by side with posthog 7.91.1 over real HTTP.

Covers `$experiment_exposure`, the config-version-2 attribution properties on
`$feature_flag_called`, payload text as the server wrote it, pathological payloads and minimal
flag-called events. Every expectation is what the reference did with the same input.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hogkit.core.flag_called import FlagCalled
from hogkit.core.remote import parse_flags_response
from httpserver import Reply
from twin import Twin, definitions, event_differences, flag, flags_response, person_rule

RULE = "10000000-0000-4000-8000-000000000001"
OTHER_RULE = "20000000-0000-4000-8000-000000000002"


def v4(key: str, value: Any, reason: str | None, fid: int = 201, **metadata: Any) -> dict[str, Any]:
    """A typed `/flags?v=4` record (`value` plus reason and metadata)."""
    out: dict[str, Any] = {
        "key": key,
        "value": value,
        "metadata": {"id": fid, "version": 7, **metadata},
    }
    if reason is not None:
        out["reason"] = {"code": reason}
    return out


def experiment_split(key: str = "garden-layout", arm: str = "arm_a", **overrides: Any) -> Any:
    meta = {
        "config_version": 2,
        "has_experiment": True,
        "rule_type": "experiment",
        "rule_id": RULE,
        "experiment_id": 301,
        "variant_key": arm,
        **overrides,
    }
    return v4(key, arm, "experiment_split", **meta)


RECORDS: dict[str, dict[str, Any]] = {
    "experiment_split": experiment_split(),
    "experiment_split_empty_variant_key": experiment_split(variant_key=""),
    "experiment_split_no_variant_key": experiment_split(variant_key=None),
    "experiment_split_rule_id_not_uuid": experiment_split(rule_id="rule-7"),
    "experiment_split_wrong_rule_type": experiment_split(rule_type="targeted_release"),
    "experiment_split_config_v1": experiment_split(config_version=1),
    "experiment_split_no_config_version": experiment_split(config_version=None),
    "targeting_match": v4(
        "garden-layout",
        True,
        "targeting_match",
        config_version=2,
        has_experiment=False,
        rule_type="targeted_release",
        rule_id=OTHER_RULE,
    ),
    "targeting_match_experiment_rule": v4(
        "garden-layout",
        True,
        "targeting_match",
        config_version=2,
        has_experiment=True,
        rule_type="experiment",
        rule_id=RULE,
    ),
    "rollout_miss": v4(
        "garden-layout",
        False,
        "rollout_miss",
        config_version=2,
        rule_type="percentage_rollout",
        rule_id=OTHER_RULE,
    ),
    "holdout": v4(
        "garden-layout",
        "control",
        "holdout",
        config_version=2,
        has_experiment=True,
        rule_type="experiment",
        rule_id=RULE,
        variant_key="control",
    ),
    "experiment_paused": v4(
        "garden-layout",
        False,
        "experiment_paused",
        config_version=2,
        has_experiment=True,
        rule_type="experiment",
        rule_id=RULE,
    ),
    "unknown_reason": v4("garden-layout", True, "brand_new_reason", config_version=2),
    "no_reason": v4("garden-layout", True, None, config_version=2),
    "failed_v2": {
        **v4(
            "garden-layout",
            None,
            "evaluation_failed",
            config_version=2,
            rule_id=RULE,
            rule_type="experiment",
            variant_key="arm_a",
        ),
        "failed": True,
    },
    "failed_v1": {**v4("garden-layout", None, "evaluation_failed"), "failed": True},
    "config_v1": v4("garden-layout", "arm_a", "condition_match", has_experiment=True),
    "config_v2_condition_match": v4("garden-layout", "arm_a", "condition_match", config_version=2),
}


def answer(rec: dict[str, Any], **extra: Any) -> Reply:
    body = flags_response(**extra)
    body["flags"] = {rec["key"]: rec}
    return Reply.json(body)


def result_view(result: Any) -> Any:
    if result is None:
        return None
    return (result.key, result.enabled, result.variant, result.payload, result.reason)


# Every read of one flag the deprecated API and a snapshot offer, each as `read(client, key)`.
READS: dict[str, Callable[[Any, str], Any]] = {
    "snapshot.get_flag": lambda c, k: c.evaluate_flags("user-1").get_flag(k),
    "snapshot.is_enabled": lambda c, k: c.evaluate_flags("user-1").is_enabled(k),
    "snapshot.is_enabled_default": lambda c, k: c.evaluate_flags("user-1").is_enabled(
        k, default_value=True
    ),
    "snapshot.get_flag_payload": lambda c, k: c.evaluate_flags("user-1").get_flag_payload(k),
    "get_feature_flag": lambda c, k: c.get_feature_flag(k, "user-1"),
    "feature_enabled": lambda c, k: c.feature_enabled(k, "user-1"),
    "get_feature_flag_payload": lambda c, k: c.get_feature_flag_payload(
        k, "user-1", send_feature_flag_events=True
    ),
    "get_feature_flag_result": lambda c, k: result_view(c.get_feature_flag_result(k, "user-1")),
}


def assert_same(twin: Twin, read: Callable[[Any], Any], *, all_events: bool = False) -> None:
    ref, kit = twin.run(read)
    assert kit == ref, f"returned: reference {ref!r}, hogkit {kit!r}"
    if all_events:
        ref_events, kit_events = twin.ref_events(), twin.kit_events()
    else:
        ref_events, kit_events = twin.flag_events()
    assert kit_events == ref_events, event_differences(ref_events, kit_events)


# ---------------------------------------------------------------- events of every read, deduped


@pytest.mark.parametrize("read", sorted(READS))
@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_events_of_a_remote_read_and_of_repeating_it(kind: str, read: str) -> None:
    """Each read twice, then once more for another user: every event each SDK sends."""

    def three_reads(client: Any) -> list[Any]:
        fn = READS[read]
        first, second = fn(client, "garden-layout"), fn(client, "garden-layout")
        other = READS[read](_for_user(client, "user-2"), "garden-layout")
        return [first, second, other]

    with Twin(remote=[answer(RECORDS[kind])], local=False) as twin:
        assert_same(twin, three_reads)


class _for_user:
    """A client whose reads use another distinct id (the READS table fixes "user-1")."""

    def __init__(self, client: Any, distinct_id: str) -> None:
        self._client = client
        self._id = distinct_id

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(self._id if a == "user-1" else a for a in args)
            return method(*args, **kwargs)

        return call


def test_exposure_dedup_across_the_snapshot_and_the_deprecated_api() -> None:
    def reads(client: Any) -> list[Any]:
        flags = client.evaluate_flags("user-1")
        return [
            flags.get_flag("garden-layout"),
            flags.get_flag("garden-layout"),
            client.get_feature_flag("garden-layout", "user-1"),
            client.evaluate_flags("user-1").get_flag("garden-layout"),
            client.get_feature_flag("garden-layout", "user-1", groups={"company": "acme"}),
        ]

    with Twin(remote=[answer(RECORDS["experiment_split"])], local=False) as twin:
        assert_same(twin, reads)
        ref_events, _ = twin.flag_events()
        assert "$experiment_exposure" in [e["event"] for e in ref_events]


def test_a_new_arm_is_a_new_exposure() -> None:
    replies = [answer(experiment_split(arm="arm_a")), answer(experiment_split(arm="arm_b"))]

    def reads(client: Any) -> list[Any]:
        return [client.evaluate_flags("user-1").get_flag("garden-layout") for _ in range(2)]

    with Twin(remote=replies, local=False) as twin:
        assert_same(twin, reads)


def test_exposure_with_super_properties_and_capture_of_flags() -> None:
    def reads(client: Any) -> list[Any]:
        flags = client.evaluate_flags("user-1")
        value = flags.get_flag("garden-layout")
        client.capture("checkout", distinct_id="user-1", flags=flags)
        return [value]

    with Twin(
        remote=[answer(RECORDS["experiment_split"])],
        local=False,
        super_properties={
            "$feature_flag_config_version": 9,
            "$feature_flag_rule_id": "x",
            "app": "shop",
        },
    ) as twin:
        assert_same(twin, reads, all_events=True)


def test_a_remote_fallback_from_local_evaluation_sends_the_exposure() -> None:
    doc = definitions(
        flag(
            "garden-layout",
            201,
            groups=[{"properties": [person_rule("plan", "pro")], "rollout_percentage": 100}],
        )
    )
    with Twin(doc, [answer(RECORDS["experiment_split"])]) as twin:
        assert_same(twin, lambda c: READS["snapshot.get_flag"](c, "garden-layout"))
        assert len(twin.requests("/flags/", "ref")) == 1


@pytest.mark.parametrize("hook", ["drops_flag_called", "drops_exposure", "raises"])
def test_before_send_and_the_dedup_of_both_events(hook: str) -> None:
    """A dropped event keeps its dedup key (the hook would drop it again); a hook that
    raises frees it, so the next read offers the event again."""
    seen: dict[str, list[str]] = {"ref": [], "kit": []}

    def make(who: str) -> Callable[[Any], Any]:
        def before_send(message: Any) -> Any:
            name = message["event"]
            seen[who].append(name)
            if hook == "raises" and name == "$experiment_exposure":
                raise RuntimeError("hook failed")
            if {"drops_flag_called": "$feature_flag_called"}.get(hook) == name:
                return None
            if {"drops_exposure": "$experiment_exposure"}.get(hook) == name:
                return None
            return message

        return before_send

    with Twin(remote=[answer(RECORDS["experiment_split"])], local=False) as twin:
        twin.ref.before_send = make("ref")
        twin.kit.before_send = make("kit")
        assert_same(twin, lambda c: [READS["snapshot.get_flag"](c, "garden-layout") for _ in "abc"])
        assert seen["kit"] == seen["ref"]


def test_a_read_reported_outside_a_snapshot_sends_what_the_reference_sends() -> None:
    """`FlagService.report`, the entry point for reads that build their own facts, gives the
    reference's events for the same record (the older getters report through it)."""
    reply = answer(RECORDS["experiment_split"])
    body = json.loads(reply.body)
    record = parse_flags_response(body).flags["garden-layout"]

    def read(client: Any) -> Any:
        if client is not twin.kit:
            return [client.get_feature_flag("garden-layout", "user-1") for _ in "ab"]
        called = FlagCalled(
            "user-1", "garden-layout", record.value, record.payload, False, record.id,
            record.version, record.reason_description, body["requestId"], body["evaluatedAt"],
            None, record.has_experiment, None, None, False, False, record.attribution,
        )  # fmt: skip
        for _ in "ab":
            client.flag_service.report(called)
        return [record.value] * 2

    with Twin(remote=[reply], local=False) as twin:
        assert_same(twin, read)
        assert [e["event"] for e in twin.flag_events()[1]] == [
            "$feature_flag_called",
            "$experiment_exposure",
        ]


# ---------------------------------------------------------------- payload text

# Text as the server wrote it, plus values stored already decoded (an object, a number).
PAYLOAD_TEXTS: dict[str, Any] = {
    "object_with_spaces": '{"ok": true}',
    "object_compact": '{"ok":true}',
    "object_odd_spacing": '{ "a" :  [1,  2.50, 1e3] , "b": null }',
    "integer": "42",
    "float_text": "1.10",
    "string": '"hello"',
    "bare_text": "hello world",
    "invalid_json": '{"unterminated": ',
    "unicode": '{"name": "caf\\u00e9", "emoji": "\U0001f600"}',
    "deeply_nested": "[" * 60 + "]" * 60,
    "nested_objects": '{"a": {"b": {"c": {"d": [1, {"e": "f"}]}}}}',
    "stored_object": {"data": "payload1"},
    "stored_number": 100,
}


@pytest.mark.parametrize("shape", sorted(PAYLOAD_TEXTS))
@pytest.mark.parametrize(
    "read",
    ["snapshot.get_flag_payload", "get_feature_flag_payload", "get_all_flags_and_payloads"],
)
def test_remote_payload_text(shape: str, read: str) -> None:
    rec = v4("garden-layout", True, "condition_match", payload=PAYLOAD_TEXTS[shape])
    with Twin(remote=[answer(rec)], local=False) as twin:
        assert_same(twin, lambda c: _payload_read(c, read))


@pytest.mark.parametrize("shape", sorted(PAYLOAD_TEXTS))
@pytest.mark.parametrize(
    "read",
    ["snapshot.get_flag_payload", "get_feature_flag_payload", "get_all_flags_and_payloads"],
)
def test_local_payload_text(shape: str, read: str) -> None:
    doc = definitions(flag("garden-layout", 201, payloads={"true": PAYLOAD_TEXTS[shape]}))
    with Twin(doc, [Reply(500)]) as twin:
        assert_same(twin, lambda c: _payload_read(c, read))


def _payload_read(client: Any, read: str) -> Any:
    if read == "get_all_flags_and_payloads":
        return client.get_all_flags_and_payloads("user-1")
    if read == "get_feature_flag_payload":
        return client.get_feature_flag_payload("garden-layout", "user-1")
    return client.evaluate_flags("user-1").get_flag_payload("garden-layout")


# ---------------------------------------------------------------- a pathological payload


@pytest.mark.parametrize("method", ["get_all_flags", "get_all_flags_and_payloads"])
def test_a_pathological_payload_does_not_hide_the_other_flags(method: str) -> None:
    doc = definitions(
        flag("deep", 1, payloads={"true": "[" * 20_000}),
        flag("plain", 2, payloads={"true": '{"ok": true}'}),
        flag("also-plain", 3),
    )
    with Twin(doc, [Reply(500)]) as twin:
        ref, kit = twin.run(lambda c: getattr(c, method)("user-1"))
        assert kit == ref
        flags = ref if method == "get_all_flags" else ref["featureFlags"]
        assert {"plain", "also-plain"} <= set(flags)


# ---------------------------------------------------------------- minimal flag-called events


MINIMAL_REMOTE: dict[str, dict[str, Any]] = {
    "v1_no_experiment": v4("garden-layout", True, "condition_match", has_experiment=False),
    "v1_experiment": v4("garden-layout", "arm_a", "condition_match", has_experiment=True),
    "v1_unknown": v4("garden-layout", True, "condition_match"),
    "v2_targeting": RECORDS["targeting_match"],
    "v2_split": RECORDS["experiment_split"],
}


@pytest.mark.parametrize("read", ["snapshot.get_flag", "get_feature_flag"])
@pytest.mark.parametrize("kind", sorted(MINIMAL_REMOTE))
def test_minimal_flag_called_events_from_a_remote_answer(kind: str, read: str) -> None:
    reply = answer(MINIMAL_REMOTE[kind], minimalFlagCalledEvents=True)
    with Twin(remote=[reply], local=False, super_properties={"app": "shop", "tier": 2}) as twin:
        assert_same(twin, lambda c: READS[read](c, "garden-layout"))


@pytest.mark.parametrize("read", ["snapshot.get_flag", "get_feature_flag", "feature_enabled"])
@pytest.mark.parametrize("has_experiment", [False, True, None])
def test_minimal_flag_called_events_from_local_definitions(
    has_experiment: bool | None, read: str
) -> None:
    definition = flag("garden-layout", 201)
    if has_experiment is not None:
        definition["has_experiment"] = has_experiment
    doc = definitions(definition, minimal_flag_called_events=True)
    with Twin(doc, [Reply(500)], super_properties={"app": "shop", "tier": 2}) as twin:
        assert_same(twin, lambda c: READS[read](c, "garden-layout"))


def test_concurrent_reads_of_one_assignment_send_each_event_once() -> None:
    """Eight threads read the same experiment split at once, through both APIs."""

    def reads(client: Any) -> list[Any]:
        flags = client.evaluate_flags("user-1")
        barrier = threading.Barrier(8)
        results: list[Any] = [None] * 8

        def read(i: int) -> None:
            barrier.wait(timeout=5)
            if i % 2:
                results[i] = flags.get_flag("garden-layout")
            else:
                results[i] = client.get_feature_flag("garden-layout", "user-1")

        threads = [threading.Thread(target=read, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        return results

    with Twin(remote=[answer(RECORDS["experiment_split"])], local=False) as twin:
        ref, kit = twin.run(reads)
        assert kit == ref
        # Which thread sends first is a race in both SDKs (the reference itself sends the
        # exposure before or after the flag-called event from run to run): the events sent,
        # each once, are compared, not their order.
        ref_events, kit_events = (sorted(e, key=lambda x: x["event"]) for e in twin.flag_events())
        assert kit_events == ref_events, event_differences(ref_events, kit_events)
        assert [e["event"] for e in ref_events] == ["$experiment_exposure", "$feature_flag_called"]
