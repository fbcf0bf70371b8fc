"""A container or object among a frame's local variables, as the masked JSON text sent for it.

Dicts, lists, tuples, named tuples, dataclasses and objects with a `__dict__` are walked:
text inside is masked as a variable's text is, a key that names a secret hides its value,
a key whose own text could hold a secret is replaced by a numbered placeholder, and a
named tuple or object becomes a mapping of its fields plus `__class__`. Anything else (a
set, bytes, an object without attributes) is its `repr`, redacted whole when it matches a
mask pattern, looks like a secret or is too long to scan. The shape is posthog-python's, so
the server shows the same value whichever SDK sent it.

The walk is bounded: twelve levels, fifty items per container (more is marked too long),
a hundred containers per variable, and a container met twice is sent once (a cycle, or a
value shared by two places, is marked the second time). The JSON text is produced only up
to the length that is sent. Nothing here raises: a value that cannot be walked is sent as
its masked `repr`, or its type's name.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import math
import re
import types
from collections.abc import Iterable
from typing import Any

from hogkit.core.code_variables import (
    REDACTED,
    TOO_LONG,
    VariablesConfig,
    looks_like_secret,
    masking_off,
    matches_mask,
    redact_text,
    scrub_embedded,
)
from hogkit.core.credentials import SCAN_LIMIT

__all__ = ["CIRCULAR", "render_value"]

CIRCULAR = "<circular ref>"
_MAX_DEPTH = 12
_MAX_ITEMS = 50
_MAX_CONTAINERS = 100
_KEY_PLACEHOLDER = "$$_posthog_redacted_key_{}_$$"
# A key matching a mask pattern is kept when it is a field name; other text that matches
# (`password=hunter2`, a repr) can hold the value itself.
_FIELD_NAME = re.compile(r"[\w.\-]+")
# Markers showing a key's parts could not all be vouched for.
_UNSAFE_KEY_MARKERS = (REDACTED, TOO_LONG, CIRCULAR)
# Class members that are behaviour, not data: an `authenticate()` method hides nothing.
_BEHAVIOUR = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
    classmethod,
    staticmethod,
)
# Built-in `repr`s at least this many characters per item, so a larger one is known to be
# too long to scan without rendering it.
_REPR_CHARS_PER_ITEM: dict[Any, int] = {
    set.__repr__: 3,
    frozenset.__repr__: 3,
    collections.deque.__repr__: 3,
    bytes.__repr__: 1,
    bytearray.__repr__: 1,
}

JSONValue = Any  # what json.dumps takes: dicts, lists, text, numbers, booleans, None


def render_value(value: object, config: VariablesConfig) -> str:
    """The text sent for `value` (not cut to the per-value length yet, but never much longer)."""
    limit = config.max_length + 1
    try:
        if masking_off(config):
            return _json_text(value, limit, config)
        masked = _Walk(config).value(value, 0, probing=False)
        return masked if isinstance(masked, str) else _json_text(masked, limit, config)
    except Exception:
        return masked_repr(value, config)


def _json_text(value: object, limit: int, config: VariablesConfig) -> str:
    """`json.dumps(value)`, produced only up to `limit` characters; what JSON cannot hold
    is its masked `repr`."""
    encoder = json.JSONEncoder(default=lambda o: masked_repr(o, config), allow_nan=False)
    text = ""
    for chunk in encoder.iterencode(value):
        text += chunk
        if len(text) >= limit:
            break
    return text


def _type_name(value: object) -> str:
    try:
        return str(type(value).__qualname__)
    except Exception:
        return "unknown"


def masked_repr(value: object, config: VariablesConfig) -> str:
    """`repr(value)`, redacted whole when too long to scan, matching a mask pattern or
    looking like a secret; `<type name>` when `repr` raises."""
    try:
        per_item = _REPR_CHARS_PER_ITEM.get(type(value).__repr__)
        if per_item is not None and len(value) * per_item > SCAN_LIMIT:  # type: ignore[arg-type]
            return REDACTED
        text = repr(value)
    except Exception:
        return f"<{_type_name(value)}>"
    if len(text) > SCAN_LIMIT:
        return REDACTED
    return redact_text(text, config)


def _object_fields(value: object) -> dict[str, Any] | None:
    """A dataclass's fields or an instance's `__dict__` (a copy), or None when the value
    has none to walk (a class, a built-in, a slotted object, an empty `__dict__`)."""
    if isinstance(value, type):
        return None
    try:
        if dataclasses.is_dataclass(value):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        attributes = getattr(value, "__dict__", None)
    except Exception:
        return None
    if not isinstance(attributes, dict) or not attributes:
        return None
    # A copy, so code run by the walk cannot change what is being walked; one too large
    # to walk is not copied.
    return dict(attributes) if len(attributes) <= _MAX_ITEMS else attributes


def _json_key(key: object) -> bool:
    """Can `key` be a JSON object key as it is (text, an integer, a finite number, None)?"""
    return (
        key is None
        or isinstance(key, (str, int))
        or (isinstance(key, float) and math.isfinite(key))
    )


def _placeholder(taken: dict[Any, Any]) -> str:
    return next(key for n in itertools.count() if (key := _KEY_PLACEHOLDER.format(n)) not in taken)


class _Walk:
    """One variable's walk: which containers it has visited, for cycles and the bound.

    A key is checked by walking it as a value ("probing"); the probe skips what anything
    visited, but records its own visits apart, so an object a key shares with a value is
    still walked in full where the value holds it.
    """

    def __init__(self, config: VariablesConfig) -> None:
        self.config = config
        self.visited: set[object] = set()

    def value(self, value: object, depth: int, probing: bool) -> JSONValue:
        if isinstance(value, str):
            return redact_text(value, self.config)
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if depth >= _MAX_DEPTH:
            return TOO_LONG
        mark = id(value)
        if mark in self.visited or (probing and ("probe", mark) in self.visited):
            return CIRCULAR
        self.visited.add(("probe", mark) if probing else mark)
        if len(self.visited) > _MAX_CONTAINERS:
            return TOO_LONG
        return self._container(value, depth, probing)

    def _container(self, value: Any, depth: int, probing: bool) -> JSONValue:
        if isinstance(value, dict):
            return self._sized_mapping(value.items(), len(value), depth, probing)
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return self._typed(
                value, zip(value._fields, value, strict=False), len(value._fields), depth, probing
            )
        if isinstance(value, (list, tuple)):
            if len(value) > _MAX_ITEMS:
                return TOO_LONG
            return [self.value(item, depth + 1, probing) for item in value]
        fields = _object_fields(value)
        if fields is not None:
            return self._typed(value, fields.items(), len(fields), depth, probing)
        hidden = self._hidden_members(value)
        if hidden:
            return {**hidden, "__class__": _type_name(value)}
        return masked_repr(value, self.config)

    def _typed(
        self, value: object, pairs: Iterable[tuple[Any, Any]], size: int, depth: int, probing: bool
    ) -> JSONValue:
        mapping = self._sized_mapping(pairs, size, depth, probing)
        if isinstance(mapping, dict):
            mapping["__class__"] = _type_name(value)
        return mapping

    def _sized_mapping(
        self, pairs: Iterable[tuple[Any, Any]], size: int, depth: int, probing: bool
    ) -> JSONValue:
        if size > _MAX_ITEMS:
            return TOO_LONG
        out: dict[Any, Any] = {}
        for key, item in pairs:
            try:
                text = key if isinstance(key, str) else str(key)
            except Exception:
                out[_placeholder(out)] = REDACTED  # no text shows what the key names
                continue
            if len(text) > SCAN_LIMIT:
                out[_placeholder(out)] = TOO_LONG
                continue
            names_secret = matches_mask(text, self.config)
            sent_key = self._key(key, text, names_secret, out, depth, probing)
            if sent_key in out:  # two keys alike once scrubbed
                sent_key = _placeholder(out)
            out[sent_key] = REDACTED if names_secret else self.value(item, depth + 1, probing)
        return out

    def _key(
        self,
        key: object,
        text: str,
        names_secret: bool,
        taken: dict[Any, Any],
        depth: int,
        probing: bool,
    ) -> Any:
        """The key as sent: itself, its scrubbed text, or a placeholder when its text
        could hold a secret."""
        as_is = _json_key(key)
        field_name = as_is and (not isinstance(key, str) or _FIELD_NAME.fullmatch(key) is not None)
        if (
            (names_secret and not field_name)
            or (self.config.detect_secrets and looks_like_secret(text))
            or (not as_is and self._unsafe_key(key, depth))
        ):
            return _placeholder(taken)
        sent = key if as_is else text
        return scrub_embedded(sent, self.config) if isinstance(sent, str) else sent

    def _unsafe_key(self, key: object, depth: int) -> bool:
        """Does walking `key` as a value hide any part of it (or fail)? Its repr's quotes
        and brackets keep the whole text from the secret check, so the parts are checked."""
        try:
            text = str(self.value(key, depth + 1, probing=True))
        except Exception:
            return True
        return any(marker in text for marker in _UNSAFE_KEY_MARKERS)

    def _hidden_members(self, value: object) -> dict[str, str]:
        """Data members declared on the value's class (class attributes, properties, slots)
        whose names match a mask pattern, redacted; their getters are never called."""
        if not self.config.mask:
            return {}
        try:
            classes = type(value).__mro__
        except Exception:
            return {}
        hidden: dict[str, str] = {}
        for klass in classes:
            for name, member in klass.__dict__.items():
                if (
                    isinstance(name, str)
                    and name not in hidden
                    and not isinstance(member, _BEHAVIOUR)
                    and matches_mask(name, self.config)
                ):
                    hidden[name] = REDACTED
        return hidden
