"""The OpenFeature provider against every conformance case.

For each case the provider resolves every flag of the case's definitions for the case's
person, and must give what `Client.evaluate_flags` gives for the same arguments: the same
value (booleans through the boolean resolver, variants through the string resolver), the
variant, and an OpenFeature reason that this test derives on its own from the raw JSON
definition and hogkit's reason kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hogkit.openfeature import HogkitProvider
from hogkit.testing import CaptureSink
from hogkit.transport.client import Client
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

HERE = Path(__file__).resolve().parent / "conformance"
FILES = sorted(p for p in HERE.glob("*.json") if p.name != "case.schema.json")

_SPLIT_KINDS = {"out_of_rollout", "early_exit", "holdout"}
_DEFAULT_KINDS = {"no_condition_match", "no_conditions", "group_not_provided", "condition_skipped"}


def _expected_reason(
    definition: Mapping[str, Any], kind: str, index: int | None, on: bool
) -> Reason:
    """The reason the provider must report, from the flag's raw JSON."""
    if kind == "flag_inactive":
        return Reason.DISABLED
    if kind in _SPLIT_KINDS:
        return Reason.SPLIT
    if kind in _DEFAULT_KINDS:
        return Reason.DEFAULT
    if kind == "feature_enrollment":
        return Reason.TARGETING_MATCH if on else Reason.DEFAULT
    assert kind == "condition_match", kind
    filters = definition.get("filters") or {}
    condition = (filters.get("groups") or [])[index or 0]
    rollout = condition.get("rollout_percentage")
    if rollout is not None and rollout < 100:
        return Reason.SPLIT
    variants = ((filters.get("multivariate") or {}).get("variants")) or []
    keys = {v.get("key") for v in variants}
    override = condition.get("variant")
    live = [v for v in variants if (v.get("rollout_percentage") or 0) > 0]
    if variants and override not in keys and len(live) > 1:
        return Reason.SPLIT
    return Reason.TARGETING_MATCH if condition.get("properties") else Reason.STATIC


def _context(call: Mapping[str, Any]) -> EvaluationContext:
    attributes: dict[str, Any] = dict(call.get("person_properties") or {})
    attributes["groups"] = dict(call.get("groups") or {})
    attributes["group_properties"] = dict(call.get("group_properties") or {})
    return EvaluationContext(call["distinct_id"], attributes)


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[Client, OpenFeatureClient]]:
    client = Client("phc_test", "http://127.0.0.1:9", transport=CaptureSink(), sync_mode=True)
    api.set_provider_and_wait(HogkitProvider(client), "conformance")
    try:
        yield client, api.get_client("conformance")
    finally:
        api.clear_providers()
        client.shutdown(0.0)


def _cases(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8")).get("cases") or [])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_provider_agrees_with_evaluate_flags(
    path: Path, setup: tuple[Client, OpenFeatureClient]
) -> None:
    client, of = setup
    checked = 0
    for case in _cases(path):
        definitions, call = case["definitions"], case["call"]
        flags = definitions.get("flags") if isinstance(definitions, dict) else definitions
        by_key = {f["key"]: f for f in flags or [] if isinstance(f, dict) and "key" in f}
        if not call["distinct_id"] or not isinstance(definitions, dict):
            continue
        undo = client.flag_service.replace_definitions(definitions, temporary=True)
        try:
            context = _context(call)
            snap = client.evaluate_flags(
                call["distinct_id"],
                person_properties=call.get("person_properties") or {},
                groups=call.get("groups") or {},
                group_properties=call.get("group_properties") or {},
            )
            for key in snap.keys:
                value = snap.get_flag(key, send_feature_flag_events=False)
                result = snap.local_result(key)
                assert result is not None
                if isinstance(value, str):
                    details = of.get_string_details(key, "<default>", context)
                    assert (details.value, details.variant) == (value, value), case["id"]
                else:
                    details = of.get_boolean_details(key, not value, context)
                    assert details.value is value, case["id"]
                    assert details.variant == str(value).lower()
                want = _expected_reason(
                    by_key[key],
                    result.reason.kind,
                    result.reason.condition_index,
                    value is not False,
                )
                assert details.reason == want, (case["id"], key, result.reason)
                assert details.error_code is None
                assert details.flag_metadata["evaluated_locally"] is True
                if result.reason.condition_index is not None:
                    assert details.flag_metadata["condition_index"] == result.reason.condition_index
                checked += 1
            for key, why in snap.unresolved.items():
                details = of.get_boolean_details(key, True, context)
                code = (
                    ErrorCode.INVALID_CONTEXT
                    if str(why) == "missing_context"
                    else ErrorCode.GENERAL
                )
                assert (details.value, details.reason, details.error_code) == (
                    True,
                    Reason.ERROR,
                    code,
                ), case["id"]
                checked += 1
        finally:
            undo()
    assert checked > 0
