"""The core's part of the `/flags` fallback cache: which remembered answers a failed request
may use, and that they fill only what local evaluation left undecided."""

from __future__ import annotations

import datetime as dt

from hogkit.core import FlagSet
from hogkit.core.flag_requests import fallback_keys, merge_remote
from hogkit.core.remote import parse_flags_response

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
REMEMBERED = parse_flags_response(
    b'{"flags": {"on": {"key": "on", "enabled": false}, "pro": {"key": "pro", "enabled": true},'
    b' "extra": {"key": "extra", "enabled": true}}}'
).flags


def test_without_definitions_every_requested_flag_may_come_from_memory() -> None:
    assert fallback_keys(None, {}, None) is None  # every remembered flag
    assert fallback_keys(None, {}, ["on", "x"]) == ["on", "x"]


def test_only_undecided_flags_and_unknown_keys_may_come_from_memory() -> None:
    local = FlagSet.from_document(DOC).evaluate("u", now=NOW)  # `pro` needs the server
    assert fallback_keys(local, local.unresolved, None) == ["pro"]
    assert fallback_keys(local, local.unresolved, ["on", "ghost"]) == ["ghost", "pro"]


def test_remembered_answers_fill_gaps_after_a_failure_and_the_error_stays() -> None:
    local = FlagSet.from_document(DOC).evaluate("u", now=NOW)
    merged = merge_remote(local, local.unresolved, None, None, "timeout", REMEMBERED)
    assert set(merged.remote) == {"pro", "extra"}  # the local value of "on" stands
    assert merged.remote["pro"].enabled is True
    assert merged.unresolved == {}
    assert merged.errors == ("timeout",)
    only = merge_remote(local, local.unresolved, ["pro"], None, "timeout", REMEMBERED)
    assert set(only.remote) == {"pro"}


def test_a_live_answer_wins_over_remembered_ones() -> None:
    local = FlagSet.from_document(DOC).evaluate("u", now=NOW)
    live = parse_flags_response(b'{"flags": {"pro": {"key": "pro", "enabled": false}}}')
    merged = merge_remote(local, local.unresolved, None, live, None, REMEMBERED)
    assert set(merged.remote) == {"pro"} and merged.remote["pro"].enabled is False
    assert merged.errors == ()
