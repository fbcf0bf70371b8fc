"""Comparing hogkit's flag engine with the reference oracle, flag by flag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import oracle
from hogkit.core import FlagSet, Snapshot

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)


def outcome(snap: Snapshot) -> dict[str, dict[str, Any]]:
    """A snapshot in the oracle's shape."""
    found: dict[str, dict[str, Any]] = {}
    for key in snap.keys:
        found[key] = {"value": snap.get_flag(key), "payload": snap.get_flag_payload(key)}
    for key, reason in snap.unresolved.items():
        found[key] = {"unresolved": reason.value}
    return found


def both(
    document: Mapping[str, Any] | Sequence[Any],
    distinct_id: str = "user-1",
    **kwargs: Any,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(hogkit's outcome, the oracle's outcome) for the same call."""
    kwargs.setdefault("now", NOW)
    expected = oracle.evaluate(document, distinct_id, **kwargs)
    got = outcome(FlagSet.from_document(document).evaluate(distinct_id, **kwargs))
    return got, expected


def assert_agrees(
    document: Mapping[str, Any] | Sequence[Any],
    distinct_id: str = "user-1",
    **kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """Assert hogkit answers exactly like the oracle; returns the (shared) answer.

    The one tolerated difference: a flag the oracle drops because evaluating it raised an
    unexpected error (a malformed definition) is `unsupported_definition` in hogkit.
    """
    got, expected = both(document, distinct_id, **kwargs)
    for key, answer in got.items():
        if key not in expected:
            assert answer == {"unresolved": "unsupported_definition"}, (key, answer)
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert set(expected) <= set(got)
    return got


def flag(key: str = "flag", *, active: bool = True, **filters: Any) -> dict[str, Any]:
    """A flag definition with the given filters (conditions go in `groups`)."""
    return {"id": 1, "key": key, "active": active, "filters": filters}


def condition(
    *properties: dict[str, Any], rollout: float | None = 100, **extra: Any
) -> dict[str, Any]:
    return {"properties": list(properties), "rollout_percentage": rollout, **extra}


def prop(key: str, value: Any = None, operator: str = "exact", **extra: Any) -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "person", **extra}
