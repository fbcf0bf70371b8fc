"""Hypothesis strategies for flag definitions documents, people and odd property values.

Shared by the property suite. The values are drawn from small pools on purpose, so filters
and people collide often enough that conditions actually match, miss, and go unresolved in
roughly equal measure; a uniform random string almost never equals another one.

Definitions are always plain JSON (that is all the server sends). People may carry
Python-only values (bytes, Decimal, datetimes, tuples, nested dicts), because callers pass
whatever their application holds.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from compare import OPERATORS as OPERATORS  # the suites take every pool from here
from definition_links import aim_at_links, broken_rollout, link_cohorts, link_flags
from hypothesis import strategies as st
from odd_values import Count, Label, Ratio

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
NOWS = (
    NOW,
    dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.timezone.utc),
    dt.datetime(2028, 2, 29, 0, 0, tzinfo=dt.timezone.utc),
)

PROPERTY_KEYS = ("email", "plan", "n", "when", "ver", "tags", "$group_key", "distinct_id")
FLAG_KEYS = ("f0", "f1", "f2", "f3", "f4", "f5", "f6")
COHORT_IDS = ("1", "2", "3")
MISSING_COHORT = 99
VARIANT_KEYS = ("control", "test", "alt")
GROUP_TYPE_MAPPING = {"0": "company", "1": "project"}
GROUP_TYPES = ("company", "project", "team")

UNKNOWN_OPERATORS = ("is_date_exact", "in", "contains", "flag_evaluates_to", "", "EXACT")

# ---------------------------------------------------------------------------------------------
# Scalar pools (JSON)

TEXTS = (
    "pro",
    "Pro",
    "PRO",
    "free",
    "",
    "true",
    "True",
    "FALSE",
    "false",
    "null",
    "a@example.com",
    "B@Example.COM",
    "école",
    "ÉCOLE",
    "straße",
    "ß",
    "İ",
    "😀",
    "a\n",
    "[1,2]",
    '{"a":1}',
    "1",
    "1.0",
    "-0.0",
)
NUMERIC_TEXTS = (
    "5",
    "10",
    " 5",
    "1e2",
    ".5",
    "+3",
    "5.",
    "1_0",
    "0x10",
    "NaN",
    "1e309",
    "-inf",
    "abc",
    "5\n",
    "1E5",
    "1e",
    "--5",
    "١",
    "５",
    "1e-400",
)
DATE_TEXTS = (
    "2026-06-15",
    "2026-06-15T12:00:00Z",
    "2026-06-15T11:59:59+00:00",
    "2026-06-15 10:00:00 UTC",
    "2026-06-15T10:00:00 +02:00",
    "2026-05-01",
    "2025-12-31T23:59:59.999999",
    "2024",
    "2099-01-01",
    "1990-01-01",
    "20260102",
    "not a date",
    # Bare years that are not leap years: on 29 February they name no day.
    "2025",
    "9999",
    "٢٠٢٦",
    "2026-06-15T12:00:00+05:30",
    "2026-06-15T12:00:00-0800",
    "2026-06-15T12:00:00.123456Z",
    "2026-06-15T12",
    "2026-W24-1",
    "2026-06-15 utc",
    "2026-06-15T10:00:00 -02:00",
    "2026-06-15T12:00:00+24:00",
    "  2026-06-15T12:00:00Z ",
    "2026-06-15\n",
    "2028-02-29",
    "1718452800",
    "",
)
# Moments at and a second either side of where months and years counted back from `NOWS`
# land (day clamped at month ends and on 29 February), for relative date filters to meet.
BOUNDARY_DATE_TEXTS = (
    "2026-05-15T12:00:00Z",
    "2026-05-15T11:59:59Z",
    "2025-06-15T12:00:01Z",
    "2026-02-28T23:30:00Z",
    "2026-02-28T23:29:59Z",
    "2026-02-28T23:30:01Z",
    "2026-01-28T23:30:00Z",
    "2026-01-31T23:30:00Z",
    "2025-03-31T23:30:00Z",
    "2025-02-28T23:30:00+00:00",
    "2028-01-29T00:00:00Z",
    "2028-01-28T23:59:59Z",
    "2027-02-28T00:00:00Z",
    "2027-02-28T00:00:01Z",
    "2027-03-01",
    "2024-02-28T00:00:00Z",
    "2024-02-29",
    "2028-02-28T23:59:59Z",
)
RELATIVE_DATES = (
    "-30d",
    "30d",
    "-1m",
    "-2m",
    "-1y",
    "-12h",
    "-3w",
    "-10000d",
    "-9999d",
    "-5s",
    "-5M",
    "-1.5d",
    "7d",
    "-0d",
    "-01h",
    "-7d\n",
    "-7D",
    "-7 d",
    " -7d",
    "-7dd",
    "-99999999999999999999d",
    "-٣d",
    "-9999y",
    "-12m",
    "-13m",
    "-24m",
    "-4y",
    "-48m",
    "-3m",
    "1m",
    "-0m",
    "-0y",
)
VERSIONS = (
    "1.2.3",
    "1.2",
    "1",
    "v1.2.3",
    "1.10.0",
    "0.0.3",
    "0.2.9",
    "2.0.0",
    "1.2.3-beta",
    "1.2.3+b",
    "01.2.3",
    "1.2.3.4",
    " 1.2.3 ",
    "abc",
    "",
    "１.２.３",
    "٣.1",
    "²",
    "v 1.2.3",
    "vV1.2.3",
    "=1.2.3",
    "1..3",
    "1.2.",
    ".1",
    "1.2.3-rc.1+b-2",
    "1.2+b.3",
    "1.-2",
    "99999999999999999999.0.0",
    "1.2.3\n",
    "1.2.3\u3000",
    "V1.2.3",
    "v1.2.3-alpha+001",
    "1.2.3-0.3.7",
    "1.0.0-x.7.z.92",
    "1.2.3+build.1-2",
    "1.2-beta",
    "1-rc",
    "v1",
    "1.2.3-",
    "1.2.3+",
    "0.0.0",
    "1.02.3",
    "1.2.3-beta.01",
    "2.0.0-rc.1",
    "v0.2.9+meta",
)
WILDCARDS = (
    "1.*",
    "1.2.*",
    "*",
    "1.2.3",
    "0.*",
    "1.*.*",
    "*.1",
    "v1.*",
    "1.2.3.*",
    "1.**",
    ".*",
    "1.x",
)
PATTERNS = (
    r"^pro$",
    r"\d+",
    r"^[a-z]+@example\.com$",
    "a$",
    "a$|b",
    "[",
    "(?i)pro",
    r"\bfoo",
    "(?=a)",
    "(a+)+",
    "a++",
    "",
    r"\w+",
    r"\s",
    r"\x41",
    r"[\d-z]",
    "[]",
    r"\A",
    "^(?:ab|cd)",
    "é",
    r"\.",
    "pr|fr",
    r"(?P<n>a)",
    r"(?<=a)b",
    r"a{,3}",
    r"a{2}{3}",
    r"a*?",
    r"a{1,2}?",
    r"\p{L}",
    r"[[:alpha:]]",
    r"[a&&b]",
    r"[^]a]",
    r"\u0041",
    r"\x{41}",
    r"\Z",
    r"\z",
    r"(a|)+",
    r"(a+)+$",
    r"^*",
    r"x{4294967296}",
    r"[\w-]",
    r"\é",
    r"[\b]",
    r"^\s*$",
    r"\d+$",
    r".*a.*",
    r"(?:a+)+",
    r"a{0}",
    r"a{3,2}",
    r"a{1",
    # The edges of the subset both engines read alike: nested repetition, quantified
    # empty groups, shorthand range endpoints, escaped punctuation, incomplete escapes.
    r"(a*)*",
    r"(a|b)*c$",
    r"(?:a*)+",
    r"()*",
    r"(|a)+",
    r"a{2}+",
    r"a**",
    r"[a-\w]",
    r"[\w-a]",
    r"[\w-]",
    r"\/",
    r"\#",
    r"\~",
    r"\ ",
    r"[\.]",
    r"[\q]",
    r"\x4g",
    r"\x4",
    r"^a{1,}$",
    r"a{,}",
    r"(a)(?:b)*$",
    r"\d{2,3}$",
    r"(?:)",
    r"a{4294967295}",
    r"a{01}",
    r"[^a]",
    r"[-a]",
    r"[a-]",
    r"\$",
    r"^$",
)
# Characters random patterns are built from: the regex syntax both engines read, what only
# one of them reads (`(?<`, `\z`, `&&`), escapes, non-ASCII and a newline.
PATTERN_ALPHABET = "ab^$|()[]*+?{}\\.dDwWsSbBAZzx41,:=!<>P&~-_ é\n"
# Texts matched against patterns: final newlines, the separators Python's `\s` adds,
# non-ASCII letters, digits and marks that the engines' `\w` and `\d` read differently.
REGEX_SUBJECTS = "ab\n\x1c\x1f éÉ١²\u0301\u200d_-.A0{}"

# No lone surrogates: they cannot be UTF-8 encoded, so no server or JSON document carries them.
safe_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from((0, 1, 5, 10, -1, 2**53 + 1, 12345678901234567890)),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from((1.0, 1.5, -0.0, 323.0, 1e16, 1e-05, 1e-07, 0.1)),
    st.sampled_from(TEXTS),
    st.sampled_from(NUMERIC_TEXTS),
    st.sampled_from(DATE_TEXTS),
    st.sampled_from(VERSIONS),
    safe_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(("a", "b", "z", "A")), inner, max_size=3),
    ),
    max_leaves=6,
)


# ---------------------------------------------------------------------------------------------
# Property filters


@functools.cache
def _filter_value(operator: str) -> st.SearchStrategy[Any]:
    if operator in ("exact", "is_not"):
        return st.one_of(
            json_values,
            st.lists(st.sampled_from(("true", "false", True, False, "TRUE")), max_size=3),
            st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3),
        )
    if operator in ("is_set", "is_not_set"):
        return st.sampled_from(("is_set", "is_not_set", None))
    if operator.endswith(("contains", "starts_with", "ends_with")):
        return st.one_of(
            st.sampled_from(TEXTS), json_scalars, st.sampled_from(("o", "PR", "@example", "1"))
        )
    if operator.endswith("regex"):
        return st.one_of(
            st.sampled_from(PATTERNS),
            st.text(alphabet=PATTERN_ALPHABET, max_size=8),
            st.sampled_from((1, None, True)),
        )
    if operator in ("gt", "gte", "lt", "lte"):
        return st.one_of(
            st.integers(-20, 20),
            st.floats(-100, 100),
            st.sampled_from(NUMERIC_TEXTS),
            st.sampled_from((True, None, [5], "")),
        )
    if operator.startswith("is_date"):
        return st.one_of(
            st.sampled_from(RELATIVE_DATES),
            st.sampled_from(RELATIVE_DATES),
            st.sampled_from(DATE_TEXTS),
            st.sampled_from((5, None)),
        )
    if operator == "semver_wildcard":
        return st.one_of(st.sampled_from(WILDCARDS), st.sampled_from(VERSIONS))
    if operator.startswith("semver"):
        return st.one_of(st.sampled_from(VERSIONS), st.sampled_from((10, None, 1.5)))
    return json_scalars


@st.composite
def property_filters(draw: st.DrawFn, *, keys: tuple[str, ...] = PROPERTY_KEYS) -> dict[str, Any]:
    """One `person`/`group` property filter, any operator (known or not) with a fitting value."""
    pool = UNKNOWN_OPERATORS if not draw(st.integers(0, 11)) else OPERATORS
    operator = draw(st.sampled_from(pool))
    raw: dict[str, Any] = {"key": draw(st.sampled_from(keys))}
    if draw(st.integers(0, 19)):
        raw["value"] = draw(_filter_value(operator))
    if draw(st.integers(0, 14)):
        raw["operator"] = operator
    raw["type"] = draw(st.sampled_from(("person", "person", "group", None)))
    if raw["type"] is None:
        del raw["type"]
    if not draw(st.integers(0, 9)):
        raw["negation"] = draw(st.booleans())
    return raw


# ---------------------------------------------------------------------------------------------
# Property values (people): JSON values plus Python-only ones.


class _Opaque:
    """An application object with no JSON form."""

    def __repr__(self) -> str:
        return "<opaque>"


python_scalars = st.one_of(
    st.binary(max_size=4),
    st.sampled_from((b"pro", b"", bytearray(b"x"))),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000),
    st.sampled_from((Decimal("5"), Decimal("5.0"), Decimal("NaN"), Decimal("1E+2"), Decimal("-0"))),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.datetimes(
        min_value=dt.datetime(1990, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.sampled_from((dt.timezone.utc, dt.timezone(dt.timedelta(hours=2)))),
    ),
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.sampled_from((math.nan, math.inf, -math.inf, "x" * 5000)),
    st.text(max_size=4),
    # Subclasses whose str() is not their value, numbers past a double, and odd Decimals.
    st.sampled_from(TEXTS).map(Label),
    st.sampled_from(VERSIONS).map(Label),
    st.integers(-20, 20).map(Count),
    st.floats(-100, 100).map(Ratio),
    st.sampled_from((10**400, -(10**400), 2**1024, Decimal("sNaN"), Decimal("1e400"))),
    st.sampled_from((Decimal("-1e-400"), Decimal("Infinity"))),
    st.text(alphabet=REGEX_SUBJECTS, max_size=5),
)
# Keys of nested dicts: text, and keys JSON has no text for.
_NESTED_KEYS = st.one_of(
    st.sampled_from(("a", "b", "z", "A", "é", '"')),
    st.sampled_from((1, None, True, 1.5, ("t",))),
    st.just("b").map(Label),
)
property_values = st.recursive(
    st.one_of(json_scalars, json_scalars, python_scalars),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(("a", "b", "z", "A")), inner, max_size=3),
        st.dictionaries(_NESTED_KEYS, inner, max_size=3),
    ),
    max_leaves=5,
)


@functools.cache
def _matching_values() -> st.SearchStrategy[Any]:
    """Values likely to meet the filter pools above."""
    return st.one_of(
        st.sampled_from(TEXTS),
        st.sampled_from(NUMERIC_TEXTS),
        st.sampled_from(DATE_TEXTS),
        st.sampled_from(BOUNDARY_DATE_TEXTS),
        st.sampled_from(VERSIONS),
        st.integers(-20, 20),
        st.text(alphabet=REGEX_SUBJECTS, max_size=4),
    )


def value_near(filter_value: Any) -> st.SearchStrategy[Any]:
    """A property value for a filter: often the filter's own value or a near miss of it."""
    near = [filter_value]
    if isinstance(filter_value, str):
        near += [filter_value.upper(), filter_value + "x", "x" + filter_value, filter_value.strip()]
    elif isinstance(filter_value, list) and filter_value:
        near += filter_value
    if isinstance(filter_value, str) and filter_value in RELATIVE_DATES:
        # Where the relative date lands from one of `NOWS`, or a second either side.
        return st.one_of(
            st.sampled_from(near), st.sampled_from(BOUNDARY_DATE_TEXTS), _near_fallback()
        )
    return st.one_of(st.sampled_from(near), _near_fallback())


@functools.cache
def _near_fallback() -> st.SearchStrategy[Any]:
    return st.one_of(_matching_values(), property_values)


@st.composite
def relative_date_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A date filter counting months or years back, and a moment where such a count lands
    from one of `NOWS` (or a second off), as text, an aware or naive datetime, or a date."""
    count = draw(st.sampled_from(("-1", "-2", "-3", "-12", "-13", "-24", "-48", "1", "-4", "-0")))
    raw = {
        "key": "when",
        "operator": draw(st.sampled_from(("is_date_before", "is_date_after"))),
        "value": count + draw(st.sampled_from(("m", "y"))),
        "type": "person",
    }
    text = draw(st.sampled_from(BOUNDARY_DATE_TEXTS))
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    value = draw(
        st.sampled_from((text, moment, moment.replace(tzinfo=None), moment.date(), text[:10]))
    )
    return raw, {"when": value}


@st.composite
def filter_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A property filter and the properties it is matched against (key usually present)."""
    raw = draw(property_filters())
    props = draw(st.dictionaries(st.sampled_from(PROPERTY_KEYS), property_values, max_size=2))
    if draw(st.integers(0, 5)):
        props[raw["key"]] = draw(value_near(raw.get("value")))
    return raw, props


@functools.cache
def properties(keys: tuple[str, ...] = PROPERTY_KEYS) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(
        st.sampled_from((*keys, *(f"$feature_enrollment/{k}" for k in FLAG_KEYS[:3]))),
        st.one_of(_matching_values(), property_values, st.sampled_from((True, False, "true"))),
        max_size=6,
    )


@st.composite
def people(draw: st.DrawFn) -> dict[str, Any]:
    """One evaluation call's context: the keyword arguments of `evaluate` bar `now`."""
    types = draw(st.lists(st.sampled_from(GROUP_TYPES), unique=True, max_size=3))
    # Group keys that are not text (a number, None) are hashed and matched as their text.
    keys = st.sampled_from(("acme", "org-1", "org-2", "0", "Ω", "acme", "", 0, 7, 1.5, None))
    groups = {t: draw(keys) for t in types}
    group_props = {
        t: draw(properties())
        for t in draw(st.lists(st.sampled_from(GROUP_TYPES), unique=True, max_size=3))
    }
    return {
        "distinct_id": draw(
            st.one_of(st.sampled_from(("user-1", "user-2", "42", "Ünï")), safe_text.filter(bool))
        ),
        "person_properties": draw(properties()),
        "groups": groups,
        "group_properties": group_props,
        "device_id": draw(st.sampled_from((None, None, "device-1", "device-2", ""))),
        "flag_keys": draw(
            st.one_of(
                st.none(),
                st.none(),
                st.none(),
                st.lists(st.sampled_from((*FLAG_KEYS, "ghost")), max_size=3, unique=True),
            )
        ),
    }


# ---------------------------------------------------------------------------------------------
# Flags, cohorts and whole documents


def _rollout() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from((None, 0, 100, 50, 100, None)),
        st.integers(0, 100),
        st.floats(0, 100),
        # Out of range, booleans, and text, which posthog-python fails on.
        st.sampled_from((-10, 150, 100.0, True, False, "50", "", [50])),
    )


@st.composite
def _variants(draw: st.DrawFn) -> list[dict[str, Any]] | None:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return None
    count = draw(st.integers(1, 3))
    keys = list(VARIANT_KEYS[:count])
    if kind in (1, 2):  # summing to 100
        cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=count - 1, max_size=count - 1)))
        bounds = [0, *cuts, 100]
        shares: list[Any] = [bounds[i + 1] - bounds[i] for i in range(count)]
    elif kind == 3:  # fractional, under or over 100
        shares = draw(st.lists(st.floats(0, 70), min_size=count, max_size=count))
    else:  # negative shares and shares over 100 (numbers only: see test_differential)
        odd = st.sampled_from((-20, 120, 0, 100.0))
        shares = draw(st.lists(odd | st.integers(0, 100), min_size=count, max_size=count))
    return [
        {"key": k, "name": k, "rollout_percentage": p} for k, p in zip(keys, shares, strict=True)
    ]


@st.composite
def _filter_in_flag(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        value = draw(
            st.one_of(
                st.sampled_from(COHORT_IDS).map(int),
                st.sampled_from(COHORT_IDS),
                st.just(MISSING_COHORT),
            )
        )
        raw = {"key": "id", "type": "cohort", "value": value}
        operator = draw(st.sampled_from(("in", "in", "not_in", "exact", None, "is_not")))
        if operator is not None:
            raw["operator"] = operator
        return raw
    if kind == 1:
        return _flag_filter(draw)
    return draw(property_filters())


def _flag_filter(draw: st.DrawFn) -> dict[str, Any]:
    parent = draw(st.sampled_from((*FLAG_KEYS, "ghost")))
    raw: dict[str, Any] = {
        "key": parent,
        "type": "flag",
        "operator": draw(
            st.sampled_from(("flag_evaluates_to",) * 12 + ("exact", "is_not", None, "regex"))
        ),
        "value": draw(
            st.one_of(
                st.sampled_from((True, True, False, *VARIANT_KEYS, "true", None)),
                st.sampled_from(("false", "True", "CONTROL", "", 1, 0, 1.0, ["control"], {})),
            )
        ),
    }
    # The chain is filled in once every flag exists (see `_fill_chains`); these markers say
    # whether to keep the honest chain or to damage it the ways a server or a user might.
    raw["dependency_chain"] = draw(
        st.sampled_from(("honest",) * 6 + ("missing", "not-list", "unknown", "short", "headless"))
    )
    return raw


@st.composite
def flags(draw: st.DrawFn, key: str) -> dict[str, Any]:
    variants = draw(_variants())
    conditions = []
    for _ in range(draw(st.sampled_from((1, 1, 2, 2, 3, 0)))):
        condition: dict[str, Any] = {
            "properties": draw(st.lists(_filter_in_flag(), max_size=3)),
            "rollout_percentage": draw(_rollout()),
        }
        if not draw(st.integers(0, 3)):
            condition["variant"] = draw(st.sampled_from((*VARIANT_KEYS, "nope", None, "")))
        if not draw(st.integers(0, 5)):
            condition["aggregation_group_type_index"] = draw(st.sampled_from((0, 1, 7, None)))
        conditions.append(condition)
    filters: dict[str, Any] = {"groups": conditions}
    if variants is not None or draw(st.booleans()):
        filters["multivariate"] = None if variants is None else {"variants": variants}
    if draw(st.booleans()):
        payload_keys = ["true", "false", *VARIANT_KEYS, "holdout-1", "holdout-2", "holdout-0"]
        filters["payloads"] = draw(
            st.dictionaries(
                st.sampled_from(payload_keys),
                st.one_of(
                    st.sampled_from(
                        ('{"a": 1}', '"s"', "[1, 2]", "1.50", "null", "NaN", "{bad", "", "plain")
                    ),
                    st.sampled_from(('{"a": {"b": [1, null]}}', "1e400", "-0", "true", " 1")),
                    json_values,
                ),
                max_size=4,
            )
        )
    if not draw(st.integers(0, 3)):
        filters["aggregation_group_type_index"] = draw(st.sampled_from((0, 1, 7, "0")))
    if not draw(st.integers(0, 3)):
        filters["early_exit"] = draw(st.booleans())
    if not draw(st.integers(0, 4)):
        filters["holdout"] = {
            "id": draw(st.sampled_from((1, 2, None, "1", 0, 1.0, True))),
            "exclusion_percentage": draw(
                st.one_of(
                    st.sampled_from((0, 30, 100, 150, None, -5, True, "30")), st.floats(0, 100)
                )
            ),
        }
    if not draw(st.integers(0, 7)):
        filters["feature_enrollment"] = draw(st.sampled_from((True, True, "true", False)))
    flag: dict[str, Any] = {
        "id": draw(st.integers(1, 10_000)),
        "key": key,
        "name": key,
        "active": True if draw(st.integers(0, 19)) else draw(st.sampled_from((False, None, 1))),
        "version": draw(st.integers(1, 5)),
        "filters": filters,
    }
    if not draw(st.integers(0, 11)):
        flag["ensure_experience_continuity"] = True
    if not draw(st.integers(0, 7)):
        place = draw(st.booleans())
        target = flag if place else filters
        target["bucketing_identifier"] = draw(
            st.sampled_from(("device_id", "device_id", "distinct_id"))
        )
    if not draw(st.integers(0, 5)):
        flag["has_experiment"] = draw(st.booleans())
    return flag


@st.composite
def _cohort_group(draw: st.DrawFn, cohort_id: int, depth: int = 0) -> dict[str, Any]:
    if not draw(st.integers(0, 9)):
        return {}
    entries: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 7))
        if kind == 0 and depth < 2:
            entries.append(draw(_cohort_group(cohort_id, depth + 1)))
        elif kind == 1:
            # Mostly earlier cohorts (or a missing one); now and then any cohort, itself or
            # a later one, so that references loop.
            earlier = [int(c) for c in COHORT_IDS if int(c) < cohort_id] + [MISSING_COHORT]
            looping = not draw(st.integers(0, 5))
            choices = [int(c) for c in COHORT_IDS] if looping else earlier
            value: Any = draw(st.sampled_from(choices))
            ref: dict[str, Any] = {
                "key": "id",
                "type": "cohort",
                "value": str(value) if draw(st.integers(0, 4)) == 0 else value,
                "operator": draw(st.sampled_from(("in", "not_in", "exact"))),
            }
            if draw(st.booleans()):
                ref["negation"] = draw(st.booleans())
            entries.append(ref)
        elif kind == 2 and not draw(st.integers(0, 3)):
            entries.append(_flag_filter(draw))
        else:
            entries.append(draw(property_filters()))
    kind_name = draw(st.sampled_from(("AND", "OR", "AND", "OR", "and")))
    return {"type": kind_name, "values": entries}


def _dependencies(node: Any) -> list[str]:
    """Flag keys referenced by `type: flag` filters anywhere inside `node`."""
    found: list[str] = []
    if isinstance(node, Mapping):
        if node.get("type") == "flag" and isinstance(node.get("key"), str):
            found.append(node["key"])
        for value in node.values():
            found.extend(_dependencies(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_dependencies(value))
    return found


def _cohort_refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, Mapping):
        if node.get("type") == "cohort":
            found.append(str(node.get("value")))
        for value in node.values():
            found.extend(_cohort_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_cohort_refs(value))
    return found


def reaches_a_failure(document: Mapping[str, Any], key: str) -> bool:
    """Whether flag `key` reaches, through its cohorts and the flags they and it depend on,
    something posthog-python fails on before it can answer: a cohort that includes itself
    (directly or by way of others), or a flag it depends on whose rollout is not a number."""
    cohorts = document["cohorts"]
    flags = {flag["key"]: flag for flag in document["flags"]}

    def reached_from(node: Any) -> tuple[set[str], set[str]]:
        """The cohorts and the flags `node` reaches, following both."""
        found: set[str] = set()
        parents: set[str] = set()
        todo: list[Any] = [node]
        while todo:
            current = todo.pop()
            for cid in _cohort_refs(current):
                if cid in cohorts and cid not in found:
                    found.add(cid)
                    todo.append(cohorts[cid])
            for parent in _dependencies(current):
                if parent in flags and parent not in parents:
                    parents.add(parent)
                    todo.append(flags[parent])
        return found, parents

    if key not in flags:
        return False
    reached, parents = reached_from(flags[key])
    if any(cid in reached_from(cohorts[cid])[0] for cid in reached):
        return True
    return any(broken_rollout(flags[parent]) for parent in parents - {key})


def _fill_chains(document: dict[str, Any]) -> None:
    """Replace chain markers with the chains PostHog's server would compute.

    A flag's chain lists its transitive dependencies in evaluation order, itself last; a
    dependency that reaches a cycle gets the server's cycle marker, the empty list. Damaged
    chains never name a cyclic closure, so the reference can't recurse forever.
    """
    cohorts = document["cohorts"]

    def direct(node: Any, seen_cohorts: frozenset[str] = frozenset()) -> list[str]:
        deps = _dependencies(node)
        for cid in _cohort_refs(node):
            if cid in cohorts and cid not in seen_cohorts:
                deps.extend(direct(cohorts[cid], seen_cohorts | {cid}))
        return deps

    by_key = {f["key"]: f for f in document["flags"]}
    edges = {key: direct(flag) for key, flag in by_key.items()}

    def closure(start: str) -> list[str] | None:
        """Topological order of `start`'s dependencies ending with it; None on a cycle."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(key: str) -> bool:
            if state.get(key) == 1:
                return False
            if state.get(key) == 2:
                return True
            state[key] = 1
            for child in edges.get(key, []):
                if not visit(child):
                    return False
            state[key] = 2
            order.append(key)
            return True

        return order if visit(start) else None

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "flag" and node.get("dependency_chain") in (
                "honest",
                "missing",
                "not-list",
                "unknown",
                "short",
                "headless",
            ):
                marker = node.pop("dependency_chain")
                parent = node.get("key")
                chain = closure(parent) if isinstance(parent, str) else None
                if chain is None:
                    node["dependency_chain"] = []
                elif marker == "honest":
                    node["dependency_chain"] = chain
                elif marker == "not-list":
                    node["dependency_chain"] = parent
                elif marker == "unknown":
                    node["dependency_chain"] = ["ghost", *chain]
                elif marker == "short":
                    node["dependency_chain"] = [parent]
                elif marker == "headless":  # the parent's own dependencies, not the parent
                    node["dependency_chain"] = chain[:-1] or chain
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(document)


@st.composite
def documents(draw: st.DrawFn, *, min_flags: int = 1, max_flags: int = 6) -> dict[str, Any]:
    """A whole definitions document: flags (unique keys), cohorts, mapping, matching version."""
    keys = draw(
        st.lists(st.sampled_from(FLAG_KEYS), min_size=min_flags, max_size=max_flags, unique=True)
    )
    cohorts = {cid: draw(_cohort_group(int(cid))) for cid in COHORT_IDS if draw(st.integers(0, 3))}
    document: dict[str, Any] = {
        "flags": [draw(flags(key)) for key in keys],
        "group_type_mapping": draw(
            st.sampled_from((GROUP_TYPE_MAPPING, GROUP_TYPE_MAPPING, {}, {"0": "company"}))
        ),
        "cohorts": cohorts,
    }
    # Only a version equal to 2 (2.0 too) selects the second matching rules.
    version = draw(st.sampled_from((None, 1, 2, 2, 2.0, "2", 3, None)))
    if version is not None:
        document["property_matching_version"] = version
    link_flags(draw, document)
    link_cohorts(draw, document, COHORT_IDS)
    _fill_chains(document)
    return document


def _plain_filters(node: Any) -> list[dict[str, Any]]:
    """Every person/group property filter anywhere in `node` (conditions and cohorts)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, Mapping):
        if "key" in node and node.get("type") not in ("cohort", "flag") and "operator" in node:
            found.append(dict(node))
        for value in node.values():
            found.extend(_plain_filters(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_plain_filters(value))
    return found


@st.composite
def people_for(draw: st.DrawFn, document: Mapping[str, Any]) -> dict[str, Any]:
    """A caller aimed at `document`: many properties set to (or near) what its filters want."""
    person = draw(people())
    for raw in _plain_filters(document):
        if not draw(st.integers(0, 2)):
            continue
        value = draw(value_near(raw.get("value")))
        if raw.get("type") == "group":
            group_type = draw(st.sampled_from(GROUP_TYPES[:2]))
            person["groups"].setdefault(group_type, draw(st.sampled_from(("acme", "org-1"))))
            person["group_properties"].setdefault(group_type, {})[raw["key"]] = value
        else:
            person["person_properties"][raw["key"]] = value
    aim_at_links(draw, document, person)
    return person


@st.composite
def scenarios(
    draw: st.DrawFn, min_people: int = 1, max_people: int = 3, min_flags: int = 1
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A document and the callers evaluated against it (some aimed at its filters, some not)."""
    document = draw(documents(min_flags=min_flags))
    callers = draw(
        st.lists(
            st.one_of(people_for(document), people()), min_size=min_people, max_size=max_people
        )
    )
    return document, callers
