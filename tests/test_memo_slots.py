"""Memo slots (`flag_layout.finish_flags`): a matcher several release conditions share
gets one, so one evaluation runs it once; a matcher used once, or one answered in place
(its `inline` form), gets none. Whether any filter repeats is told before counting, and
the slots must come out the same either way."""

from __future__ import annotations

from typing import Any

from hogkit.core import FlagSet


def _flag(key: str, *properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "active": True,
        "filters": {"groups": [{"properties": list(properties), "rollout_percentage": 100}]},
    }


def _slots_of(flag_set: FlagSet, key: str) -> list[int]:
    return [check[0] for check in flag_set._flags[key].conditions[0].checks]


REGEX = {"key": "email", "operator": "regex", "value": "@acme\\.", "type": "person"}
SET = {"key": "seats", "operator": "is_set", "value": None, "type": "person"}
EXACT = {"key": "plan", "operator": "exact", "value": "pro", "type": "person"}


def test_no_repeated_filter_means_no_slots() -> None:
    flag_set = FlagSet.from_document({"flags": [_flag("a", REGEX), _flag("b", SET, EXACT)]})
    assert flag_set._slots == 0
    assert _slots_of(flag_set, "a") == [-1]
    assert _slots_of(flag_set, "b") == [-1, -1]


def test_a_shared_matcher_gets_one_slot_and_a_single_use_none() -> None:
    flags = [_flag("a", REGEX, SET), _flag("b", {**REGEX}), _flag("c", EXACT, {**EXACT})]
    flag_set = FlagSet.from_document({"flags": flags})
    assert flag_set._slots == 1
    assert _slots_of(flag_set, "a") == [0, -1]
    # `b`'s only check is the shared matcher: its condition keeps it in the memo.
    assert _slots_of(flag_set, "b") == [0]
    # Exact text is answered in place, repeated or not.
    assert _slots_of(flag_set, "c") == [-1, -1]
