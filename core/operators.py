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

from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType

from .compile_tables import CompileTables
from .ordered_matchers import (
    NUMERIC_COMPARE,
    VERSION_COMPARE,
    VERSION_RANGES,
    compile_date,
    compile_numeric,
    compile_version,
)
from .property_matcher import AlwaysUnsupported, PropertyMatcher
from .text_matchers import compile_exact, compile_presence, compile_regex, compile_text

__all__ = ["OPERATORS", "compile_keyed_filter", "compile_property_filter"]

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
_DATES = ("is_date_before", "is_date_after")
# Every family compiles from (key, lookup key, operator, value, explicit, the compile's
# tables or None); only equality reads `explicit` (see `compile_property_filter`) and only
# regular expressions the tables (the class items patterns share), the others take them
# for one signature.
_Family = Callable[[str, Hashable, str, object, bool, CompileTables | None], PropertyMatcher]
# The family of each operator, found in one lookup.
_FAMILIES: Mapping[str, _Family] = MappingProxyType(
    {
        **dict.fromkeys(_EQUALITY, compile_exact),
        **dict.fromkeys(_PRESENCE, compile_presence),
        **dict.fromkeys(_TEXT, compile_text),
        **dict.fromkeys(NUMERIC_COMPARE, compile_numeric),
        **dict.fromkeys(_REGEX, compile_regex),
        **dict.fromkeys(_DATES, compile_date),
        **dict.fromkeys((*VERSION_COMPARE, *VERSION_RANGES), compile_version),
    }
)
OPERATORS: frozenset[str] = frozenset(_FAMILIES)


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
        return AlwaysUnsupported("", "", "exact", f"unusable filter: {error!r}")


def compile_keyed_filter(
    key: str,
    operator: str | None,
    value: object,
    explicit: bool,
    tables: CompileTables | None = None,
) -> PropertyMatcher:
    """`compile_property_filter` for a filter whose parts the caller has already read: a
    text key (so it is its own lookup key and always hashable) and a text operator (or
    none). Compilers read those parts anyway to share matchers, so they are not read
    twice; they also pass their compile's `tables`, whose memos matchers may share.
    `explicit`: the definitions' `property_matching_version` is 2. Its arguments are
    plain positional ones, which a call once per distinct filter of a compile notices."""
    operator = operator or "exact"
    family = _FAMILIES.get(operator)
    if family is None:
        return AlwaysUnsupported(key, key, operator, f"unknown operator {operator!r}")
    try:
        return family(key, key, operator, value, explicit, tables)
    except Exception as error:
        return AlwaysUnsupported("", "", "exact", f"unusable filter: {error!r}")


def _compile(raw: Mapping[str, object], explicit: bool) -> PropertyMatcher:
    raw_key = raw.get("key")
    key = raw_key if isinstance(raw_key, str) else ("" if raw_key is None else str(raw_key))
    raw_operator = raw.get("operator") or "exact"
    operator = raw_operator if isinstance(raw_operator, str) else str(raw_operator)
    if not isinstance(raw_operator, str) or raw_operator not in OPERATORS:
        return AlwaysUnsupported(key, key, operator, f"unknown operator {operator!r}")
    try:
        hash(raw_key)
    except TypeError:
        return AlwaysUnsupported(key, key, operator, f"property key {raw_key!r} is not a name")
    lookup: Hashable = raw_key
    return _FAMILIES[operator](key, lookup, operator, raw.get("value"), explicit, None)
