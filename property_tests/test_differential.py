"""Differential tests: hogkit.core must answer exactly as posthog==7.91.1 on random input.

Every flag's value, payload and unresolved reason is compared, for documents drawn from
`strategies.documents()` (groups, cohorts, dependencies, holdouts, every operator) and people
carrying JSON and Python-only property values. The `deep` profile (HYPOTHESIS_PROFILE=deep)
runs at least 100,000 flag evaluations and says how many it ran.

Excluded on purpose:

- A flag that reaches cohorts including each other, or depends on a flag whose rollout is
  not a number: posthog-python fails (recursing until Python's recursion limit, or
  comparing a number with text), logs the error with its traceback and leaves the flag out
  of its answer (then asks `/flags` for it); hogkit answers `unsupported_definition`,
  which also sends it to the server (`signals.BROKEN`). Such a flag is checked to be
  that, or left out when hogkit first reaches a rollout of its own that is not a number.
  Where an earlier inconclusive filter lets posthog-python's loop end the condition
  before the failure, it answers, and the two are compared as usual. (A flag whose own
  rollout is not a number is left out by both.)
- A variant share that is not a number (a boolean, text, null): the server never sends
  one. posthog-python reads a boolean as 0 or 1 and fails on the rest (leaving the flag
  out); hogkit reads the flag as malformed and answers `unsupported_definition`. Shares
  below 0 and over 100 are drawn. Condition rollouts that are not numbers are drawn:
  hogkit salvages what posthog-python evaluates before it fails on them (`repair`).
- Definitions of another shape than the server sends (`filters`, `groups`, a condition,
  its `properties`, `multivariate` or `holdout` of the wrong JSON type, a variant without
  a text key): posthog-python reads some loosely (`filters: []` is False, a variant key
  that is a number still matches) and fails on the others; hogkit reads the flag as
  malformed and answers `unsupported_definition`. Not drawn.
- A flag key defined twice in one document (the server keeps keys unique): posthog-python
  evaluates every definition in turn and keeps the value of the last one it could decide,
  so an undecided later definition leaves an earlier definition's value paired with the
  later one's payloads; hogkit evaluates the last definition only (see
  `test_duplicate_keys_keep_first_position_and_last_definition`). Not drawn.

A flag posthog-python fails on and leaves out of its answer must be left out by hogkit too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from posthog.feature_flags import InconclusiveMatchError, match_property
from reference import (
    differences,
    hogkit_outcome,
    oracle,
    quiet_reference,
    reference_client,
    reference_outcome,
    strict_equal,
)
from strategies import NOWS, filter_cases, reaches_a_failure, relative_date_cases, scenarios

DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
DEEP_MINIMUM_EVALUATIONS = 100_000
# (min people, max people, min flags) per example: deep mode packs more evaluations into each.
SCENARIO_SIZE = (6, 10, 3) if DEEP else (1, 4, 1)
UNSUPPORTED = "unsupported_definition"
CI_MINIMUM_EXAMPLES = 250  # the differential is the suite's main check; give it more than 60
RELAXED = settings(
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ]
)


def _expected_keys(document: dict[str, Any], person: dict[str, Any]) -> set[str]:
    keys = {flag["key"] for flag in document["flags"]}
    wanted = person.get("flag_keys")
    if wanted is None:
        return keys
    return keys & set(wanted)


def test_differential_flag_outcomes_match_posthog() -> None:
    from hogkit.core import FlagSet

    evaluations = [0]

    @settings(RELAXED, max_examples=max(settings.default.max_examples, CI_MINIMUM_EXAMPLES))
    @given(scenario=scenarios(*SCENARIO_SIZE), now=st.sampled_from(NOWS))
    def check(scenario: tuple[dict[str, Any], list[dict[str, Any]]], now: dt.datetime) -> None:
        document, callers = scenario
        raw = json.dumps(document)
        flag_set = FlagSet.from_json(raw)
        client = reference_client(json.loads(raw))
        for person in callers:
            expected = reference_outcome(client, person, now)
            actual = hogkit_outcome(flag_set, person, now)
            for key in _expected_keys(document, person) - set(expected):
                # posthog failed on the flag and left it out; hogkit must too, unless it
                # failed on what the flag reaches (see the module docstring).
                if reaches_a_failure(document, key):
                    assert actual.pop(key, None) in (None, {"unresolved": UNSUPPORTED}), key
            evaluations[0] += len(expected)
            diff = differences(expected, actual)
            assert not diff, json.dumps(diff, indent=1, default=repr)
            _check_single_reads(flag_set, person, now, actual)

    check()
    print(f"\ndifferential: {evaluations[0]} flag evaluations compared with posthog 7.91.1")
    if DEEP:
        assert evaluations[0] >= DEEP_MINIMUM_EVALUATIONS


def _check_single_reads(
    flag_set: Any, person: dict[str, Any], now: dt.datetime, outcome: dict[str, Any]
) -> None:
    """`FlagSet.flag_value` (one flag, no snapshot) gives each flag the value the snapshot
    gave it (None for a flag the snapshot left unresolved), with no earlier flag of the
    call to have evaluated its dependencies first."""
    for key in flag_set.keys:
        if key in outcome:
            single = flag_set.flag_value(
                key,
                person["distinct_id"],
                now,
                person["person_properties"],
                person["groups"],
                person["group_properties"],
                person["device_id"],
            )
            assert strict_equal(single, outcome[key].get("value")), (key, single, outcome[key])


def _reference_match(
    raw: dict[str, Any], props: dict[str, Any], version: int | None, now: dt.datetime
) -> Any:
    with quiet_reference(), oracle.frozen_now(now):
        try:
            return match_property(raw, props, 1 if version is None else version)
        except InconclusiveMatchError as error:
            return error.reason.value if error.reason is not None else None
        except Exception:  # the reference crashed: only "hogkit does not raise" is checked
            return NotImplemented


@RELAXED
@given(
    case=filter_cases(),
    version=st.sampled_from((None, 1, 2)),
    now=st.sampled_from(NOWS),
)
def test_differential_property_filter_matches_posthog(
    case: tuple[dict[str, Any], dict[str, Any]], version: int | None, now: dt.datetime
) -> None:
    from hogkit.core.operators import compile_property_filter

    raw, props = case
    expected = _reference_match(raw, props, version, now)
    matcher = compile_property_filter(raw, matching_version=version)
    actual = matcher.match(props, now)
    if expected is NotImplemented:
        return
    shown = actual if isinstance(actual, bool) else getattr(actual, "value", actual)
    assert strict_equal(expected, shown), f"posthog {expected!r}, hogkit {shown!r}"


@RELAXED
@given(case=relative_date_cases(), now=st.sampled_from(NOWS))
def test_differential_relative_dates_at_month_ends_match_posthog(
    case: tuple[dict[str, Any], dict[str, Any]], now: dt.datetime
) -> None:
    """Months and years counted back from the end of a month or from 29 February land on
    a clamped day; a moment at that landing, or a second off, must compare alike."""
    from hogkit.core.operators import compile_property_filter

    raw, props = case
    expected = _reference_match(raw, props, None, now)
    shown = compile_property_filter(raw, matching_version=None).match(props, now)
    shown = shown if isinstance(shown, bool) else getattr(shown, "value", shown)
    assert expected is not NotImplemented
    assert strict_equal(expected, shown), f"posthog {expected!r}, hogkit {shown!r}"


# Values where answering in place could part from the matcher: ints past 2**53, non-finite
# and signed-zero floats, bools, non-ASCII and mixed-case text.
_EDGE_VALUES = (
    float("inf"),
    float("-inf"),
    float("nan"),
    -0.0,
    2**53,
    2**53 + 1,
    -(2**53) - 1,
    10**30,
    True,
    False,
    "ÉCOLE",
    "Straße",
    "A@EXAMPLE.COM",
)


def _walked(raw: dict[str, Any]) -> dict[str, Any]:
    """A document that reaches `raw` through each evaluator walk that answers filters in
    place: a condition of several filters, and a cohort's nested AND and OR groups."""
    condition = {"properties": [raw, raw], "rollout_percentage": 100}
    cohort = {"type": "OR", "values": [{"type": "AND", "values": [raw, raw]}]}
    by_cohort = {"key": "cohort", "type": "cohort", "value": 1}
    return {
        "flags": [
            {"id": 1, "key": "walk", "active": True, "filters": {"groups": [condition]}},
            {
                "id": 2,
                "key": "cohort",
                "active": True,
                "filters": {"groups": [{"properties": [by_cohort], "rollout_percentage": 100}]},
            },
        ],
        "group_type_mapping": {},
        "cohorts": {"1": cohort},
    }


@settings(RELAXED, max_examples=max(settings.default.max_examples, 8 * CI_MINIMUM_EXAMPLES))
@given(
    case=filter_cases(),
    edge=st.none() | st.sampled_from(_EDGE_VALUES),
    now=st.sampled_from(NOWS),
)
def test_differential_filters_walked_in_place_match_posthog(
    case: tuple[dict[str, Any], dict[str, Any]], edge: Any, now: dt.datetime
) -> None:
    """The walks answer the commonest filters without calling their matcher; whatever the
    property value (ints past 2**53, non-finite floats, non-ASCII text, bools, absent),
    they must answer as posthog-python does."""
    from hogkit.core import FlagSet

    raw, props = case
    if edge is not None:
        props = {**props, raw["key"]: edge}
    document = _walked(raw)
    person = {
        "distinct_id": "someone",
        "person_properties": props,
        "groups": None,
        "group_properties": None,
        "device_id": None,
    }
    expected = reference_outcome(reference_client(document), person, now)
    if set(expected) != {"walk", "cohort"}:
        return  # the reference failed internally on this filter
    actual = hogkit_outcome(FlagSet.from_document(document), person, now)
    diff = differences(expected, actual)
    assert not diff, json.dumps(diff, indent=1, default=repr)


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
def test_numeric_filters_walked_in_place_match_posthog_at_the_float_edge(operator: str) -> None:
    """Ints from 2**53 on are not all floats: posthog-python compares `float(value)`, so
    answering in place must agree with it exactly around that edge, and for non-finite
    floats."""
    from hogkit.core import FlagSet

    edge = 2**53
    values = [edge - 1, edge, edge + 1, edge + 2, -edge - 1, 1.5, float("inf"), float("nan")]
    for bound in (edge, edge + 1, -edge, 3):
        raw = {"key": "n", "operator": operator, "value": bound, "type": "person"}
        document = _walked(raw)
        client = reference_client(document)
        flag_set = FlagSet.from_document(document)
        for value in values:
            person = {
                "distinct_id": "someone",
                "person_properties": {"n": value},
                "groups": None,
                "group_properties": None,
                "device_id": None,
            }
            expected = reference_outcome(client, person, NOWS[0])
            actual = hogkit_outcome(flag_set, person, NOWS[0])
            assert not differences(expected, actual), (bound, value, expected, actual)
