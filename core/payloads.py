"""Flag payloads: decoded once when flags are compiled, copied fresh for every read.

Kept apart from the compiled flag structures because payload handling is its own concern
(JSON decoding rules that match posthog-python, and cheap private copies so a caller that
mutates a payload never changes what the next caller sees).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from .snapshot import thaw

__all__ = [
    "decode_payload",
    "parse_payload",
    "payload_source",
    "payload_sources",
    "read_response_json",
]


def decode_payload(raw: Any) -> Any:
    """A payload as posthog-python returns it: JSON text decoded (see `parse_payload`;
    anything undecodable None), any other value as it is."""
    if not isinstance(raw, str):
        return raw
    return parse_payload(raw)[1]


def parse_payload(text: str) -> tuple[bool, Any]:
    """(True, value) when `text` is JSON as posthog-python reads a payload (NaN and
    Infinity refused, a number beyond a double's range infinite), else (False, None)."""
    try:
        return True, _as_python_reads(text, _refuse_constant)
    except (ValueError, RecursionError):
        return False, None


def read_response_json(body: bytes) -> Any:
    """A response body as an HTTP client's `.json()` reads it with Python's json module:
    NaN and Infinity are numbers, a number beyond a double is infinite. Raises ValueError
    when the body is not JSON."""
    return _as_python_reads(body, None)


def _as_python_reads(text: str | bytes, parse_constant: Callable[[str], Any] | None) -> Any:
    """JSON decoded as Python's json module decodes it (`parse_constant` as there): by
    msgspec, which is faster, unless it refuses (NaN, Infinity, numbers beyond a double),
    then by Python's json, which decides."""
    try:
        return _decode_json(text)
    except (msgspec.DecodeError, RecursionError):
        return json.loads(text, parse_constant=parse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decode_json = msgspec.json.Decoder().decode


def payload_source(payload: Any) -> Callable[[], Any]:
    """A callable giving a private copy of a decoded payload on every call.

    Scalars are shared as they are. Objects and arrays are kept as compact JSON and
    decoded again per read (msgspec's C decoder is several times faster than a recursive
    copy in Python), unless that JSON would not give back exactly the same values
    (numbers beyond 64 bits, non-JSON types, text with lone surrogates): those are copied.
    """
    if type(payload) is not dict and type(payload) is not list:
        return itertools.repeat(payload).__next__
    try:
        raw = msgspec.json.encode(payload)
        same = _identical(_decode_json(raw), payload)
    except Exception:
        same = False
    if same:
        return functools.partial(_decode_json, raw)
    return functools.partial(thaw, payload)


def _identical(copy: Any, original: Any) -> bool:
    """Equal values of the same types, all the way down (so 1 is not 1.0, nor NaN NaN)."""
    if type(copy) is not type(original):
        return False
    if type(copy) is dict:
        return list(copy) == list(original) and all(
            _identical(copy[key], original[key]) for key in copy
        )
    if type(copy) is list:
        return len(copy) == len(original) and all(map(_identical, copy, original))
    return bool(copy == original)


def _text_source(raw: str) -> Callable[[], Any]:
    """`payload_source` of a payload sent as JSON text. Text msgspec reads gives an object
    or array equal to the first one every time it is decoded again, so the text itself is
    what a read decodes; other text takes the general path."""
    try:
        decoded = _decode_json(raw)
    except (msgspec.DecodeError, RecursionError):
        return payload_source(decode_payload(raw))
    if type(decoded) is dict or type(decoded) is list:
        return functools.partial(_decode_json, raw)
    return itertools.repeat(decoded).__next__


def payload_sources(
    payloads: Mapping[Any, Any], seen: dict[str, Callable[[], Any]]
) -> dict[str, Callable[[], Any]]:
    """A fresh-copy source per value's payload; one per distinct JSON text, decoded once
    (flags often repeat them)."""
    sources: dict[str, Callable[[], Any]] = {}
    for name, raw in payloads.items():
        if type(name) is not str:
            continue
        if type(raw) is str:
            source = seen.get(raw)
            if source is None:
                source = seen[raw] = _text_source(raw)
        else:
            source = payload_source(raw)
        sources[name] = source
    return sources
