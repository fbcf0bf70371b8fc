"""No cohort definition makes compiling or evaluating deep or slow.

Cohorts may reference each other. A long chain of references used to exhaust Python's
recursion while compiling (so `FlagSet.from_json`, and `Client(flag_definitions=...)`,
raised `RecursionError`); a cohort referencing the next one twice, level after level,
made evaluation check 2**levels filters; and the same shape closing a cycle made
compiling take 2**levels steps. Now a filter whose cohorts nest deeper than
`MAX_COHORT_DEPTH` levels or reach more than `MAX_COHORT_NODES` filters needs the server
(`unsupported_definition`), and every other flag of the document is still evaluated
locally. Work is counted, not timed: through the properties evaluation looks up and the
cohorts compiling reads.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hogkit.core import FlagSet
from hogkit.core.cohorts import MAX_COHORT_DEPTH, MAX_COHORT_NODES, CohortCompiler
from hogkit.transport import Client
from oracle import evaluate as oracle_evaluate

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
PERSON = {"plan": "pro"}


def ref(cohort_id: int) -> dict[str, Any]:
    return {"key": "id", "value": cohort_id, "type": "cohort"}


def group(kind: str, *values: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "values": list(values)}


PLAN_IS_PRO = {"key": "plan", "value": "pro", "operator": "exact", "type": "person"}


def flag(key: str, cohort_id: int, index: int = 1) -> dict[str, Any]:
    return {
        "id": index,
        "key": key,
        "active": True,
        "filters": {"groups": [{"properties": [ref(cohort_id)], "rollout_percentage": 100}]},
    }


SIMPLE = {
    "id": 99,
    "key": "simple",
    "active": True,
    "filters": {"groups": [{"properties": [PLAN_IS_PRO], "rollout_percentage": 100}]},
}


def chain(length: int) -> dict[str, Any]:
    """Cohort i holds cohort i + 1; the last one holds the plan filter."""
    cohorts = {str(i): group("AND", group("AND", ref(i + 1))) for i in range(length)}
    cohorts[str(length)] = group("AND", group("AND", PLAN_IS_PRO))
    return {"flags": [flag("deep", 0), SIMPLE], "cohorts": cohorts, "group_type_mapping": {}}


def diamond(levels: int, closing_cycle: bool = False) -> dict[str, Any]:
    """Cohort i holds cohort i + 1 twice (an AND of both): checking cohort 0 checks the
    last cohort 2**levels times when nothing is shared. Closing the cycle, the last one
    holds cohort 0 again."""
    cohorts = {str(i): group("OR", group("AND", ref(i + 1), ref(i + 1))) for i in range(levels)}
    last = ref(0) if closing_cycle else PLAN_IS_PRO
    cohorts[str(levels)] = group("AND", group("AND", last))
    return {"flags": [flag("wide", 0), SIMPLE], "cohorts": cohorts, "group_type_mapping": {}}


def outcome(document: dict[str, Any], properties: Mapping[str, Any] = PERSON) -> dict[str, Any]:
    snapshot = FlagSet.from_json(json.dumps(document)).evaluate(
        "person", person_properties=properties, now=NOW
    )
    found: dict[str, Any] = dict(snapshot.flag_values)
    found.update({key: reason.value for key, reason in snapshot.unresolved.items()})
    return found


class CountingProperties(Mapping[str, Any]):
    """Person properties that count the lookups evaluation makes."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)
        self.lookups = 0

    def __getitem__(self, key: str) -> Any:
        self.lookups += 1
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.lookups += 1
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


class CountingCohorts(Mapping[str, Any]):
    """Cohort definitions that count how often compiling reads one."""

    def __init__(self, cohorts: Mapping[str, Any]) -> None:
        self.cohorts = dict(cohorts)
        self.reads = 0

    def __getitem__(self, key: str) -> Any:
        self.reads += 1
        return self.cohorts[key]

    def __contains__(self, key: object) -> bool:
        return key in self.cohorts

    def __iter__(self) -> Iterator[str]:
        return iter(self.cohorts)

    def __len__(self) -> int:
        return len(self.cohorts)


@pytest.mark.parametrize("length", [400, 3000])
def test_a_long_chain_of_cohorts_needs_the_server_and_spares_the_other_flags(
    length: int,
) -> None:
    found = outcome(chain(length))
    assert found == {"deep": "unsupported_definition", "simple": True}
    problems = FlagSet.from_json(json.dumps(chain(length))).problems()
    assert "too much to evaluate locally" in problems["deep"][0].message


def test_a_client_given_a_long_chain_starts_and_answers_the_other_flags(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="hogkit")
    client = Client("phc_reach", host="http://127.0.0.1:9", flag_definitions=chain(3000))
    try:
        snapshot = client.evaluate_flags(
            "person", person_properties=PERSON, only_evaluate_locally=True
        )
        assert snapshot.get_flag("simple") is True
        assert snapshot.get_flag("deep") is None
    finally:
        client.shutdown()


def test_chains_within_the_depth_answer_as_posthog_does() -> None:
    # Each link is a cohort reference and two nested groups: three levels.
    length = MAX_COHORT_DEPTH // 3 - 1
    document = chain(length)
    expected = oracle_evaluate(document, "person", person_properties=PERSON)
    assert expected["deep"] == {"value": True, "payload": None}
    assert outcome(document) == {"deep": True, "simple": True}


@pytest.mark.parametrize("levels", [3, 6])
def test_small_diamonds_answer_as_posthog_does(levels: int) -> None:
    document = diamond(levels)
    for properties in (PERSON, {"plan": "free"}):
        expected = oracle_evaluate(document, "person", person_properties=properties)
        assert {key: found["value"] for key, found in expected.items()} == outcome(
            document, properties
        )


def test_evaluating_a_diamond_checks_a_bounded_number_of_filters() -> None:
    # Unshared, cohort 0 of 16 levels would look the plan up 2**16 times.
    document = diamond(16)
    properties = CountingProperties(PERSON)
    snapshot = FlagSet.from_json(json.dumps(document)).evaluate(
        "person", person_properties=properties, now=NOW
    )
    assert snapshot.unresolved["wide"].value == "unsupported_definition"
    assert snapshot.flag_values["simple"] is True
    assert properties.lookups <= MAX_COHORT_NODES


def test_compiling_a_diamond_that_closes_a_cycle_reads_a_bounded_number_of_cohorts() -> None:
    # Trees that close a cycle cannot be shared, so 16 levels would be compiled 2**16 times.
    cohorts = CountingCohorts(diamond(16, closing_cycle=True)["cohorts"])
    compiler = CohortCompiler(cohorts, 1)
    first = compiler.compile_filter(ref(0))
    assert cohorts.reads <= MAX_COHORT_NODES
    reads = cohorts.reads
    # Another filter naming the same cohort shares what the first one compiled.
    again = compiler.compile_filter(ref(0))
    assert cohorts.reads == reads
    assert again.target is first.target  # type: ignore[union-attr]


def test_a_cycle_still_reports_the_same_reason_as_before() -> None:
    found = outcome(diamond(3, closing_cycle=True))
    assert found == {"wide": "unsupported_definition", "simple": True}
