"""Experiment attribution in hogkit's own API: results, exposure identity, the minimal gate.

The events themselves are compared with posthog 7.91.1 in test_compat_experiments.py; these
tests pin what only hogkit has: `/flags?v=4` rule fields on `FlagResult`, what `--explain`
shows of them, the exposure identity, and the definitions' gate on a `FlagSet`.
"""

from __future__ import annotations

import datetime as dt
import json
import types
from typing import Any

import pytest
from hogkit.cli.format import rule_json, rule_lines
from hogkit.core import FlagSet
from hogkit.core.attribution import attribution_of
from hogkit.core.exposure import exposure_hash
from hogkit.core.flag_called import FlagCalled, groups_token, report_hash
from hogkit.core.remote import parse_flags_response
from hogkit.openfeature import HogkitProvider
from httpserver import LoopbackServer, Reply
from hypothesis import given, settings
from hypothesis import strategies as st
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from posthog.client import _rule_attribution_from_metadata as ref_rules
from twin import definitions, flag, flags_response

from hogkit import Client

RULE = "10000000-0000-4000-8000-000000000001"


def split_record(arm: str = "arm_a", **metadata: Any) -> dict[str, Any]:
    return {
        "key": "layout",
        "value": arm,
        "reason": {"code": "experiment_split", "description": "Assigned by experiment"},
        "metadata": {
            "id": 9,
            "version": 4,
            "payload": '{"columns": 3}',
            "config_version": 2,
            "has_experiment": True,
            "rule_type": "experiment",
            "rule_id": RULE,
            "experiment_id": 301,
            "variant_key": arm,
            **metadata,
        },
    }


def test_a_server_record_as_a_result_names_its_rule() -> None:
    record = parse_flags_response({"flags": {"layout": split_record()}}).flags["layout"]
    result = record.result()
    assert result is not None
    assert (result.value, result.payload, result.locally_evaluated) == (
        "arm_a",
        {"columns": 3},
        False,
    )
    assert (result.reason.kind, result.reason.detail) == (
        "experiment_split",
        "Assigned by experiment",
    )
    assert (result.config_version, result.rule_id, result.rule_type) == (2, RULE, "experiment")
    assert (result.experiment_id, result.variant_key) == (301, "arm_a")
    attribution = result.attribution
    assert attribution is not None and attribution.exposes
    assert attribution.properties()["$feature_flag_variant_key"] == "arm_a"


def test_a_failed_record_has_no_result() -> None:
    failed = {**split_record(), "failed": True}
    assert parse_flags_response({"flags": {"layout": failed}}).flags["layout"].result() is None


def test_a_local_result_has_no_rule() -> None:
    fs = FlagSet.from_document(definitions(flag("layout", 9)))
    snap = fs.evaluate("u", now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    result = snap.result("layout")
    assert result is not None and result.locally_evaluated
    assert result.config_version is None and result.attribution is None
    assert rule_lines(result) == [] and rule_json(result) == {}


def test_explain_lines_and_json_of_a_server_result() -> None:
    record = parse_flags_response({"flags": {"layout": split_record()}}).flags["layout"]
    result = record.result()
    assert result is not None
    assert rule_lines(result) == [
        "  config version: 2",
        f"  rule: experiment {RULE}",
        "  experiment: 301, arm 'arm_a'",
    ]
    assert rule_json(result) == {
        "config_version": 2,
        "rule_id": RULE,
        "rule_type": "experiment",
        "experiment_id": 301,
        "variant_key": "arm_a",
    }


def test_a_snapshot_result_comes_from_the_server_record(loopback: LoopbackServer) -> None:
    body = flags_response()
    body["flags"] = {"layout": split_record()}
    loopback.script("/flags/", then=Reply.json(body))
    client = Client("phc_x", host=loopback.url, sync_mode=True, enable_local_evaluation=False)
    try:
        flags = client.evaluate_flags("user-1")
        first = flags.result("layout")
        assert first is not None and first.rule_id == RULE and first.payload == {"columns": 3}
        first.payload["columns"] = 99  # the caller's copy
        again = flags.result("layout")
        assert again is not None and again.payload == {"columns": 3}
        assert flags.result("absent") is None
        assert flags.get_flag_payload_sent("layout") == '{"columns": 3}'
        assert flags.accessed == ()  # results are plain reads
    finally:
        client.shutdown()


def _called(key: str, value: Any, attribution_source: dict[str, Any]) -> FlagCalled:
    record = parse_flags_response({"flags": {key: attribution_source}}).flags[key]
    result = record.result()
    assert result is not None
    return FlagCalled(
        "u", key, value, None, False, None, None, None, "req-1", None, None, True, None, None,
        False, False, result.attribution,
    )  # fmt: skip


def test_exposure_identity_is_the_assignment_not_the_read() -> None:
    token = groups_token({"company": "acme", "team": 7})
    same = exposure_hash(token, _called("layout", "arm_a", split_record()))
    assert same != 0
    assert exposure_hash(groups_token({"team": 7, "company": "acme"}), _called(
        "layout", "arm_a", split_record()
    )) == same  # fmt: skip
    other_arm = exposure_hash(token, _called("layout", "arm_b", split_record("arm_b")))
    other_rule = exposure_hash(
        token, _called("layout", "arm_a", split_record(rule_id=RULE.replace("1", "2")))
    )
    assert len({same, other_arm, other_rule}) == 3
    targeting = {**split_record(), "reason": {"code": "targeting_match"}}
    assert exposure_hash(token, _called("layout", True, targeting)) == 0


def test_a_rule_changes_the_report_identity() -> None:
    plain = report_hash("", "layout", "arm_a")
    assert report_hash("", "layout", "arm_a", "(2, 'experiment_split')") != plain
    assert report_hash("", "layout", "arm_a", "") == plain


@pytest.mark.parametrize("as_text", [True, False])
def test_the_minimal_gate_of_a_definitions_document(as_text: bool) -> None:
    on = definitions(flag("a"), minimal_flag_called_events=True)
    off = definitions(flag("a"))
    build = (lambda d: FlagSet.from_json(json.dumps(d))) if as_text else FlagSet.from_document
    assert build(on).minimal_flag_called_events is True
    assert build(off).minimal_flag_called_events is False
    assert build({**on, "minimal_flag_called_events": "yes"}).minimal_flag_called_events is False
    assert build(on).fingerprint != build(off).fingerprint
    assert FlagSet.from_document([flag("a")]).minimal_flag_called_events is False


def test_the_gate_survives_a_malformed_flag() -> None:
    doc = definitions(flag("a"), {"key": "broken", "filters": 7}, minimal_flag_called_events=True)
    fs = FlagSet.from_document(doc)
    assert fs.minimal_flag_called_events is True and "a" in fs.keys


def test_the_openfeature_provider_shows_the_rule(loopback: LoopbackServer) -> None:
    body = flags_response()
    body["flags"] = {"layout": split_record()}
    loopback.script("/flags/", then=Reply.json(body))
    client = Client("phc_x", host=loopback.url, sync_mode=True, enable_local_evaluation=False)
    try:
        api.set_provider_and_wait(HogkitProvider(client), "experiments")
        details = api.get_client("experiments").get_string_details(
            "layout", "none", EvaluationContext("user-1")
        )
        assert details.value == "arm_a"
        meta = details.flag_metadata
        assert meta["evaluated_locally"] is False and meta["hogkit_reason"] == "experiment_split"
        assert (meta["config_version"], meta["rule_id"], meta["rule_type"]) == (
            2,
            RULE,
            "experiment",
        )
        assert (meta["experiment_id"], meta["variant_key"]) == (301, "arm_a")
    finally:
        api.clear_providers()
        client.shutdown()


REASON_CODES = [
    "targeting_match",
    "experiment_split",
    "rollout_miss",
    "experiment_paused",
    "holdout",
    "condition_match",
    "brand_new",
    "",
    None,
]
RULE_IDS = [RULE, RULE.upper(), "rule-7", f"{{{RULE}}}", f"{RULE}\n", "", None, 7]
RULE_TYPES = ["experiment", "targeted_release", "percentage_rollout", "other", None]
VARIANT_KEYS = ["arm_a", "", None, 3]


@settings(max_examples=300)
@given(
    st.sampled_from(REASON_CODES),
    st.booleans(),
    st.sampled_from(RULE_IDS),
    st.sampled_from(RULE_TYPES),
    st.sampled_from(VARIANT_KEYS),
)
def test_attribution_rules_agree_with_the_reference(
    code: str | None, failed: bool, rule_id: Any, rule_type: Any, variant_key: Any
) -> None:
    """The reference's own rule function, fed the same record fields."""
    details = types.SimpleNamespace(failed=failed)
    metadata = types.SimpleNamespace(rule_id=rule_id, rule_type=rule_type, variant_key=variant_key)
    expected = ref_rules(details, metadata, code or None)
    found = attribution_of(
        2, code, failed=failed, rule_id=rule_id, rule_type=rule_type, variant_key=variant_key
    )
    assert found is not None
    assert (found.reason_code, found.rule_id, found.rule_type, found.variant_key) == tuple(expected)
    assert found.properties() == expected.flag_called_properties()
    for version in (1, None, "2", True):
        assert attribution_of(
            version, code, failed=failed, rule_id=rule_id, rule_type=rule_type,
            variant_key=variant_key,
        ) is None  # fmt: skip
