"""The pure decisions the shell delegates to the core: retries, the `/flags` plan and merge,
error codes and the `$feature_flag_called` facts."""

from __future__ import annotations

import datetime as dt

from hogkit.core import FlagSet
from hogkit.core.flag_called import read_errors
from hogkit.core.flag_requests import (
    QUOTA_LIMITED,
    failure_code,
    is_quota_limited,
    merge_remote,
    needs_remote,
    reported_errors,
)
from hogkit.core.remote import parse_flags_response
from hogkit.core.retry import batch_retry_delay, flags_retry_delay

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
DOC = {
    "flags": [
        {"key": "on", "active": True, "filters": {"groups": [{"rollout_percentage": 100}]}},
        {
            "key": "pro",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [{"key": "plan", "value": ["pro"], "operator": "exact"}],
                        "rollout_percentage": 100,
                    }
                ]
            },
        },
    ]
}


def test_batch_retries_follow_status_and_attempts() -> None:
    common = {"max_retries": 2, "base": 1.0, "cap": 30.0, "retry_after": None, "jitter": 0.0}
    assert batch_retry_delay(1, None, **common) == 0.5  # network error: retry
    assert batch_retry_delay(1, 503, **common) == 0.5
    assert batch_retry_delay(2, 429, **common) == 1.0
    assert batch_retry_delay(3, 503, **common) is None  # out of attempts
    assert batch_retry_delay(1, 400, **common) is None  # a client error stays one
    assert batch_retry_delay(1, 503, **{**common, "retry_after": 7.0}) == 7.0


def test_flags_requests_get_one_quick_retry_only_when_it_can_help() -> None:
    assert flags_retry_delay("network", None, retried=False, remaining=2.0) == 0.0
    assert flags_retry_delay("network", None, retried=True, remaining=2.0) is None
    assert flags_retry_delay("refused", None, retried=False, remaining=2.0) is None
    assert flags_retry_delay("timeout", None, retried=False, remaining=2.0) is None
    assert flags_retry_delay("status", 502, retried=False, remaining=2.0) == 0.3
    assert flags_retry_delay("status", 502, retried=False, remaining=0.2) is None
    assert flags_retry_delay("status", 500, retried=False, remaining=2.0) is None


def test_error_codes_and_quota() -> None:
    assert failure_code("timeout") == "timeout"
    assert failure_code("refused") == failure_code("network") == "connection_error"
    assert failure_code("status", 503) == "api_error_503"
    assert failure_code("unreadable") == "unknown_error"
    assert is_quota_limited({"quotaLimited": ["feature_flags"]})
    assert not is_quota_limited({"quotaLimited": ["recordings"]})
    assert not is_quota_limited([])
    assert QUOTA_LIMITED == "quota_limited"


def test_the_plan_asks_only_for_what_local_evaluation_left() -> None:
    fs = FlagSet.from_document(DOC)
    decided = fs.evaluate("u", person_properties={"plan": "pro"}, now=NOW)
    undecided = fs.evaluate("u", now=NOW)  # `plan` unknown: `pro` needs the server
    assert needs_remote(None, None)
    assert not needs_remote(decided, None)
    assert needs_remote(undecided, None)
    assert needs_remote(decided, ["on", "ghost"])  # a key with no definition


def test_the_merge_fills_gaps_only() -> None:
    fs = FlagSet.from_document(DOC)
    local = fs.evaluate("u", now=NOW)
    answer = parse_flags_response(
        b'{"flags": {"on": {"key": "on", "enabled": false}, "pro": {"key": "pro", "enabled": true},'
        b' "extra": {"key": "extra", "enabled": true}}, "errorsWhileComputingFlags": true}'
    )
    merged = merge_remote(local, local.unresolved, None, answer, None)
    assert set(merged.remote) == {"pro", "extra"}  # the local value of "on" stands
    assert merged.unresolved == {}
    assert merged.errors == ("errors_while_computing_flags",)
    only = merge_remote(local, local.unresolved, ["pro"], answer, None)
    assert set(only.remote) == {"pro"}
    failed = merge_remote(local, local.unresolved, None, None, "timeout")
    assert failed.remote == {} and failed.errors == ("timeout",)
    assert set(failed.unresolved) == {"pro"}


def test_read_errors() -> None:
    assert read_errors((), unresolved=False, found=True, server_failed=False) == ()
    assert read_errors(("timeout",), unresolved=True, found=False, server_failed=False) == (
        "timeout",
        "local_evaluation_inconclusive",
    )
    assert read_errors((), unresolved=False, found=False, server_failed=False) == ("flag_missing",)
    assert read_errors((), unresolved=False, found=True, server_failed=True) == (
        "evaluation_failed",
    )


def test_reads_report_only_the_answers_own_problems() -> None:
    assert reported_errors(("timeout",)) == ()
    assert reported_errors(("api_error_500",)) == ()
    assert reported_errors(("quota_limited",)) == ("quota_limited",)
    assert reported_errors(("errors_while_computing_flags",)) == ("errors_while_computing_flags",)
