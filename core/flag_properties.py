"""`$feature/<key>` and `$active_feature_flags`: flags attached to an event.

`flag_fragment` pre-encodes them once per snapshot layout so a capture with flags splices
one JSON fragment instead of re-encoding every flag.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from itertools import compress
from types import MappingProxyType as _MappingProxy
from typing import Any

import msgspec

from .event import ACTIVE_FLAGS, FRAGMENT_ENCODER, FlagsArg
from .normalize import normalize
from .timestamps import text_id

__all__ = [
    "FlagLayouts",
    "InEvaluationOrder",
    "flag_fragment",
    "flag_properties",
    "flag_values_of",
]

# ---------------------------------------------------------------------------------------
# flags attached to events


def flag_values_of(flags: FlagsArg) -> Mapping[str, Any] | None:
    """The `{key: value}` of a `flags` argument: a mapping, or any object with `flag_values`."""
    if flags is None:
        return None
    if type(flags) is dict or isinstance(flags, Mapping):
        return flags
    values = getattr(flags, "flag_values", None)
    if type(values) is _MappingProxy or type(values) is dict:
        return values
    return values if isinstance(values, Mapping) else None


class InEvaluationOrder(msgspec.Struct, frozen=True, gc=False):
    """Flag values whose `$active_feature_flags` keep the order the values came in.

    `flags=` snapshots list the active flags sorted; the deprecated
    `capture(send_feature_flags=...)` lists them as it evaluated them (definitions order,
    or the server's answer order), and events built for it must read the same.
    """

    flag_values: Mapping[str, Any]


def flag_properties(flags: FlagsArg, layouts: FlagLayouts | None = None) -> dict[str, Any]:
    """`$feature/<key>` for every flag and the sorted `$active_feature_flags` (omitted when none;
    unsorted for `InEvaluationOrder`).

    A flag is active when its value is anything but False. A None value (a flag nobody
    could decide) is left out entirely, as posthog-python's snapshots never hold one.

    Every snapshot of one set of definitions has the same keys, so with the caller's
    `layouts` the property names and their sorted order are worked out once per key
    tuple; a snapshot's values then go in with C-level `zip`/`compress` calls instead of
    a loop per flag.
    """
    values = flag_values_of(flags)
    if not values:
        return {}
    if type(flags) is InEvaluationOrder:
        return _flag_properties_slowly(values, sort=False)
    layout = None if layouts is None else layouts.get(tuple(values))
    if layout is not None:
        vals = tuple(values.values())
        # Only bools and non-empty strings: then "active" (not False) is plain truth.
        if _plain_flag_values(vals):
            names, sorted_names, in_order, _ = layout
            out = dict(zip(names, vals, strict=True))
            active = list(compress(sorted_names, in_order(vals)))
            if active:
                out["$active_feature_flags"] = active
            return out
    return _flag_properties_slowly(values)


def flag_fragment(flags: FlagsArg, layouts: FlagLayouts) -> bytes | None:
    """`flag_properties(flags)` as JSON without its braces (b"" when there are none), or
    None when only `flag_properties` gets them right (values other than bools and
    non-empty strings, keys that are not distinct str).

    For `batch.encode_capture`, which splices it in front of the other properties: the
    layout's struct (from the caller's `layouts`) turns a snapshot's values into the same
    JSON in one msgspec call, without a dict per event.
    """
    if type(flags) is InEvaluationOrder:
        return None
    columns = None if isinstance(flags, Mapping) else getattr(flags, "flag_columns", None)
    if columns is not None:
        keys, vals = columns()
        if not keys:
            return b""
    else:
        values = flag_values_of(flags)
        if not values:
            return b""
        keys, vals = tuple(values), tuple(values.values())
        if not _plain_flag_values(vals):
            return None
    layout = layouts.get(keys)
    if layout is None:
        return None
    _, sorted_names, in_order, shape = layout
    if shape is None:
        return None
    active = list(compress(sorted_names, in_order(vals)))
    # `flag_columns` promises bools and strings: each value is False, truthy (active), or
    # "", which is active too but falsy, so `compress` left it out. Counting finds one.
    if columns is not None and len(active) + vals.count(False) != len(vals):
        return None
    return FRAGMENT_ENCODER.encode(shape(*vals, active or None))[1:-1]


def _plain_flag_values(vals: tuple[Any, ...]) -> bool:
    """Only bools and non-empty strings. Every value's type is checked: a set of the
    values would hide `0` behind an equal `False`, and `0` is an active flag."""
    return _FLAG_VALUE_TYPES.issuperset(map(type, vals)) and "" not in vals


def _flag_properties_slowly(values: Mapping[str, Any], sort: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    active: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        name = text_id(key)
        out["$feature/" + name] = (
            value if type(value) is bool or type(value) is str else normalize(value)
        )
        if value is not False:
            active.append(name)
    if active:
        if sort:
            active.sort()
        out["$active_feature_flags"] = active
    return out


_FlagLayout = tuple[
    tuple[str, ...],
    tuple[str, ...],
    Callable[[tuple[Any, ...]], tuple[Any, ...]],
    type[msgspec.Struct] | None,
]
"""(`$feature/<key>` names in key order, the names sorted, values of a tuple in that order,
a struct whose JSON is the properties: one field per name, then `$active_feature_flags`;
None when some name cannot be a struct field name)."""

_FLAG_VALUE_TYPES = frozenset({bool, str})
_UNKNOWN: Any = object()


class FlagLayouts:
    """The layouts of the flag key tuples a client's events carried: a memo the shell
    creates and owns (one per client), passed to `flag_fragment` and `flag_properties`.

    It never changes an answer and is bounded; threads only add entries, clear it whole or
    swap `_last` whole, so it needs no lock.
    """

    __slots__ = ("_by_keys", "_last")

    LIMIT = 256

    def __init__(self) -> None:
        # Key tuple -> its layout, or None when only the per-flag loop gets it right.
        self._by_keys: dict[tuple[Any, ...], _FlagLayout | None] = {}
        # The last key tuple looked up, by identity: snapshots of one `FlagSet` share
        # their keys tuple, and comparing identities skips hashing 40-odd keys.
        self._last: tuple[tuple[Any, ...] | None, _FlagLayout | None] = (None, None)

    def get(self, keys: tuple[Any, ...]) -> _FlagLayout | None:
        """The layout of `keys`, worked out the first time they are seen."""
        last_keys, layout = self._last
        if keys is last_keys:
            return layout
        by_keys = self._by_keys
        layout = by_keys.get(keys, _UNKNOWN)
        if layout is _UNKNOWN:
            layout = _flag_layout(keys)
            if len(by_keys) >= self.LIMIT:
                by_keys.clear()
            by_keys[keys] = layout
        self._last = (keys, layout)
        return layout


def _first_only(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return values[:1]


def _flag_layout(keys: tuple[Any, ...]) -> _FlagLayout | None:
    layout: _FlagLayout | None = None
    # Only exact, distinct str keys: `1` and `True` are equal keys with different names,
    # and keys that clean to the same text would collide.
    if all(type(key) is str for key in keys):
        texts = [text_id(key) for key in keys]
        if len(set(texts)) == len(texts):
            order = sorted(range(len(texts)), key=texts.__getitem__)
            in_order: Callable[[tuple[Any, ...]], tuple[Any, ...]] = (
                operator.itemgetter(*order) if len(order) > 1 else _first_only
            )
            names = tuple("$feature/" + text for text in texts)
            fields = [f"f{i}" for i in range(len(names))]
            shape: type[msgspec.Struct] | None
            try:
                shape = msgspec.defstruct(
                    "FlagProperties",
                    [*((field, Any) for field in fields), ("active", Any, None)],
                    rename={**dict(zip(fields, names, strict=True)), "active": ACTIVE_FLAGS},
                    omit_defaults=True,
                    gc=False,
                )
            except (ValueError, TypeError):
                # A name msgspec will not take as a field name (`"`, `\`, control codes).
                shape = None
            layout = (names, tuple(texts[i] for i in order), in_order, shape)
    return layout
