"""Builds the conformance cases and records the reference oracle's answers for them.

Run it as a script: `python tests/conformance/generate.py`. It rewrites the `*.json` case files
beside it. Every expected outcome is what posthog==7.91.1 answers (through tests/oracle.py),
never what hogkit answers, so the files can be regenerated and audited against the reference.

The cases are described compactly here (helpers `flag`, `cond`, `prop`, `case`); the script
expands them into self-contained documents. Importing this module only defines things; the
oracle is loaded and files are written only by `main()`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FORMAT = "hogkit-conformance/1"
ORACLE = "posthog==7.91.1 (Python), local evaluation only"
NOW = "2026-06-15T12:00:00Z"

Json = Any
_ABSENT: Any = object()  # marks "leave this key out" where None is a meaningful JSON value


# ---------------------------------------------------------------------------------------------
# Compact builders


def prop(
    key: str,
    operator: str | None = "exact",
    value: Json = _ABSENT,
    *,
    type: str | None = "person",
    **extra: Json,
) -> dict[str, Json]:
    """One property filter; `operator=None` / `type=None` leave that key out."""
    raw: dict[str, Json] = {"key": key}
    if value is not _ABSENT:
        raw["value"] = value
    if operator is not None:
        raw["operator"] = operator
    if type is not None:
        raw["type"] = type
    raw.update(extra)
    return raw


def cohort_ref(cohort_id: Json, operator: str | None = "in", **extra: Json) -> dict[str, Json]:
    return prop("id", operator, cohort_id, type="cohort", **extra)


def dep(parent: str, value: Json, chain: Json = _ABSENT, **extra: Json) -> dict[str, Json]:
    """A `flag_evaluates_to` filter; the chain defaults to just the parent."""
    raw = prop(parent, "flag_evaluates_to", value, type="flag", **extra)
    raw["dependency_chain"] = [parent] if chain is _ABSENT else chain
    if chain is None:
        del raw["dependency_chain"]
    return raw


def cond(
    *properties: dict[str, Json],
    rollout: Json = 100,
    variant: Json = _ABSENT,
    group: Json = _ABSENT,
) -> dict[str, Json]:
    """One release condition. `rollout=None` writes a null rollout (no hash check)."""
    raw: dict[str, Json] = {"properties": list(properties), "rollout_percentage": rollout}
    if variant is not _ABSENT:
        raw["variant"] = variant
    if group is not _ABSENT:
        raw["aggregation_group_type_index"] = group
    return raw


_next_id = [1000]


def flag(
    key: str,
    *conditions: dict[str, Json],
    variants: Sequence[tuple[str, Json]] | None = None,
    payloads: Mapping[str, Json] | None = None,
    active: Json = True,
    group: Json = _ABSENT,
    early_exit: Json = _ABSENT,
    holdout: Json = _ABSENT,
    enrollment: Json = _ABSENT,
    bucketing: Json = _ABSENT,
    filters_bucketing: Json = _ABSENT,
    continuity: Json = _ABSENT,
    **top: Json,
) -> dict[str, Json]:
    """One flag definition; `variants` is `[(key, rollout_percentage), ...]`."""
    _next_id[0] += 1
    filters: dict[str, Json] = {"groups": list(conditions)}
    if variants is not None:
        filters["multivariate"] = {
            "variants": [
                {"key": k, "name": k.title(), "rollout_percentage": p} for k, p in variants
            ]
        }
    if payloads is not None:
        filters["payloads"] = dict(payloads)
    for name, value in (
        ("aggregation_group_type_index", group),
        ("early_exit", early_exit),
        ("holdout", holdout),
        ("feature_enrollment", enrollment),
        ("bucketing_identifier", filters_bucketing),
    ):
        if value is not _ABSENT:
            filters[name] = value
    raw: dict[str, Json] = {
        "id": _next_id[0],
        "key": key,
        "name": key,
        "active": active,
        "version": 1,
        "filters": filters,
    }
    if continuity is not _ABSENT:
        raw["ensure_experience_continuity"] = continuity
    if bucketing is not _ABSENT:
        raw["bucketing_identifier"] = bucketing
    raw.update(top)
    return raw


def case(
    name: str,
    flags: Sequence[dict[str, Json]] | dict[str, Json],
    *,
    person: Mapping[str, Json] | None = None,
    distinct_id: str = "user-1",
    groups: Mapping[str, str] | None = None,
    group_properties: Mapping[str, Mapping[str, Json]] | None = None,
    device_id: str | None = None,
    flag_keys: Sequence[str] | None = None,
    cohorts: Mapping[str, Json] | None = None,
    mapping: Mapping[str, str] | None = None,
    matching_version: int | None = None,
    now: str = NOW,
    description: str = "",
) -> dict[str, Json]:
    flag_list = [flags] if isinstance(flags, dict) else list(flags)
    definitions: dict[str, Json] = {
        "flags": flag_list,
        "group_type_mapping": dict(mapping or {}),
        "cohorts": dict(cohorts or {}),
    }
    if matching_version is not None:
        definitions["property_matching_version"] = matching_version
    return {
        "name": name,
        "description": description,
        "definitions": definitions,
        "call": {
            "distinct_id": distinct_id,
            "person_properties": dict(person or {}),
            "groups": dict(groups or {}),
            "group_properties": {k: dict(v) for k, v in (group_properties or {}).items()},
            "device_id": device_id,
            "flag_keys": None if flag_keys is None else list(flag_keys),
            "now": now,
        },
    }


# ---------------------------------------------------------------------------------------------
# Bucketing, re-derived here only to *choose* ids on either side of a boundary. The recorded
# outcome still comes from the oracle, so a mistake here could only make a case less sharp.


def bucket(key: str, value: str, salt: str = "", separator: str = ".") -> float:
    digest = hashlib.sha1(f"{key}{separator}{value}{salt}".encode()).hexdigest()
    return int(digest[:15], 16) / float(0xFFFFFFFFFFFFFFF)


def ids_where(predicate: Callable[[str], bool], count: int = 1, prefix: str = "user-") -> list[str]:
    found: list[str] = []
    n = 0
    while len(found) < count:
        candidate = f"{prefix}{n}"
        if predicate(candidate):
            found.append(candidate)
        n += 1
    return found


# ---------------------------------------------------------------------------------------------
# Operators: one flag, one filter on person property "p", one person, per probe.


def _probe(
    operator: str | None,
    filter_value: Json,
    person_value: Json,
    *,
    matching_version: int | None = None,
    now: str = NOW,
    note: str = "",
) -> dict[str, Json]:
    shown = "absent" if person_value is _ABSENT else json.dumps(person_value, ensure_ascii=False)
    person = {} if person_value is _ABSENT else {"p": person_value}
    label = "(no operator)" if operator is None else operator or '""'
    return case(
        f"{label} {json.dumps(filter_value, ensure_ascii=False)} vs {shown}"
        + (f" (v{matching_version})" if matching_version else ""),
        flag("probe", cond(prop("p", operator, filter_value)), payloads={"true": '{"hit": 1}'}),
        person=person,
        matching_version=matching_version,
        now=now,
        description=note,
    )


A = _ABSENT
EXACT_PROBES: list[tuple[Json, Json]] = [
    ("abc", "abc"),
    ("abc", "ABC"),
    ("abc", "abd"),
    ("abc", A),
    (["a", "B"], "b"),
    (["a", "B"], "c"),
    (1, "1"),
    (1, 1),
    (1, 1.0),
    (1.5, "1.5"),
    (323.0, "323.0"),
    (1e16, "1e+16"),
    (0.00001, "0.00001"),
    (1e-7, "1e-7"),
    (True, "true"),
    (True, "yes"),
    (True, True),
    (False, "banana"),
    (False, 0),
    (False, ""),
    (False, None),
    (False, "FALSE"),
    ("false", 0),
    ("TRUE", True),
    (["false"], None),
    (["true", "false"], "true"),
    (["true", "false"], "pro"),
    ([], True),
    ([], "TRUE"),
    ([], "x"),
    ([], []),
    ([], [True, "true"]),
    ([], [True, "no"]),
    (None, None),
    ("null", None),
    ("x", None),
    ([None, "PRO"], "null"),
    ([1, "PRO"], "1"),
    ({"a": 1}, {"a": 1}),
    ({"b": 1, "a": 2}, '{"a":2,"b":1}'),
    ([1, 2], [1, 2]),
    ("[1,2]", [1, 2]),
    ("[1, 2]", [1, 2]),
    ('["a","b"]', ["a", "b"]),
    ("école", "ÉCOLE"),
    ("ss", "ß"),
    ("i̇", "İ"),
    ("", ""),
    ("", A),
]
EXACT_V2_PROBES: list[tuple[Json, Json]] = [
    (True, "true"),
    (True, "yes"),
    (False, "banana"),
    (False, "false"),
    ("false", 0),
    (["true", "false"], "true"),
    ([], "true"),
    ("abc", "ABC"),
    (1, "1"),
]
TEXT_PROBES: dict[str, list[tuple[Json, Json]]] = {
    "icontains": [
        ("ES", "test"),
        ("es", "TEST"),
        ("xyz", "test"),
        ("nul", None),
        ("É", "é"),
        ("é", "é"),
        (1, "a1"),
        ("", "anything"),
        ("TRU", True),
        ("[1", [1, 2]),
        ('"a":', {"a": 1}),
        ("x", A),
        (2.5, "v2.5"),
    ],
    "not_icontains": [
        ("ES", "test"),
        ("xyz", "test"),
        ("x", None),
        ("É", "é"),
        ("", "abc"),
        ("x", A),
    ],
    "starts_with": [
        ("ab", "ABC"),
        ("bc", "abc"),
        ("nu", None),
        ("1", 123),
        ("[", ["x"]),
        ("fa", False),
        ("x", A),
    ],
    "not_starts_with": [("ab", "abc"), ("bc", "abc"), ("x", A), ("n", None)],
    "ends_with": [
        ("@EXAMPLE.COM", "bob@example.com"),
        ("@example.org", "bob@example.com"),
        ("0", 10),
        ("ll", None),
        ("x", A),
    ],
    "not_ends_with": [("com", "a.com"), ("org", "a.com"), ("x", A)],
}
REGEX_PROBES: dict[str, list[tuple[Json, Json]]] = {
    "regex": [
        (r"\d+", 123),
        (r"^\d+$", "12a"),
        ("^abc$", "abc"),
        ("^abc$", "ABC"),
        ("[", "x"),
        ("a$", "a\n"),
        ("a$", "a"),
        (r"\bfoo", "foo"),
        ("(?i)abc", "ABC"),
        ("(?=a)a", "a"),
        ("(?P<n>a)", "a"),
        ("(a+)+b", "aaab"),
        ("a++", "aa"),
        ("", "x"),
        ("nu", None),
        ("tr", True),
        (r"^[a-z]+@example\.com$", "bob@example.com"),
        (r"\x41", "A"),
        ("a{2}", "xaa"),
        (r"[\d-z]", "5"),
        (r"\w+", "héllo"),
        (r"\w+", "h€llo"),
        (r"\s", "a\u001cb"),
        (r"\s", "a b"),
        ("a$|b", "a\n"),
        (r"\Aabc", "abc"),
        (r"(a)\1", "aa"),
        ("[]", "x"),
        (r"\d+", A),
        ("(?<=a)b", A),
        (r"\.", "a.b"),
        ("^(?:ab|cd)$", "cd"),
        ("x", A),
    ],
    "not_regex": [
        (r"\d+", "abc"),
        (r"\d+", "a1"),
        ("[", "x"),
        (r"\bfoo", "foo"),
        ("", "x"),
        ("x", None),
        ("x", A),
    ],
}
NUMERIC_PROBES: dict[str, list[tuple[Json, Json]]] = {
    "gt": [
        (5, "10"),
        (5, 10),
        (5, 5),
        (5, "abc"),
        ("abc", 10),
        (5, True),
        (5, None),
        (5, [6]),
        (5, {"a": 6}),
        (5, "0x10"),
        (5, "1_0"),
        (5, " 10"),
        (5, "NaN"),
        (5, "1e309"),
        (5, "١٠"),
        (".5", 0.6),
        ("+5", 6),
        ("5.", 5.5),
        (True, 10),
        (None, 10),
        ("1e2", 101),
        (-1, -0.5),
        (5, A),
        ("abc", A),
        ("10", "9"),
    ],
    "gte": [(5, 5), (5, "5"), (5, 4.99), (" 5", 5), (5, "5e0"), (5, A), (0, -0.0)],
    "lt": [("1e2", 99), (10, "9"), (10, 10), (10, "abc"), (10, None), ("x", 1), (10, A)],
    "lte": [(" 5", 5), (5, 5), (5, "5.0"), (5, 5.0001), (5, "-inf"), (5, A), ([5], 4)],
}
DATE_PROBES: list[tuple[str, Json, Json, str]] = [
    # (operator, filter, property, now)
    ("is_date_after", "-30d", "2099-01-01", NOW),
    ("is_date_after", "-30d", "2026-05-01", NOW),
    ("is_date_after", "30d", "2026-05-20T00:00:00Z", NOW),
    ("is_date_before", "-30d", "2026-05-01", NOW),
    ("is_date_before", "2024", "2023-06-01", NOW),
    ("is_date_before", "2024", "2024-06-16", NOW),
    ("is_date_before", "2024", "2024-06-14", NOW),
    ("is_date_before", "2024-01-01", 12345, NOW),
    ("is_date_before", "2024-01-01", None, NOW),
    ("is_date_before", "2024-01-01", True, NOW),
    ("is_date_before", "2024-01-01", "not a date", NOW),
    ("is_date_before", "not a date", "2023-01-01", NOW),
    ("is_date_before", "not a date", A, NOW),
    ("is_date_before", "2024-01-01", A, NOW),
    ("is_date_before", "2026-06-15T12:00:00Z", "2026-06-15T12:00:00Z", NOW),
    ("is_date_after", "2026-06-15T12:00:00Z", "2026-06-15T12:00:00Z", NOW),
    ("is_date_before", "2026-06-15T12:00:00Z", "2026-06-15T13:00:00+02:00", NOW),
    ("is_date_after", "2026-06-15 10:00:00 UTC", "2026-06-15T10:00:01Z", NOW),
    ("is_date_after", "2026-06-15T10:00:00 +02:00", "2026-06-15T08:30:00Z", NOW),
    ("is_date_before", "2026-06-15", "2026-06-14T23:59:59", NOW),
    ("is_date_before", "-12h", "2026-06-15T00:30:00Z", NOW),
    ("is_date_after", "-12h", "2026-06-15T00:30:00Z", NOW),
    ("is_date_after", "-3w", "2026-05-26T00:00:00Z", NOW),
    ("is_date_before", "-2y", "2024-06-15T11:00:00Z", NOW),
    ("is_date_before", "-10000d", "1990-01-01", NOW),
    ("is_date_before", "-9999d", "1990-01-01", NOW),
    ("is_date_before", "-5s", "2026-06-15T11:00:00Z", NOW),
    ("is_date_before", "-5M", "2026-01-01", NOW),
    ("is_date_before", "-1.5d", "2026-01-01", NOW),
    ("is_date_after", "-1m", "2026-02-28T12:30:00Z", "2026-03-31T12:00:00Z"),
    ("is_date_after", "-1m", "2026-02-28T11:30:00Z", "2026-03-31T12:00:00Z"),
    ("is_date_after", "-2m", "2026-01-29T00:00:00Z", "2026-03-31T12:00:00Z"),
    ("is_date_before", "-2m", "2026-01-30T00:00:00Z", "2026-03-31T12:00:00Z"),
    ("is_date_after", "-1y", "2027-02-28T12:30:00Z", "2028-02-29T12:00:00Z"),
    ("is_date_before", "-1y", "2027-02-28T11:30:00Z", "2028-02-29T12:00:00Z"),
    ("is_date_after", "2026-01-01T00:00:00Z", 1767225600, NOW),
    ("is_date_after", "2026-01-01", "2026-01-01T00:00:01", NOW),
    ("is_date_after", "2026-01-01", "20260102", NOW),
    ("is_date_before", "2026-01-01", "2025-12-31T23:59:59.999999+00:00", NOW),
]
SEMVER_PROBES: list[tuple[str, Json, Json]] = [
    ("semver_eq", "1.2.3", "1.2.3"),
    ("semver_eq", "1.2.3", "v1.2.3"),
    ("semver_eq", "1.2", "1.2.0"),
    ("semver_eq", "1.2.0-beta", "1.2.0"),
    ("semver_eq", "1.2.3", "1.2.3+build.5"),
    ("semver_eq", "1.2.3", "1.2.3.4"),
    ("semver_eq", "1.2.3", " 1.2.3 "),
    ("semver_eq", "1.2.3", "01.2.3"),
    ("semver_eq", "1.2.3", None),
    ("semver_eq", "1.2.3", A),
    ("semver_eq", "abc", "1.2.3"),
    ("semver_eq", "10", 10),
    ("semver_eq", "V2", "2.0.0"),
    ("semver_neq", "1.2.3", "1.2.4"),
    ("semver_neq", "1.2.3", "1.2.3"),
    ("semver_neq", "1.2.3", "x"),
    ("semver_gt", "1.2.3", "1.10.0"),
    ("semver_gt", "1.2.3", "1.2.3"),
    ("semver_gt", "1.2.3", "1.2.3-rc.1"),
    ("semver_gte", "1.2.3", "1.2.3"),
    ("semver_gte", "1.2.3", "1.2.2"),
    ("semver_lt", "2.0.0", "1.99.99"),
    ("semver_lt", "2.0.0", "2.0.0"),
    ("semver_lte", "2.0.0", "2.0.0"),
    ("semver_lte", "2.0.0", "2.0.1"),
    ("semver_lte", "2.0.01", "2.0.0"),
    ("semver_tilde", "1.2.3", "1.2.9"),
    ("semver_tilde", "1.2.3", "1.3.0"),
    ("semver_tilde", "1.2.3", "1.2.2"),
    ("semver_caret", "1.2.3", "1.9.0"),
    ("semver_caret", "1.2.3", "2.0.0"),
    ("semver_caret", "0.2.3", "0.2.9"),
    ("semver_caret", "0.2.3", "0.3.0"),
    ("semver_caret", "0.0.3", "0.0.3"),
    ("semver_caret", "0.0.3", "0.0.4"),
    ("semver_wildcard", "1.*", "1.9.9"),
    ("semver_wildcard", "1.*", "2.0.0"),
    ("semver_wildcard", "1.2.*", "1.2.7"),
    ("semver_wildcard", "1.2.*", "1.3.0"),
    ("semver_wildcard", "1.2.3", "1.2.3"),
    ("semver_wildcard", "*", "1.0.0"),
    ("semver_wildcard", "1.*", A),
]
UNKNOWN_OPERATOR_PROBES: list[tuple[str | None, Json, Json]] = [
    ("is_date_exact", "2024-01-01", "2024-01-01"),
    ("in", ["a"], "a"),
    ("flag_evaluates_to", True, True),
    ("contains", "a", "abc"),
    ("EXACT", "a", "a"),
    (None, "a", "A"),
    ("", "a", "A"),
    ("is_date_exact", "2024-01-01", A),
]


def operator_cases() -> list[dict[str, Json]]:
    cases: list[dict[str, Json]] = []
    for fv, pv in EXACT_PROBES:
        cases.append(_probe("exact", fv, pv))
        cases.append(_probe("is_not", fv, pv))
    for fv, pv in EXACT_V2_PROBES:
        cases.append(_probe("exact", fv, pv, matching_version=2))
        cases.append(_probe("is_not", fv, pv, matching_version=2))
    for op in ("is_set", "is_not_set"):
        for pv in ("x", None, "", False, [], A):
            cases.append(_probe(op, "is_set", pv))
    for table in (TEXT_PROBES, REGEX_PROBES, NUMERIC_PROBES):
        for op, probes in table.items():
            for fv, pv in probes:
                cases.append(_probe(op, fv, pv))
    for op, fv, pv, now in DATE_PROBES:
        cases.append(_probe(op, fv, pv, now=now))
    for op, fv, pv in SEMVER_PROBES:
        cases.append(_probe(op, fv, pv))
    for op, fv, pv in UNKNOWN_OPERATOR_PROBES:
        cases.append(_probe(op, fv, pv))
    # A filter without an "operator" key at all defaults to exact.
    cases.append(
        case(
            "operator key absent defaults to exact",
            flag("probe", cond(prop("p", None, "Pro"))),
            person={"p": "pro"},
        )
    )
    # Property filters of type "group" on a person flag read the person's properties.
    cases.append(
        case(
            "filter type group on a person flag reads person properties",
            flag("probe", cond(prop("p", "exact", "x", type="group", group_type_index=0))),
            person={"p": "x"},
        )
    )
    return cases


# ---------------------------------------------------------------------------------------------
# Conditions: how filters combine and how the condition list is walked.


def condition_cases() -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []
    p = {"plan": "pro", "age": 30}
    out.append(case("no conditions is false", flag("f"), person=p))
    out.append(case("empty condition, null rollout is true", flag("f", cond(rollout=None))))
    out.append(case("empty condition, 100% is true", flag("f", cond())))
    out.append(
        case(
            "all filters must match (AND)",
            [
                flag("both", cond(prop("plan", "exact", "pro"), prop("age", "gt", 18))),
                flag("one-fails", cond(prop("plan", "exact", "pro"), prop("age", "gt", 40))),
            ],
            person=p,
        )
    )
    out.append(
        case(
            "a failing filter beats an earlier missing one",
            flag("f", cond(prop("missing", "exact", "x"), prop("plan", "exact", "free"))),
            person=p,
            description="[missing a, failing b] is a definitive no-match, not a fallback",
        )
    )
    out.append(
        case(
            "a missing filter with a matching one is missing_context",
            flag("f", cond(prop("missing", "exact", "x"), prop("plan", "exact", "pro"))),
            person=p,
        )
    )
    out.append(
        case(
            "later condition wins over an inconclusive one",
            flag("f", cond(prop("missing", "exact", "x")), cond()),
            person=p,
        )
    )
    out.append(
        case(
            "inconclusive then no-match is unresolved",
            flag("f", cond(prop("missing", "exact", "x")), cond(prop("plan", "exact", "free"))),
            person=p,
        )
    )
    out.append(
        case(
            "reason precedence across conditions: unsupported beats missing",
            flag(
                "f",
                cond(prop("missing", "exact", "x")),
                cond(prop("plan", "bogus_op", "x")),
                cond(prop("plan", "exact", "free")),
            ),
            person=p,
        )
    )
    out.append(
        case(
            "reason precedence within a condition",
            flag("f", cond(prop("missing", "exact", "x"), prop("plan", "gt", "not-a-number"))),
            person=p,
        )
    )
    out.append(
        case(
            "negation key on a condition filter is ignored",
            flag("f", cond(prop("plan", "exact", "pro", negation=True))),
            person=p,
        )
    )
    out.append(
        case(
            "first matching condition decides",
            flag(
                "f",
                cond(prop("plan", "exact", "free"), variant="a"),
                cond(prop("plan", "exact", "pro"), variant="b"),
                cond(variant="c"),
                variants=[("a", 34), ("b", 33), ("c", 33)],
            ),
            person=p,
        )
    )
    out.append(
        case(
            "distinct_id is added to person properties when absent",
            flag("f", cond(prop("distinct_id", "exact", "user-42"))),
            distinct_id="user-42",
        )
    )
    out.append(
        case(
            "an explicit distinct_id property is kept",
            flag("f", cond(prop("distinct_id", "exact", "user-42"))),
            distinct_id="user-42",
            person={"distinct_id": "someone-else"},
        )
    )
    out.append(
        case(
            "properties list null counts as no filters",
            flag("f", {"properties": None, "rollout_percentage": 100}),
        )
    )
    out.append(
        case(
            "filters groups null means no conditions",
            flag("f") | {"filters": {"groups": None}},
        )
    )
    out.append(case("filters null means no conditions", flag("f") | {"filters": None}))
    return out


# ---------------------------------------------------------------------------------------------
# Rollout percentages and variants.


def rollout_cases() -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []
    for pct in (0, 100):
        for uid in ("user-0", "user-1", "user-2"):
            out.append(
                case(f"rollout {pct}% for {uid}", flag("r", cond(rollout=pct)), distinct_id=uid)
            )
    for pct in (0.5, 33.3, 50, 99.9):
        inside = ids_where(lambda u, p=pct: bucket("frac", u) <= p / 100, 2)
        outside = ids_where(lambda u, p=pct: bucket("frac", u) > p / 100, 2)
        for uid in inside + outside:
            out.append(
                case(f"rollout {pct}% for {uid}", flag("frac", cond(rollout=pct)), distinct_id=uid)
            )
    # Percentages that sit exactly on a person's hash (hash <= pct/100 passes).
    exact_hash = bucket("simple-flag", "distinct_id_0")
    for pct in (
        exact_hash * 100,
        math.nextafter(exact_hash * 100, 0),
        math.nextafter(exact_hash * 100, 200),
    ):
        out.append(
            case(
                f"rollout at the hash boundary {pct!r}",
                flag("simple-flag", cond(rollout=pct)),
                distinct_id="distinct_id_0",
            )
        )
    out.append(
        case(
            "rollout with properties, null rollout",
            flag("r", cond(prop("plan", "exact", "pro"), rollout=None)),
            person={"plan": "pro"},
        )
    )
    three = [("control", 34), ("test", 33), ("other", 33)]
    payloads = {"control": '{"c": 1}', "test": '"text"', "other": "[1, 2]"}
    for uid in ids_where(lambda u: True, 6, prefix="mv-"):
        out.append(
            case(
                f"three variants for {uid}",
                flag("mv", cond(), variants=three, payloads=payloads),
                distinct_id=uid,
            )
        )
    for override in ("test", "missing-variant", "", None, "TEST"):
        out.append(
            case(
                f"variant override {override!r}",
                flag("mv", cond(variant=override), variants=three, payloads=payloads),
                distinct_id="mv-0",
            )
        )
    out.append(
        case(
            "variant override on a boolean flag is ignored",
            flag("b", cond(variant="test"), payloads={"true": "1"}),
        )
    )
    under = [("a", 10), ("b", 10)]
    low = ids_where(lambda u: bucket("under", u, "variant") < 0.2, 2)
    high = ids_where(lambda u: bucket("under", u, "variant") >= 0.2, 2)
    for uid in low + high:
        out.append(
            case(
                f"variants summing to 20% for {uid}",
                flag("under", cond(), variants=under, payloads={"a": "1", "true": "2"}),
                distinct_id=uid,
            )
        )
    for uid in ("user-0", "user-1", "user-2"):
        out.append(
            case(
                f"variants summing over 100% for {uid}",
                flag("over", cond(), variants=[("a", 60), ("b", 60), ("c", 60)]),
                distinct_id=uid,
            )
        )
        out.append(
            case(
                f"zero-share variant never chosen for {uid}",
                flag("zero", cond(), variants=[("none", 0), ("all", 100)]),
                distinct_id=uid,
            )
        )
        out.append(
            case(
                f"fractional variant shares for {uid}",
                flag("fv", cond(), variants=[("a", 33.33), ("b", 33.33), ("c", 33.34)]),
                distinct_id=uid,
            )
        )
    out.append(
        case(
            "multivariate null is boolean",
            flag("mvn", cond()) | {"filters": {"groups": [cond()], "multivariate": None}},
        )
    )
    out.append(
        case(
            "variant keys are case-sensitive in overrides",
            flag("mv", cond(variant="Control"), variants=three),
            distinct_id="mv-1",
        )
    )
    # Early exit.
    out_id = ids_where(lambda u: bucket("ee", u) > 0.1, 1)[0]
    in_id = ids_where(lambda u: bucket("ee", u) <= 0.1, 1)[0]
    for early in (True, False, None):
        for uid in (out_id, in_id):
            out.append(
                case(
                    f"early_exit={early} for {uid}",
                    flag(
                        "ee",
                        cond(prop("plan", "exact", "pro"), rollout=10),
                        cond(rollout=100, variant=None),
                        early_exit=early,
                    ),
                    person={"plan": "pro"},
                    distinct_id=uid,
                )
            )
    out.append(
        case(
            "early exit only stops on out-of-rollout, not on no-match",
            flag("ee", cond(prop("plan", "exact", "free"), rollout=10), cond(), early_exit=True),
            person={"plan": "pro"},
            distinct_id=out_id,
        )
    )
    out.append(
        case(
            "early exit after an inconclusive condition is unresolved",
            flag(
                "ee", cond(prop("missing", "exact", "x")), cond(rollout=10), cond(), early_exit=True
            ),
            distinct_id=out_id,
        )
    )
    # Payloads.
    out.append(
        case(
            "boolean payloads true/false",
            [
                flag("on", cond(), payloads={"true": '{"a": [1, 2]}', "false": '"off"'}),
                flag("off", cond(rollout=0), payloads={"true": '{"a": 1}', "false": '"off"'}),
                flag("inactive", cond(), active=False, payloads={"false": '"dormant"'}),
            ],
        )
    )
    out.append(
        case(
            "payload decoding",
            [
                flag("bad-json", cond(), payloads={"true": "{not json"}),
                flag("nan", cond(), payloads={"true": "NaN"}),
                flag("dict", cond(), payloads={"true": {"already": "decoded"}}),
                flag("number", cond(), payloads={"true": 42}),
                flag("string", cond(), payloads={"true": '"quoted"'}),
                flag("plain", cond(), payloads={"true": "plain text"}),
                flag("null", cond(), payloads={"true": "null"}),
                flag("empty", cond(), payloads={"true": ""}),
                flag("float", cond(), payloads={"true": "1.50"}),
                flag("none", cond(), payloads={"true": None}),
                flag("upper", cond(), payloads={"True": '"x"'}),
            ],
        )
    )
    return out


# ---------------------------------------------------------------------------------------------
# Holdouts, feature enrollment, device-id bucketing.


def holdout_cases() -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []
    inside = ids_where(lambda u: bucket("holdout", u, separator="-") <= 0.3, 2)
    outside = ids_where(lambda u: bucket("holdout", u, separator="-") > 0.3, 2)
    pay = {"holdout-7": '{"held": true}', "true": '"in"'}
    for uid in inside + outside:
        out.append(
            case(
                f"holdout 30% for {uid}",
                flag("h", cond(), holdout={"id": 7, "exclusion_percentage": 30}, payloads=pay),
                distinct_id=uid,
            )
        )
    for pct in (0, 100, 150, -5):
        for uid in ("user-0", "user-1"):
            out.append(
                case(
                    f"holdout {pct}% for {uid}",
                    flag("h", cond(), holdout={"id": 7, "exclusion_percentage": pct}, payloads=pay),
                    distinct_id=uid,
                )
            )
    for holdout in (
        {"id": 7},
        {"exclusion_percentage": 100},
        {"id": None, "exclusion_percentage": 100},
        {},
        None,
    ):
        out.append(
            case(
                f"incomplete holdout {json.dumps(holdout)}",
                flag("h", cond(), holdout=holdout),
            )
        )
    out.append(
        case(
            "holdout takes precedence over non-matching conditions",
            flag(
                "h",
                cond(prop("plan", "exact", "pro")),
                holdout={"id": 3, "exclusion_percentage": 100},
            ),
            person={"plan": "free"},
        )
    )
    out.append(
        case(
            "holdout on a multivariate flag",
            flag(
                "h",
                cond(),
                variants=[("a", 50), ("b", 50)],
                holdout={"id": 9, "exclusion_percentage": 100},
            ),
        )
    )
    dev_in = ids_where(lambda u: bucket("holdout", u, separator="-") <= 0.5, 1, prefix="dev-")[0]
    out.append(
        case(
            "holdout hashes the device id under device bucketing",
            flag(
                "h",
                cond(),
                holdout={"id": 4, "exclusion_percentage": 50},
                bucketing="device_id",
            ),
            distinct_id=outside[0],
            device_id=dev_in,
        )
    )
    # Feature enrollment.
    ekey = "$feature_enrollment/beta"
    for value in (True, "true", "TRUE", False, "false", 1, None, A):
        person = {} if value is A else {ekey: value}
        shown = "absent" if value is A else json.dumps(value)
        out.append(
            case(
                f"feature enrollment with {shown}",
                flag("beta", cond(rollout=0), enrollment=True, payloads={"true": '"enrolled"'}),
                person=person,
            )
        )
    out.append(
        case(
            'feature_enrollment "true" (a string) is not enrollment',
            flag("beta", cond(), enrollment="true"),
            person={ekey: False},
        )
    )
    out.append(
        case(
            "feature enrollment ignores holdout and conditions",
            flag(
                "beta",
                cond(prop("plan", "exact", "x")),
                enrollment=True,
                holdout={"id": 1, "exclusion_percentage": 100},
            ),
            person={ekey: True},
        )
    )
    out.append(
        case(
            "feature enrollment on a group flag is unsupported",
            flag("beta", cond(), enrollment=True, group=0),
            person={ekey: True},
            groups={"company": "acme"},
            mapping={"0": "company"},
        )
    )
    # Device-id bucketing.
    dev_on = ids_where(lambda u: bucket("dev", u) <= 0.5, 2, prefix="device-")
    dev_off = ids_where(lambda u: bucket("dev", u) > 0.5, 2, prefix="device-")
    person_off = ids_where(lambda u: bucket("dev", u) > 0.5, 1)[0]
    person_on = ids_where(lambda u: bucket("dev", u) <= 0.5, 1)[0]
    for where in ("top", "filters"):
        for dev, uid in ((dev_on[0], person_off), (dev_off[0], person_on)):
            kwargs: dict[str, Json] = (
                {"bucketing": "device_id"} if where == "top" else {"filters_bucketing": "device_id"}
            )
            out.append(
                case(
                    f"device bucketing ({where}) device {dev} person {uid}",
                    flag("dev", cond(rollout=50), **kwargs),
                    distinct_id=uid,
                    device_id=dev,
                )
            )
    out.append(
        case(
            "device bucketing without a device id is missing_context",
            flag("dev", cond(), bucketing="device_id"),
        )
    )
    out.append(
        case(
            "device bucketing with an empty device id is missing_context",
            flag("dev", cond(), bucketing="device_id"),
            device_id="",
        )
    )
    out.append(
        case(
            "device bucketing without a device id, with an unsupported filter",
            flag("dev", cond(prop("p", "nope", 1)), bucketing="device_id"),
            person={"p": 1},
        )
    )
    out.append(
        case(
            "device id is ignored under distinct-id bucketing",
            flag("dev", cond(rollout=50)),
            distinct_id=person_off,
            device_id=dev_on[0],
        )
    )
    out.append(
        case(
            "top-level distinct_id wins over filters device_id",
            flag("dev", cond(rollout=50), bucketing="distinct_id", filters_bucketing="device_id"),
            distinct_id=person_off,
            device_id=dev_on[0],
        )
    )
    out.append(
        case(
            "bucketing identifier is case-sensitive",
            flag("dev", cond(rollout=50), bucketing="DEVICE_ID"),
            distinct_id=person_off,
            device_id=dev_on[0],
        )
    )
    for dev in dev_on + dev_off:
        out.append(
            case(
                f"device id picks the variant ({dev})",
                flag("devmv", cond(), variants=[("a", 50), ("b", 50)], bucketing="device_id"),
                device_id=dev,
            )
        )
    out.append(
        case(
            "device bucketing does not apply to group flags",
            flag("dev", cond(rollout=50), group=0, bucketing="device_id"),
            groups={"company": "acme"},
            mapping={"0": "company"},
        )
    )
    return out


# ---------------------------------------------------------------------------------------------
# Group flags and mixed targeting.


def group_cases() -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []
    mapping = {"0": "company", "1": "project"}
    company = flag("g", cond(prop("size", "gt", 10, type="group", group_type_index=0)), group=0)
    out.append(
        case(
            "group flag matches group properties",
            company,
            groups={"company": "acme"},
            group_properties={"company": {"size": 50}},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group flag does not match",
            company,
            groups={"company": "acme"},
            group_properties={"company": {"size": 5}},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group flag without that group is false",
            company,
            groups={"project": "p1"},
            group_properties={"project": {"size": 50}},
            mapping=mapping,
            person={"size": 50},
        )
    )
    out.append(case("group flag with no groups at all is false", company, mapping=mapping))
    out.append(
        case(
            "group flag whose group properties are absent is missing_context",
            company,
            groups={"company": "acme"},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group flag with unknown type index is unsupported",
            flag("g", cond(), group=5),
            groups={"company": "acme"},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group flag with an empty mapping is unsupported",
            flag("g", cond(), group=0),
            groups={"company": "acme"},
        )
    )
    out.append(
        case(
            "group flag reads $group_key",
            flag("g", cond(prop("$group_key", "exact", "acme", type="group")), group=0),
            groups={"company": "acme"},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group properties may override $group_key",
            flag("g", cond(prop("$group_key", "exact", "other", type="group")), group=0),
            groups={"company": "acme"},
            group_properties={"company": {"$group_key": "other"}},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group flag ignores person properties",
            flag("g", cond(prop("plan", "exact", "pro")), group=0),
            groups={"company": "acme"},
            group_properties={"company": {}},
            person={"plan": "pro"},
            mapping=mapping,
        )
    )
    on = ids_where(lambda u: bucket("gr", u) <= 0.5, 2, prefix="org-")
    off = ids_where(lambda u: bucket("gr", u) > 0.5, 2, prefix="org-")
    for key in on + off:
        out.append(
            case(
                f"group rollout hashes the group key {key}",
                flag("gr", cond(rollout=50), group=1),
                groups={"project": key},
                mapping=mapping,
                distinct_id=off[0] if key in on else on[0],
            )
        )
        out.append(
            case(
                f"group variant hashes the group key {key}",
                flag(
                    "gmv",
                    cond(),
                    group=1,
                    variants=[("x", 50), ("y", 50)],
                    payloads={"x": "1", "y": "2"},
                ),
                groups={"project": key},
                mapping=mapping,
            )
        )
    out.append(
        case(
            "string group type index",
            flag("g", cond(), group="0"),
            groups={"company": "acme"},
            mapping=mapping,
        )
    )
    # Mixed targeting.
    mixed = flag(
        "mixed",
        cond(prop("plan", "exact", "enterprise", type="group"), group=0, variant="grp"),
        cond(prop("email", "icontains", "@acme.com"), variant="person"),
        variants=[("grp", 50), ("person", 50)],
    )
    people: list[tuple[str, dict[str, Json]]] = [
        (
            "group condition matches",
            {
                "groups": {"company": "acme"},
                "group_properties": {"company": {"plan": "enterprise"}},
                "person": {"email": "a@acme.com"},
            },
        ),
        ("group missing, person matches", {"person": {"email": "a@acme.com"}}),
        ("group missing, person missing", {}),
        (
            "group does not match, person matches",
            {
                "groups": {"company": "acme"},
                "group_properties": {"company": {"plan": "free"}},
                "person": {"email": "a@acme.com"},
            },
        ),
        (
            "group without properties",
            {"groups": {"company": "acme"}, "person": {"email": "b@x.com"}},
        ),
        (
            "other group type only",
            {
                "groups": {"project": "p"},
                "group_properties": {"project": {"plan": "enterprise"}},
                "person": {"email": "b@x.com"},
            },
        ),
    ]
    for label, call in people:
        out.append(case(f"mixed targeting: {label}", mixed, mapping=mapping, **call))
    out.append(
        case(
            "mixed targeting: unknown condition index is skipped",
            flag("mixed", cond(group=9), cond(prop("email", "is_set"))),
            person={"email": "x"},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "mixed targeting: unknown condition index only",
            flag("mixed", cond(group=9)),
            groups={"company": "acme"},
            mapping=mapping,
        )
    )
    g_on = ids_where(lambda u: bucket("mixr", u) <= 0.5, 1, prefix="org-")[0]
    p_off = ids_where(lambda u: bucket("mixr", u) > 0.5, 1)[0]
    out.append(
        case(
            "mixed targeting: group condition buckets on the group key",
            flag("mixr", cond(rollout=50, group=0)),
            groups={"company": g_on},
            distinct_id=p_off,
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group flag with a condition forcing person context (null index)",
            flag("g", cond(prop("plan", "exact", "pro"), group=None), group=0),
            groups={"company": "acme"},
            group_properties={"company": {"plan": "pro"}},
            person={"plan": "free"},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "group flag for a type absent from groups, with properties for it, is false",
            flag("g", cond(prop("plan", "exact", "pro", type="group")), group=1),
            groups={"company": "acme"},
            group_properties={"project": {"plan": "pro"}},
            mapping=mapping,
        )
    )
    out.append(
        case(
            "person and group flags side by side",
            [
                flag("person", cond(prop("plan", "exact", "pro"))),
                flag("company", cond(prop("plan", "exact", "pro", type="group")), group=0),
                flag("project", cond(), group=1),
            ],
            person={"plan": "pro"},
            groups={"company": "acme"},
            group_properties={"company": {"plan": "free"}},
            mapping=mapping,
        )
    )
    return out


# ---------------------------------------------------------------------------------------------
# Cohorts.


def cohort_cases() -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []

    def group(kind: str, *values: Json) -> dict[str, Json]:
        return {"type": kind, "values": list(values)}

    cohorts = {
        "1": group("AND", group("AND", prop("plan", "exact", "pro"), prop("age", "gte", 18))),
        "2": group("OR", prop("plan", "exact", "pro"), prop("age", "gt", 5)),
        "3": group("AND", cohort_ref(1), prop("country", "exact", "FR")),
        "4": group("AND", prop("plan", "exact", "free", negation=True)),
        "5": {},
        "6": group(
            "OR",
            group("AND", prop("a", "exact", "1"), prop("b", "exact", "1")),
            group("AND", prop("c", "exact", "1")),
        ),
        "7": group("AND", cohort_ref(99)),
        "8": group("XOR", prop("plan", "exact", "pro")),
        "9": group("AND", prop("plan", "bogus", "pro")),
        "10": group("AND", cohort_ref(1, negation=True)),
        "11": group("AND"),
        "12": group(
            "OR", prop("missing", "exact", "x"), prop("plan", "exact", "pro", negation=True)
        ),
        "13": group("AND", dep("parent", True)),
        "14": {"type": "AND", "values": "nope"},
        "15": group("OR"),
        "16": group("AND", group("OR"), prop("plan", "exact", "pro")),
        "17": group("OR", group("OR"), prop("plan", "exact", "pro")),
    }
    people: list[dict[str, Json]] = [
        {"plan": "pro", "age": 30, "country": "FR"},
        {"plan": "pro", "age": 10, "country": "DE"},
        {"plan": "free", "age": 30},
        {"plan": "free"},
        {"age": 3},
        {},
        {"a": "1", "b": "2", "c": "1"},
        {"a": "1", "b": "2"},
    ]
    parent = flag("parent", cond(prop("plan", "exact", "pro")))
    for cid in sorted(cohorts, key=int):
        for operator in ("in", "not_in"):
            flags = [flag("c", cond(cohort_ref(int(cid), operator)))]
            if cid == "13":
                flags.insert(0, parent)
            for i, person in enumerate(
                people if cid in {"1", "2", "3", "4", "6", "12", "16", "17"} else people[:3]
            ):
                out.append(
                    case(
                        f"cohort {cid} {operator} person {i}",
                        flags,
                        person=person,
                        cohorts=cohorts,
                    )
                )
    extra = [
        ("static cohort (absent) requires the server", cond(cohort_ref(404)), {"plan": "pro"}),
        (
            "static cohort with a failing filter is false",
            cond(cohort_ref(404), prop("plan", "exact", "free")),
            {"plan": "pro"},
        ),
        (
            "static cohort with a missing filter",
            cond(cohort_ref(404), prop("missing", "exact", "x")),
            {"plan": "pro"},
        ),
        (
            "missing filter then static cohort",
            cond(prop("missing", "exact", "x"), cohort_ref(404)),
            {"plan": "pro"},
        ),
        ("cohort id given as a string", cond(cohort_ref("1")), {"plan": "pro", "age": 20}),
        ("cohort operator exact", cond(cohort_ref(1, "exact")), {"plan": "pro", "age": 20}),
        ("cohort operator missing", cond(cohort_ref(1, None)), {"plan": "pro", "age": 20}),
        ("cohort operator unsupported", cond(cohort_ref(1, "is_not")), {"plan": "pro", "age": 20}),
        ("cohort operator unsupported on a static cohort", cond(cohort_ref(404, "is_not")), {}),
    ]
    for label, condition, person in extra:
        out.append(case(label, flag("c", condition), person=person, cohorts=cohorts))
    out.append(
        case(
            "static cohort in an earlier condition stops the flag",
            flag("c", cond(cohort_ref(404)), cond()),
            cohorts=cohorts,
        )
    )
    out.append(
        case(
            "static cohort in a later condition is not reached",
            flag("c", cond(), cond(cohort_ref(404))),
            cohorts=cohorts,
        )
    )
    out.append(
        case(
            "static cohort plus an unsupported filter elsewhere in the flag",
            flag("c", cond(cohort_ref(404)), cond(prop("x", "bogus", 1))),
            cohorts=cohorts,
        )
    )
    out.append(
        case(
            "cohort in a group flag reads group properties",
            flag("c", cond(cohort_ref(2)), group=0),
            groups={"company": "acme"},
            group_properties={"company": {"plan": "pro"}},
            person={"plan": "free"},
            cohorts=cohorts,
            mapping={"0": "company"},
        )
    )
    return out


# ---------------------------------------------------------------------------------------------
# Flag dependencies.


def dependency_cases() -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []
    pro = flag("parent", cond(prop("plan", "exact", "pro")), payloads={"true": '"p"'})
    variant_parent = flag("vparent", cond(), variants=[("alpha", 50), ("beta", 50)])
    alpha_person = ids_where(lambda u: bucket("vparent", u, "variant") < 0.5, 1)[0]
    for expected in (True, False, "true", 1, "parent"):
        for plan in ("pro", "free"):
            out.append(
                case(
                    f"depends on parent == {json.dumps(expected)} (plan {plan})",
                    [pro, flag("child", cond(dep("parent", expected)))],
                    person={"plan": plan},
                )
            )
    for expected in ("alpha", "beta", "ALPHA", True, False):
        out.append(
            case(
                f"depends on variant parent == {json.dumps(expected)}",
                [variant_parent, flag("child", cond(dep("vparent", expected)))],
                distinct_id=alpha_person,
            )
        )
    chain3 = [
        flag("a", cond(prop("plan", "exact", "pro"))),
        flag("b", cond(dep("a", True))),
        flag("c", cond(dep("b", True, ["a", "b"]))),
    ]
    for plan in ("pro", "free"):
        out.append(case(f"three-level chain (plan {plan})", chain3, person={"plan": plan}))
    out.append(case("three-level chain, parent missing context", chain3))
    out.append(
        case(
            "dependency evaluated before its definition appears",
            [flag("child", cond(dep("parent", True))), pro],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "cycle (empty chain) is unsupported",
            [flag("x", cond(dep("y", True, []))), flag("y", cond(dep("x", True, [])))],
        )
    )
    out.append(case("self dependency with empty chain", flag("self", cond(dep("self", True, [])))))
    out.append(
        case(
            "missing dependency_chain is unsupported",
            [pro, flag("child", cond(dep("parent", True, None)))],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "dependency_chain not a list is unsupported",
            [pro, flag("child", cond(dep("parent", True, "parent")))],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "chain names an unknown flag",
            [pro, flag("child", cond(dep("ghost", True, ["ghost"])))],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "chain with an unknown member before a known one",
            [pro, flag("child", cond(dep("parent", True, ["ghost", "parent"])))],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "parent with experience continuity",
            [flag("parent", cond(), continuity=True), flag("child", cond(dep("parent", True)))],
        )
    )
    out.append(
        case(
            "parent inactive counts as false",
            [flag("parent", cond(), active=False), flag("child", cond(dep("parent", False)))],
        )
    )
    out.append(
        case(
            "parent inactive, expected true",
            [flag("parent", cond(), active=False), flag("child", cond(dep("parent", True)))],
        )
    )
    out.append(
        case(
            "parent unsupported gives unresolved_dependency",
            [flag("parent", cond(prop("p", "bogus", 1))), flag("child", cond(dep("parent", True)))],
            person={"p": 1},
        )
    )
    out.append(
        case(
            "parent requires a static cohort",
            [flag("parent", cond(cohort_ref(404))), flag("child", cond(dep("parent", True)))],
        )
    )
    out.append(
        case(
            "malformed dependency: value null is false",
            [
                pro,
                flag(
                    "child",
                    cond(dep("parent", None)),
                    cond(prop("plan", "exact", "pro"), variant=None),
                ),
            ],
            person={"plan": "pro"},
        )
    )
    malformed_op = prop("parent", "exact", True, type="flag", dependency_chain=["parent"])
    out.append(
        case(
            "malformed dependency: wrong operator is false",
            [pro, flag("child", cond(malformed_op))],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "malformed dependency: empty key is false",
            [pro, flag("child", cond(dep("", True, [""])))],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "dependency on a group flag uses the person's distinct id for bucketing",
            [
                flag("gparent", cond(rollout=50), group=0),
                flag("child", cond(dep("gparent", True))),
            ],
            groups={"company": "acme"},
            mapping={"0": "company"},
            distinct_id=ids_where(lambda u: bucket("gparent", u) <= 0.5, 1)[0],
        )
    )
    out.append(
        case(
            "dependency sees the dependent flag's properties",
            [
                flag("parent", cond(prop("plan", "exact", "pro", type="group")), group=0),
                flag("gchild", cond(dep("parent", True)), group=0),
            ],
            groups={"company": "acme"},
            group_properties={"company": {"plan": "pro"}},
            person={"plan": "free"},
            mapping={"0": "company"},
        )
    )
    out.append(
        case(
            "dependency plus a missing filter in the same condition",
            [pro, flag("child", cond(dep("parent", True), prop("missing", "exact", "x")))],
            person={"plan": "pro"},
        )
    )
    out.append(
        case(
            "dependency on a held-out parent",
            [
                flag("parent", cond(), holdout={"id": 2, "exclusion_percentage": 100}),
                flag("child", cond(dep("parent", "holdout-2"))),
                flag("child-true", cond(dep("parent", True))),
            ],
        )
    )
    out.append(
        case(
            "flag_keys scopes the result, not the dependencies",
            [pro, flag("child", cond(dep("parent", True)))],
            person={"plan": "pro"},
            flag_keys=["child"],
        )
    )
    return out


# ---------------------------------------------------------------------------------------------
# Quirks: inactive flags, experience continuity, definition oddities.


def quirk_cases() -> list[dict[str, Json]]:
    out: list[dict[str, Json]] = []
    for active in (False, None, 0, "", True, 1, "yes"):
        out.append(
            case(
                f"active {json.dumps(active)}",
                flag("f", cond(), active=active, payloads={"true": '"on"', "false": '"off"'}),
            )
        )
    out.append(
        case(
            "active key absent is inactive",
            {k: v for k, v in flag("f", cond()).items() if k != "active"},
        )
    )
    out.append(
        case(
            "inactive beats experience continuity", flag("f", cond(), active=False, continuity=True)
        )
    )
    for value in (True, 1, "yes", False, None, 0):
        out.append(
            case(
                f"experience continuity {json.dumps(value)}",
                flag("f", cond(), continuity=value),
            )
        )
    out.append(
        case(
            "experience continuity beats an unsupported operator",
            flag("f", cond(prop("p", "bogus", 1)), continuity=True),
            person={"p": 1},
        )
    )
    out.append(
        case(
            "many flags in one document keep definition order",
            [flag(f"k{i}", cond(rollout=50)) for i in range(8)],
        )
    )
    out.append(
        case(
            "flag_keys restricts the snapshot",
            [flag("a", cond()), flag("b", cond()), flag("c", cond(prop("x", "exact", "y")))],
            flag_keys=["a", "c", "not-defined"],
        )
    )
    out.append(
        case(
            "unknown top-level and filter fields are ignored",
            flag(
                "f",
                cond(),
                deleted=False,
                evaluation_runtime="server",
                super_groups=[{"x": 1}],
                holdout_groups=[],
            ),
        )
    )
    out.append(
        case(
            "duplicate keys: the later definition is used for dependencies",
            [
                flag("dup", cond(rollout=0)),
                flag("dup", cond()),
                flag("child", cond(dep("dup", True))),
            ],
        )
    )
    out.append(
        case(
            "property_matching_version 2 on boolean-like values",
            [
                flag("t", cond(prop("p", "exact", True))),
                flag("f", cond(prop("p", "exact", False))),
                flag("n", cond(prop("p", "is_not", "false"))),
            ],
            person={"p": "banana"},
            matching_version=2,
        )
    )
    out.append(
        case(
            "property_matching_version 1 on boolean-like values",
            [
                flag("t", cond(prop("p", "exact", True))),
                flag("f", cond(prop("p", "exact", False))),
                flag("n", cond(prop("p", "is_not", "false"))),
            ],
            person={"p": "banana"},
            matching_version=1,
        )
    )
    out.append(
        case(
            "property_matching_version 3 is legacy",
            flag("f", cond(prop("p", "exact", False))),
            person={"p": "banana"},
            matching_version=3,
        )
    )
    out.append(
        case(
            "numeric distinct id strings are hashed as given",
            [flag("n", cond(rollout=50)), flag("nmv", cond(), variants=[("a", 50), ("b", 50)])],
            distinct_id="12345",
        )
    )
    out.append(
        case(
            "unicode distinct id",
            [flag("u", cond(rollout=50)), flag("umv", cond(), variants=[("a", 50), ("b", 50)])],
            distinct_id="пользователь-ü-😀",
        )
    )
    out.append(
        case(
            "unicode flag key",
            [flag("flag-ü-😀", cond(rollout=50), variants=[("é", 50), ("e", 50)])],
            distinct_id="user-3",
        )
    )
    out.append(
        case(
            "list and object property values against text operators",
            [
                flag("list", cond(prop("tags", "icontains", '"beta"'))),
                flag("obj", cond(prop("meta", "icontains", '{"k":'))),
                flag("nested", cond(prop("meta", "exact", {"k": [1, {"z": None, "a": True}]}))),
            ],
            person={"tags": ["alpha", "beta"], "meta": {"k": [1, {"a": True, "z": None}]}},
        )
    )
    out.append(
        case(
            "large integers stringify exactly",
            [
                flag("big", cond(prop("n", "exact", "12345678901234567890"))),
                flag("bigf", cond(prop("n", "gt", 1.2e19))),
            ],
            person={"n": 12345678901234567890},
        )
    )
    return out


AREAS: dict[str, Callable[[], list[dict[str, Json]]]] = {
    "operators": operator_cases,
    "conditions": condition_cases,
    "rollout_variants": rollout_cases,
    "holdouts_enrollment_device": holdout_cases,
    "groups_mixed": group_cases,
    "cohorts": cohort_cases,
    "dependencies": dependency_cases,
    "quirks": quirk_cases,
}


# ---------------------------------------------------------------------------------------------
# Recording


def _strict_roundtrip(value: Json) -> bool:
    """Whether `value` survives JSON unchanged, bools and numbers kept apart."""

    def same(a: Json, b: Json) -> bool:
        if type(a) is not type(b):
            return False
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return bool(a == b)

    return same(value, json.loads(json.dumps(value)))


def parse_now(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def record(
    cases: Iterable[dict[str, Json]], evaluate: Callable[..., Json]
) -> list[dict[str, Json]]:
    """Attach the oracle's outcome to each case, refusing cases the oracle cannot answer cleanly."""
    recorded: list[dict[str, Json]] = []
    for raw in cases:
        if not _strict_roundtrip(raw["definitions"]) or not _strict_roundtrip(raw["call"]):
            raise ValueError(f"case {raw['name']!r} is not plain JSON")
        call = raw["call"]
        outcome = evaluate(
            raw["definitions"],
            call["distinct_id"],
            person_properties=call["person_properties"],
            groups=call["groups"],
            group_properties=call["group_properties"],
            device_id=call["device_id"],
            flag_keys=call["flag_keys"],
            now=parse_now(call["now"]),
        )
        keys = [f["key"] for f in raw["definitions"]["flags"]]
        wanted = keys if call["flag_keys"] is None else [k for k in keys if k in call["flag_keys"]]
        missing = sorted(set(wanted) - set(outcome))
        if missing:
            raise ValueError(f"case {raw['name']!r}: the oracle gave no outcome for {missing}")
        for key, result in outcome.items():
            if "value" in result and not isinstance(result["value"], (bool, str)):
                raise ValueError(f"case {raw['name']!r}: odd value for {key}: {result!r}")
            if not _strict_roundtrip(result):
                raise ValueError(f"case {raw['name']!r}: outcome for {key} is not plain JSON")
        recorded.append({**raw, "expected": dict(sorted(outcome.items()))})
    return recorded


def _with_ids(area: str, cases: list[dict[str, Json]]) -> list[dict[str, Json]]:
    seen: dict[str, int] = {}
    out = []
    for raw in cases:
        base = f"{area}/{raw['name']}"
        seen[base] = seen.get(base, 0) + 1
        case_id = base if seen[base] == 1 else f"{base} #{seen[base]}"
        out.append({"id": case_id, **raw})
    return out


def build_all(evaluate: Callable[..., Json]) -> dict[str, dict[str, Json]]:
    _next_id[0] = 1000
    files: dict[str, dict[str, Json]] = {}
    for area, builder in AREAS.items():
        files[area] = {
            "format": FORMAT,
            "area": area,
            "oracle": ORACLE,
            "cases": _with_ids(area, record(builder(), evaluate)),
        }
    return files


# `expected` holds what the reference answers on Python 3.11 and later; an older Python's
# differing answers are recorded beside it, under `expected_on`, by running this script there.
PRIMARY_FROM = (3, 11)
RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def _merge(fresh: dict[str, Json], stored: dict[str, Json] | None) -> dict[str, Json]:
    """The fresh document with the per-runtime outcomes that this interpreter cannot see kept."""
    old_cases = {case["id"]: case for case in (stored or {}).get("cases", [])}
    merged = []
    for case in fresh["cases"]:
        old = old_cases.get(case["id"], {})
        variants = dict(old.get("expected_on", {}))
        if sys.version_info[:2] >= PRIMARY_FROM:
            variants.pop(RUNTIME, None)
        else:
            here = case["expected"]
            case = {**case, "expected": old.get("expected", here)}
            if here == case["expected"]:
                variants.pop(RUNTIME, None)
            else:
                variants[RUNTIME] = here
        merged.append({**case, "expected_on": variants} if variants else case)
    return {**fresh, "cases": merged}


def main(argv: Sequence[str] | None = None) -> int:
    sys.path.insert(0, str(HERE.parent))
    import oracle  # tests/oracle.py: posthog==7.91.1 driven offline

    files = build_all(oracle.evaluate)
    total = 0
    for area, document in files.items():
        path = HERE / f"{area}.json"
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        merged = _merge(json.loads(json.dumps(document)), stored)
        text = json.dumps(merged, indent=1, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        total += len(document["cases"])
        print(f"{path.name}: {len(document['cases'])} cases")
    print(f"{total} cases written ({RUNTIME})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
