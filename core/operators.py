"""Property filters, compiled once and matched many times.

`compile_property_filter` reads a filter's value a single time (numbers, dates, versions,
regular expressions, folded strings) and returns a matcher specialised for its operator,
so matching a property is a dictionary lookup and a comparison or two.

Every answer is the one PostHog's Python SDK (7.91.1) gives for the same filter and
properties, including its order of checks: an unknown operator is unsupported before
anything else; a missing property is missing context unless the filter itself is
unusable, which outranks it; `is_not_set` is never true locally; a `None` property fails
the date and version operators outright. `match` never raises.
"""

from __future__ import annotations

import abc
import operator as _op
from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from .dates import DateFilter, parse_date_filter, parse_date_text
from .numbers import to_number
from .reasons import Unresolved
from .regex import GatedPattern, gate_pattern
from .semver import parse_version, version_range
from .stringify import ascii_lower, to_text

__all__ = ["OPERATORS", "PropertyMatcher", "compile_property_filter"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_MISSING_CONTEXT = Unresolved.MISSING_CONTEXT
_ABSENT = object()
_UTC = timezone.utc

_EQUALITY = ("exact", "is_not")
_PRESENCE = ("is_set", "is_not_set")
_TEXT = (
    "icontains",
    "not_icontains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
)
_REGEX = ("regex", "not_regex")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": _op.gt,
    "gte": _op.ge,
    "lt": _op.lt,
    "lte": _op.le,
}
_DATES = ("is_date_before", "is_date_after")
_VERSION_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "semver_eq": _op.eq,
    "semver_neq": _op.ne,
    "semver_gt": _op.gt,
    "semver_gte": _op.ge,
    "semver_lt": _op.lt,
    "semver_lte": _op.le,
}
_VERSION_RANGES = ("semver_tilde", "semver_caret", "semver_wildcard")
OPERATORS: frozenset[str] = frozenset(
    (
        *_EQUALITY,
        *_PRESENCE,
        *_TEXT,
        *_REGEX,
        *_COMPARE,
        *_DATES,
        *_VERSION_COMPARE,
        *_VERSION_RANGES,
    )
)


# The common case of a few matchers, in a form a caller may answer without calling
# `match` (evaluating one flag does, where a call is a noticeable share of the cost):
# (kind, lookup key, argument, negate). For any other property value, call `match`.
#   INLINE_IN        a plain str `value`: (value.lower() in argument) is not negate
#   INLINE_CONTAINS  a plain ASCII str: (argument in value.lower()) is not negate
#   INLINE_STARTS    a plain ASCII str: value.lower().startswith(argument) is not negate
#   INLINE_ENDS      a plain ASCII str: value.lower().endswith(argument) is not negate
#   INLINE_GT, INLINE_GTE, INLINE_LT, INLINE_LTE
#                    an int of magnitude below INLINE_EXACT, or a float with
#                    value - value == 0 (finite): value > argument (>=, <, <=)
Inline = tuple[int, Hashable, Any, bool]
INLINE_IN = 1
INLINE_CONTAINS = 2
INLINE_STARTS = 3
INLINE_ENDS = 4
INLINE_GT = 5
INLINE_GTE = 6
INLINE_LT = 7
INLINE_LTE = 8
# Integers of smaller magnitude convert to float exactly.
INLINE_EXACT = 1 << 53
_INLINE_TEXT = {
    "icontains": INLINE_CONTAINS,
    "starts_with": INLINE_STARTS,
    "ends_with": INLINE_ENDS,
}
_INLINE_NUMERIC = {"gt": INLINE_GT, "gte": INLINE_GTE, "lt": INLINE_LT, "lte": INLINE_LTE}


class PropertyMatcher(abc.ABC):
    """One compiled filter. Immutable after construction; safe to share across threads."""

    __slots__ = ("_lookup", "definition_problem", "inline", "key", "operator")

    key: str
    operator: str
    definition_problem: str | None
    _lookup: Hashable
    inline: Inline | None

    def __init__(self, key: str, lookup: Hashable, operator: str, problem: str | None) -> None:
        self.key = key
        self._lookup = lookup
        self.operator = operator
        self.definition_problem = problem
        self.inline = None

    @abc.abstractmethod
    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        """True/False when decided locally, otherwise why the server must decide."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r} {self.operator}>"


class _AlwaysUnsupported(PropertyMatcher):
    """An unknown operator or a filter value no property can be compared with."""

    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        return _UNSUPPORTED


class _Presence(PropertyMatcher):
    __slots__ = ("_present",)

    def __init__(self, key: str, lookup: Hashable, operator: str) -> None:
        super().__init__(key, lookup, operator, None)
        self._present = operator == "is_set"

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        if properties.get(self._lookup, _ABSENT) is _ABSENT:  # type: ignore[call-overload]
            return _MISSING_CONTEXT
        return self._present


_SPELLED = {"true": True, "false": False}


def _spelled_boolean(value: object) -> bool | None:
    """The boolean a filter or property value spells: a bool itself, the words true/false
    in any case, or a list whose items all spell one (True only when all spell True);
    None when it spells none."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _SPELLED.get(value.lower())
    if isinstance(value, list):
        items = [_spelled_boolean(item) for item in value]
        return None if None in items else all(items)
    return None


def _truthy(value: object) -> bool:
    """Whether exact matching by truthiness counts the value as true."""
    return _spelled_boolean(value) is True


def _boolean_like(value: object) -> bool:
    return _spelled_boolean(value) is not None


class _ExactText(PropertyMatcher):
    """exact/is_not against one text or a list of texts, compared Unicode-lowercased.

    `exact` is the commonest filter there is, so a plain str property is answered first
    and in one step; `is_not` is a subclass answering the opposite.
    """

    __slots__ = ("_targets",)

    def __init__(self, key: str, lookup: Hashable, operator: str, targets: frozenset[str]) -> None:
        super().__init__(key, lookup, operator, None)
        self._targets = targets
        self.inline = (INLINE_IN, lookup, targets, operator == "is_not")

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if type(value) is str:
            return value.lower() in self._targets
        text = _text_of(value)
        if text is None:
            return _MISSING_CONTEXT
        return text.lower() in self._targets


class _NotExactText(_ExactText):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if type(value) is str:
            return value.lower() not in self._targets
        text = _text_of(value)
        if text is None:
            return _MISSING_CONTEXT
        return text.lower() not in self._targets


class _ExactTruthy(PropertyMatcher):
    """exact/is_not comparing truthiness: an empty-list filter, or a boolean-like one in
    legacy matching. `wanted` None means "the property is truthy" (the empty list)."""

    __slots__ = ("_negate", "_wanted")

    def __init__(self, key: str, lookup: Hashable, operator: str, wanted: bool | None) -> None:
        super().__init__(key, lookup, operator, None)
        self._negate = operator == "is_not"
        self._wanted = wanted

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if value is _ABSENT:
            return _MISSING_CONTEXT
        # The property must still have a text form, even though only truthiness is used.
        if type(value) is not str and to_text(value) is None:
            return _MISSING_CONTEXT
        try:
            truthy = _truthy(value)
        except Exception:
            return _MISSING_CONTEXT  # a list subclass that fails the second time round
        matched = truthy if self._wanted is None else truthy is self._wanted
        return matched is not self._negate


def _compile_exact(
    key: str, lookup: Hashable, operator: str, value: object, explicit: bool
) -> PropertyMatcher:
    if isinstance(value, list) and not value:
        return _ExactTruthy(key, lookup, operator, None)
    if not explicit and _boolean_like(value):
        return _ExactTruthy(key, lookup, operator, _truthy(value))
    targets = []
    for item in value if isinstance(value, list) else (value,):
        text = to_text(item)
        if text is None:
            return _AlwaysUnsupported(
                key, lookup, operator, f"filter value {item!r} cannot be compared as text"
            )
        targets.append(text.lower())
    kind = _NotExactText if operator == "is_not" else _ExactText
    return kind(key, lookup, operator, frozenset(targets))


class _Text(PropertyMatcher):
    """Substring, prefix and suffix tests on ASCII-folded text (one subclass per test)."""

    __slots__ = ("_needle", "_negate")

    def __init__(self, key: str, lookup: Hashable, operator: str, needle: str) -> None:
        super().__init__(key, lookup, operator, None)
        self._negate = operator.startswith("not_")
        self._needle = needle
        kind = _INLINE_TEXT[operator.removeprefix("not_")]
        self.inline = (kind, lookup, needle, self._negate)


class _Contains(_Text):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        text = value if type(value) is str else _text_of(value)
        if text is None:
            return _MISSING_CONTEXT
        text = text.lower() if text.isascii() else ascii_lower(text)
        return (self._needle in text) is not self._negate


class _StartsWith(_Text):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        text = value if type(value) is str else _text_of(value)
        if text is None:
            return _MISSING_CONTEXT
        text = text.lower() if text.isascii() else ascii_lower(text)
        return text.startswith(self._needle) is not self._negate


class _EndsWith(_Text):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        text = value if type(value) is str else _text_of(value)
        if text is None:
            return _MISSING_CONTEXT
        text = text.lower() if text.isascii() else ascii_lower(text)
        return text.endswith(self._needle) is not self._negate


_TEXT_TESTS: dict[str, type[_Text]] = {
    "icontains": _Contains,
    "starts_with": _StartsWith,
    "ends_with": _EndsWith,
}


def _text_of(value: object) -> str | None:
    """The text of a property that is not a plain str; None when absent or textless."""
    return None if value is _ABSENT else to_text(value)


def _compile_text(key: str, lookup: Hashable, operator: str, value: object) -> PropertyMatcher:
    text = to_text(value)
    if text is None:
        return _AlwaysUnsupported(
            key, lookup, operator, f"filter value {value!r} cannot be compared as text"
        )
    return _TEXT_TESTS[operator.removeprefix("not_")](key, lookup, operator, ascii_lower(text))


class _Regex(PropertyMatcher):
    """regex/not_regex with a pattern inside the subset PostHog's engines agree on.

    Short ASCII text (the usual case) within the pattern's `python_limit` needs only the
    end-anchor check before Python's search, unless the pattern uses `\\s`; everything
    else goes through `GatedPattern.search`, which bounds the work.
    """

    __slots__ = ("_end_sensitive", "_find", "_gated", "_limit", "_negate")

    def __init__(self, key: str, lookup: Hashable, operator: str, gated: GatedPattern) -> None:
        super().__init__(key, lookup, operator, None)
        self._negate = operator == "not_regex"
        self._gated = gated
        find, limit, end_sensitive, ascii_ready = gated.ascii_plan
        self._find = find if ascii_ready and limit >= 0 else None
        self._limit = limit
        self._end_sensitive = end_sensitive

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        text = value if type(value) is str else _text_of(value)
        if text is None:
            return _MISSING_CONTEXT
        find = self._find
        if find is not None and len(text) <= self._limit and text.isascii():
            if self._end_sensitive and text.endswith("\n"):
                return _UNSUPPORTED
            try:
                return (find(text) is not None) is not self._negate
            except Exception:
                return _UNSUPPORTED
        found = self._gated.search(text)
        if found is None:
            return _UNSUPPORTED
        return found is not self._negate


class _RegexConstant(PropertyMatcher):
    """An empty pattern (matches everything) or one Python cannot compile (matches
    nothing, and neither does its negation). Either way the property still needs a text
    form."""

    __slots__ = ("_result",)

    def __init__(self, key: str, lookup: Hashable, operator: str, result: bool) -> None:
        super().__init__(key, lookup, operator, None)
        self._result = result

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if value is _ABSENT:
            return _MISSING_CONTEXT
        if type(value) is not str and to_text(value) is None:
            return _MISSING_CONTEXT
        return self._result


def _compile_regex(key: str, lookup: Hashable, operator: str, value: object) -> PropertyMatcher:
    pattern = str(value)
    if not pattern:
        return _RegexConstant(key, lookup, operator, operator == "regex")
    gated = gate_pattern(pattern)
    if isinstance(gated, str):
        return _AlwaysUnsupported(key, lookup, operator, gated)
    if gated is None:
        return _RegexConstant(key, lookup, operator, False)
    return _Regex(key, lookup, operator, gated)


class _Numeric(PropertyMatcher):
    """gt/gte/lt/lte as float comparisons; a non-numeric property simply fails.

    Plain ints below 2**53 and finite floats (the usual properties) are compared directly:
    for them Python's mixed int/float comparison agrees exactly with comparing
    `float(value)`, which is what `to_number` would give. Everything else goes through
    `to_number`. One subclass per operator keeps the comparison inline.
    """

    __slots__ = ("_bound",)

    def __init__(self, key: str, lookup: Hashable, operator: str, bound: float) -> None:
        super().__init__(key, lookup, operator, None)
        self._bound = bound
        self.inline = (_INLINE_NUMERIC[operator], lookup, bound, False)


class _Greater(_Numeric):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value: Any = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        kind = type(value)
        if (kind is int and -_EXACT < value < _EXACT) or (kind is float and value - value == 0):
            return value > self._bound  # type: ignore[no-any-return]
        if value is _ABSENT:
            return _MISSING_CONTEXT
        number = to_number(value)
        return number is not None and number > self._bound


class _GreaterOrEqual(_Numeric):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value: Any = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        kind = type(value)
        if (kind is int and -_EXACT < value < _EXACT) or (kind is float and value - value == 0):
            return value >= self._bound  # type: ignore[no-any-return]
        if value is _ABSENT:
            return _MISSING_CONTEXT
        number = to_number(value)
        return number is not None and number >= self._bound


class _Less(_Numeric):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value: Any = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        kind = type(value)
        if (kind is int and -_EXACT < value < _EXACT) or (kind is float and value - value == 0):
            return value < self._bound  # type: ignore[no-any-return]
        if value is _ABSENT:
            return _MISSING_CONTEXT
        number = to_number(value)
        return number is not None and number < self._bound


class _LessOrEqual(_Numeric):
    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value: Any = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        kind = type(value)
        if (kind is int and -_EXACT < value < _EXACT) or (kind is float and value - value == 0):
            return value <= self._bound  # type: ignore[no-any-return]
        if value is _ABSENT:
            return _MISSING_CONTEXT
        number = to_number(value)
        return number is not None and number <= self._bound


_NUMERIC: dict[str, type[_Numeric]] = {
    "gt": _Greater,
    "gte": _GreaterOrEqual,
    "lt": _Less,
    "lte": _LessOrEqual,
}
_EXACT = INLINE_EXACT


def _compile_numeric(key: str, lookup: Hashable, operator: str, value: object) -> PropertyMatcher:
    bound = to_number(value)
    if bound is None:
        return _AlwaysUnsupported(
            key, lookup, operator, f"filter value {value!r} is not a finite number"
        )
    return _NUMERIC[operator](key, lookup, operator, bound)


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
        super().__init__(key, lookup, operator, None)
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
                moment = value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
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


def _compile_date(key: str, lookup: Hashable, operator: str, value: object) -> PropertyMatcher:
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
        super().__init__(key, lookup, operator, None)
        self._compare = _VERSION_COMPARE.get(operator)
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


def _compile_version(key: str, lookup: Hashable, operator: str, value: object) -> PropertyMatcher:
    if operator in _VERSION_RANGES:
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


def compile_property_filter(
    raw: Mapping[str, object], *, matching_version: int | None
) -> PropertyMatcher:
    """A matcher for one property filter object (`key`, `operator`, `value`).

    `matching_version` is the definitions' `property_matching_version`: 2 compares exact
    values purely as text; anything else also lets boolean-like filters compare
    truthiness. Never raises.
    """
    try:
        return _compile(raw, matching_version == 2)
    except Exception as error:
        # Only reachable with values no JSON document holds (objects whose own methods
        # fail); such a filter is unusable rather than an error.
        return _AlwaysUnsupported("", "", "exact", f"unusable filter: {error!r}")


def _compile(raw: Mapping[str, object], explicit: bool) -> PropertyMatcher:
    raw_key = raw.get("key")
    key = raw_key if isinstance(raw_key, str) else ("" if raw_key is None else str(raw_key))
    raw_operator = raw.get("operator") or "exact"
    operator = raw_operator if isinstance(raw_operator, str) else str(raw_operator)
    if not isinstance(raw_operator, str) or raw_operator not in OPERATORS:
        return _AlwaysUnsupported(key, key, operator, f"unknown operator {operator!r}")
    try:
        hash(raw_key)
    except TypeError:
        return _AlwaysUnsupported(key, key, operator, f"property key {raw_key!r} is not a name")
    lookup: Hashable = raw_key
    return _compile_family(key, lookup, operator, raw.get("value"), explicit)


def _compile_family(
    key: str, lookup: Hashable, operator: str, value: object, explicit: bool
) -> PropertyMatcher:
    if operator in _EQUALITY:
        return _compile_exact(key, lookup, operator, value, explicit)
    if operator in _PRESENCE:
        return _Presence(key, lookup, operator)
    if operator in _TEXT:
        return _compile_text(key, lookup, operator, value)
    if operator in _COMPARE:
        return _compile_numeric(key, lookup, operator, value)
    if operator in _REGEX:
        return _compile_regex(key, lookup, operator, value)
    if operator in _DATES:
        return _compile_date(key, lookup, operator, value)
    return _compile_version(key, lookup, operator, value)
