"""The older flag methods' pure rules, checked against posthog 7.91.1's own helpers.

Payload text rules and the evaluation-runtime rules are run on the same inputs in both
SDKs; the expected answer is always what the reference computes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hogkit.core.legacy_reads import (
    decoded_payload,
    flag_result,
    runtime_matches,
    server_wins,
    stored_payload_text,
    valid_runtime,
)
from posthog.types import FeatureFlagEvaluationRuntime, FeatureFlagResult, _parse_flag_payload

PAYLOADS: list[Any] = [
    '{"ok": true}',
    '{"ok":true}',
    "1.10",
    "100",
    '"text"',
    "not json {",
    "NaN",
    "Infinity",
    "",
    "[" * 5000,
    {"stored": "as a value"},
    [1, 2],
    7,
    1.5,
    True,
    None,
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_payload_rules_are_the_references(payload: Any) -> None:
    assert stored_payload_text(payload) == _parse_flag_payload(payload, decode=False)
    assert decoded_payload(payload) == _parse_flag_payload(payload)


@pytest.mark.parametrize("value", [True, False, "variant-a", ""])
def test_a_result_reads_as_the_references(value: Any) -> None:
    ours = flag_result("k", value, '{"a": 1}')
    theirs = FeatureFlagResult.from_value_and_payload("k", value, '{"a": 1}')
    assert ours is not None and theirs is not None
    assert (ours.key, ours.enabled, ours.variant, ours.payload, ours.reason) == (
        theirs.key,
        theirs.enabled,
        theirs.variant,
        theirs.payload,
        theirs.reason,
    )
    assert ours.get_value() == theirs.get_value()


@pytest.mark.parametrize("raw", ["server", "client", "all", " Client ", "edge", None, 3, ""])
def test_runtime_of_a_definition(raw: Any) -> None:
    assert valid_runtime(raw) == FeatureFlagEvaluationRuntime.from_value(raw).value


@pytest.mark.parametrize("flag", ["server", "client", "all"])
@pytest.mark.parametrize("wanted", ["server", "client", "all"])
def test_runtime_matching(flag: str, wanted: str) -> None:
    expected = FeatureFlagEvaluationRuntime(flag).matches(FeatureFlagEvaluationRuntime(wanted))
    assert runtime_matches(flag, wanted) is expected


def test_the_server_answer_replaces_local_results_except_failed_keys() -> None:
    flags, payloads = server_wins(
        {"local-only": True, "both": True, "failed": "arm"},
        {"local-only": "1", "failed": '{"p": 1}'},
        {"both": "variant-1", "remote-only": False},
        {"both": "2"},
        ["failed"],
    )
    assert flags == {"failed": "arm", "both": "variant-1", "remote-only": False}
    assert payloads == {"failed": '{"p": 1}', "both": "2"}
