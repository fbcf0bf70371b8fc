"""Turning the command line's text into the values the core takes.

Everything here fails with `CliError`, whose message is the one line the user sees: the
command line reports it and exits with status 2 instead of showing a traceback.
"""

from __future__ import annotations

import datetime as _dt
import importlib.resources
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import attrs

__all__ = [
    "BUNDLED_LABEL",
    "CliError",
    "DefinitionsSource",
    "Person",
    "decode_document",
    "iter_people",
    "open_people",
    "parse_assignment",
    "parse_group_properties",
    "parse_groups",
    "parse_now",
    "parse_person",
    "parse_person_line",
    "parse_value",
    "read_definitions",
]

BUNDLED_LABEL = "the bundled example definitions"


class CliError(Exception):
    """A problem with what the user asked for, worded for them: one line, no secrets."""


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; `json.loads` accepts them unless told otherwise.
    raise ValueError(name)


def parse_value(text: str) -> Any:
    """`30` is a number, `true` a boolean, `"30"` and `pro` are strings.

    Users type property values bare, so anything that is not valid JSON is taken as the
    string they typed.
    """
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return text


def parse_assignment(option: str, text: str) -> tuple[str, str]:
    """Split `KEY=VALUE` at the first `=`; the value may itself contain `=`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CliError(f"bad {option} argument {text!r}: expected KEY=VALUE")
    return key.strip(), value


def parse_person(items: Sequence[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for item in items:
        key, value = parse_assignment("--person", item)
        properties[key] = parse_value(value)
    return properties


def parse_groups(items: Sequence[str]) -> dict[str, str]:
    groups: dict[str, str] = {}
    for item in items:
        group_type, key = parse_assignment("--group", item)
        if not key:
            raise CliError(f"bad --group argument {item!r}: the group key is empty")
        groups[group_type] = key
    return groups


def parse_group_properties(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for item in items:
        target, value = parse_assignment("--group-property", item)
        group_type, dot, key = target.partition(".")
        if not dot or not group_type or not key:
            raise CliError(f"bad --group-property argument {item!r}: expected TYPE.KEY=VALUE")
        result.setdefault(group_type, {})[key] = parse_value(value)
    return result


def parse_now(text: str | None) -> _dt.datetime:
    """The moment relative date filters (`-30d`) count back from: `--now`, else the clock."""
    if text is None:
        return _dt.datetime.now(_dt.timezone.utc)
    cleaned = text.strip()
    if cleaned[-1:] in ("Z", "z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = _dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise CliError(
            f"bad --now argument {text!r}: expected an ISO 8601 time such as 2026-06-15T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment


@attrs.frozen
class DefinitionsSource:
    """Raw definitions and where they came from, for messages."""

    raw: bytes
    label: str


def read_definitions(path: str | None, stdin: IO[Any]) -> DefinitionsSource:
    """A file, `-` for standard input, or (no path) the examples shipped in the package."""
    if path is None:
        resource = importlib.resources.files("hogkit.cli").joinpath("examples/definitions.json")
        return DefinitionsSource(resource.read_bytes(), BUNDLED_LABEL)
    if path == "-":
        return DefinitionsSource(_read_all(stdin), "standard input")
    try:
        with open(path, "rb") as handle:
            return DefinitionsSource(handle.read(), repr(path))
    except OSError as exc:
        raise CliError(f"cannot read definitions file {path!r}: {_os_reason(exc)}") from None


def decode_document(raw: bytes) -> Mapping[str, Any]:
    """The definitions as plain data, shaped as a document even when given as a flag list.

    Used only to describe conditions in `--explain`; the core decides every value.
    """
    try:
        decoded = json.loads(raw)
    except ValueError:
        return {}
    if isinstance(decoded, list):
        return {"flags": decoded}
    return decoded if isinstance(decoded, dict) else {}


def _read_all(stream: IO[Any]) -> bytes:
    buffer = getattr(stream, "buffer", None)
    data = buffer.read() if buffer is not None else stream.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


@attrs.frozen
class Person:
    """One line of a `--people` file."""

    distinct_id: str
    properties: Mapping[str, Any]
    groups: Mapping[str, str]
    group_properties: Mapping[str, Mapping[str, Any]]
    device_id: str | None


def open_people(path: str, stdin: IO[Any]) -> tuple[IO[bytes], int | None]:
    """The people file opened for reading and its size in bytes, when it has one."""
    if path == "-":
        buffer = getattr(stdin, "buffer", None)
        if buffer is None:
            raise CliError("--people - needs a binary standard input")
        return buffer, None
    try:
        handle = open(path, "rb")  # noqa: SIM115 - the caller closes it after streaming
    except OSError as exc:
        raise CliError(f"cannot read people file {path!r}: {_os_reason(exc)}") from None
    try:
        size: int | None = os.fstat(handle.fileno()).st_size
    except OSError:
        size = None
    return handle, size


def iter_people(lines: Iterator[bytes], label: str) -> Iterator[tuple[Person | None, int]]:
    """Each person with the bytes their line took (for progress); None for a blank line."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield parse_person_line(line, f"{label} line {number}"), len(line)
        else:
            yield None, len(line)


def parse_person_line(line: bytes, where: str) -> Person:
    try:
        obj = json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        raise CliError(f"{where}: invalid JSON ({_first_line(str(exc))})") from None
    if not isinstance(obj, dict):
        raise CliError(f"{where}: expected a JSON object with distinct_id and properties")
    distinct_id = obj.get("distinct_id")
    if isinstance(distinct_id, int) and not isinstance(distinct_id, bool):
        distinct_id = str(distinct_id)
    if not isinstance(distinct_id, str) or not distinct_id:
        raise CliError(f"{where}: distinct_id must be a non-empty string")
    properties = _object_field(obj, "properties", where)
    groups = _object_field(obj, "groups", where)
    if not all(isinstance(v, str) for v in groups.values()):
        raise CliError(f"{where}: every value in groups must be a string group key")
    group_properties = _object_field(obj, "group_properties", where)
    if not all(isinstance(v, dict) for v in group_properties.values()):
        raise CliError(f"{where}: group_properties must map group types to objects")
    device_id = obj.get("device_id")
    if device_id is not None and not isinstance(device_id, str):
        raise CliError(f"{where}: device_id must be a string")
    return Person(distinct_id, properties, groups, group_properties, device_id)


def _object_field(obj: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CliError(f"{where}: {name} must be a JSON object")
    return value


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text
