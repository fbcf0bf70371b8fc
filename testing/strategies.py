"""Hypothesis strategies for property-based tests of code that uses flags.

Needs `hypothesis` (install `hogkit[testing]`). Definitions come from `FlagBuilder`, so they
are real PostHog documents. `known_outcomes()` draws a document and a person together with
the value each flag must have for that person, known from how the pair was built (for
example a 100 % condition whose filter equals one of the person's properties), so a test
can check evaluation without a second implementation to compare with.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .builder import FlagBuilder, document, prop

__all__ = [
    "PROPERTY_VALUES",
    "definitions",
    "distinct_ids",
    "flags",
    "known_outcomes",
    "persons",
]

PROPERTY_VALUES: dict[str, tuple[Any, ...]] = {
    "plan": ("free", "pro", "team", "enterprise"),
    "country": ("fr", "de", "us", "jp"),
    "seats": (1, 5, 20, 100),
}
_VARIANTS = ("control", "test", "alt")
_ROLLOUTS = (0, 10, 33.3, 50, 99, 100)
_OPERATORS = ("exact", "is_not", "icontains", "is_set", "gt", "lt")


def distinct_ids() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["user-1", "user-2", "a@example.com", "42"]),
        st.text(min_size=1, max_size=12),
    )


def persons() -> st.SearchStrategy[dict[str, Any]]:
    """Person properties drawn from the same small pools the filters use."""
    return st.fixed_dictionaries(
        {}, optional={key: st.sampled_from(pool) for key, pool in PROPERTY_VALUES.items()}
    )


@st.composite
def _filter(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(st.sampled_from(sorted(PROPERTY_VALUES)))
    operator = draw(st.sampled_from(_OPERATORS))
    if operator == "is_set":
        return prop(key, "is_set", operator)
    return prop(key, draw(st.sampled_from(PROPERTY_VALUES[key])), operator)


@st.composite
def flags(draw: st.DrawFn, key: str = "flag") -> FlagBuilder:
    """One flag: 0-3 conditions of 0-2 filters, any rollout, maybe variants and payloads."""
    flag = FlagBuilder(key, flag_id=draw(st.integers(1, 10_000)))
    multivariate = draw(st.booleans())
    if multivariate:
        names = draw(st.lists(st.sampled_from(_VARIANTS), min_size=1, max_size=3, unique=True))
        cuts = sorted(
            draw(st.lists(st.integers(0, 100), min_size=len(names) - 1, max_size=len(names) - 1))
        )
        bounds = [0, *cuts, 100]
        flag.variants({n: bounds[i + 1] - bounds[i] for i, n in enumerate(names)})
        for name in names:
            if draw(st.booleans()):
                flag.payload(name, {"variant": name})
    elif draw(st.booleans()):
        flag.payload(True, draw(st.sampled_from([1, "on", {"a": [1, 2]}, 2.5])))
    for _ in range(draw(st.integers(0, 3))):
        filters = draw(st.lists(_filter(), max_size=2))
        override = draw(st.sampled_from(names)) if multivariate and draw(st.booleans()) else None
        flag.condition(*filters, rollout=draw(st.sampled_from(_ROLLOUTS)), variant=override)
    flag.active(draw(st.sampled_from((True, True, True, False))))
    return flag


def definitions(max_flags: int = 4) -> st.SearchStrategy[dict[str, Any]]:
    """A definitions document of independent flags `f0`, `f1`, ..."""
    return st.integers(1, max_flags).flatmap(
        lambda n: st.tuples(*[flags(f"f{i}") for i in range(n)]).map(document)
    )


_KINDS = ("match", "miss", "inactive", "zero", "variant", "forced")


@st.composite
def known_outcomes(
    draw: st.DrawFn,
) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, bool | str]]:
    """(document, distinct id, person properties, expected value per flag key)."""
    person = draw(persons().filter(bool))
    distinct_id = draw(distinct_ids())
    built: list[FlagBuilder] = []
    expected: dict[str, bool | str] = {}
    for index, kind in enumerate(draw(st.lists(st.sampled_from(_KINDS), min_size=1, max_size=6))):
        key = f"{kind}-{index}"
        flag = FlagBuilder(key)
        name = draw(st.sampled_from(sorted(person)))
        value = person[name]
        others = [v for v in PROPERTY_VALUES[name] if v != value]
        if kind == "match":
            flag.condition(prop(name, value), rollout=100)
            expected[key] = True
        elif kind == "miss":
            flag.condition(prop(name, draw(st.sampled_from(others))), rollout=100)
            expected[key] = False
        elif kind == "inactive":
            flag.condition(prop(name, value), rollout=100).active(False)
            expected[key] = False
        elif kind == "zero":
            flag.condition(prop(name, value), rollout=0)
            expected[key] = False
        elif kind == "variant":
            variant = draw(st.sampled_from(_VARIANTS))
            flag.variants({variant: 100}).condition(prop(name, value), rollout=100)
            expected[key] = variant
        else:
            variant = draw(st.sampled_from(_VARIANTS))
            flag.variants({v: 100 if v == "control" else 0 for v in _VARIANTS})
            flag.condition(prop(name, value), rollout=100, variant=variant)
            expected[key] = variant
        built.append(flag)
    return document(built), distinct_id, person, expected
