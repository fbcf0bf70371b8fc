"""Random filters against random property values: hogkit answers exactly as PostHog 7.91.1's
`match_property` does, and never raises."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable
from decimal import Decimal
from typing import Any

import pytest
from hogkit.core.numbers import to_number
from hogkit.core.operators import OPERATORS, compile_property_filter
from hogkit.core.regex import gate_pattern
from hogkit.core.stringify import to_text
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import frozen_now
from posthog.feature_flags import InconclusiveMatchError, _compile_regex, match_property

# The reference compiles `[a||b]` as is, and Python warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Possible set union:FutureWarning")

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


def oracle(raw: dict[str, Any], props: dict[Any, Any], version: int | None) -> Any:
    with frozen_now(NOW):
        try:
            return match_property(raw, props, version if version is not None else 1)
        except InconclusiveMatchError as error:
            return error.reason.value


def ours(raw: dict[str, Any], props: dict[Any, Any], version: int | None) -> Any:
    result = compile_property_filter(raw, matching_version=version).match(props, NOW)
    return result if isinstance(result, bool) else result.value


# Strings that look like what the operators parse, plus plain and exotic text.
numeric_text = st.from_regex(
    r"[+-]?([0-9]{1,4}(\.[0-9]{0,3})?|\.[0-9]{1,3})([eE][+-]?[0-9]{1,3})?", fullmatch=True
)
date_text = st.one_of(
    st.from_regex(r"-?[0-9]{1,5}[a-zA-Z]\n?", fullmatch=True),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda d: d.isoformat(sep=" ")
    ),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)).map(str),
    st.sampled_from(
        ["2024", " 2025 ", "2024-01-01Z", "2024-01-01T00:00:00 UTC", "2024-01-01 00:00 +05:00"]
    ),
)
semver_text = st.from_regex(
    r"[vV ]?(0|[1-9][0-9]{0,2}|0[0-9])(\.([0-9]{1,3}|\*))?(\.([0-9]{1,3}|\*))?(-[a-z0-9.]+)?(\+[a-z0-9]+)?",
    fullmatch=True,
)
regex_text = st.text(
    alphabet=st.sampled_from(list("ab1.^$*+?{}()[]|\\-:,=!<>dDwWsSbBxZ2 \n")), max_size=10
)
odd_text = st.sampled_from(
    [
        "",
        "true",
        "FALSE",
        "null",
        "None",
        "nan",
        "inf",
        "1_0",
        " 5",
        "١٢",
        "ß",
        "İ",
        "É",
        "é",
        "\x1c",
        "a\n",
        "\ud800",
    ]
)
text = st.one_of(st.text(max_size=12), numeric_text, date_text, semver_text, regex_text, odd_text)
floats = st.one_of(st.floats(), st.sampled_from([1e16, 1e-5, 1.5e-7, -0.0, 323.0, 1e300]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), floats, text)


def json_values(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=6,
    )


filter_values = json_values(scalars)
property_values = st.one_of(
    json_values(scalars),
    st.binary(max_size=4),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(
        min_value=dt.datetime(1900, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.sampled_from([None, UTC, dt.timezone(dt.timedelta(hours=-5))]),
    ),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.tuples(st.integers()),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),
    st.builds(object),
)
operators = st.one_of(
    st.sampled_from(sorted(OPERATORS)),
    st.sampled_from([None, "", "in", "is_date_exact", "flag_evaluates_to"]),
)


# Cheap examples (about a millisecond each, mostly the reference): run more than the profile's
# default so the `ci` profile still explores every operator family.
MANY = settings(max_examples=max(1500, settings.default.max_examples))


@MANY
@given(
    operator=operators,
    value=filter_values,
    prop=property_values,
    present=st.booleans(),
    version=st.sampled_from([None, 1, 2]),
)
def test_matches_the_reference(
    operator: Any, value: Any, prop: Any, present: bool, version: Any
) -> None:
    raw = {"key": "p", "operator": operator, "value": value, "type": "person"}
    props = {"p": prop} if present else {"q": prop}
    assert ours(raw, props, version) == oracle(raw, props, version)


@MANY
@given(pattern=regex_text, value=st.one_of(regex_text, st.text(max_size=8)))
def test_regex_gate_matches_the_reference(pattern: str, value: str) -> None:
    too_large = gate_pattern(pattern) == "regex too large to match locally in bounded time"
    for operator in ("regex", "not_regex"):
        raw = {"key": "p", "operator": operator, "value": pattern}
        expected = "unsupported_definition" if too_large else oracle(raw, {"p": value}, 1)
        assert ours(raw, {"p": value}, 1) == expected
    try:
        reference = _compile_regex(pattern) if pattern else None
    except InconclusiveMatchError:
        reference = "deferred"
    gated = gate_pattern(pattern) if pattern else None
    if reference == "deferred":
        assert isinstance(gated, str)
    elif reference is None:
        assert gated is None
    elif isinstance(gated, str):
        # Compiled by Python, but too large for hogkit's bounded matching: the server decides.
        assert gated == "regex too large to match locally in bounded time"
        assert "{" in pattern
    else:
        assert not isinstance(gated, str) and gated is not None
        # hogkit escapes a bar in a class where Python would warn about `||`.
        ours_text = gated._regex.pattern.replace("\\|", "|")
        assert ours_text == reference.regex.pattern.replace("\\|", "|")


@given(value=st.one_of(st.text(max_size=10), numeric_text, st.integers(), floats, st.decimals()))
def test_number_grammar(value: Any) -> None:
    raw = {"key": "p", "operator": "gte", "value": 0}
    assert ours(raw, {"p": value}, 1) == oracle(raw, {"p": value}, 1)
    number = to_number(value)
    assert number is None or math.isfinite(number)


@given(value=json_values(scalars))
def test_text_form_is_the_references(value: Any) -> None:
    """icontains with an empty needle succeeds exactly when the value has a text form."""
    raw = {"key": "p", "operator": "icontains", "value": ""}
    expected = oracle(raw, {"p": value}, 1)
    assert (to_text(value) is not None) is (expected is True)


def test_strategies_reach_every_outcome() -> None:
    """The generators are not degenerate: fixed samples of each kind give all three answers."""
    seen = set()
    for raw, prop in [
        ({"key": "p", "operator": "exact", "value": "a"}, "A"),
        ({"key": "p", "operator": "exact", "value": "a"}, "b"),
        ({"key": "p", "operator": "exact", "value": "a"}, Decimal(1)),
        ({"key": "p", "operator": "regex", "value": "\\b"}, "b"),
    ]:
        seen.add(ours(raw, {"p": prop}, 1))
    assert seen == {True, False, "missing_context", "unsupported_definition"}


class _Boom(Exception):
    pass


def _boom(*_: object) -> Any:
    raise _Boom


class HostileStr(str):
    lower = strip = endswith = upper = translate = isascii = _boom  # type: ignore[assignment]
    __str__ = _boom


class HostileInt(int):
    __str__ = __repr__ = __float__ = __index__ = _boom  # type: ignore[assignment]


class HostileFloat(float):
    __repr__ = __str__ = __float__ = _boom  # type: ignore[assignment]


class HostileList(list):  # type: ignore[type-arg]
    __iter__ = __len__ = _boom  # type: ignore[assignment]


class HostileDict(dict):  # type: ignore[type-arg]
    __iter__ = keys = __getitem__ = _boom  # type: ignore[assignment]


class HostileDate(dt.datetime):
    __lt__ = __gt__ = replace = _boom  # type: ignore[assignment]


class NoOffset(dt.tzinfo):
    def utcoffset(self, _: dt.datetime | None) -> None:
        return None


class Pretender:
    """Claims to be a str to isinstance() without being one."""

    __class__ = str  # type: ignore[assignment]
    __str__ = __repr__ = _boom  # type: ignore[assignment]


HOSTILE = [
    HostileStr("1.2.3"),
    HostileInt(5),
    HostileFloat(1.5),
    HostileList([1, 2]),
    HostileDict(a=1),
    HostileDate(2024, 1, 1),
    dt.datetime(2024, 1, 1, tzinfo=NoOffset()),
    Pretender(),
    [HostileInt(1)],
    {"a": HostileStr("x")},
    "x" * 200_000,
]


@given(operator=operators, value=filter_values, hostile=st.sampled_from(HOSTILE))
def test_hostile_property_values_never_raise(operator: Any, value: Any, hostile: Any) -> None:
    matcher = compile_property_filter(
        {"key": "p", "operator": operator, "value": value}, matching_version=1
    )
    result = matcher.match({"p": hostile}, NOW)
    assert result in (True, False, "missing_context", "unsupported_definition")


@pytest.mark.parametrize("hostile", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
@pytest.mark.parametrize("part", ["key", "operator", "value"])
def test_hostile_filter_objects_never_raise(part: str, hostile: Any) -> None:
    raw: dict[str, Any] = {"key": "p", "operator": "exact", "value": "x", part: hostile}
    for operator in sorted(OPERATORS) if part != "operator" else [hostile]:
        if part != "operator":
            raw["operator"] = operator
        matcher = compile_property_filter(raw, matching_version=1)
        props: dict[Any, Any] = {"p": "x"}
        if part == "key" and isinstance(hostile, Hashable):
            props[hostile] = 1
        assert matcher.match(props, NOW) in (
            True,
            False,
            "missing_context",
            "unsupported_definition",
        )


@MANY
@given(
    now=st.datetimes(
        min_value=dt.datetime(1, 1, 1, 12),
        max_value=dt.datetime(9999, 12, 31),
        timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=13))]),
    ),
    count=st.one_of(st.integers(0, 40), st.integers(0, 9999)),
    unit=st.sampled_from("hdwmy"),
    sign=st.sampled_from(["", "-"]),
    prop=st.one_of(
        st.datetimes(
            min_value=dt.datetime(1, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.just(UTC),
        ),
        st.dates(),
        st.integers(1, 9999).map(lambda y: f"{y:04d}"),
    ),
)
def test_relative_dates_follow_now(
    now: dt.datetime, count: int, unit: str, sign: str, prop: Any
) -> None:
    for operator in ("is_date_before", "is_date_after"):
        raw = {"key": "p", "operator": operator, "value": f"{sign}{count}{unit}"}
        with frozen_now(now):
            try:
                expected = match_property(raw, {"p": prop})
            except InconclusiveMatchError as error:
                expected = error.reason.value
        result = compile_property_filter(raw, matching_version=1).match({"p": prop}, now)
        assert (result if isinstance(result, bool) else result.value) == expected


@pytest.mark.parametrize("pattern", ["a{1111111}", "1{2222}", "(?:ab){1500}"])
def test_regex_too_large_for_bounded_matching_needs_the_server(pattern: str) -> None:
    """Python compiles these, but their expansion is beyond what hogkit matches locally."""
    assert _compile_regex(pattern) is not None
    for operator in ("regex", "not_regex"):
        raw = {"key": "p", "operator": operator, "value": pattern}
        assert ours(raw, {"p": "a"}, 1) == "unsupported_definition"
        assert isinstance(oracle(raw, {"p": "a"}, 1), bool)
