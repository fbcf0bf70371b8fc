"""`FlagBuilder` definitions give the same results in hogkit and in posthog 7.91.1, for
random flags (from `hogkit.testing.strategies`) and random persons."""

from __future__ import annotations

from typing import Any

from engine_compare import assert_agrees
from hogkit.testing import FlagBuilder, cohort, cohort_filter, depends_on, document, prop
from hogkit.testing.strategies import distinct_ids, flags, persons
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=4, unique=True).flatmap(
        lambda ids: st.tuples(*[flags(f"f{i}") for i in ids])
    ),
    distinct_ids(),
    persons(),
)
def test_random_builder_flags_agree(
    built: tuple[FlagBuilder, ...], distinct_id: str, person: dict[str, Any]
) -> None:
    assert_agrees(document(built), distinct_id, person_properties=person)


@settings(max_examples=60, deadline=None)
@given(distinct_ids(), persons())
def test_cohorts_dependencies_and_holdouts_agree(distinct_id: str, person: dict[str, Any]) -> None:
    doc = document(
        [
            FlagBuilder("parent").condition(prop("plan", "pro"), rollout=60),
            FlagBuilder("child").condition(depends_on("parent"), rollout=100),
            FlagBuilder("members").condition(cohort_filter(3)).payload(True, {"m": 1}),
            FlagBuilder("held").variants({"a": 50, "b": 50}).holdout(9, 30),
        ],
        cohorts={3: cohort(prop("country", "fr"), prop("seats", 5, "gt"), match="OR")},
    )
    assert_agrees(doc, distinct_id, person_properties=person)
