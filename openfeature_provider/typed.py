"""Turning a flag's value and payload into the type an OpenFeature resolver promises.

Booleans are whether the flag is on (a variant counts as on), strings are the variant.
Numbers and objects come from the payload of the value the person got, or, with
`parse_variant`, from the variant text itself (a number, or JSON for objects).
"""

from __future__ import annotations

import json
from typing import Any

from openfeature.exception import ErrorCode

__all__ = ["Converted", "convert"]

Converted = tuple[Any, ErrorCode | None, str | None]
"""(value or None when the default applies, error code, error message)."""

_NO_VALUE: Converted = (None, None, None)


def _mismatch(kind: str, found: Any) -> Converted:
    return None, ErrorCode.TYPE_MISMATCH, f"expected {kind}, the flag gives {type(found).__name__}"


def _number(kind: type, raw: Any) -> Converted:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return _mismatch(kind.__name__, raw)
    if kind is int and not isinstance(raw, int):
        if not float(raw).is_integer():
            return _mismatch("int", raw)
        raw = int(raw)
    return kind(raw), None, None


def _from_variant(kind: type, variant: str) -> Converted:
    try:
        if kind is int:
            return int(variant), None, None
        if kind is float:
            return float(variant), None, None
        parsed = json.loads(variant)
    except ValueError:
        return None, ErrorCode.PARSE_ERROR, f"variant {variant!r} is not a {kind.__name__}"
    if not isinstance(parsed, (dict, list)):
        return _mismatch("object", parsed)
    return parsed, None, None


def convert(kind: type, value: bool | str, payload: Any, parse_variant: bool) -> Converted:
    """The flag's value as `kind` (bool, str, int, float, or dict for objects)."""
    if kind is bool:
        return value is not False, None, None
    if kind is str:
        if value is False:
            return _NO_VALUE
        if isinstance(value, str):
            return value, None, None
        return _mismatch("str", value)
    if value is False:
        return _NO_VALUE
    if parse_variant:
        if not isinstance(value, str):
            return _mismatch(kind.__name__, value)
        return _from_variant(kind, value)
    if payload is None:
        return None, ErrorCode.TYPE_MISMATCH, f"no payload to read a {kind.__name__} from"
    if kind is dict:
        if isinstance(payload, (dict, list)):
            return payload, None, None
        return _mismatch("object", payload)
    return _number(kind, payload)
