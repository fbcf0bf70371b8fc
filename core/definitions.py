"""The shape of flag definitions as PostHog's `/flags/definitions` endpoint sends them.

Two inputs are accepted: the full definitions document and a bare list of flag objects
(what people export from the UI). Unknown fields are ignored everywhere, so newer servers
do not break older SDKs.

The decoded structs are not tracked by the garbage collector (`gc=False`): nothing can
refer back to a struct decoding just made, so none can be part of a cycle, and a
compile makes thousands of them.

Decoding is tolerant per flag: the document's top level must be right (it is what the
server promises), but one flag that does not fit the schema is kept aside as a
`MalformedFlag` so it can report `unsupported_definition` without affecting its
neighbours. A flag nested deeper than `MAX_DEPTH` or whose key cannot be encoded as
UTF-8 (a lone surrogate) is such a flag too. What no flag can isolate (JSON text nested
beyond what the decoder reads, text larger than `MAX_TEXT_SIZE`, an already-decoded
document larger than `MAX_NODES` values or whose top level is too deep) raises
`DefinitionsError`: the one exception loading raises for any input, so a caller or the
command line can answer bad definitions without a traceback. Depth is measured
iteratively, never by recursing, so no input reaches Python's recursion limit here.

Fields whose meaning is "truthiness" in posthog-python (`active`,
`early_exit`, …) stay `Any` on purpose: `"yes"` or `1` behave exactly as there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

import msgspec

from .errors import DefinitionsError

# Real definitions nest about a dozen levels (flag, filters, groups, properties, values,
# payload objects); cohorts a few more. Far beyond that is an attack or a bug.
MAX_DEPTH = 200
# Values in an already-decoded document (JSON text is bounded by its size instead).
MAX_NODES = 20_000_000
# Characters or bytes of definitions text.
MAX_TEXT_SIZE = 512 * 1024 * 1024

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_TEXT_SIZE",
    "ConditionDefinition",
    "Definitions",
    "DefinitionsDocument",
    "FlagDefinition",
    "FlagFilters",
    "MalformedFlag",
    "MultivariateDefinition",
    "ValidDocument",
    "VariantDefinition",
    "decode_definitions",
    "read_definitions",
]


class VariantDefinition(msgspec.Struct, frozen=True, gc=False):
    key: str
    rollout_percentage: float
    name: Any = None


class MultivariateDefinition(msgspec.Struct, frozen=True, gc=False):
    variants: list[VariantDefinition] | None = None


class ConditionDefinition(msgspec.Struct, frozen=True, gc=False):
    """One release condition: all `properties` must match, then the rollout applies."""

    properties: list[dict[str, Any]] | None = None
    rollout_percentage: float | None = None
    variant: Any = None
    aggregation_group_type_index: Any = None


class FlagFilters(msgspec.Struct, frozen=True, gc=False):
    groups: list[ConditionDefinition] | None = None
    multivariate: MultivariateDefinition | None = None
    payloads: Any = None
    aggregation_group_type_index: Any = None
    early_exit: Any = None
    holdout: Any = None
    feature_enrollment: Any = None
    bucketing_identifier: Any = None


class FlagDefinition(msgspec.Struct, frozen=True, gc=False):
    key: str
    id: Any = None
    version: Any = None
    active: Any = None
    ensure_experience_continuity: Any = None
    has_experiment: Any = None
    evaluation_runtime: Any = None
    bucketing_identifier: Any = None
    filters: FlagFilters | None = None


class DefinitionsDocument(msgspec.Struct, frozen=True, gc=False):
    """The top level. Flags stay untyped here and are validated one by one; group types and
    cohorts of another JSON type than an object are read as none (see `_table`)."""

    flags: list[Any] | None = None
    group_type_mapping: Any = None
    cohorts: Any = None
    property_matching_version: Any = 1
    minimal_flag_called_events: Any = None


class ValidDocument(msgspec.Struct, frozen=True, gc=False):
    """The whole document when every flag fits the schema (the usual case, decoded in one
    pass); otherwise `DefinitionsDocument` and flag-by-flag validation take over."""

    flags: list[FlagDefinition] | None = None
    group_type_mapping: dict[str, Any] | None = None
    cohorts: dict[str, Any] | None = None
    property_matching_version: Any = 1
    minimal_flag_called_events: Any = None


_VALID = ValidDocument | list[FlagDefinition]

# The free-form parts (filter values, payloads, group names, cohorts) as definitions hold
# them in practice: scalars, lists of scalars, a few levels of cohort groups. JSON text
# that decodes into these bounded types cannot nest too deeply, so it skips the depth
# walk; anything else decodes into the general types above and is walked.
_Scalar = str | int | float | bool | None
_Flat = _Scalar | list[_Scalar]
# A cohort's body: AND/OR groups nested up to six deep, their entries objects of the same
# kind (a property filter fits as well), the innermost holding flat values only.
_Group0 = dict[str, _Flat]
_Group1 = dict[str, _Scalar | list[_Scalar | _Group0]]
_Group2 = dict[str, _Scalar | list[_Scalar | _Group1]]
_Group3 = dict[str, _Scalar | list[_Scalar | _Group2]]
_Group4 = dict[str, _Scalar | list[_Scalar | _Group3]]
_Group5 = dict[str, _Scalar | list[_Scalar | _Group4]]
_Group6 = dict[str, _Scalar | list[_Scalar | _Group5]]


class _FlatCondition(ConditionDefinition, frozen=True, gc=False):
    properties: list[dict[str, _Flat]] | None = None


class _FlatFilters(FlagFilters, frozen=True, gc=False):
    groups: list[_FlatCondition] | None = None  # type: ignore[assignment]
    payloads: dict[str, _Flat] | _Flat = None


class _FlatFlag(FlagDefinition, frozen=True, gc=False):
    filters: _FlatFilters | None = None


class _FlatDocument(ValidDocument, frozen=True, gc=False):
    flags: list[_FlatFlag] | None = None  # type: ignore[assignment]
    group_type_mapping: dict[str, _Flat] | None = None
    cohorts: dict[str, _Group6] | None = None


_FLAT = _FlatDocument | list[_FlatFlag]
# Prepared once: decoding with `type=` works out the union's decoder on every call.
_decode_flat = msgspec.json.Decoder(_FLAT).decode
_decode_valid = msgspec.json.Decoder(_VALID).decode


class MalformedFlag(msgspec.Struct, frozen=True, kw_only=True):
    """A flag that does not fit the schema. What little is needed to answer like
    posthog-python survives: inactive flags are still False, experience continuity still wins."""

    key: str
    active: Any
    ensure_experience_continuity: Any
    problem: str
    raw: Any


class Definitions(msgspec.Struct, frozen=True, kw_only=True):
    """Decoded definitions, ready to compile.

    `canonical` is what the fingerprint covers: the JSON text itself (as bytes) when the
    definitions came as text, so nothing is re-encoded; otherwise the decoded document,
    whose canonical JSON is hashed.
    """

    flags: tuple[FlagDefinition | MalformedFlag, ...]
    group_type_mapping: Mapping[str, Any]
    cohorts: Mapping[str, Any]
    property_matching_version: Any
    canonical: Any
    minimal_flag_called_events: bool = False
    """The server asks for minimal `$feature_flag_called` events from local evaluation."""


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _decode_json(raw: bytes | str) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        pass
    except RecursionError:
        raise DefinitionsError("flag definitions are nested too deeply to read") from None
    # msgspec refuses what Python's json accepts (NaN, Infinity, numbers beyond a double);
    # posthog-python reads definitions with Python's json, so fall back to it before failing.
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise DefinitionsError(f"flag definitions are not valid JSON: {error}") from None


_TOO_DEEP = f"flag definitions are nested deeper than {MAX_DEPTH} levels"


def _depth_over(value: object, limit: int) -> bool:
    """Whether containers nest more than `limit` levels below `value` (level by level,
    without recursion; plain JSON types are told apart by exact type first, as the
    abstract `Mapping` check costs several times more)."""
    level: list[object] = [value]
    depth = 0
    while level:
        below: list[object] = []
        for item in level:
            kind = type(item)
            if kind is str or kind is int or kind is float or kind is bool or item is None:
                continue
            if kind is dict or (kind is not list and isinstance(item, Mapping)):
                children: Any = item.values()  # type: ignore[attr-defined]
            elif kind is list or isinstance(item, (list, tuple)):
                children = item
            else:
                continue
            if depth >= limit:
                return True
            below.extend(children)
        level = below
        depth += 1
    return False


def _node_count_over(value: object, limit: int) -> bool:
    """Whether `value` holds more than `limit` values in all (iterative, stops early)."""
    stack: list[object] = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _key_problem(key: str) -> str | None:
    if key.isascii():
        return None
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return "malformed flag definition: the key is not valid Unicode text (a lone surrogate)"
    return None


def _malformed(raw: Mapping[str, Any], key: str, problem: str, keep_raw: bool) -> MalformedFlag:
    return MalformedFlag(
        key=key,
        active=raw.get("active"),
        ensure_experience_continuity=raw.get("ensure_experience_continuity"),
        problem=problem,
        raw=raw if keep_raw else {"key": key, "problem": problem},
    )


def _flag(raw: object) -> FlagDefinition | MalformedFlag | None:
    """One flag object, or None when it has no usable key (it cannot be named or asked for)."""
    if not isinstance(raw, Mapping):
        return None
    key = raw.get("key")
    if not isinstance(key, str):
        return None
    if _depth_over(raw, MAX_DEPTH - 2):
        return _malformed(
            raw, key, f"malformed flag definition: nested deeper than {MAX_DEPTH} levels", False
        )
    problem = _key_problem(key)
    if problem is not None:
        return _malformed(raw, key, problem, True)
    try:
        return msgspec.convert(raw, FlagDefinition, str_keys=True)
    except (msgspec.ValidationError, TypeError, ValueError, RecursionError) as error:
        return _malformed(raw, key, f"malformed flag definition: {error}", True)


def _top_level(document: Mapping[str, Any]) -> DefinitionsDocument:
    rest = {name: value for name, value in document.items() if name != "flags"}
    if _depth_over(rest, MAX_DEPTH):
        raise DefinitionsError(_TOO_DEEP)
    try:
        return msgspec.convert(dict(document), DefinitionsDocument, str_keys=True)
    except msgspec.ValidationError as error:
        raise DefinitionsError(f"flag definitions have the wrong shape: {error}") from None


def _from_valid(
    valid: ValidDocument | Sequence[FlagDefinition], canonical: Any = None
) -> Definitions:
    """The definitions of a schema-valid document; `canonical` is the document itself
    unless given (the JSON text it was read from)."""
    if not isinstance(valid, ValidDocument):
        valid = ValidDocument(flags=list(valid))
    return Definitions(
        flags=tuple(valid.flags or ()),
        group_type_mapping=valid.group_type_mapping or {},
        cohorts=valid.cohorts or {},
        property_matching_version=valid.property_matching_version,
        canonical=valid if canonical is None else canonical,
        minimal_flag_called_events=valid.minimal_flag_called_events is True,
    )


def decode_definitions(document: object) -> Definitions:
    """Validate an already-decoded definitions document or flag list.

    Raises DefinitionsError when the top level is wrong; never for a single bad flag.
    """
    if _node_count_over(document, MAX_NODES):
        raise DefinitionsError(f"flag definitions hold more than {MAX_NODES} values")
    if isinstance(document, (dict, list)) and not _depth_over(document, MAX_DEPTH):
        try:
            return _usable(_from_valid(msgspec.convert(document, _VALID, str_keys=True)))
        except (msgspec.ValidationError, TypeError, ValueError, RecursionError):
            pass
    return _tolerant(document)


def _usable(decoded: Definitions, flat: bool = False) -> Definitions:
    """The schema-valid decoding with the flags the schema cannot judge kept aside as
    malformed: keys that cannot be encoded (a lone surrogate), and free-form parts
    (payloads, property filters) nested deeper than MAX_DEPTH allows. Free-form parts of
    the top level nested that deep make the whole document unreadable. `flat`: decoded
    into the `_Flat` and `_Group` types, which bound every free-form part."""
    # Containers at level n of the document may hold MAX_DEPTH - n + 1 levels themselves.
    if not flat and (
        _depth_over(decoded.cohorts, MAX_DEPTH - 1)
        or _depth_over(decoded.group_type_mapping, MAX_DEPTH - 1)
    ):
        raise DefinitionsError(_TOO_DEEP)
    if flat and all(map(str.isascii, map(attrgetter("key"), decoded.flags))):
        return decoded
    checked = tuple([_checked_flag(flag, flat) for flag in decoded.flags])
    if all(new is old for new, old in zip(checked, decoded.flags, strict=True)):
        return decoded
    return msgspec.structs.replace(decoded, flags=checked)


def _free_form_depth_over(flag: FlagDefinition) -> bool:
    """Payloads sit five levels down the document, property filters seven."""
    filters = flag.filters
    if filters is None:
        return False
    if filters.payloads and _depth_over(filters.payloads, MAX_DEPTH - 4):
        return True
    # Every condition's properties in one walk: the list around them is one level more.
    groups = filters.groups
    if not groups:
        return False
    return _depth_over([condition.properties for condition in groups], MAX_DEPTH - 5)


def _checked_flag(
    flag: FlagDefinition | MalformedFlag, flat: bool
) -> FlagDefinition | MalformedFlag:
    if isinstance(flag, MalformedFlag):
        return flag
    problem = _key_problem(flag.key)
    if problem is None and not flat and _free_form_depth_over(flag):
        problem = f"malformed flag definition: nested deeper than {MAX_DEPTH} levels"
    if problem is None:
        return flag
    return MalformedFlag(
        key=flag.key,
        active=flag.active,
        ensure_experience_continuity=flag.ensure_experience_continuity,
        problem=problem,
        raw={"key": flag.key, "problem": problem},
    )


def _tolerant(document: object) -> Definitions:
    flags: Sequence[Any]
    if isinstance(document, Mapping):
        top = _top_level(document)
        flags = top.flags or []
        group_type_mapping = _table(top.group_type_mapping)
        cohorts = _table(top.cohorts)
        matching_version = top.property_matching_version
        minimal = top.minimal_flag_called_events is True
    elif isinstance(document, (list, tuple)):
        flags, group_type_mapping, cohorts, matching_version = document, {}, {}, 1
        minimal = False
    else:
        raise DefinitionsError(
            f"flag definitions must be a JSON object or a list of flags, got {_kind(document)}"
        )
    decoded = tuple(flag for flag in map(_flag, flags) if flag is not None)
    canonical = {
        # An over-deep flag is fingerprinted by its stand-in: hashing it would recurse.
        "flags": [_canonical_flag(flag) for flag in flags],
        "group_type_mapping": dict(group_type_mapping),
        "cohorts": dict(cohorts),
        "property_matching_version": matching_version,
    }
    if minimal:
        canonical["minimal_flag_called_events"] = True
    return Definitions(
        flags=decoded,
        group_type_mapping=group_type_mapping,
        cohorts=cohorts,
        property_matching_version=matching_version,
        canonical=canonical,
        minimal_flag_called_events=minimal,
    )


def _table(value: object) -> Mapping[str, Any]:
    """Group types or cohorts as evaluation reads them: a list, text, a number or null
    holds none, as posthog-python accepts such a document and decides locally every flag
    that needs no group type or cohort (the others go to the server)."""
    return value if isinstance(value, Mapping) else {}


def _canonical_flag(raw: object) -> object:
    if _depth_over(raw, MAX_DEPTH - 2):
        key = raw.get("key") if isinstance(raw, Mapping) else None
        return {"key": repr(key), "problem": _TOO_DEEP}
    return raw


def _read_general(text: bytes | str) -> Definitions:
    """Definitions whose free-form parts are deeper than `_Flat`, or that do not fit."""
    try:
        return _usable(_from_valid(_decode_valid(text)))
    except (msgspec.DecodeError, RecursionError):
        # Includes validation errors: a flag that does not fit, or a wrong top level.
        return _tolerant(_decode_json(text))


def read_definitions(raw: bytes | str) -> Definitions:
    """Decode definitions JSON (a document or a bare list of flags)."""
    text: object = raw
    if isinstance(text, (bytearray, memoryview)):
        text = bytes(text)
    if not isinstance(text, (bytes, str)):
        raise DefinitionsError(f"flag definitions must be JSON text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_SIZE:
        raise DefinitionsError(f"flag definitions are larger than {MAX_TEXT_SIZE} characters")
    as_bytes = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    try:
        return _usable(_from_valid(_decode_flat(text), as_bytes), flat=True)
    except (msgspec.DecodeError, RecursionError):
        return msgspec.structs.replace(_read_general(text), canonical=as_bytes)
