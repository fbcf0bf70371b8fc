"""Runs every recorded conformance case against hogkit.core.

The expected outcomes in the JSON files were produced by posthog==7.91.1 (see generate.py);
this module only reads them. A failure names the case id and shows both outcomes.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from compare import OPERATORS, differences, person_arguments, snapshot_outcome

HERE = Path(__file__).resolve().parent
SCHEMA_PATH = HERE / "case.schema.json"
CASE_FILES = sorted(p for p in HERE.glob("*.json") if p != SCHEMA_PATH)


def _load_files() -> dict[Path, dict[str, Any]]:
    return {path: json.loads(path.read_text(encoding="utf-8")) for path in CASE_FILES}


FILES = _load_files()
CASES = [case for document in FILES.values() for case in document["cases"]]
RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def expected_here(case: Mapping[str, Any]) -> Any:
    """The reference's outcome on this interpreter: `expected`, unless recorded otherwise."""
    return case.get("expected_on", {}).get(RUNTIME, case["expected"])


def _flagset_class() -> Any:
    from hogkit.core import FlagSet

    return FlagSet


def hogkit_outcome(case: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What hogkit.core says for every flag of the case, in the files' outcome shape."""
    flag_set = _flagset_class().from_json(json.dumps(case["definitions"]))
    call = case["call"]
    snapshot = flag_set.evaluate(
        call["distinct_id"],
        **person_arguments(call),
        flag_keys=call["flag_keys"],
        now=dt.datetime.fromisoformat(call["now"].replace("Z", "+00:00")),
    )
    return snapshot_outcome(snapshot)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_matches_reference(case: Mapping[str, Any]) -> None:
    expected = expected_here(case)
    actual = hogkit_outcome(case)
    diff = differences(expected, actual, "expected")
    assert not diff, (
        f"{case['id']}: {case['description']}\n{json.dumps(diff, indent=1, default=repr)}"
    )


# ---------------------------------------------------------------------------------------------
# The suite itself: size, coverage, format, and that the files are what the oracle says today.


def _filters(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        if "key" in node and ("operator" in node or "type" in node):
            yield node
        for value in node.values():
            yield from _filters(value)
    elif isinstance(node, list):
        for value in node:
            yield from _filters(value)


def test_suite_covers_every_operator_and_area() -> None:
    assert len(CASES) >= 300
    assert len({case["id"] for case in CASES}) == len(CASES), "case ids must be unique"
    used = {f.get("operator") for case in CASES for f in _filters(case["definitions"])}
    kinds = {
        (f.get("type"), f.get("operator")) for case in CASES for f in _filters(case["definitions"])
    }
    assert set(OPERATORS) <= used
    assert {("cohort", "in"), ("cohort", "not_in"), ("flag", "flag_evaluates_to")} <= kinds
    reasons = {o.get("unresolved") for case in CASES for o in case["expected"].values()}
    assert reasons >= {
        "experience_continuity",
        "unsupported_definition",
        "unresolved_dependency",
        "missing_context",
    }
    assert {doc["area"] for doc in FILES.values()} == {p.stem for p in CASE_FILES}


class SchemaViolation(AssertionError):
    pass


def _check(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any], where: str) -> None:
    """A validator for the JSON Schema keywords case.schema.json uses (no third-party package)."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        _check(instance, target, root, where)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        if not any(checks[name](instance) for name in names):
            raise SchemaViolation(f"{where}: expected {names}, got {instance!r:.80}")
    if "const" in schema and instance != schema["const"]:
        raise SchemaViolation(f"{where}: expected {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        raise SchemaViolation(f"{where}: {instance!r} not in {schema['enum']}")
    if "minLength" in schema and len(instance) < schema["minLength"]:
        raise SchemaViolation(f"{where}: too short")
    if "pattern" in schema and not re.search(schema["pattern"], instance):
        raise SchemaViolation(f"{where}: {instance!r} does not match {schema['pattern']}")
    if "oneOf" in schema:
        passing = 0
        for option in schema["oneOf"]:
            try:
                _check(instance, option, root, where)
                passing += 1
            except SchemaViolation:
                pass
        if passing != 1:
            raise SchemaViolation(f"{where}: matches {passing} of the oneOf options")
    if isinstance(instance, dict):
        for name in schema.get("required", ()):
            if name not in instance:
                raise SchemaViolation(f"{where}: missing {name!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, value in instance.items():
            if name in props:
                _check(value, props[name], root, f"{where}.{name}")
            elif extra is False:
                raise SchemaViolation(f"{where}: unexpected {name!r}")
            elif isinstance(extra, dict):
                _check(value, extra, root, f"{where}.{name}")
    if isinstance(instance, list) and "items" in schema:
        for i, value in enumerate(instance):
            _check(value, schema["items"], root, f"{where}[{i}]")


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.name for p in CASE_FILES])
def test_case_file_follows_the_schema(path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    _check(FILES[path], schema, schema, path.name)


def test_schema_validator_rejects_bad_cases() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    good = json.loads(json.dumps(next(iter(FILES.values()))))
    bad_outcome = json.loads(json.dumps(good))
    first = bad_outcome["cases"][0]
    first["expected"][next(iter(first["expected"]))] = {"unresolved": "server_said_no"}
    missing_call = json.loads(json.dumps(good))
    del missing_call["cases"][0]["call"]["now"]
    for broken in (bad_outcome, missing_call):
        with pytest.raises(SchemaViolation):
            _check(broken, schema, schema, "file")


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hogkit_conformance_generate", HERE / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_files_are_what_the_oracle_answers_today() -> None:
    """The JSON files must be regenerated whenever generate.py changes (on the newest Python,
    then on each older one whose answers differ, which records them under `expected_on`)."""
    import oracle  # tests/oracle.py, on sys.path through tests/conftest.py's rootdir

    regenerated = _load_generator().build_all(oracle.evaluate)
    on_disk = {path.stem: document for path, document in FILES.items()}
    assert regenerated.keys() == on_disk.keys()
    for area, document in regenerated.items():
        # Compare through JSON text: the files hold what json.dumps wrote.
        fresh = json.loads(json.dumps(document))
        stored = on_disk[area]
        assert [c["id"] for c in fresh["cases"]] == [c["id"] for c in stored["cases"]]
        for new, old in zip(fresh["cases"], stored["cases"], strict=True):
            expected = new.pop("expected")
            assert expected == expected_here(old), (
                f"{old['id']}: stale on {RUNTIME}: run python tests/conformance/generate.py"
            )
            assert new == {k: v for k, v in old.items() if k not in ("expected", "expected_on")}
