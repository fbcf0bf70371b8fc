"""The `hogkit` command line: evaluate flag definitions offline, check them, fetch them.

It is a thin shell like the Client: it reads files, the clock and the network, and hands
plain values to `hogkit.core`, which decides every flag. Exit status: 0 on success, 1 when
`check` finds flags that need the server, 2 when the command could not do what was asked
(bad arguments, unreadable input, a failed fetch), always with one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, Any, NoReturn

import attrs
from hogkit.core import DefinitionsError, FlagSet
from hogkit.core.version import __version__
from hogkit.fleet.command import add_sync_command

from . import format as fmt
from .fetch import fetch_definitions
from .input import (
    CliError,
    DefinitionsSource,
    decode_document,
    iter_people,
    open_people,
    parse_group_properties,
    parse_groups,
    parse_now,
    parse_person,
    read_definitions,
)
from .progress import Progress

__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "SECRET_KEY_ENV",
    "Streams",
    "build_parser",
    "load_flagset",
    "main",
    "run",
]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_ERROR = 2

SECRET_KEY_ENV = "POSTHOG_SECRET_KEY"


@attrs.frozen
class Streams:
    """Where a command reads and writes; tests pass their own."""

    stdin: IO[Any]
    stdout: IO[str]
    stderr: IO[str]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and status 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hogkit",
        description="PostHog feature flags, evaluated offline by hogkit's pure core.",
    )
    parser.add_argument("--version", action="version", version=f"hogkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate flags for one person, or count values over many",
        description=(
            "Evaluate flag definitions locally, with no network. DEFINITIONS is a file of "
            "exported definitions (the /flags/definitions document or a list of flags), or - "
            "for standard input; without it, the example definitions bundled with hogkit. "
            "VALUE arguments are read as JSON when they are valid JSON (30, true, null, "
            '"30"), else as the text typed.'
        ),
    )
    _add_definitions_argument(evaluate)
    evaluate.add_argument("--distinct-id", metavar="ID", help="the person to evaluate for")
    evaluate.add_argument(
        "--person",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a person property (repeatable)",
    )
    evaluate.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="TYPE=KEY",
        help="a group the person belongs to, e.g. company=acme (repeatable)",
    )
    evaluate.add_argument(
        "--group-property",
        action="append",
        default=[],
        metavar="TYPE.KEY=VALUE",
        help="a group property, e.g. company.employees=120 (repeatable)",
    )
    evaluate.add_argument("--device-id", metavar="ID", help="for flags bucketed by device")
    evaluate.add_argument(
        "--flag",
        action="append",
        default=[],
        metavar="KEY",
        help="evaluate only this flag (repeatable; default: every flag)",
    )
    output = evaluate.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    output.add_argument(
        "--explain",
        action="store_true",
        help="say for each flag which condition decided it, or why none did",
    )
    evaluate.add_argument(
        "--people",
        metavar="FILE.jsonl",
        help=(
            "evaluate everyone in FILE (one JSON object per line: distinct_id, properties, "
            "optional groups, group_properties, device_id) and count the values per flag"
        ),
    )
    evaluate.add_argument(
        "--now",
        metavar="ISO",
        help="the time relative dates count back from (default: the current UTC time)",
    )
    evaluate.set_defaults(handler=_cmd_evaluate)

    check = commands.add_parser(
        "check",
        help="list flags that cannot be evaluated locally (exit status 1 when any)",
        description=(
            "List every flag that cannot be evaluated locally and why. In production each "
            "one costs a request to PostHog per evaluation. Exit status 1 when any are found, "
            "so it can guard a CI pipeline."
        ),
    )
    _add_definitions_argument(check)
    check.add_argument("--json", action="store_true", help="print JSON instead of text")
    check.set_defaults(handler=_cmd_check)

    fetch = commands.add_parser(
        "fetch",
        help="download a project's flag definitions for offline use",
        description=(
            "Download the project's current flag definitions (GET /flags/definitions) and "
            f"save them. The secret key may come from ${SECRET_KEY_ENV} instead of the command "
            "line; it is never printed."
        ),
    )
    fetch.add_argument(
        "--host",
        required=True,
        help="your PostHog instance, with the protocol (https://us.posthog.com)",
    )
    fetch.add_argument(
        "--secret-key",
        metavar="KEY",
        help=f"a project secret key or personal API key (default: ${SECRET_KEY_ENV})",
    )
    fetch.add_argument(
        "--project-api-key",
        metavar="TOKEN",
        help="the project API key (phc_...), needed with a personal API key",
    )
    fetch.add_argument(
        "-o", "--output", metavar="FILE", help="where to save them (default: standard output)"
    )
    fetch.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up after this long (default: 10)",
    )
    fetch.set_defaults(handler=_cmd_fetch)
    add_sync_command(commands, CliError)
    return parser


def _add_definitions_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "definitions",
        nargs="?",
        metavar="DEFINITIONS",
        help="a definitions file, or - for standard input (default: the bundled examples)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run one command and return its exit status."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal or pipe that cannot show a character gets an escape, not a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")
    return run(argv, Streams(sys.stdin, sys.stdout, sys.stderr))


def run(argv: Sequence[str] | None, streams: Streams) -> int:
    """`main` with the streams given: tests and embedders call this without a subprocess."""
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:
            where = f"hogkit {args.command}" if args.command else "hogkit"
            raise CliError(f"unrecognized arguments: {' '.join(extra)} (see `{where} --help`)")
        handler = getattr(args, "handler", None)
        if handler is None:
            build_parser().print_help(streams.stdout)
            return EXIT_OK
        status: int = handler(args, streams)
        return status
    except CliError as exc:
        streams.stderr.write(f"hogkit: error: {_one_line(str(exc))}\n")
        return EXIT_ERROR
    except BrokenPipeError:
        # `hogkit evaluate ... | head`: the reader left; nothing more to say.
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        streams.stderr.write("\nhogkit: interrupted\n")
        return 130


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; point it at /dev/null so that flush is quiet.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def load_flagset(source: DefinitionsSource) -> FlagSet:
    try:
        return FlagSet.from_json(source.raw)
    except DefinitionsError as exc:
        raise CliError(f"invalid definitions in {source.label}: {exc}") from None


def _write_json(stream: IO[str], document: object) -> None:
    stream.write(json.dumps(document, indent=2, ensure_ascii=False, default=repr) + "\n")


def _ascii_only(stream: IO[str]) -> bool:
    """Whether the stream cannot take the bar characters (say, a C-locale pipe)."""
    try:
        "█▏".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return True
    return False


# ---------------------------------------------------------------------------- evaluate


@attrs.frozen
class _Context:
    """The evaluation inputs given on the command line."""

    person: Mapping[str, Any]
    groups: Mapping[str, str]
    group_properties: Mapping[str, Mapping[str, Any]]


def _cmd_evaluate(args: argparse.Namespace, streams: Streams) -> int:
    context = _Context(
        parse_person(args.person),
        parse_groups(args.group),
        parse_group_properties(args.group_property),
    )
    now = parse_now(args.now)
    if args.people is None and not args.distinct_id:
        raise CliError("evaluate: --distinct-id is required (or --people FILE.jsonl)")
    if args.people is not None and args.distinct_id:
        raise CliError("evaluate: give either --distinct-id or --people, not both")
    if args.people is not None and args.explain:
        raise CliError("evaluate: --explain is for one person; --people prints counts")
    if args.people == "-" and args.definitions == "-":
        raise CliError("evaluate: definitions and --people cannot both come from standard input")
    source = read_definitions(args.definitions, streams.stdin)
    flagset = load_flagset(source)
    flag_keys = _requested_keys(args.flag, flagset, source)
    order = flag_keys if flag_keys is not None else flagset.keys
    if args.people is not None:
        return _evaluate_people(args, streams, flagset, order, flag_keys, context, now)

    snapshot = flagset.evaluate(
        args.distinct_id,
        person_properties=context.person,
        groups=context.groups,
        group_properties=context.group_properties,
        device_id=args.device_id,
        flag_keys=flag_keys,
        now=now,
    )
    if args.json:
        _write_json(streams.stdout, fmt.evaluation_json(snapshot))
    elif args.explain:
        document = decode_document(source.raw)
        streams.stdout.write(
            fmt.render_explanation(
                snapshot,
                order,
                document,
                (context.person, context.group_properties),
                flagset.problems(),
            )
        )
    else:
        streams.stdout.write(fmt.render_evaluation(snapshot, order))
    return EXIT_OK


def _requested_keys(
    requested: Sequence[str], flagset: FlagSet, source: DefinitionsSource
) -> tuple[str, ...] | None:
    """`--flag` keys in the order given; a key the definitions lack is surely a typo."""
    if not requested:
        return None
    known = set(flagset.keys)
    unknown = [key for key in requested if key not in known]
    if unknown:
        raise CliError(f"no flag {', '.join(map(repr, unknown))} in {source.label}")
    return tuple(dict.fromkeys(requested))


def _evaluate_people(
    args: argparse.Namespace,
    streams: Streams,
    flagset: FlagSet,
    order: Sequence[str],
    flag_keys: Sequence[str] | None,
    context: _Context,
    now: datetime,
) -> int:
    """Count values per flag over a JSON-lines file; command-line values act as defaults."""
    counts: dict[str, Counter[tuple[bool, bool | str]]] = {key: Counter() for key in order}
    handle, size = open_people(args.people, streams.stdin)
    label = "standard input" if args.people == "-" else repr(args.people)
    isatty = getattr(streams.stderr, "isatty", None)
    progress = Progress(streams.stderr, size, ascii_only=_ascii_only(streams.stderr))
    show_progress = bool(isatty and isatty())
    people = 0
    done = 0
    try:
        for person, consumed in iter_people(iter(handle), label):
            done += consumed
            if person is None:
                continue
            group_properties: dict[str, Mapping[str, Any]] = {
                group: {**context.group_properties.get(group, {}), **props}
                for group, props in person.group_properties.items()
            }
            for group, props in context.group_properties.items():
                group_properties.setdefault(group, props)
            snapshot = flagset.evaluate(
                person.distinct_id,
                person_properties={**context.person, **person.properties},
                groups={**context.groups, **person.groups},
                group_properties=group_properties,
                device_id=person.device_id or args.device_id,
                flag_keys=flag_keys,
                now=now,
            )
            for key in order:
                outcome = fmt.outcome_of(snapshot, key)
                if outcome is not None:
                    counts[key][outcome] += 1
            people += 1
            if show_progress:
                progress.update(done, people)
    finally:
        if show_progress:
            progress.finish()
        if handle is not getattr(streams.stdin, "buffer", None):
            handle.close()
    if args.json:
        _write_json(streams.stdout, fmt.counts_json(counts, people))
    else:
        streams.stdout.write(
            fmt.render_counts(counts, people, ascii_only=_ascii_only(streams.stdout))
        )
    return EXIT_OK


# ---------------------------------------------------------------------------- check


def _cmd_check(args: argparse.Namespace, streams: Streams) -> int:
    source = read_definitions(args.definitions, streams.stdin)
    flagset = load_flagset(source)
    problems = {key: found for key, found in flagset.problems().items() if found}
    if args.json:
        _write_json(streams.stdout, fmt.problems_json(problems, len(flagset.keys)))
    else:
        streams.stdout.write(fmt.render_problems(problems, len(flagset.keys), source.label))
    return EXIT_PROBLEMS if problems else EXIT_OK


# ---------------------------------------------------------------------------- fetch


def _cmd_fetch(args: argparse.Namespace, streams: Streams) -> int:
    secret_key = args.secret_key or os.environ.get(SECRET_KEY_ENV)
    if not secret_key:
        raise CliError(f"fetch: give --secret-key or set {SECRET_KEY_ENV}")
    if not args.timeout > 0:
        raise CliError("fetch: --timeout must be a positive number of seconds")
    raw = fetch_definitions(
        args.host,
        secret_key=secret_key,
        project_api_key=args.project_api_key,
        timeout=args.timeout,
    )
    flagset = load_flagset(DefinitionsSource(raw, "the server's response"))
    if args.output is None or args.output == "-":
        text = raw.decode("utf-8", errors="replace")
        streams.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        _save(args.output, raw)
        count = len(flagset.keys)
        streams.stderr.write(
            f"saved {count} flag definition{'s' if count != 1 else ''} to {args.output}\n"
        )
    return EXIT_OK


def _save(path: str, raw: bytes) -> None:
    """Write through a temporary file, so an interrupted save never leaves half a file."""
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "wb") as handle:
            handle.write(raw)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise CliError(f"cannot write {path!r}: {exc.strerror or exc}") from None
