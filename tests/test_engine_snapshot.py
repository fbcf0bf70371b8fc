"""The snapshot API, immutability, and the structured reasons `--explain` prints."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

import msgspec
import pytest
from engine_compare import NOW, condition, flag, prop
from hogkit.core import FlagResult, FlagSet, Reason, Snapshot, Unresolved
from hogkit.core.hashing import hash_bucket

VARIANTS = {
    "variants": [
        {"key": "control", "rollout_percentage": 50},
        {"key": "test", "rollout_percentage": 50},
    ]
}


def flagset() -> FlagSet:
    return FlagSet.from_document(
        {
            "flags": [
                {**flag("pro", groups=[condition(prop("plan", "pro"))], payloads={"true": '{"limits": [1, 2]}'}), "version": 4},
                flag("mv", groups=[condition(prop("plan", "free"), variant="test"), condition()], multivariate=VARIANTS, payloads={"test": '"t"'}),
                flag("unknown", groups=[condition(prop("missing", 1))]),
                flag("off", active=False),
                {**flag("exp", groups=[condition()]), "has_experiment": True},
            ]
        }
    )  # fmt: skip


def test_reading_values() -> None:
    snap = flagset().evaluate("u", person_properties={"plan": "pro"}, now=NOW)
    assert snap.get_flag("pro") is True
    assert snap.is_enabled("pro") is True
    assert snap.get_flag("off") is False and snap.is_enabled("off") is False
    assert snap.get_flag("unknown") is None and snap.is_enabled("unknown") is False
    assert snap.get_flag("nope") is None and snap.is_enabled("nope") is False
    assert snap.keys == ("pro", "mv", "off", "exp")
    assert snap.unresolved == {"unknown": Unresolved.MISSING_CONTEXT}
    assert snap.unresolved["unknown"] == "missing_context"
    assert snap.distinct_id == "u"
    assert dict(snap.flag_values) == {
        "pro": True,
        "mv": snap.get_flag("mv"),
        "off": False,
        "exp": True,
    }


def test_results_carry_metadata_and_reasons() -> None:
    snap = flagset().evaluate("u", person_properties={"plan": "free"}, now=NOW)
    results = snap.results
    assert set(results) == set(snap.keys)
    pro = results["pro"]
    assert isinstance(pro, FlagResult)
    assert (pro.key, pro.value, pro.payload, pro.id, pro.version) == ("pro", False, None, 1, 4)
    assert pro.reason == Reason(
        "no_condition_match", 0, "plan", "condition 0: 'plan' exact 'pro' did not match"
    )
    assert results["mv"].value == "test" and results["mv"].payload == "t"
    assert results["mv"].reason.kind == "condition_match"
    assert results["mv"].reason.condition_index == 0
    assert "sets variant 'test'" in results["mv"].reason.detail
    assert results["off"].reason.kind == "flag_inactive"
    assert results["exp"].has_experiment is True and results["pro"].has_experiment is None
    assert snap.results is results
    assert snap.result("mv") == results["mv"]
    assert snap.result("unknown") is None and snap.result("nope") is None


def test_reason_kinds() -> None:
    out = next(f"u{i}" for i in range(100) if hash_bucket("r", f"u{i}") > 0.5)
    fs = FlagSet.from_document(
        {
            "flags": [
                flag("r", groups=[condition(rollout=50)]),
                flag("ee", early_exit=True, groups=[condition(rollout=0), condition()]),
                flag("none", groups=[]),
                flag("held", holdout={"id": 3, "exclusion_percentage": 100}, groups=[condition()]),
                flag("enrolled", feature_enrollment=True),
                flag("grp", aggregation_group_type_index=0, groups=[condition()]),
                flag("mixed", groups=[condition(aggregation_group_type_index=1)]),
                flag("second", groups=[condition(prop("a", 1)), condition(prop("b", 2))]),
            ],
            "group_type_mapping": {"0": "company", "1": "project"},
        }
    )
    snap = fs.evaluate(
        out, person_properties={"$feature_enrollment/enrolled": True, "a": 0, "b": 2}, now=NOW
    )
    kinds = {
        key: (result.reason.kind, result.reason.condition_index)
        for key, result in snap.results.items()
    }
    assert kinds == {
        "r": ("out_of_rollout", 0),
        "ee": ("early_exit", 0),
        "none": ("no_conditions", None),
        "held": ("holdout", None),
        "enrolled": ("feature_enrollment", None),
        "grp": ("group_not_provided", None),
        "mixed": ("condition_skipped", 0),
        "second": ("condition_match", 1),
    }
    assert snap.get_flag("held") == "holdout-3"
    assert snap.results["enrolled"].reason.property == "$feature_enrollment/enrolled"
    assert "'company'" in snap.results["grp"].reason.detail


def test_reason_names_cohorts_and_dependencies() -> None:
    fs = FlagSet.from_document(
        {
            "flags": [
                flag("parent", groups=[condition(rollout=0)]),
                flag("child", groups=[condition({"key": "parent", "type": "flag", "operator": "flag_evaluates_to", "value": True, "dependency_chain": ["parent"]})]),
                flag("member", groups=[condition({"key": "id", "type": "cohort", "value": 8})]),
            ],
            "cohorts": {"8": {"type": "AND", "values": [prop("plan", "pro")]}},
        }
    )  # fmt: skip
    results = fs.evaluate("u", person_properties={"plan": "free"}, now=NOW).results
    assert results["child"].reason.property == "flag parent"
    assert results["member"].reason.property == "cohort 8"
    assert "in cohort 8" in results["member"].reason.detail


def test_values_are_immutable() -> None:
    snap = flagset().evaluate("u", person_properties={"plan": "pro"}, now=NOW)
    with pytest.raises(AttributeError):
        snap.distinct_id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.flag_values["pro"] = False  # type: ignore[index]
    with pytest.raises(TypeError):
        snap.unresolved["x"] = Unresolved.MISSING_CONTEXT  # type: ignore[index]
    with pytest.raises(TypeError):
        snap.results["pro"] = None  # type: ignore[index]
    result = snap.results["pro"]
    with pytest.raises(AttributeError):
        result.value = False  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.reason.kind = "x"  # type: ignore[misc]


def test_mutating_a_payload_changes_nothing_shared() -> None:
    fs = flagset()
    snap = fs.evaluate("u", person_properties={"plan": "pro"}, now=NOW)
    payload = snap.get_flag_payload("pro")
    payload["limits"].append(99)
    payload["new"] = True
    assert snap.get_flag_payload("pro") == {"limits": [1, 2]}
    snap.results["pro"].payload["limits"].clear()
    again = fs.evaluate("v", person_properties={"plan": "pro"}, now=NOW)
    assert again.get_flag_payload("pro") == {"limits": [1, 2]}
    assert again.results["pro"].payload == {"limits": [1, 2]}


@pytest.mark.parametrize(
    "payload",
    [
        {"big": 123456789012345678901234567890, "list": [1, 2.0, None, True]},
        [{"nested": {"deep": ["x", 1.5]}}, "\u00e9"],
        {"text": "\ud800 lone surrogate", "n": 1},
        {"tuple": (1, 2), "n": 1},
        7,
    ],
)
def test_payloads_come_back_exactly_and_privately(payload: Any) -> None:
    # Already-decoded payloads of any shape: each read gives equal values of the same
    # types (1 stays int, 2.0 float), and a caller's change never reaches the next read.
    fs = FlagSet.from_document([flag("p", groups=[condition()], payloads={"true": payload})])
    snap = fs.evaluate("u", now=NOW)
    first = snap.get_flag_payload("p")
    assert first == payload and repr(first) == repr(payload)
    if isinstance(first, (dict, list)):
        assert first is not payload
        first.clear()
        assert snap.get_flag_payload("p") == payload
        assert snap.results["p"].payload == payload


def test_caller_inputs_are_not_modified_or_kept() -> None:
    fs = flagset()
    person: dict[str, Any] = {"plan": "pro"}
    groups = {"company": "acme"}
    group_props: dict[str, Any] = {"company": {"size": 3}}
    snap = fs.evaluate(
        "u", person_properties=person, groups=groups, group_properties=group_props, now=NOW
    )
    assert person == {"plan": "pro"} and groups == {"company": "acme"}
    assert group_props == {"company": {"size": 3}}
    person["plan"] = "free"
    assert snap.get_flag("pro") is True


def test_failed_names_the_flags_evaluation_failed_on() -> None:
    """A rollout that is not a number fails the flag (posthog-python leaves it out and asks
    the server): it is in neither the values nor the unresolved flags, only in `failed`."""
    broken = flag("broken", groups=[{"properties": [], "rollout_percentage": "50"}])
    fs = FlagSet.from_document(
        {
            "flags": [
                broken,
                flag("fine", groups=[condition()]),
                flag("unknown", groups=[condition(prop("missing", 1))]),
            ]
        }
    )
    snap = fs.evaluate("u", now=NOW)
    assert snap.failed == ("broken",)
    assert dict(snap.flag_values) == {"fine": True}
    assert set(snap.unresolved) == {"unknown"}
    assert fs.evaluate("u", flag_keys=["broken", "fine"], now=NOW).failed == ("broken",)
    assert fs.evaluate("u", flag_keys=["fine", "unknown"], now=NOW).failed == ()
    assert flagset().evaluate("u", now=NOW).failed == ()


def test_only_restricts_keys() -> None:
    snap = flagset().evaluate("u", person_properties={"plan": "pro"}, now=NOW)
    small = snap.only(["pro", "unknown", "not-a-flag"])
    assert isinstance(small, Snapshot)
    assert small.keys == ("pro",)
    assert small.unresolved == {"unknown": Unresolved.MISSING_CONTEXT}
    assert small.get_flag_payload("pro") == {"limits": [1, 2]}
    assert small.results["pro"].reason == snap.results["pro"].reason
    assert snap.keys == ("pro", "mv", "off", "exp")


def test_now_must_be_a_datetime_and_naive_means_utc() -> None:
    fs = FlagSet.from_document(
        [flag("d", groups=[condition(prop("t", "2026-06-15T11:00:00", operator="is_date_after"))])]
    )
    person = {"t": "2026-06-15T11:30:00Z"}
    with pytest.raises(TypeError):
        fs.evaluate("u", person_properties=person, now="2026-06-15")  # type: ignore[arg-type]
    naive = fs.evaluate("u", person_properties=person, now=datetime(2026, 6, 15, 12))
    aware = fs.evaluate("u", person_properties=person, now=NOW)
    assert naive.flag_values == aware.flag_values == {"d": True}


@pytest.mark.parametrize(
    "value",
    [
        None,
        float("nan"),
        float("inf"),
        b"\xff",
        object(),
        [object()],
        {"a": {1, 2}},
        "x" * 100_000,
        10**400,
        -0.0,
        ("t",),
    ],
    ids=repr,
)
def test_evaluation_never_raises_for_any_property_value(value: Any) -> None:
    operators = [
        "exact",
        "is_not",
        "icontains",
        "regex",
        "gt",
        "is_date_before",
        "semver_gt",
        "is_set",
    ]
    fs = FlagSet.from_document(
        {
            "flags": [flag(op, groups=[condition(prop("p", "1", operator=op))]) for op in operators]
            + [flag("cohort", groups=[condition({"key": "id", "type": "cohort", "value": 1})])],
            "cohorts": {
                "1": {
                    "type": "OR",
                    "values": [prop("p", "x"), {**prop("p", 1, operator="gt"), "negation": True}],
                }
            },
        }
    )
    snap = fs.evaluate("u", person_properties={"p": value}, now=NOW)
    assert set(snap.keys) | set(snap.unresolved) == {*operators, "cohort"}


def test_odd_distinct_ids_and_groups() -> None:
    fs = FlagSet.from_document(
        {"flags": [flag("r", groups=[condition(rollout=50)]), flag("g", aggregation_group_type_index=0, groups=[condition(rollout=50)])],
         "group_type_mapping": {"0": "company"}}
    )  # fmt: skip
    snap = fs.evaluate(123, groups={"company": 456}, now=NOW)  # type: ignore[arg-type]
    assert snap.distinct_id == "123"
    assert snap.get_flag("r") is (hash_bucket("r", "123") <= 0.5)
    assert snap.get_flag("g") is (hash_bucket("g", "456") <= 0.5)
    broken = fs.evaluate("\ud800", now=NOW)
    assert broken.unresolved["r"] is Unresolved.MISSING_CONTEXT
    assert fs.evaluate("u", person_properties="nonsense", groups=7, now=NOW).keys == ("r", "g")  # type: ignore[arg-type]


def test_flag_keys_of_any_shape() -> None:
    fs = flagset()
    person = {"plan": "pro"}
    for keys in (
        ["pro"],
        ("pro",),
        {"pro"},
        iter(["pro"]),
        "pro",
        ["pro", "pro"],
        [["x"], "pro"],
        [1, "pro"],
    ):
        snap = fs.evaluate("u", person_properties=person, flag_keys=keys, now=NOW)  # type: ignore[arg-type]
        assert snap.keys == ("pro",), keys
    assert fs.evaluate("u", flag_keys=[["x"]], now=NOW).keys == ()  # type: ignore[list-item]
    assert fs.evaluate("u", flag_keys=(), now=NOW).keys == ()


def test_a_flagset_is_shared_safely_between_threads() -> None:
    fs = flagset()
    expected = {
        i: fs.evaluate(f"u{i}", person_properties={"plan": "pro"}, now=NOW).flag_values
        for i in range(50)
    }
    failures: list[int] = []

    def work() -> None:
        for i in range(50):
            if (
                fs.evaluate(f"u{i}", person_properties={"plan": "pro"}, now=NOW).flag_values
                != expected[i]
            ):
                failures.append(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []


def test_results_serialise_for_the_cli() -> None:
    snap = flagset().evaluate("u", person_properties={"plan": "pro"}, now=NOW)
    rendered = json.dumps({k: msgspec.to_builtins(v) for k, v in snap.results.items()})
    assert '"kind": "condition_match"' in rendered


def test_reading_a_snapshot_never_writes_into_it() -> None:
    import msgspec

    fs = FlagSet.from_document([flag("a", groups=[condition()]), flag("b", active=False)])
    snap = fs.evaluate("u", now=NOW)
    fields = msgspec.structs.asdict(snap)
    before = {name: value for name, value in fields.items() if name != "_views"}
    assert dict(snap.flag_values) == {"a": True, "b": False}
    assert snap.results["a"].value is True
    after = msgspec.structs.asdict(snap)
    assert all(after[name] is value for name, value in before.items())
    # What reads derive lives in the snapshot's own views object, reused on later reads.
    assert snap.flag_values is snap.flag_values
    assert snap.results is snap.results


def test_no_core_module_writes_into_frozen_structs() -> None:
    import pathlib

    import hogkit.core

    root = pathlib.Path(hogkit.core.__file__).parent
    # Writing a field of a built msgspec struct needs `force_setattr`.
    offenders = [
        path.name for path in sorted(root.glob("*.py")) if "force_setattr" in path.read_text()
    ]
    assert offenders == []
