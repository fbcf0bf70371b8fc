"""Each evaluation rule of the reference (sections 1.4–1.10), checked against the oracle.

Every test builds definitions that exercise one rule or quirk, asks the oracle for the
answer, asserts hogkit gives the same one, and pins the answer the rule implies (so a
test cannot pass by both sides being wrong in the same way).
"""

from __future__ import annotations

import json
from typing import Any

import oracle
import pytest
from engine_compare import NOW, assert_agrees, condition, flag, prop
from hogkit.core import FlagSet
from hogkit.core.hashing import hash_bucket, holdout_bucket


def ids_where(predicate: Any, count: int = 400) -> list[str]:
    return [f"user-{i}" for i in range(count) if predicate(f"user-{i}")]


# --- flag level ----------------------------------------------------------------------


def test_inactive_flag_is_false_before_experience_continuity() -> None:
    doc = [
        flag("off", active=False, groups=[condition()]),
        {
            **flag("off-ec", active=False, groups=[condition()]),
            "ensure_experience_continuity": True,
        },
        {"key": "no-active-field", "filters": {"groups": [condition()]}},
    ]
    got = assert_agrees(doc)
    assert got == {
        "off": {"value": False, "payload": None},
        "off-ec": {"value": False, "payload": None},
        "no-active-field": {"value": False, "payload": None},
    }


def test_experience_continuity_needs_the_server() -> None:
    doc = [{**flag("ec", groups=[condition()]), "ensure_experience_continuity": True}]
    assert assert_agrees(doc) == {"ec": {"unresolved": "experience_continuity"}}


def test_no_conditions_is_false_and_empty_condition_is_true() -> None:
    doc = [flag("none", groups=[]), flag("empty", groups=[{"properties": []}]), flag("nofilters")]
    got = assert_agrees(doc)
    assert got["none"]["value"] is False
    assert got["empty"]["value"] is True
    assert got["nofilters"]["value"] is False


@pytest.mark.parametrize("rollout", [0, 0.5, 33.3, 45, 99.99, 100])
def test_rollout_is_inclusive_and_fractional(rollout: float) -> None:
    doc = [flag("roll", groups=[condition(rollout=rollout)])]
    for i in range(60):
        got = assert_agrees(doc, f"user-{i}")
        expected = hash_bucket("roll", f"user-{i}") <= rollout / 100
        assert got["roll"]["value"] is expected


def test_person_properties_get_distinct_id_when_absent() -> None:
    doc = [flag("me", groups=[condition(prop("distinct_id", "user-7"))])]
    assert assert_agrees(doc, "user-7")["me"]["value"] is True
    assert assert_agrees(doc, "user-8")["me"]["value"] is False
    got = assert_agrees(doc, "user-7", person_properties={"distinct_id": "someone-else"})
    assert got["me"]["value"] is False


def test_empty_flag_keys_evaluate_nothing() -> None:
    doc = [flag("a", groups=[condition()])]
    assert assert_agrees(doc, "u", flag_keys=[]) == {}


def test_empty_distinct_id_is_evaluated_like_any_other() -> None:
    # `evaluate_flags("")` answers nothing before it reaches the engine, but the older
    # single-flag and all-flags reads evaluate the empty id, and the engine serves both.
    doc = [
        flag(key, groups=[condition(rollout=rollout)])
        for key, rollout in (("a", 100), ("b", 50), ("c", 30), ("d", 70))
    ]
    expected = oracle.make_client(doc).get_all_flags("", only_evaluate_locally=True)
    got = FlagSet.from_document(doc).evaluate("", now=NOW).flag_values
    assert expected and got == expected


def test_flag_keys_scope_the_evaluation() -> None:
    doc = [flag(k, groups=[condition()]) for k in ("a", "b", "c")]
    got = assert_agrees(doc, "u", flag_keys=["c", "a", "missing"])
    assert list(got) == ["a", "c"]


# --- conditions ----------------------------------------------------------------------


def test_conditions_are_tried_in_order_and_first_match_wins() -> None:
    doc = [
        flag(
            "multi",
            groups=[
                condition(prop("plan", "pro"), variant="b"),
                condition(prop("plan", "free"), variant="c"),
                condition(variant="a"),
            ],
            multivariate={"variants": [{"key": k, "rollout_percentage": 34} for k in "abc"]},
        )
    ]
    assert assert_agrees(doc, person_properties={"plan": "free"})["multi"]["value"] == "c"
    assert assert_agrees(doc, person_properties={"plan": "pro"})["multi"]["value"] == "b"
    assert assert_agrees(doc, person_properties={"plan": "x"})["multi"]["value"] == "a"


def test_definite_false_beats_an_earlier_inconclusive_filter() -> None:
    doc = [flag("f", groups=[condition(prop("a", "x"), prop("b", "y"))])]
    got = assert_agrees(doc, person_properties={"b": "nope"})
    assert got["f"] == {"value": False, "payload": None}


def test_inconclusive_condition_then_match_is_true() -> None:
    doc = [flag("f", groups=[condition(prop("a", "x")), condition()])]
    assert assert_agrees(doc)["f"]["value"] is True


def test_inconclusive_without_match_needs_the_server() -> None:
    doc = [flag("f", groups=[condition(prop("a", "x")), condition(prop("b", "y"))])]
    got = assert_agrees(doc, person_properties={"b": "no"})
    assert got["f"] == {"unresolved": "missing_context"}


def test_reason_precedence_within_a_condition() -> None:
    doc = [
        flag(
            "f",
            groups=[condition(prop("missing", "x"), prop("x", 1, operator="is_date_exact"))],
        )
    ]
    assert assert_agrees(doc)["f"] == {"unresolved": "unsupported_definition"}


def test_reason_precedence_across_conditions() -> None:
    doc = [
        flag(
            "f",
            groups=[
                condition(prop("missing", "x")),
                condition(prop("x", 1, operator="bogus")),
                condition(prop("plan", "no")),
            ],
        )
    ]
    got = assert_agrees(doc, person_properties={"x": 1, "plan": "yes"})
    assert got["f"] == {"unresolved": "unsupported_definition"}


def test_is_not_set_never_resolves_locally_and_is_set_needs_the_key() -> None:
    doc = [
        flag("not-set", groups=[condition(prop("a", operator="is_not_set"))]),
        flag("set", groups=[condition(prop("a", operator="is_set"))]),
    ]
    got = assert_agrees(doc, person_properties={"a": None})
    assert got == {
        "not-set": {"value": False, "payload": None},
        "set": {"value": True, "payload": None},
    }
    got = assert_agrees(doc)
    assert got["not-set"] == got["set"] == {"unresolved": "missing_context"}


def test_early_exit_stops_at_first_out_of_rollout() -> None:
    excluded = ids_where(lambda d: hash_bucket("ee", d) > 0.3)[:15]
    doc = [flag("ee", early_exit=True, groups=[condition(rollout=30), condition()])]
    no_exit = [flag("ee", groups=[condition(rollout=30), condition()])]
    for distinct_id in excluded:
        assert assert_agrees(doc, distinct_id)["ee"]["value"] is False
        assert assert_agrees(no_exit, distinct_id)["ee"]["value"] is True


def test_early_exit_after_inconclusive_needs_the_server() -> None:
    excluded = ids_where(lambda d: hash_bucket("ee", d) > 0.3)[:5]
    doc = [flag("ee", early_exit=True, groups=[condition(prop("a", "x")), condition(rollout=30)])]
    for distinct_id in excluded:
        assert assert_agrees(doc, distinct_id)["ee"] == {"unresolved": "missing_context"}


def test_early_exit_ignores_property_mismatches() -> None:
    doc = [flag("ee", early_exit=True, groups=[condition(prop("a", "x")), condition()])]
    assert assert_agrees(doc, person_properties={"a": "y"})["ee"]["value"] is True


# --- variants ------------------------------------------------------------------------

VARIANTS = {
    "variants": [
        {"key": "control", "rollout_percentage": 50},
        {"key": "test", "rollout_percentage": 30},
        {"key": "other", "rollout_percentage": 20},
    ]
}


def test_variants_follow_the_lookup_table() -> None:
    doc = [flag("mv", groups=[condition()], multivariate=VARIANTS)]
    seen = {assert_agrees(doc, f"user-{i}")["mv"]["value"] for i in range(80)}
    assert seen == {"control", "test", "other"}


def test_variants_summing_under_100_give_true() -> None:
    short = {
        "variants": [{"key": "a", "rollout_percentage": 10}, {"key": "b", "rollout_percentage": 10}]
    }
    doc = [flag("mv", groups=[condition()], multivariate=short)]
    values = [assert_agrees(doc, f"user-{i}")["mv"]["value"] for i in range(60)]
    assert True in values and {"a", "b"} & set(values)


@pytest.mark.parametrize(
    ("override", "valid"),
    [("test", True), ("TEST", False), ("nope", False), ("", False), (None, False)],
)
def test_variant_override_must_be_a_variant(override: Any, valid: bool) -> None:
    doc = [flag("mv", groups=[condition(variant=override)], multivariate=VARIANTS)]
    for i in range(20):
        got = assert_agrees(doc, f"user-{i}")["mv"]["value"]
        if valid:
            assert got == "test"
        else:
            assert got in {"control", "test", "other"}


def test_variant_override_on_a_boolean_flag_is_ignored() -> None:
    doc = [flag("b", groups=[condition(variant="x")])]
    assert assert_agrees(doc)["b"]["value"] is True


# --- holdouts, enrollment, device bucketing ------------------------------------------


@pytest.mark.parametrize("percentage", [0, 25, 100, 150, -5, "40"])
def test_holdout_comes_before_conditions(percentage: Any) -> None:
    doc = [
        flag(
            "h",
            holdout={"id": 7, "exclusion_percentage": percentage},
            groups=[condition()],
            multivariate=VARIANTS,
        )
    ]
    held = 0
    for i in range(60):
        value = assert_agrees(doc, f"user-{i}")["h"]["value"]
        held += value == "holdout-7"
        clamped = min(max(float(percentage), 0.0), 100.0)
        assert (value == "holdout-7") is (
            clamped == 100 or holdout_bucket(f"user-{i}") <= clamped / 100
        )
    assert 0 <= held <= 60


@pytest.mark.parametrize("holdout", [None, {}, {"id": 3}, {"exclusion_percentage": 100}])
def test_incomplete_holdouts_are_ignored(holdout: Any) -> None:
    doc = [flag("h", holdout=holdout, groups=[condition()])]
    assert assert_agrees(doc)["h"]["value"] is True


def test_holdout_payload_is_looked_up_by_holdout_value() -> None:
    doc = [
        flag(
            "h",
            holdout={"id": 2, "exclusion_percentage": 100},
            groups=[condition()],
            payloads={"holdout-2": json.dumps({"held": True})},
        )
    ]
    assert assert_agrees(doc)["h"] == {"value": "holdout-2", "payload": {"held": True}}


@pytest.mark.parametrize(
    ("enrolled", "expected"),
    [(True, True), ("true", True), ("True", False), (False, False), (1, False), (None, False)],
)
def test_feature_enrollment(enrolled: Any, expected: bool) -> None:
    doc = [flag("beta", feature_enrollment=True, groups=[condition(prop("plan", "never"))])]
    got = assert_agrees(doc, person_properties={"$feature_enrollment/beta": enrolled})
    assert got["beta"]["value"] is expected


def test_feature_enrollment_without_the_property_and_on_group_flags() -> None:
    doc = [
        flag("beta", feature_enrollment=True, groups=[condition()]),
        flag("grp", feature_enrollment=True, aggregation_group_type_index=0, groups=[condition()]),
    ]
    document = {"flags": doc, "group_type_mapping": {"0": "company"}}
    got = assert_agrees(document, groups={"company": "acme"})
    assert got == {
        "beta": {"unresolved": "missing_context"},
        "grp": {"unresolved": "unsupported_definition"},
    }


@pytest.mark.parametrize("where", ["top", "filters"])
def test_device_id_bucketing(where: str) -> None:
    base = flag("dev", groups=[condition(rollout=50)], multivariate=VARIANTS)
    if where == "top":
        base["bucketing_identifier"] = "device_id"
    else:
        base["filters"]["bucketing_identifier"] = "device_id"
    doc = [base]
    for i in range(30):
        got = assert_agrees(doc, "same-person", device_id=f"device-{i}")
        rolled = hash_bucket("dev", f"device-{i}") <= 0.5
        assert (got["dev"]["value"] is not False) is rolled
    assert assert_agrees(doc, "same-person")["dev"] == {"unresolved": "missing_context"}


def test_missing_device_id_is_upgraded_by_a_definition_problem() -> None:
    doc = [
        {
            **flag("dev", groups=[condition(prop("a", 1, operator="bogus"))]),
            "bucketing_identifier": "device_id",
        }
    ]
    assert assert_agrees(doc)["dev"] == {"unresolved": "unsupported_definition"}


# --- groups --------------------------------------------------------------------------

GROUPS = {"0": "company", "1": "project"}


def group_doc(*flags: dict[str, Any]) -> dict[str, Any]:
    return {"flags": list(flags), "group_type_mapping": GROUPS}


def test_group_flag_uses_group_properties_and_group_key() -> None:
    doc = group_doc(
        flag(
            "g",
            aggregation_group_type_index=0,
            groups=[condition(prop("size", 10, operator="gt"), rollout=50)],
        )
    )
    for i in range(30):
        got = assert_agrees(
            doc, "person", groups={"company": f"co-{i}"}, group_properties={"company": {"size": 20}}
        )
        assert got["g"]["value"] is (hash_bucket("g", f"co-{i}") <= 0.5)


def test_group_flag_without_its_group_is_false() -> None:
    doc = group_doc(flag("g", aggregation_group_type_index=0, groups=[condition()]))
    assert assert_agrees(doc, groups={"project": "p"})["g"] == {"value": False, "payload": None}


def test_group_flag_with_unknown_index_needs_the_server() -> None:
    doc = group_doc(flag("g", aggregation_group_type_index=5, groups=[condition()]))
    assert assert_agrees(doc, groups={"company": "c"})["g"] == {
        "unresolved": "unsupported_definition"
    }


def test_group_key_is_a_group_property() -> None:
    doc = group_doc(
        flag("g", aggregation_group_type_index=0, groups=[condition(prop("$group_key", "acme"))])
    )
    assert assert_agrees(doc, groups={"company": "acme"})["g"]["value"] is True
    assert assert_agrees(doc, groups={"company": "other"})["g"]["value"] is False
    got = assert_agrees(
        doc, groups={"company": "other"}, group_properties={"company": {"$group_key": "acme"}}
    )
    assert got["g"]["value"] is True


def test_group_properties_of_groups_not_passed_are_dropped() -> None:
    doc = group_doc(flag("g", aggregation_group_type_index=1, groups=[condition(prop("x", 1))]))
    got = assert_agrees(doc, groups={"company": "c"}, group_properties={"project": {"x": 1}})
    assert got["g"]["value"] is False


def test_group_key_none_buckets_a_device_flag_on_the_device_id() -> None:
    # posthog-python takes a None bucketing value for none given and falls back to the
    # flag's own identifier: a group flag bucketing on the device id, passed a group key
    # of None, buckets on the device id, and needs it. Its group flag parents do the same.
    group_flag = {
        **flag("g", aggregation_group_type_index=0, groups=[condition(rollout=50)]),
        "bucketing_identifier": "device_id",
    }
    held = flag(
        "held",
        aggregation_group_type_index=0,
        groups=[condition()],
        holdout={"id": 2, "exclusion_percentage": 50},
        bucketing_identifier="device_id",
    )
    child = flag("child", aggregation_group_type_index=0, groups=[condition(dep("g", True))])
    doc = group_doc(group_flag, held, child)
    got = assert_agrees(doc, groups={"company": None})
    assert got == {
        "g": {"unresolved": "missing_context"},
        "held": {"unresolved": "missing_context"},
        "child": {"unresolved": "unresolved_dependency"},
    }
    for i in range(30):
        device = f"device-{i}"
        got = assert_agrees(doc, groups={"company": None}, device_id=device)
        assert got["g"]["value"] is (hash_bucket("g", device) <= 0.5)
        assert got["child"]["value"] is got["g"]["value"]
        held_out = holdout_bucket(device) <= 0.5
        assert got["held"]["value"] == ("holdout-2" if held_out else True)
    # A group key of text buckets on the key, whatever the device id.
    got = assert_agrees(doc, groups={"company": "None"}, device_id="device-1")
    assert got["g"]["value"] is (hash_bucket("g", "None") <= 0.5)


def test_mixed_targeting_per_condition() -> None:
    doc = group_doc(
        flag(
            "mixed",
            groups=[
                condition(
                    prop("size", 100, operator="gte"), aggregation_group_type_index=0, variant="b"
                ),
                condition(prop("email", "@x.com", operator="icontains"), variant="a"),
            ],
            multivariate={
                "variants": [
                    {"key": "a", "rollout_percentage": 50},
                    {"key": "b", "rollout_percentage": 50},
                ]
            },
        )
    )
    big = {"company": {"size": 500}}
    got = assert_agrees(
        doc, groups={"company": "c"}, group_properties=big, person_properties={"email": "me@x.com"}
    )
    assert got["mixed"]["value"] == "b"
    got = assert_agrees(doc, person_properties={"email": "me@x.com"})
    assert got["mixed"]["value"] == "a"
    small = {"company": {"size": 5}}
    got = assert_agrees(doc, groups={"company": "c"}, group_properties=small)
    assert got["mixed"] == {"unresolved": "missing_context"}
    got = assert_agrees(
        doc, groups={"company": "c"}, group_properties=small, person_properties={"email": "a@b"}
    )
    assert got["mixed"]["value"] is False


def test_mixed_targeting_buckets_on_the_group_key() -> None:
    doc = group_doc(flag("mixed", groups=[condition(rollout=50, aggregation_group_type_index=1)]))
    for i in range(30):
        got = assert_agrees(doc, "person", groups={"project": f"p-{i}"})
        assert got["mixed"]["value"] is (hash_bucket("mixed", f"p-{i}") <= 0.5)


def test_mixed_condition_with_unknown_group_type_is_skipped() -> None:
    doc = group_doc(
        flag("mixed", groups=[condition(aggregation_group_type_index=9), condition(rollout=0)])
    )
    assert assert_agrees(doc, groups={"company": "c"})["mixed"]["value"] is False


# --- payloads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"a": [1, 2, {"b": None}]}),
        "123",
        '"text"',
        "not json",
        "NaN",
        '{"x": Infinity}',
        "",
        {"already": "decoded"},
        7,
        None,
    ],
)
def test_payloads_are_decoded_like_the_reference(payload: Any) -> None:
    doc = [flag("p", groups=[condition()], payloads={"true": payload, "false": "1"})]
    got = assert_agrees(doc)
    assert got["p"]["value"] is True


def test_false_payload_is_returned_for_a_disabled_flag() -> None:
    doc = [flag("p", groups=[condition(rollout=0)], payloads={"false": '{"off": 1}', "true": "2"})]
    assert assert_agrees(doc)["p"] == {"value": False, "payload": {"off": 1}}


def test_variant_payloads() -> None:
    doc = [
        flag(
            "mv",
            groups=[condition(variant="test")],
            multivariate=VARIANTS,
            payloads={"test": '["t"]', "true": '"no"'},
        )
    ]
    assert assert_agrees(doc)["mv"] == {"value": "test", "payload": ["t"]}


# --- cohorts -------------------------------------------------------------------------


def cohort_doc(cohorts: dict[str, Any], *filters: dict[str, Any]) -> dict[str, Any]:
    return {"flags": [flag("c", groups=[condition(*filters)])], "cohorts": cohorts}


def cohort_filter(cohort_id: Any, operator: str = "in") -> dict[str, Any]:
    return {"key": "id", "type": "cohort", "value": cohort_id, "operator": operator}


@pytest.mark.parametrize(
    "person",
    [
        {"plan": "pro"},
        {"plan": "free"},
        {"plan": "free", "age": 10},
        {"plan": "free", "age": 1},
        {"age": 10},
        {},
    ],
)
@pytest.mark.parametrize("kind", ["AND", "OR"])
@pytest.mark.parametrize("operator", ["in", "not_in", "exact", None, "nope"])
def test_cohort_groups(person: dict[str, Any], kind: str, operator: Any) -> None:
    cohorts = {"5": {"type": kind, "values": [prop("plan", "pro"), prop("age", 5, operator="gt")]}}
    assert_agrees(cohort_doc(cohorts, cohort_filter(5, operator)), person_properties=person)


@pytest.mark.parametrize(
    "person",
    [{"plan": "pro", "country": "US"}, {"plan": "pro", "country": "DE"}, {"plan": "x"}, {}],
)
def test_nested_cohorts_with_negation(person: dict[str, Any]) -> None:
    cohorts = {
        "1": {
            "type": "OR",
            "values": [
                {
                    "type": "AND",
                    "values": [
                        prop("plan", "pro"),
                        {**prop("country", "US"), "negation": True},
                    ],
                },
                {"type": "AND", "values": [cohort_filter(2)]},
            ],
        },
        "2": {"type": "AND", "values": [{**prop("plan", "x"), "negation": False}]},
    }
    assert_agrees(cohort_doc(cohorts, cohort_filter(1)), person_properties=person)


def test_static_cohort_needs_the_server_unless_another_filter_fails() -> None:
    doc = cohort_doc({}, cohort_filter(99), prop("plan", "pro"))
    assert assert_agrees(doc, person_properties={"plan": "pro"})["c"] == {
        "unresolved": "unsupported_definition"
    }
    assert assert_agrees(doc, person_properties={"plan": "free"})["c"]["value"] is False


def test_static_cohort_stops_the_condition_loop() -> None:
    doc = {"flags": [flag("c", groups=[condition(cohort_filter(99)), condition()])], "cohorts": {}}
    assert assert_agrees(doc)["c"] == {"unresolved": "unsupported_definition"}


def test_static_cohort_after_an_inconclusive_filter_lets_later_conditions_decide() -> None:
    doc = {
        "flags": [
            flag("c", groups=[condition(prop("missing", 1), cohort_filter(99)), condition()])
        ],
        "cohorts": {},
    }
    assert assert_agrees(doc)["c"]["value"] is True


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"type": "AND", "values": []},
        {"type": "XOR", "values": [prop("a", 1)]},
        {"type": "AND", "values": "nope"},
        {"type": "AND", "values": [1]},
        "not a group",
        {"type": "OR", "values": [{}, prop("a", 1)]},
    ],
)
def test_malformed_and_empty_cohorts(body: Any) -> None:
    assert_agrees(cohort_doc({"3": body}, cohort_filter(3)), person_properties={"a": 2})


def test_cohorts_referencing_each_other_are_unsupported() -> None:
    cohorts = {
        "1": {"type": "AND", "values": [prop("a", 1), cohort_filter(2)]},
        "2": {"type": "AND", "values": [cohort_filter(1)]},
    }
    got = assert_agrees(cohort_doc(cohorts, cohort_filter(1)), person_properties={"a": 1})
    assert got["c"] == {"unresolved": "unsupported_definition"}
    # Groups never short-circuit, so the cycle is reached whatever the person.
    got = assert_agrees(cohort_doc(cohorts, cohort_filter(1)), person_properties={"a": 2})
    assert got["c"] == {"unresolved": "unsupported_definition"}
    # ...but a condition filter that fails first still decides the flag.
    doc = cohort_doc(cohorts, prop("b", 1), cohort_filter(1))
    assert assert_agrees(doc, person_properties={"b": 2})["c"]["value"] is False


def test_negation_is_ignored_on_condition_filters() -> None:
    doc = [flag("n", groups=[condition({**prop("plan", "pro"), "negation": True})])]
    assert assert_agrees(doc, person_properties={"plan": "pro"})["n"]["value"] is True


# --- dependencies --------------------------------------------------------------------


def dep(key: str, value: Any, chain: Any = None, **extra: Any) -> dict[str, Any]:
    item = {"key": key, "type": "flag", "operator": "flag_evaluates_to", "value": value, **extra}
    if chain is not ...:
        item["dependency_chain"] = [key] if chain is None else chain
    return item


@pytest.mark.parametrize("expected", [True, False, "test", "control", "TEST", "true", 1])
@pytest.mark.parametrize("parent_rollout", [0, 100])
def test_dependency_values(expected: Any, parent_rollout: int) -> None:
    doc = [
        flag("parent", groups=[condition(rollout=parent_rollout)], multivariate=VARIANTS),
        flag("bool-parent", groups=[condition(rollout=parent_rollout)]),
        flag("child", groups=[condition(dep("parent", expected))]),
        flag("bool-child", groups=[condition(dep("bool-parent", expected))]),
    ]
    for i in range(10):
        assert_agrees(doc, f"user-{i}")


def test_dependency_chain_is_evaluated_in_order() -> None:
    doc = [
        flag("root", groups=[condition(prop("plan", "pro"))]),
        flag("middle", groups=[condition(dep("root", True))]),
        flag("leaf", groups=[condition(dep("middle", True, chain=["root", "middle"]))]),
    ]
    assert assert_agrees(doc, person_properties={"plan": "pro"})["leaf"]["value"] is True
    assert assert_agrees(doc, person_properties={"plan": "free"})["leaf"]["value"] is False
    assert assert_agrees(doc)["leaf"] == {"unresolved": "unresolved_dependency"}


def test_a_chain_without_its_parent_reads_only_what_the_flag_evaluated() -> None:
    # A chain that does not end with the parent compares whatever the flag's own memo
    # holds for it: nothing (unsupported), unless the flag evaluated the parent itself,
    # whatever earlier flags of the call evaluated.
    doc = [
        flag("root", groups=[condition()]),
        flag("parent", groups=[condition()]),
        flag("short", groups=[condition(dep("parent", True, chain=["root"]))]),
        flag("other", groups=[condition(dep("root", True, chain=["parent", "root"]))]),
        flag(
            "both",
            groups=[
                condition(dep("parent", True), rollout=0),
                condition(dep("parent", True, chain=["root"])),
            ],
        ),
    ]
    got = assert_agrees(doc)
    assert got["short"] == {"unresolved": "unsupported_definition"}
    assert got["both"] == {"value": True, "payload": None}


@pytest.mark.parametrize(
    "filter_",
    [
        dep("parent", True, chain=[]),
        dep("parent", True, chain=...),
        dep("parent", True, chain="parent"),
        dep("ghost", True),
        dep("parent", True, chain=["ghost", "parent"]),
        dep("parent", None),
        dep("", True),
        {**dep("parent", True), "operator": "exact"},
        {"key": "parent", "type": "flag", "value": True, "dependency_chain": ["parent"]},
    ],
)
def test_broken_dependencies(filter_: dict[str, Any]) -> None:
    doc = [
        flag("parent", groups=[condition()]),
        flag("child", groups=[condition(filter_), condition(rollout=0)]),
    ]
    assert_agrees(doc)


@pytest.mark.parametrize(
    "parent",
    [
        {**flag("parent", groups=[condition()]), "ensure_experience_continuity": True},
        flag("parent", active=False, groups=[condition()]),
        flag("parent", groups=[condition({"key": "id", "type": "cohort", "value": 42})]),
        {**flag("parent", groups=[condition()]), "bucketing_identifier": "device_id"},
        flag("parent", aggregation_group_type_index=0, groups=[condition(rollout=50)]),
        flag("parent", groups=[condition(aggregation_group_type_index=0)]),
        flag("parent", feature_enrollment=True),
        flag("parent", holdout={"id": 1, "exclusion_percentage": 100}),
    ],
)
def test_dependency_on_special_parents(parent: dict[str, Any]) -> None:
    doc = {
        "flags": [parent, flag("child", groups=[condition(dep("parent", True))])],
        "group_type_mapping": GROUPS,
    }
    for i in range(8):
        assert_agrees(doc, f"user-{i}", groups={"company": "acme"})
        assert_agrees(
            doc,
            f"user-{i}",
            device_id="dev",
            person_properties={"$feature_enrollment/parent": True},
        )


def test_an_undecided_parent_is_walked_afresh_by_each_flag() -> None:
    # posthog-python keeps a memo per top-level flag. A parent that could not be decided
    # stops the chain walk of every later flag that lists it, though an earlier flag
    # already met it (and decided its own value past it).
    undecided = {**flag("r", groups=[condition()]), "ensure_experience_continuity": True}
    middle = flag("q", groups=[condition(dep("r", True)), condition()])
    last = flag("last", groups=[condition(dep("q", True, ["r", "q"]))])
    for doc in ([undecided, middle, last], [undecided, last, middle]):
        got = assert_agrees(doc)
        assert got["q"] == {"value": True, "payload": None}
        assert got["last"] == {"unresolved": "unresolved_dependency"}
    # A parent whose value, evaluated after an undecided member, differs from its value
    # evaluated afresh: each flag gets the value its own walk gives.
    variants = {
        "variants": [{"key": "a", "rollout_percentage": 50}, {"key": "b", "rollout_percentage": 50}]
    }
    parent = flag(
        "p",
        groups=[
            condition(dep("q", True, ["r", "q"]), variant="a"),
            condition(variant="b"),
        ],
        multivariate=variants,
    )
    child = flag(
        "child", groups=[condition(dep("r", True)), condition(dep("p", "b", ["r", "q", "p"]))]
    )
    got = assert_agrees([undecided, middle, parent, child])
    assert got["p"]["value"] == "b"
    # Within `child`, `p` is evaluated after `r` was met undecided: its first condition
    # then matches ("a"), so `child`'s second condition does not.
    assert got["child"] == {"unresolved": "unresolved_dependency"}


def test_dependency_inside_a_cohort() -> None:
    doc = {
        "flags": [
            flag("parent", groups=[condition(prop("plan", "pro"))]),
            flag("child", groups=[condition(cohort_filter(1))]),
        ],
        "cohorts": {"1": {"type": "OR", "values": [dep("parent", True), prop("vip", True)]}},
    }
    for person in ({"plan": "pro"}, {"plan": "x"}, {"vip": True}, {}):
        assert_agrees(doc, person_properties=person)


def test_undeclared_dependency_cycle_is_unsupported() -> None:
    doc = [
        flag("a", groups=[condition(dep("b", True))]),
        flag("b", groups=[condition(dep("a", True))]),
    ]
    got = assert_agrees(doc)
    assert got == {
        "a": {"unresolved": "unsupported_definition"},
        "b": {"unresolved": "unsupported_definition"},
    }


def test_now_drives_relative_dates() -> None:
    doc = [flag("recent", groups=[condition(prop("signed_up", "-7d", operator="is_date_after"))])]
    fs = FlagSet.from_document(doc)
    person = {"signed_up": "2026-06-10T00:00:00Z"}
    assert fs.evaluate("u", person_properties=person, now=NOW).get_flag("recent") is True
    later = NOW.replace(month=7)
    assert fs.evaluate("u", person_properties=person, now=later).get_flag("recent") is False
    assert_agrees(doc, person_properties=person, now=later)


# --- compiled sharing: identical filters and conditions share compiled objects ------------


def shared_filters_document() -> list[dict[str, Any]]:
    """Flags that repeat filters, conditions and variants (so compilation shares them and
    one evaluation runs a shared matcher once), mixed with flags that are not simple."""
    plans = prop("plan", ["pro", "enterprise"])
    variants = {
        "variants": [{"key": "a", "rollout_percentage": 40}, {"key": "b", "rollout_percentage": 60}]
    }
    return [
        flag("plan-1", groups=[condition(plans)]),
        flag("plan-2", groups=[condition(plans, rollout=50)]),
        flag("plan-3", groups=[condition(prop("age", 30, operator="gte"), plans, rollout=50)]),
        flag("mv-1", groups=[condition(plans)], multivariate=variants),
        flag("mv-2", groups=[condition(plans), condition(rollout=20)], multivariate=variants),
        flag("missing", groups=[condition(prop("nope", "x")), condition(plans, rollout=10)]),
        flag("grouped", aggregation_group_type_index=0, groups=[condition(plans)]),
        flag("enrolled", feature_enrollment=True, groups=[condition(plans)]),
        flag("me", groups=[condition(prop("distinct_id", "user-3")), condition(plans, rollout=5)]),
        flag("early", early_exit=True, groups=[condition(plans, rollout=30), condition()]),
        flag("undecided", groups=[condition(prop("nope", 3, operator="gt"), plans), condition(rollout=0)]),
    ]  # fmt: skip


PEOPLE: list[dict[str, Any]] = [
    {"plan": "pro", "age": 40},
    {"plan": "enterprise", "age": 20},
    {"plan": "free", "age": 35, "nope": "x"},
    {"plan": "PRO", "$feature_enrollment/enrolled": True},
    {},
]


@pytest.mark.parametrize("person", PEOPLE)
def test_shared_filters_and_conditions_agree_with_the_reference(person: dict[str, Any]) -> None:
    doc = shared_filters_document()
    for index in range(6):
        assert_agrees(doc, f"user-{index}", person_properties=person)
        for definition in doc:
            keys = [definition["key"]]
            assert_agrees(doc, f"user-{index}", person_properties=person, flag_keys=keys)


@pytest.mark.parametrize("person", PEOPLE)
def test_each_flag_alone_gives_what_all_flags_give(person: dict[str, Any]) -> None:
    # Evaluating one flag skips the memo that evaluating every flag uses; a set of keys
    # uses it too. All three must agree, reasons included.
    fs = FlagSet.from_document(
        {"flags": shared_filters_document(), "group_type_mapping": {"0": "company"}}
    )
    for index in range(6):
        whole = fs.evaluate(f"user-{index}", person_properties=person, now=NOW)
        for key in fs.keys:
            for keys in ([key], (key,), {key}):
                alone = fs.evaluate(
                    f"user-{index}", person_properties=person, flag_keys=keys, now=NOW
                )
                assert alone.flag_values == whole.only([key]).flag_values
                assert alone.unresolved == whole.only([key]).unresolved
                assert alone.results == whole.only([key]).results
        pair = fs.evaluate(
            f"user-{index}", person_properties=person, flag_keys=["plan-2", "mv-1"], now=NOW
        )
        assert pair.results == whole.only(["plan-2", "mv-1"]).results


@pytest.mark.parametrize(
    ("value", "others"),
    [(0.0, [-0.0, 0, False]), (1, [1.0, True, "1"]), ([1, 2], [[1.0, 2], [True, 2], ["1", "2"]])],
)
def test_equal_values_of_different_types_never_share_a_matcher(
    value: Any, others: list[Any]
) -> None:
    # 1, 1.0 and True compare equal in Python but are different filter values to
    # PostHog (their texts differ), so each flag must keep its own.
    doc = [flag(f"f{i}", groups=[condition(prop("p", v))]) for i, v in enumerate([value, *others])]
    for person_value in [value, *others, "0", "0.0", "-0.0", "true", "[1,2]", "[1.0,2]"]:
        assert_agrees(doc, person_properties={"p": person_value})


def test_distinct_id_is_added_for_flags_that_read_it_without_touching_the_caller() -> None:
    doc = [
        flag("me", groups=[condition(prop("distinct_id", "user-7"))]),
        flag("plan", groups=[condition(prop("plan", "pro"))]),
    ]
    fs = FlagSet.from_document(doc)
    person = {"plan": "pro"}
    for keys in (None, ["me"], ["plan", "me"]):
        snap = fs.evaluate("user-7", person_properties=person, flag_keys=keys, now=NOW)
        assert snap.get_flag("me") is True
        assert person == {"plan": "pro"}
    only_plan = fs.evaluate("user-7", person_properties=person, flag_keys=["plan"], now=NOW)
    assert dict(only_plan.flag_values) == {"plan": True}
    assert fs.evaluate("user-8", person_properties=person, now=NOW).get_flag("me") is False
    assert fs.evaluate("user-7", now=NOW).get_flag("me") is True


@pytest.mark.parametrize("kind", ["AND", "OR"])
def test_an_empty_cohort_group_of_either_kind_matches(kind: str) -> None:
    doc = {
        "flags": [flag("c", groups=[condition({"key": "id", "value": 5, "operator": "in", "type": "cohort"})])],
        "cohorts": {"5": {"type": kind, "values": []}},
    }  # fmt: skip
    assert assert_agrees(doc)["c"]["value"] is True


INLINE_OPERATORS = [
    ("exact", ["Pro", "ÉCOLE"]),
    ("is_not", "pro"),
    ("icontains", "CME"),
    ("not_icontains", "é"),
    ("starts_with", "ac"),
    ("not_starts_with", "AC"),
    ("ends_with", ".COM"),
    ("not_ends_with", "ole"),
    ("gt", 10),
    ("gte", 10.5),
    ("lt", "10"),
    ("lte", -3),
]
ODD_VALUES: list[Any] = [
    "pro", "PRO", "École", "école", "acme.com", "ACME.COM", "x\u212aacme.com", "10", "10.5",
    10, 11, -3, 10.5, 2**53, 2**60, -(2**60), float("nan"), float("inf"), True, False, None,
    ["pro"], {"a": 1},
]  # fmt: skip


@pytest.mark.parametrize(("operator", "value"), INLINE_OPERATORS)
def test_one_flag_alone_answers_plain_values_like_the_reference(operator: str, value: Any) -> None:
    # Evaluating a single flag answers the commonest filters without calling the
    # matcher; every kind of property value must still get the reference's answer.
    doc = [flag("f", groups=[condition(prop("p", value, operator=operator))])]
    for person_value in ODD_VALUES:
        assert_agrees(doc, flag_keys=["f"], person_properties={"p": person_value})
    assert_agrees(doc, flag_keys=["f"], person_properties={})
