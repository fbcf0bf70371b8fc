"""Both implementations behind one outcome shape, so tests compare like with like.

An outcome maps each evaluated flag key to `{"value": v, "payload": p}` or
`{"unresolved": reason}`, the shape tests/oracle.py returns for posthog==7.91.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

import oracle  # noqa: E402  (tests/oracle.py: posthog==7.91.1 driven offline)

Outcome = dict[str, dict[str, Any]]


@contextlib.contextmanager
def quiet_reference() -> Iterator[None]:
    """The reference logs a warning per odd definition; thousands of them only slow the run."""
    logger = logging.getLogger("posthog")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def reference_outcome(client: Any, person: Mapping[str, Any], now: dt.datetime) -> Outcome:
    with quiet_reference():
        return oracle.evaluate(
            {},
            person["distinct_id"],
            person_properties=person["person_properties"],
            groups=person["groups"],
            group_properties=person["group_properties"],
            device_id=person["device_id"],
            flag_keys=person.get("flag_keys"),
            now=now,
            client=client,
        )


def reference_client(document: Mapping[str, Any]) -> Any:
    with quiet_reference():
        return oracle.make_client(document)


def snapshot_outcome(snapshot: Any) -> Outcome:
    outcome: Outcome = {}
    for key in snapshot.keys:
        outcome[key] = {"value": snapshot.get_flag(key), "payload": snapshot.get_flag_payload(key)}
    for key, reason in snapshot.unresolved.items():
        outcome[key] = {"unresolved": getattr(reason, "value", reason)}
    return outcome


def hogkit_outcome(flag_set: Any, person: Mapping[str, Any], now: dt.datetime) -> Outcome:
    snapshot = flag_set.evaluate(
        person["distinct_id"],
        person_properties=person["person_properties"],
        groups=person["groups"],
        group_properties=person["group_properties"],
        device_id=person["device_id"],
        flag_keys=person.get("flag_keys"),
        now=now,
    )
    return snapshot_outcome(snapshot)


def strict_equal(a: Any, b: Any) -> bool:
    """Equality that keeps True, 1 and 1.0 apart (and NaN equal to itself)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def differences(expected: Outcome, actual: Outcome) -> dict[str, dict[str, Any]]:
    return {
        key: {"posthog": expected.get(key, "<absent>"), "hogkit": actual.get(key, "<absent>")}
        for key in sorted(set(expected) | set(actual))
        if not strict_equal(expected.get(key), actual.get(key))
    }
