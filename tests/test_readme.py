"""Every code block in README.md runs here, so the documentation cannot drift from the code.

- ```sh blocks: each `hogkit ...` command (also after `&&`) runs with the installed console
  script, in document order, in one scratch directory, with `export NAME=VALUE` lines applied;
  install, test and benchmark commands are not run but must be on the list below. A ```text
  block right after a ```sh block is the exact output of that block's last command.
- ```python blocks: all run, in order, in one namespace in a fresh interpreter (as a reader
  pasting them into one program would), after the shell commands, in the same directory.
  A `print(...)  # X` line must print X (or `str` of the literal X).

The README's PostHog host is rewritten to a loopback server that plays PostHog: it serves
the bundled example definitions and answers `/flags` by evaluating them with the core.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.resources
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from hogkit.core import FlagSet
from httpserver import LoopbackServer, Reply, Request

README = Path(__file__).resolve().parents[1] / "README.md"
HOST = "https://us.i.posthog.com"
EXAMPLES = (
    importlib.resources.files("hogkit.cli").joinpath("examples/definitions.json").read_bytes()
)
NOT_RUN = (
    "python3 -m venv .venv",
    ". .venv/bin/activate",
    "pip install ",
    "pytest",
    "HYPOTHESIS_PROFILE=deep pytest",
    "bash .ci/check",
    "python benchmarks/",
)
PROCESS_TIMEOUT = 120

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n?", re.MULTILINE | re.DOTALL)


@attrs.frozen
class Block:
    lang: str
    code: str
    line: int
    start: int
    end: int


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1, m.start(), m.end())
        for m in _FENCE.finditer(text)
    ]


def shell_commands(block: Block) -> list[str]:
    """The `hogkit`/`export` commands of a shell block, in order; anything else must be known."""
    commands = []
    for raw in block.code.splitlines():
        line = raw.split(" #", 1)[0].strip()
        for segment in (s.strip() for s in line.split("&&")):
            if not segment:
                continue
            if segment.startswith(("hogkit ", "export ")):
                commands.append(segment)
            else:
                assert segment.startswith(NOT_RUN), (
                    f"README.md:{block.line}: {segment!r} is neither run by this test "
                    "nor on its NOT_RUN list"
                )
    return commands


def expected_output(blocks: list[Block], index: int) -> str | None:
    """The ```text block directly after block `index`, if there is one."""
    if index + 1 < len(blocks):
        following = blocks[index + 1]
        between = README.read_text(encoding="utf-8")[blocks[index].end : following.start]
        if following.lang == "text" and not between.strip():
            return following.code
    return None


def people_file(path: Path) -> None:
    """The `people.jsonl` the README's `--people` example counts (a reader has their own)."""
    plans = ["free", "pro", "enterprise", "free"]
    with path.open("w") as handle:
        for i in range(1000):
            person = {"distinct_id": f"user-{i}", "properties": {"plan": plans[i % 4]}}
            handle.write(json.dumps(person) + "\n")


def remote_flags(request: Request) -> Reply:
    """`/flags` as PostHog would answer it for the example definitions."""
    body = request.json()
    snapshot = FlagSet.from_json(EXAMPLES).evaluate(
        str(body.get("distinct_id")),
        person_properties=body.get("person_properties"),
        groups=body.get("groups"),
        group_properties=body.get("group_properties"),
        flag_keys=body.get("flag_keys_to_evaluate"),
        now=dt.datetime.now(dt.timezone.utc),
    )
    values = {key: False for key in snapshot.unresolved}
    values.update(snapshot.flag_values)
    payloads = {
        key: json.dumps(snapshot.get_flag_payload(key))
        for key in snapshot.keys
        if snapshot.get_flag_payload(key) is not None
    }
    return Reply.json({"featureFlags": values, "featureFlagPayloads": payloads})


@pytest.fixture
def posthog() -> Any:
    with LoopbackServer() as server:
        server.script("/flags/definitions", then=Reply(200, EXAMPLES))
        server.handle("/flags/", remote_flags)
        yield server


def test_readme_opens_with_the_two_fresh_machine_commands() -> None:
    blocks = readme_blocks()
    first, second = blocks[0], blocks[1]
    assert first.code.strip() == (
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && "
        "hogkit evaluate --distinct-id alice --person email=alice@example.com"
    )
    assert second.code.strip() == (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest"
    )
    text = README.read_text(encoding="utf-8")
    assert text.index("```sh") < text.index("## ")  # before any section


def test_every_client_in_the_readme_names_the_host() -> None:
    """Rewriting the host is what keeps this test off the real PostHog."""
    code = "\n".join(b.code for b in readme_blocks() if b.lang == "python")
    constructions = len(re.findall(r"\b(?:Async)?Client\(", code))
    assert constructions >= 1
    assert code.count(f'host="{HOST}"') == constructions


def test_readme_examples_run(posthog: LoopbackServer, tmp_path: Path) -> None:
    blocks = readme_blocks()
    people_file(tmp_path / "people.jsonl")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("POSTHOG_SECRET_KEY", None)

    ran = 0
    for index, block in enumerate(blocks):
        if block.lang != "sh":
            continue
        output = ""
        for command in shell_commands(block):
            command = command.replace(HOST, posthog.url)
            if command.startswith("export "):
                name, _, value = command[len("export ") :].partition("=")
                env[name] = value
                continue
            done = subprocess.run(
                shlex.split(command),
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=PROCESS_TIMEOUT,
                check=False,
            )
            expected_status = 1 if command.startswith("hogkit check") else 0
            assert done.returncode == expected_status, (
                f"README.md:{block.line}: {command}\n{done.stderr}"
            )
            assert "Traceback" not in done.stderr
            output = done.stdout
            ran += 1
        shown = expected_output(blocks, index)
        if shown is not None:
            assert [line.rstrip() for line in output.splitlines()] == shown.splitlines(), (
                f"README.md:{block.line}: the output shown after this block is out of date"
            )
    assert ran >= 5
    assert (tmp_path / "flags.json").read_bytes() == EXAMPLES  # from `hogkit fetch`

    python = [b for b in blocks if b.lang == "python"]
    results = run_python_blocks(python, posthog.url, tmp_path)
    for block, printed in zip(python, results, strict=True):
        check_printed(block, printed)

    events = [e["event"] for e in posthog.events()]
    for name in (
        "$identify",
        "user signed up",
        "movie played",
        "$pageview",
        "plan upgraded",
        "$set",
        "$set_once",
        "health check",
        "$create_alias",
        "checkout started",
        "checkout completed",
        "report exported",
        "$groupidentify",
        "$exception",
        "$feature_flag_called",
    ):
        assert name in events, f"no {name!r} event reached the server"
    definitions = posthog.requests("/flags/definitions")
    assert definitions
    assert {r.headers["authorization"] for r in definitions} == {
        "Bearer phs_your_project_secret_key"
    }
    assert posthog.requests("/flags/")  # the first client has no secret key: remote flags


_HARNESS = """
import contextlib, io, json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__readme__"}
printed = []
for block in blocks:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block["code"], "README.md:%d" % block["line"], "exec"), namespace)
    printed.append(out.getvalue())
json.dump(printed, open(sys.argv[2], "w"))
"""


def run_python_blocks(blocks: list[Block], host: str, cwd: Path) -> list[str]:
    source = cwd / "readme_blocks.json"
    result = cwd / "readme_printed.json"
    source.write_text(
        json.dumps([{"code": b.code.replace(HOST, host), "line": b.line + 1} for b in blocks])
    )
    done = subprocess.run(
        [sys.executable, "-c", _HARNESS, str(source), str(result)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    printed: list[str] = json.loads(result.read_text())
    return printed


def check_printed(block: Block, printed: str) -> None:
    """Each `print(...)  # X` line printed X, in order."""
    calls = [line for line in block.code.splitlines() if line.startswith("print(")]
    lines = printed.splitlines()
    assert len(lines) == len(calls), f"README.md:{block.line}: {printed!r}"
    for call, line in zip(calls, lines, strict=True):
        if "  # " not in call:
            continue
        comment = call.rsplit("  # ", 1)[1].strip()
        try:
            expected = str(ast.literal_eval(comment))
        except (ValueError, SyntaxError):
            expected = comment
        assert line == expected, f"README.md:{block.line}: {call!r} printed {line!r}"
