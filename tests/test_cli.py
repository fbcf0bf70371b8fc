"""The `hogkit` command line: each command's output, exit status and error messages.

Most tests run the command in-process through `run()` with their own streams (fast); a few
run the installed console script in a subprocess to prove what a user's shell sees.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import oracle
import pytest
from hogkit.cli import Streams, run
from hogkit.cli.input import parse_value
from hogkit.core import FlagSet
from httpserver import LoopbackServer, Reply

EXAMPLES = (
    importlib.resources.files("hogkit.cli").joinpath("examples/definitions.json").read_bytes()
)
EXAMPLE_DOC = json.loads(EXAMPLES)
NOW = "2026-06-15T12:00:00Z"
NOW_DT = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
SECRET = "phs_cli_test_secret_0123456789"


class TTYStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


@attrs.frozen
class Outcome:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*argv: str, stdin: bytes = b"", tty: bool = False) -> Outcome:
    stdout = io.StringIO()
    stderr = TTYStringIO() if tty else io.StringIO()
    streams = Streams(io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"), stdout, stderr)
    status = run(list(argv), streams)
    return Outcome(status, stdout.getvalue(), stderr.getvalue())


def assert_one_line_error(result: Outcome, *fragments: str) -> None:
    assert result.status == 2
    assert result.out == ""
    assert result.err.startswith("hogkit: error: ")
    assert result.err.endswith("\n") and result.err.count("\n") == 1
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err


def table_rows(text: str) -> dict[str, list[str]]:
    """The table's rows by flag key, split on runs of two or more spaces."""
    rows = {}
    for line in text.splitlines()[1:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


# ---------------------------------------------------------------------------- evaluate


def test_default_table_matches_the_core() -> None:
    result = cli("evaluate", "--distinct-id", "alice", "--person", "email=alice@example.com")
    assert result.status == 0 and result.err == ""
    header = result.out.splitlines()[0].split()
    assert header == ["FLAG", "VALUE", "PAYLOAD", "REASON"]
    rows = table_rows(result.out)
    snap = FlagSet.from_json(EXAMPLES).evaluate(
        "alice", person_properties={"email": "alice@example.com"}, now=NOW_DT
    )
    assert list(rows) == [f["key"] for f in EXAMPLE_DOC["flags"]]
    for key, cells in rows.items():
        if key in snap.unresolved:
            assert cells[1] == "-"
            assert cells[-1] == f"needs the server: {snap.unresolved[key].value}"
        else:
            assert cells[1] == {True: "true", False: "false"}.get(
                snap.get_flag(key), snap.get_flag(key)
            )  # type: ignore[arg-type]
    assert rows["new-dashboard"][2] == '{"layout":"grid","widgets":6}'
    assert rows["beta-program"][-1] == "matched condition 0"
    assert rows["pricing-copy"][-1] == "matched condition 1"
    assert rows["sticky-onboarding"][-1] == "needs the server: experience_continuity"
    assert rows["legacy-editor"][1:] == ["false", "flag is switched off"]
    assert result.out.rstrip().endswith(
        "14 flags: 8 decided locally, 6 need the server (--explain says why)"
    )


EVALUATE_CASES = [
    ("alice", ["--person", "email=alice@example.com"], {}),
    (
        "bob",
        [
            "--person",
            "email=bob@gmail.com",
            "--person",
            "plan=pro",
            "--person",
            "logins_last_30_days=25",
            "--person",
            "$geoip_country_code=DE",
            "--person",
            "signed_up_at=2026-06-01",
            "--group",
            "company=acme",
            "--group-property",
            "company.employees=120",
        ],
        {
            "person_properties": {
                "email": "bob@gmail.com",
                "plan": "pro",
                "logins_last_30_days": 25,
                "$geoip_country_code": "DE",
                "signed_up_at": "2026-06-01",
            },
            "groups": {"company": "acme"},
            "group_properties": {"company": {"employees": 120}},
        },
    ),
    (
        "carol",
        ["--person", "plan=enterprise", "--group", "company=tiny", "--device-id", "d-1"],
        {
            "person_properties": {"plan": "enterprise"},
            "groups": {"company": "tiny"},
            "device_id": "d-1",
        },
    ),
]


@pytest.mark.parametrize(("distinct_id", "args", "inputs"), EVALUATE_CASES)
def test_json_agrees_with_flagset_evaluate(
    distinct_id: str, args: list[str], inputs: dict[str, Any]
) -> None:
    if distinct_id == "alice":
        inputs = {"person_properties": {"email": "alice@example.com"}}
    result = cli("evaluate", "--distinct-id", distinct_id, *args, "--json", "--now", NOW)
    assert result.status == 0 and result.err == ""
    shown = result.json()
    snap = FlagSet.from_json(EXAMPLES).evaluate(distinct_id, now=NOW_DT, **inputs)
    assert shown["distinct_id"] == distinct_id
    assert list(shown["flags"]) == list(snap.keys)
    for key, result_ in snap.results.items():
        assert shown["flags"][key] == {
            "value": result_.value,
            "payload": result_.payload,
            "reason": {
                "kind": result_.reason.kind,
                "condition_index": result_.reason.condition_index,
                "property": result_.reason.property,
                "detail": result_.reason.detail,
            },
        }
    assert shown["unresolved"] == {k: v.value for k, v in snap.unresolved.items()}
    # ... and the bundled examples evaluate as posthog-python 7.91.1 evaluates them.
    expected = oracle.evaluate(EXAMPLE_DOC, distinct_id, now=NOW_DT, **inputs)
    for key, outcome in expected.items():
        if "unresolved" in outcome:
            assert shown["unresolved"][key] == outcome["unresolved"]
        else:
            assert shown["flags"][key]["value"] == outcome["value"]
            assert shown["flags"][key]["payload"] == outcome["payload"]


def test_person_values_are_json_when_valid_json() -> None:
    assert parse_value("30") == 30
    assert parse_value("2.5") == 2.5
    assert parse_value("true") is True
    assert parse_value("null") is None
    assert parse_value('"30"') == "30"
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("pro") == "pro"
    assert parse_value("") == ""
    assert parse_value("NaN") == "NaN"  # not JSON, so the text typed
    assert parse_value("a=b") == "a=b"


def test_value_after_the_first_equals_sign_is_kept_whole() -> None:
    doc = [
        {
            "key": "f",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [{"key": "q", "operator": "exact", "value": "a=b"}],
                        "rollout_percentage": 100,
                    }
                ]
            },
        }
    ]
    result = cli(
        "evaluate",
        "-",
        "--distinct-id",
        "x",
        "--person",
        "q=a=b",
        "--json",
        stdin=json.dumps(doc).encode(),
    )
    assert result.json()["flags"]["f"]["value"] is True


def test_group_flags_use_group_and_group_property() -> None:
    def value(*args: str) -> Any:
        out = cli("evaluate", "--distinct-id", "u", "--flag", "company-analytics", "--json", *args)
        assert out.status == 0, out.err
        return out.json()["flags"]["company-analytics"]

    big = value("--group", "company=acme", "--group-property", "company.employees=120")
    assert big["value"] is True
    small = value("--group", "company=acme", "--group-property", "company.employees=12")
    assert small["value"] is False
    assert small["reason"]["kind"] == "no_condition_match"
    absent = value()
    assert absent["value"] is False
    assert absent["reason"]["kind"] == "group_not_provided"


def test_flag_option_limits_the_output_and_keeps_its_order() -> None:
    result = cli(
        "evaluate", "--distinct-id", "u", "--flag", "search-v2", "--flag", "new-dashboard", "--json"
    )
    assert result.status == 0
    assert list(result.json()["flags"]) == ["new-dashboard", "search-v2"]  # definition order
    table = cli("evaluate", "--distinct-id", "u", "--flag", "search-v2", "--flag", "new-dashboard")
    assert list(table_rows(table.out)) == ["search-v2", "new-dashboard"]


def test_now_decides_relative_dates() -> None:
    args = ["evaluate", "--distinct-id", "u", "--flag", "welcome-banner", "--json"]
    args += ["--person", "signed_up_at=2026-06-01T00:00:00Z"]
    recent = cli(*args, "--now", "2026-06-15T00:00:00Z").json()
    later = cli(*args, "--now", "2026-08-01T00:00:00+00:00").json()
    assert recent["flags"]["welcome-banner"]["value"] is True
    assert later["flags"]["welcome-banner"]["value"] is False


def test_definitions_from_stdin_in_flag_list_format_and_from_a_file(tmp_path: Path) -> None:
    flags = EXAMPLE_DOC["flags"][:2]
    from_stdin = cli(
        "evaluate", "-", "--distinct-id", "alice", "--json", stdin=json.dumps(flags).encode()
    )
    assert from_stdin.status == 0
    assert list(from_stdin.json()["flags"]) == ["new-dashboard"]
    assert from_stdin.json()["unresolved"] == {"beta-program": "missing_context"}
    path = tmp_path / "defs.json"
    path.write_bytes(EXAMPLES)
    from_file = cli("evaluate", str(path), "--distinct-id", "alice", "--json", "--now", NOW)
    bundled = cli("evaluate", "--distinct-id", "alice", "--json", "--now", NOW)
    assert from_file.json() == bundled.json()


def test_explain_names_the_condition_the_property_and_what_is_missing() -> None:
    result = cli(
        "evaluate",
        "--distinct-id",
        "bob",
        "--person",
        "email=bob@gmail.com",
        "--person",
        "plan=free",
        "--explain",
    )
    assert result.status == 0
    blocks = {b.splitlines()[0].split()[0]: b for b in result.out.strip().split("\n\n")}
    assert blocks["pro-export"].splitlines()[:3] == [
        "pro-export = false   [no_condition_match]",
        "  condition 0: 'plan' exact ['pro', 'enterprise'] did not match",
        "  decided by: plan",
    ]
    assert 'condition 0: plan exact ["pro","enterprise"]; rollout 100%   <-' in blocks["pro-export"]
    beta = blocks["beta-program"]
    assert beta.startswith("beta-program = false   [out_of_rollout]")
    assert 'condition 1: email icontains "@gmail."; rollout 10%   <-' in beta
    assert "not given: $geoip_country_code" in blocks["eu-cookie-banner"]
    assert blocks["eu-cookie-banner"].startswith(
        "eu-cookie-banner = ?   [needs the server: missing_context]"
    )
    assert "cohort 99 is not in the definitions" in blocks["vip-support"]
    assert "(static or unknown: server only)" in blocks["vip-support"]
    assert "payload: " in blocks["checkout-experiment"]


# ---------------------------------------------------------------------------- --people


def write_people(path: Path, count: int) -> list[dict[str, Any]]:
    plans = ["free", "pro", "enterprise", None]
    people = []
    for i in range(count):
        person: dict[str, Any] = {"distinct_id": f"user-{i}", "properties": {}}
        plan = plans[i % 4]
        if plan is not None:
            person["properties"]["plan"] = plan
        if i % 3 == 0:
            person["groups"] = {"company": f"c{i % 5}"}
            person["group_properties"] = {"company": {"employees": i}}
        people.append(person)
    lines = [json.dumps(p) for p in people]
    lines.insert(5, "")  # blank lines are skipped
    path.write_text("\n".join(lines) + "\n")
    return people


def test_people_counts_agree_with_the_core(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    people = write_people(path, 120)
    result = cli("evaluate", "--people", str(path), "--json", "--now", NOW)
    assert result.status == 0 and result.err == ""
    shown = result.json()
    assert shown["people"] == 120
    flagset = FlagSet.from_json(EXAMPLES)
    expected: dict[str, dict[str, Any]] = {k: {} for k in flagset.keys}
    for p in people:
        snap = flagset.evaluate(
            p["distinct_id"],
            person_properties=p["properties"],
            groups=p.get("groups"),
            group_properties=p.get("group_properties"),
            now=NOW_DT,
        )
        for key in flagset.keys:
            if key in snap.unresolved:
                label = ("server", snap.unresolved[key].value)
            else:
                label = ("value", snap.get_flag(key))
            expected[key][label] = expected[key].get(label, 0) + 1  # type: ignore[index]
    for key, counts in shown["flags"].items():
        got = {("value", v["value"]): v["count"] for v in counts["values"]}
        got.update({("server", r): n for r, n in counts["unresolved"].items()})
        assert got == expected[key]
        assert sum(got.values()) == 120


def test_people_table_has_bars_and_no_progress_without_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    write_people(path, 40)
    result = cli("evaluate", "--people", str(path), "--flag", "pro-export")
    assert result.status == 0
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0].split() == ["FLAG", "VALUE", "PEOPLE", "SHARE"]
    # 10 each of free/pro/enterprise/absent: 20 true, 10 false, 10 missing plan.
    assert lines[1].split()[:4] == ["pro-export", "true", "20", "50.0%"]
    assert lines[1].endswith("█" * 15)
    assert lines[2].split() == ["(server:", "missing_context)", "10", "25.0%", "█" * 7 + "▌"]
    assert lines[3].split() == ["false", "10", "25.0%", "█" * 7 + "▌"]
    assert lines[-1] == "40 people evaluated"


def test_people_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    write_people(path, 30)
    result = cli("evaluate", "--people", str(path), "--flag", "search-v2", tty=True)
    assert result.status == 0
    assert "100%" in result.err and "30 people" in result.err
    assert result.err.startswith("\r[") and result.err.endswith("\r\x1b[K")
    assert "100%" not in result.out


def test_people_file_defaults_come_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    path.write_text('{"distinct_id": "a", "properties": {"plan": "free"}}\n{"distinct_id": "b"}\n')
    result = cli(
        "evaluate", "--people", str(path), "--person", "plan=pro", "--flag", "pro-export", "--json"
    )
    values = {v["value"]: v["count"] for v in result.json()["flags"]["pro-export"]["values"]}
    assert values == {True: 1, False: 1}  # the file's own "free" wins for a


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: invalid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"properties": {}}', "line 2: distinct_id must be a non-empty string"),
        ('{"distinct_id": "x", "properties": [1]}', "line 2: properties must be a JSON object"),
        ('{"distinct_id": "x", "groups": {"company": 5}}', "line 2: every value in groups"),
    ],
)
def test_bad_people_lines_are_one_line_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "people.jsonl"
    path.write_text('{"distinct_id": "ok"}\n' + line + "\n")
    assert_one_line_error(cli("evaluate", "--people", str(path)), message, "people.jsonl")


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("argv", "stdin", "fragments"),
    [
        (
            ["evaluate", "/nonexistent/defs.json", "--distinct-id", "a"],
            b"",
            ["cannot read definitions file '/nonexistent/defs.json': No such file or directory"],
        ),
        (
            ["evaluate", "-", "--distinct-id", "a"],
            b"{not json",
            ["invalid definitions in standard input"],
        ),
        (["check", "-"], b"42", ["invalid definitions in standard input"]),
        (
            ["evaluate", "--distinct-id", "a", "--person", "plan"],
            b"",
            ["bad --person argument 'plan': expected KEY=VALUE"],
        ),
        (
            ["evaluate", "--distinct-id", "a", "--person", "=pro"],
            b"",
            ["bad --person argument '=pro'"],
        ),
        (
            ["evaluate", "--distinct-id", "a", "--group-property", "employees=5"],
            b"",
            ["bad --group-property argument 'employees=5': expected TYPE.KEY=VALUE"],
        ),
        (["evaluate", "--distinct-id", "a", "--group", "company"], b"", ["bad --group argument"]),
        (["evaluate", "--distinct-id", "a", "--now", "yesterday"], b"", ["bad --now argument"]),
        (["evaluate"], b"", ["--distinct-id is required"]),
        (
            ["evaluate", "--distinct-id", "a", "--flag", "nope"],
            b"",
            ["no flag 'nope' in the bundled"],
        ),
        (["evaluate", "--distinct-id", "a", "--json", "--explain"], b"", ["not allowed with"]),
        (
            ["evaluate", "--bogus"],
            b"",
            ["hogkit: error: unrecognized arguments: --bogus (see `hogkit evaluate --help`)"],
        ),
        (["frobnicate"], b"", ["invalid choice: 'frobnicate'"]),
        (["evaluate", "--people", "/nonexistent.jsonl"], b"", ["cannot read people file"]),
        (["evaluate", "--people", "-", "--explain"], b"", ["--explain is for one person"]),
        (["evaluate", "--people", "p", "--distinct-id", "a"], b"", ["either --distinct-id or"]),
        (["evaluate", "-", "--people", "-"], b"", ["cannot both come from standard input"]),
    ],
)
def test_errors_are_one_line_with_status_2(
    argv: list[str], stdin: bytes, fragments: list[str]
) -> None:
    assert_one_line_error(cli(*argv, stdin=stdin), *fragments)


def test_the_console_script_shows_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"flags": ')
    for argv in (
        ["evaluate", str(bad), "--distinct-id", "a"],
        ["check", str(tmp_path / "none.json")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "hogkit.cli", *argv],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("hogkit: error: ")
        assert "Traceback" not in done.stderr


def test_help_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hogkit.cli", "evaluate", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    for option in (
        "--distinct-id",
        "--person",
        "--group-property",
        "--people",
        "--explain",
        "--now",
    ):
        assert option in done.stdout


# ---------------------------------------------------------------------------- check


def test_check_lists_flags_that_need_the_server_and_exits_1() -> None:
    result = cli("check")
    assert result.status == 1
    assert result.out.startswith(
        "2 of 14 flags in the bundled example definitions cannot be evaluated locally"
    )
    rows = table_rows(result.out.split("\n\n", 1)[1])
    assert set(rows) == {"sticky-onboarding", "vip-support"}
    assert rows["sticky-onboarding"][1] == "experience_continuity"
    assert rows["vip-support"][1] == "unsupported_definition"
    assert "cohort 99" in rows["vip-support"][2]
    as_json = cli("check", "--json")
    assert as_json.status == 1
    expected = {
        key: [{"reason": p.reason.value, "message": p.message} for p in found]
        for key, found in FlagSet.from_json(EXAMPLES).problems().items()
        if found
    }
    assert as_json.json() == {"flags": 14, "problems": expected}


def test_check_exits_0_when_everything_is_local() -> None:
    clean = {
        "flags": [
            f for f in EXAMPLE_DOC["flags"] if f["key"] not in ("sticky-onboarding", "vip-support")
        ],
        "group_type_mapping": EXAMPLE_DOC["group_type_mapping"],
        "cohorts": EXAMPLE_DOC["cohorts"],
    }
    result = cli("check", "-", stdin=json.dumps(clean).encode())
    assert result.status == 0
    assert result.out == "All 12 flags in standard input can be evaluated locally.\n"


def test_check_reports_operator_regex_dependency_and_group_problems() -> None:
    def flag(key: str, prop: dict[str, Any], **filters: Any) -> dict[str, Any]:
        return {
            "key": key,
            "active": True,
            "filters": {"groups": [{"properties": [prop], "rollout_percentage": 100}], **filters},
        }

    doc = {
        "flags": [
            flag("odd-operator", {"key": "a", "operator": "is_date_exact", "value": "2024-01-01"}),
            flag("lookahead", {"key": "a", "operator": "regex", "value": "(?=x)"}),
            flag(
                "orphan",
                {
                    "key": "gone",
                    "type": "flag",
                    "operator": "flag_evaluates_to",
                    "value": True,
                    "dependency_chain": ["gone"],
                },
            ),
            flag("unknown-group", {"key": "a", "value": 1}, aggregation_group_type_index=3),
            flag("fine", {"key": "a", "value": 1}),
        ]
    }
    result = cli("check", "-", "--json", stdin=json.dumps(doc).encode())
    assert result.status == 1
    problems = result.json()["problems"]
    assert set(problems) == {"odd-operator", "lookahead", "orphan", "unknown-group"}
    assert all(
        p["reason"] == "unsupported_definition" for found in problems.values() for p in found
    )


# ---------------------------------------------------------------------------- fetch


def test_fetch_writes_the_file(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.script(
        "/flags/definitions", Reply(200, EXAMPLES, {"Content-Type": "application/json"})
    )
    target = tmp_path / "flags.json"
    result = cli("fetch", "--host", loopback.url, "--secret-key", SECRET, "-o", str(target))
    assert result.status == 0, result.err
    assert target.read_bytes() == EXAMPLES
    assert result.err == f"saved 14 flag definitions to {target}\n"
    assert result.out == ""
    (request,) = loopback.requests("/flags/definitions")
    assert request.method == "GET"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert "send_cohorts" in request.target
    assert "token" not in request.query  # a secret key alone names the project
    assert not list(tmp_path.glob("*.tmp-*"))


def test_fetch_takes_the_key_from_the_environment_and_prints_to_stdout(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    loopback.script("/flags/definitions", Reply(200, EXAMPLES))
    monkeypatch.setenv("POSTHOG_SECRET_KEY", SECRET)
    result = cli("fetch", "--host", loopback.url + "/", "--project-api-key", "phc_abc")
    assert result.status == 0
    assert json.loads(result.out) == EXAMPLE_DOC
    (request,) = loopback.requests("/flags/definitions")
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.query["token"] == ["phc_abc"]


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (
            Reply(401, json.dumps({"detail": f"bad key {SECRET}"})),
            "rejected the secret key (HTTP 401)",
        ),
        (Reply(402, b"{}"), "quota is used up (HTTP 402)"),
        (Reply(500, f"boom {SECRET}"), "answered HTTP 500: boom [redacted]"),
        (Reply(200, b'{"flags": [], "quotaLimited": ["feature_flags"]}'), "quota is used up"),
        (Reply(200, b"<html>not json"), "invalid definitions in the server's response"),
        (Reply.drop(), "connection dropped"),
    ],
)
def test_fetch_failures_are_one_line_and_never_show_the_key(
    loopback: LoopbackServer, tmp_path: Path, reply: Reply, fragment: str
) -> None:
    loopback.script("/flags/definitions", reply)
    target = tmp_path / "flags.json"
    result = cli("fetch", "--host", loopback.url, "--secret-key", SECRET, "-o", str(target))
    assert_one_line_error(result, fragment)
    assert SECRET not in result.err
    assert not target.exists()


def test_fetch_needs_a_key_and_a_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_SECRET_KEY", raising=False)
    assert_one_line_error(
        cli("fetch", "--host", "http://127.0.0.1:9"), "give --secret-key or set POSTHOG_SECRET_KEY"
    )
    result = cli("fetch", "--host", "us.i.posthog.com", "--secret-key", SECRET)
    assert_one_line_error(result, "must include the protocol")
    assert SECRET not in result.err


def test_fetch_401_through_the_console_script(loopback: LoopbackServer) -> None:
    loopback.script("/flags/definitions", Reply(401, b'{"detail": "Invalid token"}'))
    env = {**os.environ, "POSTHOG_SECRET_KEY": SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "hogkit.cli", "fetch", "--host", loopback.url],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "HTTP 401" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_a_terminal_without_unicode_gets_ascii_bars_and_escapes(tmp_path: Path) -> None:
    people = tmp_path / "people.jsonl"
    write_people(people, 8)
    defs = tmp_path / "defs.json"
    payload = json.dumps({"greeting": "grüß dich"})
    flag = {
        "key": "hello",
        "active": True,
        "filters": {
            "groups": [{"properties": [], "rollout_percentage": 100}],
            "payloads": {"true": payload},
        },
    }
    defs.write_text(json.dumps([flag]))
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for argv, fragment in (
        (["--people", str(people)], "########"),
        (["--distinct-id", "a"], '{"greeting":"gr\\xfc\\xdf dich"}'),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "hogkit.cli", "evaluate", str(defs), *argv],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert fragment in done.stdout
