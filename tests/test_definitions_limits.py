"""Loading never crashes: pathological definitions raise DefinitionsError or isolate the one
flag they concern, through the core, the reference comparison and the console script."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hogkit.core import DefinitionsError, FlagSet
from hogkit.core.definitions import MAX_DEPTH, decode_definitions, read_definitions
from oracle import evaluate as oracle_evaluate

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)


def flag(key: str, **filters: Any) -> dict[str, Any]:
    return {
        "key": key,
        "active": True,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 100}], **filters},
    }


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def outcome(flags: FlagSet) -> tuple[dict[str, Any], dict[str, str]]:
    snapshot = flags.evaluate("person", now=NOW)
    return dict(snapshot.flag_values), {k: v.value for k, v in snapshot.unresolved.items()}


def deep_texts(depth: int) -> list[str]:
    return [
        '{"flags":[' + "[" * depth + "]" * depth + "]}",
        '{"flags":[{"key":"x","filters":' + '{"a":' * depth + "1" + "}" * depth + "}]}",
        '{"flags":[{"key":"x","active":true,"filters":{"payloads":{"true":'
        + "[" * depth
        + "]" * depth
        + "}}}]}",
        '{"cohorts":{"1":' + "[" * depth + "]" * depth + '},"flags":[]}',
        "[" * depth + "]" * depth,
    ]


@pytest.mark.parametrize("depth", [100_000, 1_000_000])
def test_text_nested_beyond_any_decoder_is_a_definitions_error(depth: int) -> None:
    for text in deep_texts(depth):
        with pytest.raises(DefinitionsError):
            FlagSet.from_json(text)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 5_000])
def test_deep_text_raises_definitions_error_or_isolates_the_deep_part(depth: int) -> None:
    """How deep a decoder reads depends on the interpreter (3.12+ reads far deeper); what
    it reads, beyond MAX_DEPTH, either fails the document or marks only the flag holding it."""
    for text in deep_texts(depth):
        try:
            flags = FlagSet.from_json(text)
        except DefinitionsError:
            continue
        values, unresolved = outcome(flags)
        if '"payloads"' in text:
            assert unresolved == {"x": "unsupported_definition"}
        else:
            # Deep parts no flag reads: ignored fields or entries that are not flags.
            assert unresolved == {}
            assert values in ({}, {"x": False})


def test_deeply_nested_flag_in_a_decoded_document_marks_only_itself() -> None:
    document = {
        "flags": [
            flag("ok"),
            flag("deep", payloads={"true": nested(50_000)}),
            nested(50_000),
        ]
    }
    flags = FlagSet.from_document(document)
    values, unresolved = outcome(flags)
    assert values == {"ok": True}
    assert unresolved == {"deep": "unsupported_definition"}
    assert "nested deeper" in flags.problems()["deep"][0].message


def test_deep_top_level_of_a_decoded_document_is_a_definitions_error() -> None:
    with pytest.raises(DefinitionsError):
        decode_definitions({"flags": [flag("ok")], "cohorts": {"1": nested(50_000)}})


def test_depth_limit_is_exact() -> None:
    """A flag may nest up to MAX_DEPTH container levels counted from the document's own (1);
    one more is too deep."""

    def document(payload_depth: int) -> dict[str, Any]:
        return {"flags": [flag("f", payloads={"true": nested(payload_depth)})]}

    # document, flags, flag, filters, payloads: 5 levels; nested(d) adds d + 1.
    fits = decode_definitions(document(MAX_DEPTH - 6))
    assert type(fits.flags[0]).__name__ == "FlagDefinition"
    too_deep = decode_definitions(document(MAX_DEPTH - 5))
    assert type(too_deep.flags[0]).__name__ == "MalformedFlag"


@pytest.mark.parametrize("as_text", [True, False])
def test_surrogate_key_marks_only_its_own_flag(as_text: bool) -> None:
    document = {"flags": [flag("before"), flag("\ud800"), flag("after")]}
    flags = FlagSet.from_json(json.dumps(document)) if as_text else FlagSet.from_document(document)
    values, unresolved = outcome(flags)
    assert values == {"before": True, "after": True}
    assert unresolved == {"\ud800": "unsupported_definition"}
    # The reference evaluates the neighbours the same way.
    reference = oracle_evaluate({"flags": [flag("before"), flag("after")]}, "person")
    assert {k: v["value"] for k, v in reference.items()} == values


def test_pathological_payload_text_affects_only_its_flag() -> None:
    document = {"flags": [flag("ok"), flag("p", payloads={"true": "[" * 20_000 + "]" * 20_000})]}
    ours = FlagSet.from_json(json.dumps(document)).evaluate("person", now=NOW)
    reference = oracle_evaluate(document, "person")
    assert dict(ours.flag_values) == {k: v["value"] for k, v in reference.items()}
    assert reference["ok"] == {"value": True, "payload": None}
    assert ours.get_flag("ok") is True


def test_text_that_is_not_text_is_a_definitions_error() -> None:
    with pytest.raises(DefinitionsError):
        read_definitions(12)  # type: ignore[arg-type]


def _console_script() -> str:
    return str(Path(sys.executable).with_name("hogkit"))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_console_script(), *argv], capture_output=True, text=True, check=False, timeout=120
    )


def test_console_script_answers_deep_nesting_with_one_line_and_status_2(tmp_path: Path) -> None:
    for depth in (1_000, 100_000):
        path = tmp_path / f"deep{depth}.json"
        path.write_text(
            '{"flags":[{"key":"x","filters":{"groups":' + "[" * depth + "]" * depth + "}}]}"
        )
        for argv in (["evaluate", str(path), "--distinct-id", "a"], ["check", str(path)]):
            done = _run(*argv)
            assert "Traceback" not in done.stderr
            if depth == 1_000 and done.returncode != 2:
                # Decoded (Python 3.12+): the flag is malformed, the others unaffected.
                assert done.returncode in (0, 1), done.stderr
                continue
            assert done.returncode == 2, done.stderr
            assert done.stdout == ""
            assert done.stderr.count("\n") == 1
            assert done.stderr.startswith("hogkit: error: invalid definitions")
            assert "nested too deeply" in done.stderr


def test_console_script_keeps_the_other_flags_beside_a_surrogate_key(tmp_path: Path) -> None:
    """A surrogate key is one malformed flag, not bad input: the others still evaluate."""
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps({"flags": [flag("\ud800"), flag("ok")]}))
    done = _run("evaluate", str(path), "--distinct-id", "a", "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["flags"]["ok"]["value"] is True
    assert report["unresolved"] == {"\ud800": "unsupported_definition"}
    checked = _run("check", str(path))
    assert checked.returncode == 1  # one flag needs the server
    assert "lone surrogate" in checked.stdout
