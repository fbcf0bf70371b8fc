"""Matchers for the operators that compare a property on an ordered scale.

gt/gte/lt/lte (numbers), is_date_before/is_date_after (moments) and the semver_*
comparisons and ranges (versions): each reads its filter value once into a number, a
date filter or a version tuple. Kept apart from the dispatcher in `operators` so each
module stays small and one family can be read on its own.
"""

from __future__ import annotations

import operator as _op
from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from .compile_tables import CompileTables
from .dates import DateFilter, as_utc, parse_date_filter, parse_date_text
from .numbers import to_number
from .property_matcher import (
    ABSENT,
    INLINE_EXACT,
    INLINE_GT,
    INLINE_GTE,
    INLINE_LT,
    INLINE_LTE,
    AlwaysUnsupported,
    PropertyMatcher,
)
from .reasons import Unresolved
from .semver import parse_version, version_range

__all__ = [
    "NUMERIC_COMPARE",
    "VERSION_COMPARE",
    "VERSION_RANGES",
    "compile_date",
    "compile_numeric",
    "compile_version",
]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_MISSING_CONTEXT = Unresolved.MISSING_CONTEXT
_ABSENT = ABSENT
_INLINE_NUMERIC = MappingProxyType(
    {"gt": INLINE_GT, "gte": INLINE_GTE, "lt": INLINE_LT, "lte": INLINE_LTE}
)
NUMERIC_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = MappingProxyType(
    {
        "gt": _op.gt,
        "gte": _op.ge,
        "lt": _op.lt,
        "lte": _op.le,
    }
)
VERSION_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = MappingProxyType(
    {
        "semver_eq": _op.eq,
        "semver_neq": _op.ne,
        "semver_gt": _op.gt,
        "semver_gte": _op.ge,
        "semver_lt": _op.lt,
        "semver_lte": _op.le,
    }
)
VERSION_RANGES = ("semver_tilde", "semver_caret", "semver_wildcard")


class _Numeric(PropertyMatcher):
    """gt/gte/lt/lte as float comparisons; a non-numeric property simply fails.

    Plain ints below 2**53 and finite floats (the usual properties) are compared directly:
    for them Python's mixed int/float comparison agrees exactly with comparing
    `float(value)`, which is what `to_number` would give. Everything else goes through
    `to_number`. The comparison is the operator's C function (`NUMERIC_COMPARE`).
    """

    __slots__ = ("_bound", "_compare")

    def __init__(self, key: str, lookup: Hashable, operator: str, bound: float) -> None:
        PropertyMatcher.__init__(self, key, lookup, operator, None)
        self._bound = bound
        self._compare = NUMERIC_COMPARE[operator]
        self.inline = (_INLINE_NUMERIC[operator], lookup, bound, False)

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value: Any = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        kind = type(value)
        if (kind is int and -_EXACT < value < _EXACT) or (kind is float and value - value == 0):
            return self._compare(value, self._bound)
        if value is _ABSENT:
            return _MISSING_CONTEXT
        number = to_number(value)
        return number is not None and self._compare(number, self._bound)


_EXACT = INLINE_EXACT


def compile_numeric(
    key: str,
    lookup: Hashable,
    operator: str,
    value: object,
    explicit: bool = False,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    bound = to_number(value)
    if bound is None:
        return AlwaysUnsupported(
            key, lookup, operator, f"filter value {value!r} is not a finite number"
        )
    return _Numeric(key, lookup, operator, bound)


class _NullFailsOtherwiseUnsupported(PropertyMatcher):
    """A date or version filter whose value can't be read: a `None` property still fails
    before the filter value is looked at, anything else needs the server."""

    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if value is _ABSENT:
            return _UNSUPPORTED
        if value is None:
            return False
        return _UNSUPPORTED


class _Date(PropertyMatcher):
    """is_date_before/is_date_after: strictly before/after the filter's moment."""

    __slots__ = ("_after", "_filter")

    def __init__(self, key: str, lookup: Hashable, operator: str, parsed: DateFilter) -> None:
        PropertyMatcher.__init__(self, key, lookup, operator, None)
        self._after = operator == "is_date_after"
        self._filter = parsed

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if value is _ABSENT:
            # A filter that can't be read at this `now` outranks the missing property.
            return _MISSING_CONTEXT if self._filter.at(now) is not None else _UNSUPPORTED
        if value is None:
            return False
        bound = self._filter.at(now)
        if bound is None:
            return _UNSUPPORTED
        try:
            if type(value) is str:
                parsed = parse_date_text(value, now)
                if parsed is None:
                    return _MISSING_CONTEXT
                return parsed > bound if self._after else parsed < bound
            if isinstance(value, datetime):
                moment = value if value.tzinfo is not None else as_utc(value)
                return moment > bound if self._after else moment < bound
            if isinstance(value, date):
                day = bound.date()
                return value > day if self._after else value < day
            if isinstance(value, str):
                parsed = parse_date_text(value, now)
                if parsed is None:
                    return _MISSING_CONTEXT
                return parsed > bound if self._after else parsed < bound
        except Exception:
            # A tzinfo that gives no offset, or a subclass whose own methods fail: the
            # property can't be placed in time.
            return _MISSING_CONTEXT
        return _MISSING_CONTEXT


def compile_date(
    key: str,
    lookup: Hashable,
    operator: str,
    value: object,
    explicit: bool = False,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    parsed = parse_date_filter(str(value))
    if parsed is None:
        return _NullFailsOtherwiseUnsupported(
            key, lookup, operator, f"filter value {value!r} is not a date"
        )
    return _Date(key, lookup, operator, parsed)


class _Version(PropertyMatcher):
    """Semantic-version comparisons on (major, minor, patch); a range is [low, high)."""

    __slots__ = ("_compare", "_high", "_low")

    def __init__(
        self,
        key: str,
        lookup: Hashable,
        operator: str,
        low: tuple[int, int, int],
        high: tuple[int, int, int] | None,
    ) -> None:
        PropertyMatcher.__init__(self, key, lookup, operator, None)
        self._compare = VERSION_COMPARE.get(operator)
        self._low = low
        self._high = high

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if value is _ABSENT:
            return _MISSING_CONTEXT
        if value is None:
            return False
        version = parse_version(value)
        if version is None:
            return _MISSING_CONTEXT
        if self._high is not None:
            return self._low <= version < self._high
        assert self._compare is not None
        return self._compare(version, self._low)


def compile_version(
    key: str,
    lookup: Hashable,
    operator: str,
    value: object,
    explicit: bool = False,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    if operator in VERSION_RANGES:
        bounds = version_range(operator, value)
        if bounds is not None:
            return _Version(key, lookup, operator, bounds[0], bounds[1])
    else:
        version = parse_version(value)
        if version is not None:
            return _Version(key, lookup, operator, version, None)
    return _NullFailsOtherwiseUnsupported(
        key, lookup, operator, f"filter value {value!r} is not a valid version for {operator}"
    )
