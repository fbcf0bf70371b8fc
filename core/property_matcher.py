"""The compiled-filter interface every operator family implements.

It lives apart from the families and from the dispatcher in `operators` so each family
module can subclass `PropertyMatcher` without importing the dispatcher (no cycle), and
callers that only hold matchers need not load every family.
"""

from __future__ import annotations

import abc
from collections.abc import Hashable, Mapping
from datetime import datetime
from typing import Any

from .reasons import Unresolved

__all__ = [
    "ABSENT",
    "INLINE_CONTAINS",
    "INLINE_ENDS",
    "INLINE_EXACT",
    "INLINE_GT",
    "INLINE_GTE",
    "INLINE_IN",
    "INLINE_LT",
    "INLINE_LTE",
    "INLINE_STARTS",
    "AlwaysUnsupported",
    "Inline",
    "PropertyMatcher",
]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
# Marks a property the properties mapping does not hold (distinct from a `None` value).
ABSENT = object()

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


class PropertyMatcher(abc.ABC):
    """One compiled filter. Immutable after construction; safe to share across threads.

    Subclasses call `PropertyMatcher.__init__` by name rather than through `super()`: a
    compile builds a matcher per distinct filter, and `super()` makes an object per call.
    """

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


class AlwaysUnsupported(PropertyMatcher):
    """An unknown operator or a filter value no property can be compared with."""

    __slots__ = ()

    def match(self, properties: Mapping[str, object], now: datetime) -> bool | Unresolved:
        return _UNSUPPORTED
