"""Matchers for the operators that read a property as text or test its presence.

exact/is_not, is_set/is_not_set, icontains/starts_with/ends_with (and negations) and
regex/not_regex: the families whose filter value is folded or compiled as a string. Kept
apart from the dispatcher in `operators` so each module stays small and one family can be
read on its own.
"""

from __future__ import annotations

import operator as _op
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from types import MappingProxyType

from .compile_tables import CompileTables
from .property_matcher import (
    ABSENT,
    INLINE_CONTAINS,
    INLINE_ENDS,
    INLINE_IN,
    INLINE_STARTS,
    AlwaysUnsupported,
    PropertyMatcher,
)
from .reasons import Unresolved
from .regex import GatedPattern, gate_pattern
from .stringify import ascii_lower, to_text

__all__ = ["Presence", "compile_exact", "compile_presence", "compile_regex", "compile_text"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_MISSING_CONTEXT = Unresolved.MISSING_CONTEXT
_ABSENT = ABSENT
_INLINE_TEXT = MappingProxyType(
    {
        "icontains": INLINE_CONTAINS,
        "starts_with": INLINE_STARTS,
        "ends_with": INLINE_ENDS,
    }
)


class Presence(PropertyMatcher):
    __slots__ = ("_present",)

    def __init__(self, key: str, lookup: Hashable, operator: str) -> None:
        PropertyMatcher.__init__(self, key, lookup, operator, None)
        self._present = operator == "is_set"

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        if properties.get(self._lookup, _ABSENT) is _ABSENT:  # type: ignore[call-overload]
            return _MISSING_CONTEXT
        return self._present


def compile_presence(
    key: str,
    lookup: Hashable,
    operator: str,
    value: object,
    explicit: bool = False,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    """is_set/is_not_set, which read no filter value."""
    return Presence(key, lookup, operator)


_SPELLED = MappingProxyType({"true": True, "false": False})
_ONLY_TEXT = frozenset([str])
_WORDS = frozenset(_SPELLED)


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
        PropertyMatcher.__init__(self, key, lookup, operator, None)
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
        PropertyMatcher.__init__(self, key, lookup, operator, None)
        self._negate = operator == "is_not"
        self._wanted = wanted

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        # The property must still have a text form, even though only truthiness is used.
        if _textless(value):
            return _MISSING_CONTEXT
        try:
            truthy = _truthy(value)
        except Exception:
            return _MISSING_CONTEXT  # a list subclass that fails the second time round
        matched = truthy if self._wanted is None else truthy is self._wanted
        return matched is not self._negate


def compile_exact(
    key: str,
    lookup: Hashable,
    operator: str,
    value: object,
    explicit: bool,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    kind = _NotExactText if operator == "is_not" else _ExactText
    if type(value) is str:
        # The commonest filter: one text, folded once and read as a boolean once.
        folded = value.lower()
        spelled = None if explicit else _SPELLED.get(folded)
        if spelled is not None:
            return _ExactTruthy(key, lookup, operator, spelled)
        return kind(key, lookup, operator, frozenset((folded,)))
    if type(value) is list and value and set(map(type, value)) == _ONLY_TEXT:
        # A list of texts, each folded once; when every one spells a boolean, it is true
        # only if none spells false.
        texts = frozenset(map(str.lower, value))
        if not explicit and texts <= _WORDS:
            return _ExactTruthy(key, lookup, operator, "false" not in texts)
        return kind(key, lookup, operator, texts)
    if isinstance(value, list) and not value:
        return _ExactTruthy(key, lookup, operator, None)
    if not explicit and _boolean_like(value):
        return _ExactTruthy(key, lookup, operator, _truthy(value))
    targets = []
    for item in value if isinstance(value, list) else (value,):
        text = to_text(item)
        if text is None:
            return AlwaysUnsupported(
                key, lookup, operator, f"filter value {item!r} cannot be compared as text"
            )
        targets.append(text.lower())
    return kind(key, lookup, operator, frozenset(targets))


# Each text test as a C function of (folded text, needle).
_TEXT_TESTS: Mapping[str, Callable[[str, str], bool]] = MappingProxyType(
    {
        "icontains": _op.contains,
        "starts_with": str.startswith,
        "ends_with": str.endswith,
    }
)


class _Text(PropertyMatcher):
    """Substring, prefix and suffix tests on ASCII-folded text (`_TEXT_TESTS`)."""

    __slots__ = ("_needle", "_negate", "_test")

    def __init__(self, key: str, lookup: Hashable, operator: str, needle: str) -> None:
        PropertyMatcher.__init__(self, key, lookup, operator, None)
        test = operator.removeprefix("not_")
        self._negate = test != operator
        self._needle = needle
        self._test = _TEXT_TESTS[test]
        self.inline = (_INLINE_TEXT[test], lookup, needle, self._negate)

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        text = value if type(value) is str else _text_of(value)
        if text is None:
            return _MISSING_CONTEXT
        text = text.lower() if text.isascii() else ascii_lower(text)
        return self._test(text, self._needle) is not self._negate


def _textless(value: object) -> bool:
    """Whether a property is absent or has no text form."""
    return value is _ABSENT or (type(value) is not str and to_text(value) is None)


def _text_of(value: object) -> str | None:
    """The text of a property that is not a plain str; None when absent or textless."""
    return None if value is _ABSENT else to_text(value)


def compile_text(
    key: str,
    lookup: Hashable,
    operator: str,
    value: object,
    explicit: bool = False,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    text = to_text(value)
    if text is None:
        return AlwaysUnsupported(
            key, lookup, operator, f"filter value {value!r} cannot be compared as text"
        )
    return _Text(key, lookup, operator, ascii_lower(text))


class _Regex(PropertyMatcher):
    """regex/not_regex with a pattern inside the subset PostHog's engines agree on.

    Short ASCII text (the usual case) within the pattern's `python_limit` needs only the
    end-anchor check before Python's search, unless the pattern uses `\\s`; everything
    else goes through `GatedPattern.search`, which bounds the work.
    """

    __slots__ = ("_end_sensitive", "_find", "_gated", "_limit", "_negate")

    def __init__(self, key: str, lookup: Hashable, operator: str, gated: GatedPattern) -> None:
        PropertyMatcher.__init__(self, key, lookup, operator, None)
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
        PropertyMatcher.__init__(self, key, lookup, operator, None)
        self._result = result

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        value = properties.get(self._lookup, _ABSENT)  # type: ignore[call-overload]
        if _textless(value):
            return _MISSING_CONTEXT
        return self._result


def compile_regex(
    key: str,
    lookup: Hashable,
    operator: str,
    value: object,
    explicit: bool = False,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    pattern = str(value)
    if not pattern:
        return _RegexConstant(key, lookup, operator, operator == "regex")
    gated = gate_pattern(pattern, None if tables is None else tables.classes)
    if isinstance(gated, str):
        return AlwaysUnsupported(key, lookup, operator, gated)
    if gated is None:
        return _RegexConstant(key, lookup, operator, False)
    return _Regex(key, lookup, operator, gated)
