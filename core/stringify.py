"""Text forms of property and filter values, as PostHog's flag engines compare them.

PostHog's server compares values as JSON: a string stands for itself and anything else is
written as compact JSON (object keys sorted, floats in JavaScript's shortest style). The
text operators additionally fold only ASCII letters, because that is what the server's
case-insensitive matching does; `str.lower` would fold far more.

A value JSON cannot carry (NaN, bytes, sets, objects, non-string object keys) has no text
form: the helpers return None and the caller decides whose fault that is.
"""

from __future__ import annotations

import math
from json.encoder import encode_basestring
from types import MappingProxyType

__all__ = ["ascii_lower", "float_text", "to_text"]

_ASCII_FOLD = MappingProxyType({code: code + 32 for code in range(ord("A"), ord("Z") + 1)})


def float_text(value: float) -> str | None:
    """JavaScript-style shortest text: `1e+16`, `1.5e-7`, but `0.00001` for small exponents."""
    if not math.isfinite(value):
        return None
    text = repr(value)
    mark = text.find("e")
    if mark < 0:
        return text
    mantissa = text[:mark]
    exponent = int(text[mark + 1 :])
    if -6 < exponent < 0:
        negative = mantissa.startswith("-")
        digits = mantissa.lstrip("-").replace(".", "")
        plain = "0." + "0" * (-exponent - 1) + digits
        return "-" + plain if negative else plain
    return f"{mantissa}e{'+' if exponent >= 0 else ''}{exponent}"


def _json(value: object) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, list):
        parts = []
        for item in value:
            part = _json(item)
            if part is None:
                return None
            parts.append(part)
        return "[" + ",".join(parts) + "]"
    if isinstance(value, dict):
        if not all(isinstance(name, str) for name in value):
            return None
        fields = []
        for name in sorted(value):
            part = _json(value[name])
            if part is None:
                return None
            fields.append(encode_basestring(name) + ":" + part)
        return "{" + ",".join(fields) + "}"
    return None


def to_text(value: object) -> str | None:
    """The text a value is compared as, or None when JSON cannot represent it.

    The result is always an exact `str`, so callers never run a subclass's methods.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    try:
        if kind is int:
            return str(value)
        if isinstance(value, str):
            return str.__str__(value)
        return _json(value)
    except Exception:
        # Self-containing lists, integers past Python's digit limit, and objects whose
        # own methods fail have no text either.
        return None


def ascii_lower(text: str) -> str:
    """Fold A-Z only; `str.lower` agrees on pure-ASCII text and is much faster there."""
    if text.isascii():
        return text.lower()
    return text.translate(_ASCII_FOLD)
