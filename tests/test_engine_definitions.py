"""Reading definitions: the document and bare-list shapes, errors, tolerance per flag,
and the static problems `hogkit check` reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from engine_compare import NOW, assert_agrees, both, condition, flag, prop
from hogkit.core import DefinitionsError, FlagSet, Problem, Unresolved
from hogkit.core.payloads import decode_payload
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"42", "got number"),
        (b'"flags"', "got string"),
        (b"null", "got null"),
        (b'{"flags": {"key": "a"}}', "flags"),
        (b'{"flags": "nope"}', "flags"),
    ],
)
def test_bad_documents_raise_definitions_error(raw: bytes, fragment: str) -> None:
    with pytest.raises(DefinitionsError, match=fragment):
        FlagSet.from_json(raw)


@pytest.mark.parametrize("odd", [[1], [], "x", "", 3, 0, None, True], ids=repr)
@pytest.mark.parametrize("table", ["group_type_mapping", "cohorts"])
def test_group_types_or_cohorts_of_another_json_type_hold_none(table: str, odd: Any) -> None:
    """Read as no table at all: the flags needing one are left to the server, the others
    decided (tests/test_compat_definitions_tables.py runs posthog-python alongside)."""
    flags = [
        flag("plain", groups=[condition()]),
        flag("grouped", aggregation_group_type_index=0, groups=[condition()]),
        flag("in-cohort", groups=[condition({"key": "id", "type": "cohort", "value": 1})]),
    ]
    odd_tables = {"flags": flags, "group_type_mapping": {"0": "company"}, "cohorts": {}}
    empty = {**odd_tables, table: {}}
    odd_tables[table] = odd
    groups = {"company": "acme"}
    for raw in (json.dumps(odd_tables), odd_tables):
        got = FlagSet.from_json(raw) if isinstance(raw, str) else FlagSet.from_document(raw)
        left = got.evaluate("u", groups=groups, now=NOW)
        right = FlagSet.from_document(empty).evaluate("u", groups=groups, now=NOW)
        assert left.flag_values == right.flag_values and left.unresolved == right.unresolved


def test_definitions_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        FlagSet.from_json("[")
    with pytest.raises(DefinitionsError):
        FlagSet.from_document(3.5)
    with pytest.raises(DefinitionsError):
        FlagSet.from_json(123)  # type: ignore[arg-type]


def test_document_and_bare_list_compile_alike() -> None:
    flags = [flag("a", groups=[condition(prop("plan", "pro"))]), flag("b", groups=[condition()])]
    as_list = FlagSet.from_json(json.dumps(flags))
    as_doc = FlagSet.from_json(json.dumps({"flags": flags}).encode())
    assert as_list.keys == as_doc.keys == ("a", "b")
    assert (
        FlagSet.from_document(flags).fingerprint
        == FlagSet.from_document({"flags": flags}).fingerprint
    )
    people = [{"plan": "pro"}, {"plan": "free"}, {}]
    for person in people:
        left = as_list.evaluate("u", person_properties=person, now=NOW)
        right = as_doc.evaluate("u", person_properties=person, now=NOW)
        assert left.flag_values == right.flag_values and left.unresolved == right.unresolved


def test_null_top_level_fields_mean_empty() -> None:
    doc = {"flags": None, "cohorts": None, "group_type_mapping": None}
    fs = FlagSet.from_document(doc)
    assert fs.keys == ()
    assert fs.evaluate("u", now=NOW).keys == ()


def test_unknown_fields_are_ignored() -> None:
    doc = {
        "flags": [
            {
                **flag("a", groups=[{**condition(), "future": {"x": 1}}], brand_new=[1, 2]),
                "evaluation_tags": ["web"],
                "super_groups": [],
            }
        ],
        "quotaLimited": [],
        "something_else": {"k": "v"},
    }
    assert assert_agrees(doc) == {"a": {"value": True, "payload": None}}


def test_json_only_python_accepts_still_reads() -> None:
    text = '{"flags": [{"key": "a", "active": true, "filters": {"groups": [{"properties": [{"key": "n", "operator": "lt", "value": 1e400}]}]}}]}'
    fs = FlagSet.from_json(text)
    assert fs.evaluate("u", person_properties={"n": 5}, now=NOW).unresolved == {
        "a": Unresolved.UNSUPPORTED_DEFINITION
    }
    assert_agrees(json.loads(text), person_properties={"n": 5})


MALFORMED = [
    {"key": "bad-filters", "active": True, "filters": "nope"},
    {"key": "bad-groups", "active": True, "filters": {"groups": {"a": 1}}},
    {"key": "bad-variant", "active": True, "filters": {"groups": [condition()], "multivariate": {"variants": [{"key": "a"}]}}},
    {"key": "bad-chain", "active": True, "filters": {"groups": [{"properties": {"k": 1}}]}},
]  # fmt: skip


@pytest.mark.parametrize("bad", MALFORMED, ids=lambda b: b["key"])
def test_a_malformed_flag_does_not_break_its_neighbours(bad: dict[str, Any]) -> None:
    doc = [flag("before", groups=[condition()]), bad, flag("after", groups=[condition(rollout=0)])]
    fs = FlagSet.from_document(doc)
    snap = fs.evaluate("u", now=NOW)
    assert snap.flag_values == {"before": True, "after": False}
    assert snap.unresolved == {bad["key"]: Unresolved.UNSUPPORTED_DEFINITION}
    assert fs.problems()[bad["key"]][0].reason is Unresolved.UNSUPPORTED_DEFINITION
    assert "malformed" in fs.problems()[bad["key"]][0].message
    assert_agrees(doc)


def assert_same(document: Any, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """hogkit and the oracle give exactly the same answer, flags left out included."""
    got, expected = both(document, **kwargs)
    assert got == expected
    return got


PRO = {"person_properties": {"plan": "pro"}}
NOT_AN_OBJECT = {"properties": ["oops"], "rollout_percentage": 100}


def test_a_rollout_that_is_not_a_number_leaves_the_flag_out_when_reached() -> None:
    doc = [
        flag("text", groups=[{"properties": [], "rollout_percentage": "50"}]),
        flag("list", groups=[{"properties": [], "rollout_percentage": [1]}]),
        flag("after-match", groups=[condition(prop("plan", "pro")), {"rollout_percentage": "x"}]),
        flag("not-reached", groups=[{"properties": [prop("plan", "free")], "rollout_percentage": "x"}]),
        flag("boolean", groups=[{"properties": [], "rollout_percentage": True}]),
        flag("fine", groups=[condition()]),
    ]  # fmt: skip
    got = assert_same(doc, **PRO)
    assert "text" not in got and "list" not in got
    assert got["after-match"] == {"value": True, "payload": None}
    assert got["not-reached"] == {"value": False, "payload": None}
    assert got["fine"] == {"value": True, "payload": None}
    problems = FlagSet.from_document(doc).problems()
    assert "rollout_percentage is not a number" in problems["text"][0].message


def test_a_filter_that_is_not_an_object_fails_only_where_it_is_reached() -> None:
    doc = [
        flag("first-fails", groups=[{"properties": [prop("plan", "free"), 5]}]),
        flag("after-undecided", groups=[
            {"properties": [prop("missing", "x"), "oops"]}, condition(prop("plan", "pro"))
        ]),
        flag("undecided-then-nothing", groups=[
            {"properties": [prop("missing", "x"), "oops"]}, condition(prop("plan", "free"))
        ]),
    ]  # fmt: skip
    got = assert_same(doc, **PRO)
    assert got["first-fails"] == {"value": False, "payload": None}
    assert got["after-undecided"] == {"value": True, "payload": None}
    assert got["undecided-then-nothing"] == {"unresolved": "missing_context"}
    problems = FlagSet.from_document(doc).problems()
    assert "not an object" in problems["first-fails"][0].message


def test_a_filter_that_is_not_an_object_fails_the_flag_when_reached_first() -> None:
    doc = [
        flag("alone", groups=[NOT_AN_OBJECT, condition(prop("plan", "pro"))]),
        flag("second", groups=[{"properties": [prop("plan", "pro"), 5]}]),
    ]
    got, expected = both(doc, **PRO)
    # The reference fails on these flags and leaves them out; hogkit reports them as
    # needing the server.
    assert expected == {}
    assert got == {
        "alone": {"unresolved": "unsupported_definition"},
        "second": {"unresolved": "unsupported_definition"},
    }


def test_malformed_but_inactive_or_continuity_flags_answer_like_the_reference() -> None:
    doc = [
        {"key": "off", "active": False, "filters": "nope"},
        {"key": "ec", "active": True, "ensure_experience_continuity": True, "filters": "nope"},
    ]
    assert assert_agrees(doc) == {
        "off": {"value": False, "payload": None},
        "ec": {"unresolved": "experience_continuity"},
    }


def test_payloads_of_the_wrong_shape_are_ignored() -> None:
    doc = [flag("p", groups=[condition()], payloads=["x"])]
    assert assert_agrees(doc) == {"p": {"value": True, "payload": None}}


def test_flags_without_a_key_are_skipped() -> None:
    doc = [
        {"active": True, "filters": {}},
        {"key": 5, "active": True},
        "junk",
        flag("ok", groups=[condition()]),
    ]
    assert FlagSet.from_document(doc).keys == ("ok",)


def test_duplicate_keys_keep_first_position_and_last_definition() -> None:
    doc = [
        flag("a", groups=[condition(rollout=0)]),
        flag("b", groups=[condition()]),
        flag("a", groups=[condition()]),
    ]
    fs = FlagSet.from_document(doc)
    assert fs.keys == ("a", "b")
    assert fs.evaluate("u", now=NOW).flag_values == {"a": True, "b": True}


@given(st.text(max_size=30))
def test_payload_decoding_matches_the_reference(text: str) -> None:
    from posthog.types import _parse_flag_payload

    assert _same(decode_payload(text), _parse_flag_payload(text))


@pytest.mark.parametrize(
    "text",
    [
        "1e400",
        "-1e400",
        "NaN",
        "[Infinity]",
        " 1 ",
        "12345678901234567890123",
        '"\\ud800"',
        "1 2",
        "{}",
        "-0",
        "0.1",
    ],
)
def test_payload_decoding_edge_cases(text: str) -> None:
    from posthog.types import _parse_flag_payload

    assert _same(decode_payload(text), _parse_flag_payload(text))


def _same(left: Any, right: Any) -> bool:
    return type(left) is type(right) and json.dumps(left) == json.dumps(right)


# --- problems (hogkit check) ---------------------------------------------------------


def problems_doc() -> dict[str, Any]:
    def dep(key: str, chain: Any) -> dict[str, Any]:
        return {
            "key": key,
            "type": "flag",
            "operator": "flag_evaluates_to",
            "value": True,
            "dependency_chain": chain,
        }

    def cohort(cohort_id: Any, operator: str = "in") -> dict[str, Any]:
        return {"key": "id", "type": "cohort", "value": cohort_id, "operator": operator}

    return {
        "flags": [
            flag("fine", groups=[condition(prop("plan", "pro"))]),
            {**flag("ec", groups=[condition()]), "ensure_experience_continuity": True},
            flag("group", aggregation_group_type_index=4, groups=[condition()]),
            flag("operator", groups=[condition(prop("a", 1, operator="is_date_exact"))]),
            flag("regex", groups=[condition(prop("a", "(?<=x)y", operator="regex"))]),
            flag("number", groups=[condition(prop("a", "abc", operator="gt"))]),
            flag("static", groups=[condition(cohort(99))]),
            flag("cohort-op", groups=[condition(cohort(1, "bogus"))]),
            flag("bad-cohort", groups=[condition(cohort(2))]),
            flag("cycle", groups=[condition(dep("fine", []))]),
            flag("missing-dep", groups=[condition(dep("ghost", ["ghost"]))]),
            flag("on-ec", groups=[condition(dep("ec", ["ec"]))]),
            flag("inactive", active=False, groups=[condition(cohort(99))]),
            flag(
                "malformed-dep",
                groups=[
                    condition({"key": "fine", "type": "flag", "operator": "exact", "value": 1})
                ],
            ),
            flag("dev", groups=[condition()], bucketing_identifier="device_id"),
        ],
        "cohorts": {
            "1": {"type": "AND", "values": [prop("plan", "pro")]},
            "2": {"type": "AND", "values": [prop("a", 1, operator="nope")]},
        },
        "group_type_mapping": {"0": "company"},
    }


def test_problems_name_why_a_flag_needs_the_server() -> None:
    problems = FlagSet.from_document(problems_doc()).problems()
    assert set(problems) == {
        "ec", "group", "operator", "regex", "number", "static", "cohort-op", "bad-cohort",
        "cycle", "missing-dep", "on-ec",
    }  # fmt: skip
    assert all(isinstance(p, Problem) for found in problems.values() for p in found)
    reasons = {key: found[0].reason for key, found in problems.items()}
    assert reasons.pop("ec") is Unresolved.EXPERIENCE_CONTINUITY
    assert reasons.pop("on-ec") is Unresolved.UNRESOLVED_DEPENDENCY
    assert set(reasons.values()) == {Unresolved.UNSUPPORTED_DEFINITION}
    messages = {key: found[0].message for key, found in problems.items()}
    assert "group type index 4" in messages["group"]
    assert "is_date_exact" in messages["operator"]
    assert "cohort 99" in messages["static"]
    assert "bogus" in messages["cohort-op"]
    assert "circular" in messages["cycle"]
    assert "'ghost'" in messages["missing-dep"]
    assert messages["regex"].startswith("condition 0: filter on 'a'")


def test_problems_agree_with_what_evaluation_reports() -> None:
    doc = problems_doc()
    fs = FlagSet.from_document(doc)
    answer = assert_agrees(doc, person_properties={"plan": "pro", "a": 1})
    for key, found in fs.problems().items():
        if "unresolved" in answer[key]:
            assert answer[key]["unresolved"] == found[0].reason.value, key


def test_problems_are_in_precedence_order() -> None:
    doc = [
        {
            **flag("both", groups=[condition(prop("a", 1, operator="nope"))]),
            "ensure_experience_continuity": True,
        }
    ]
    found = FlagSet.from_document(doc).problems()["both"]
    assert [p.reason for p in found] == [
        Unresolved.EXPERIENCE_CONTINUITY,
        Unresolved.UNSUPPORTED_DEFINITION,
    ]
