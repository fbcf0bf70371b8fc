"""What one evaluation call is given, read as posthog-python reads it.

Bucketing values become hash input (UTF-8) once per call, and the groups and device id a
call passes travel together in a `CallContext`: only group flags, conditions on a group's
properties and device bucketing read them, so most calls share `NO_CONTEXT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "NO_CONTEXT",
    "UNENCODABLE",
    "CallContext",
    "as_dict",
    "call_context",
    "encode",
    "groups_as_text",
]


class _Unencodable:
    """Stands in for a bucketing value that has no UTF-8 text: hashing it fails like
    posthog-python does, but only for the flags that actually hash it."""

    __slots__ = ()

    def __radd__(self, other: bytes) -> bytes:
        raise UnicodeError("the bucketing value cannot be encoded as UTF-8")


UNENCODABLE: Any = _Unencodable()


def encode(value: object) -> bytes:
    """A bucketing value as hash input: formatted like an f-string, then UTF-8."""
    if type(value) is str:
        try:
            return value.encode()
        except UnicodeError:
            return UNENCODABLE  # type: ignore[no-any-return]
    try:
        return f"{value}".encode()
    except Exception:
        # Lone surrogates, or an object whose formatting fails.
        return UNENCODABLE  # type: ignore[no-any-return]


class CallContext(NamedTuple):
    """What a call passes beyond the person: each group's key, properties and hash
    input, and the device id with its hash input."""

    groups: Mapping[Any, Any]
    group_props: Mapping[Any, Mapping[str, object]]
    group_bytes: Mapping[Any, bytes]
    device_id: object
    device_bytes: bytes


_NO_GROUPS: Mapping[Any, Any] = MappingProxyType({})
# The context of a call that passes no groups and no device id (most calls).
NO_CONTEXT = CallContext(_NO_GROUPS, _NO_GROUPS, _NO_GROUPS, None, b"")


def call_context(groups: object, group_properties: object, device_id: object) -> CallContext:
    """A call's groups and device id as posthog-python reads them: each group's
    properties get `$group_key`, and properties of types not in `groups` are dropped."""
    group_map = as_dict(groups)
    group_props: dict[Any, dict[str, object]] = {}
    if group_map:
        extra = as_dict(group_properties)
        for name, key in group_map.items():
            enriched: dict[str, object] = {"$group_key": key}
            enriched.update(as_dict(extra.get(name)))
            group_props[name] = enriched
    return CallContext(
        group_map,
        group_props,
        {name: encode(key) for name, key in group_map.items()},
        device_id,
        encode(device_id) if device_id else b"",
    )


def as_dict(value: object) -> dict[Any, Any]:
    """A private copy of a caller's mapping; anything that is not one counts as empty."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        return dict(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return {}


def groups_as_text(groups: Mapping[str, Any]) -> dict[str, Any]:
    """`groups` with every type and key as text (a None key stays None): the `$groups` an
    asyncio client's flag events carry, as posthog-python's AsyncClient reports them."""
    return {
        str(group_type): key if key is None or isinstance(key, str) else str(key)
        for group_type, key in groups.items()
    }
