"""Both implementations behind one outcome shape, so tests compare like with like.

An outcome maps each evaluated flag key to `{"value": v, "payload": p}` or
`{"unresolved": reason}`, the shape tests/oracle.py returns for posthog==7.91.1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import oracle  # tests/oracle.py (on the path by conftest): posthog==7.91.1 driven offline
from compare import (  # tests/compare.py, shared with the conformance suite
    Outcome,
    differences,
    person_arguments,
    snapshot_outcome,
    strict_equal,
)

__all__ = [
    "Outcome",
    "differences",
    "hogkit_outcome",
    "quiet_logger",
    "quiet_reference",
    "reference_client",
    "reference_outcome",
    "snapshot_outcome",
    "strict_equal",
]


@contextlib.contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Nothing from logger `name` for a while: an SDK logs a warning per odd input, and
    thousands of them only slow a run."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def quiet_reference() -> contextlib.AbstractContextManager[None]:
    """`quiet_logger` for the reference, which logs a warning per odd definition."""
    return quiet_logger("posthog")


def reference_outcome(client: Any, person: Mapping[str, Any], now: dt.datetime) -> Outcome:
    with quiet_reference():
        return oracle.evaluate(
            {},
            person["distinct_id"],
            **person_arguments(person),
            flag_keys=person.get("flag_keys"),
            now=now,
            client=client,
        )


def reference_client(document: Mapping[str, Any]) -> Any:
    with quiet_reference():
        return oracle.make_client(document)


def hogkit_outcome(flag_set: Any, person: Mapping[str, Any], now: dt.datetime) -> Outcome:
    snapshot = flag_set.evaluate(
        person["distinct_id"],
        **person_arguments(person),
        flag_keys=person.get("flag_keys"),
        now=now,
    )
    return snapshot_outcome(snapshot)
