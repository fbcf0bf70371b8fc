"""The number grammar the numeric operators accept.

A string is a number only when it is plain decimal notation: optional sign, digits with an
optional fraction (or a bare fraction), optional exponent. Python's `float()` is more
liberal (surrounding whitespace, `1_000`, non-ASCII digits, `inf`, `nan`), so its answer is
kept only after ruling those extras out. Booleans are never numbers; neither is anything
that does not come out finite.
"""

from __future__ import annotations

import math
from decimal import Decimal

__all__ = ["to_number"]


def _from_text(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    # float() succeeded, so `text` is the plain grammar unless it used one of float()'s
    # extras: non-ASCII digits, underscores, or whitespace (only ever at the ends).
    if not text.isascii() or "_" in text or text[0].isspace() or text[-1].isspace():
        return None
    return number if math.isfinite(number) else None


def to_number(value: object) -> float | None:
    """The finite float a value stands for, or None when it is not numeric."""
    kind = type(value)
    if kind is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return None
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type, return-value]
    if kind is str:
        return _from_text(value)  # type: ignore[arg-type]
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            return None
        number = float(value) if not isinstance(value, str) else _from_text(str.__str__(value))
    except Exception:
        # Out of float range, a signalling NaN, or a subclass whose conversion fails.
        return None
    if number is None or not math.isfinite(number):
        return None
    return number
