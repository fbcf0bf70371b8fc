"""Turning arbitrary Python property values into JSON-safe ones, once, without ever raising.

Events carry user data of any type, and a capture call must never fail because of it. Every
value is normalised here, when the event is built, so encoding later is a plain msgspec call
on str/int/float/bool/None/list/dict and the bytes measured for size limits are the bytes
sent.

The rules: datetime/date/time → `isoformat()`; Decimal → float; UUID → str;
set/frozenset/tuple/list/deque → list; mappings, dataclasses, attrs classes, msgspec Structs
and objects with a `model_dump()` or `dict()` method (pydantic models) → objects;
bytes-like → UTF-8 text with invalid bytes replaced; NaN/±Inf → null; str/int/float
subclasses (enums) → their plain value; anything else → `str()`. Keys become strings.
Lone surrogates, which no UTF-8 encoder accepts, become U+FFFD. Cycles and nesting deeper
than `MAX_DEPTH` are cut with a marker string, and an object whose `__str__` raises becomes
a marker naming its type.

Where this differs from posthog-python 7.91.1 (whose `clean()` turns unsupported values
into null and drops undecodable bytes), the issue's rule wins: data is kept as text.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import re
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any, TypeGuard

import msgspec

__all__ = [
    "CYCLE_MARKER",
    "DEPTH_MARKER",
    "MAX_DEPTH",
    "PLAIN_VALUE_TYPES",
    "STR_KEY_TYPES",
    "clean_text",
    "is_plain",
    "normalize",
    "normalize_properties",
    "property_key",
    "unprintable_marker",
]

MAX_DEPTH = 64
CYCLE_MARKER = "[hogkit: cyclic reference removed]"
DEPTH_MARKER = f"[hogkit: nested deeper than {MAX_DEPTH} levels, cut]"

_SURROGATE = re.compile("[\ud800-\udfff]")
_SEQUENCES = (list, tuple, set, frozenset, deque)
_PASS = frozenset({int, bool, type(None)})
_DATES = (_dt.datetime, _dt.date, _dt.time)
_BYTES = (bytes, bytearray, memoryview)


def unprintable_marker(value: object) -> str:
    """The text that stands in for an object whose `str()` raises."""
    try:
        name = type(value).__qualname__
    except Exception:
        name = "object"
    return f"[hogkit: unprintable {name}]"


def clean_text(text: str) -> str:
    """`text` as a plain `str` that UTF-8 can encode (lone surrogates become U+FFFD)."""
    if type(text) is not str:
        text = str.__str__(text)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def property_key(key: object) -> str:
    """The text a property key is sent as: text unchanged (lone surrogates replaced), None,
    booleans and numbers as JSON spells them, anything else its `str()` (a marker when that
    fails)."""
    if type(key) is str:
        return key if key.isascii() else clean_text(key)
    if key is None:
        return "null"
    if key is True:
        return "true"
    if key is False:
        return "false"
    if isinstance(key, str):
        return clean_text(key)
    if isinstance(key, int):
        # JSON writes a number key as the number, whatever the subclass's `__str__` says.
        return int.__repr__(key)
    if isinstance(key, float):
        return _number_key(float(key))
    return _text(key)


def _number_key(number: float) -> str:
    """A float key as JSON writes it: NaN and the infinities in JSON's own spelling."""
    if number != number:
        return "NaN"
    if number - number != 0.0:
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def _text(value: object) -> str:
    try:
        text = str(value)
    except Exception:
        return unprintable_marker(value)
    return clean_text(text)


def normalize(value: Any) -> Any:
    """`value` made JSON-safe (see the module docstring). Never raises."""
    if type(value) is dict:
        return normalize_properties(value)
    return _slow(value, 0, set())


PLAIN_VALUE_TYPES = frozenset({str, int, float, bool, type(None)})
STR_KEY_TYPES = frozenset({str})


def is_plain(properties: object) -> TypeGuard[dict[str, Any]]:
    """True for a `dict` of `str` keys to values of exactly str, int, float, bool or None.

    Normalising such a dict can only change NaN/±Inf (to null) and lone surrogates (to
    U+FFFD); msgspec already encodes the former as null and refuses the latter, so an
    encoder can take a plain dict as it is and fall back to `normalize_properties` only
    when encoding fails. The check runs in C (`map` over the types), with no Python-level
    loop, so it costs a fraction of normalising. Its values are also all immutable: a
    shallow copy of a plain dict is a snapshot of it.
    """
    return (
        type(properties) is dict
        and PLAIN_VALUE_TYPES.issuperset(map(type, properties.values()))
        and STR_KEY_TYPES.issuperset(map(type, properties))
    )


def normalize_properties(properties: Mapping[Any, Any]) -> dict[str, Any]:
    """A fresh `dict[str, JSON-safe]` from a mapping of property values. Never raises.

    The common case — a flat dict of str/int/float/bool/None — is a single pass with a type
    check per item, so this is the function builders call on every event.
    """
    if type(properties) is dict and _already_clean(properties):
        return properties.copy()
    out: dict[str, Any] = {}
    try:
        items = list(properties.items())
    except Exception:
        return out
    for k, v in items:
        if type(k) is not str or not k.isascii():
            k = property_key(k)
        t = type(v)
        if t in _PASS:
            pass
        elif t is str:
            if not v.isascii():
                v = clean_text(v)
        elif t is float:
            if v - v != 0.0:
                v = None
        else:
            v = _slow(v, 1, {id(properties)})
        out[k] = v
    return out


def _already_clean(properties: dict[Any, Any]) -> bool:
    """Whether a copy is all it takes: ASCII text keys, and values that are ASCII text,
    int, bool, None or finite floats. The common case, checked without building anything."""
    for k, v in properties.items():
        if type(k) is not str or not k.isascii():
            return False
        t = type(v)
        if t in _PASS:
            continue
        if t is str:
            if not v.isascii():
                return False
        elif t is not float or v - v != 0.0:
            return False
    return True


def _slow(value: Any, depth: int, active: set[int]) -> Any:
    """Any value; `active` holds the containers on the current path (for cycle detection).

    Exact plain types and dict/list/tuple are dispatched first with inline checks for
    their plain items, since nested JSON-like data is the next most common case; a failure
    while converting one object only replaces that object, never its parent.
    """
    t = type(value)
    if t is str:
        return value if value.isascii() else clean_text(value)
    if t is int or t is bool or value is None:
        return value
    if t is float:
        return value if value - value == 0.0 else None
    if t is dict or t is list or t is tuple:
        if depth >= MAX_DEPTH:
            return DEPTH_MARKER
        ident = id(value)
        if ident in active:
            return CYCLE_MARKER
        active.add(ident)
        depth += 1
        try:
            if t is dict:
                return {
                    (k if type(k) is str and k.isascii() else property_key(k)): (
                        v
                        if (vt := type(v)) in _PASS or (vt is str and v.isascii())
                        else _slow(v, depth, active)
                    )
                    for k, v in list(value.items())
                }
            return [
                v
                if (vt := type(v)) in _PASS or (vt is str and v.isascii())
                else _slow(v, depth, active)
                for v in value
            ]
        finally:
            active.discard(ident)
    if t is _dt.datetime or t is _dt.date:
        return value.isoformat()
    try:
        return _general(value, depth, active)
    except Exception:
        return _text(value)


def _general(value: Any, depth: int, active: set[int]) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        f = float(value)
        return f if f - f == 0.0 else None
    if isinstance(value, _DATES):
        return clean_text(value.isoformat())
    if isinstance(value, decimal.Decimal):
        try:
            f = float(value)
        except (ValueError, OverflowError):
            return None
        return f if f - f == 0.0 else None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, _BYTES):
        return clean_text(bytes(value).decode("utf-8", "replace"))
    if depth >= MAX_DEPTH:
        return DEPTH_MARKER
    ident = id(value)
    if ident in active:
        return CYCLE_MARKER
    fields = _object_fields(value)
    if fields is not None:
        active.add(ident)
        try:
            return {property_key(k): _slow(v, depth + 1, active) for k, v in fields}
        finally:
            active.discard(ident)
    if isinstance(value, _SEQUENCES):
        active.add(ident)
        try:
            return [_slow(v, depth + 1, active) for v in list(value)]
        finally:
            active.discard(ident)
    dumped = _model_dump(value)
    if dumped is not None:
        active.add(ident)
        try:
            return _slow(dumped, depth + 1, active)
        finally:
            active.discard(ident)
    return _text(value)


def _object_fields(value: Any) -> list[tuple[Any, Any]] | None:
    """The (name, value) pairs of anything that serialises as a JSON object, else None."""
    if isinstance(value, Mapping):
        return list(value.items())
    cls = type(value)
    if isinstance(value, msgspec.Struct):
        return [(name, getattr(value, name)) for name in value.__struct_fields__]
    # attrs classes are recognised by the attribute table attrs puts on them, without
    # importing attrs here: it starts `threading` at import time, which the core must not.
    attributes = getattr(cls, "__attrs_attrs__", None)
    if attributes is not None:
        names = [a.name for a in attributes]
        return [(name, getattr(value, name)) for name in names]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    return None


def _model_dump(value: Any) -> Any:
    """A model's own dict form: `model_dump()` (pydantic v2), else `dict()` (pydantic v1),
    called on any object that has one, pydantic or not, as posthog-python does."""
    if isinstance(value, type):
        return None
    dump = getattr(value, "model_dump", None)
    if not callable(dump):
        dump = getattr(value, "dict", None)
    if callable(dump):
        result = dump()
        return result if isinstance(result, Mapping) else None
    return None
