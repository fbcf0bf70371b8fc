"""The core keeps no state of its own: no module of `hogkit.core` holds a mutable value at
module level (a dict, list, set, cache or any object whose fields can change).

Tables the core reads are immutable: tuples, frozensets, `MappingProxyType`s of immutable
values, frozen structs, compiled regexes, sentinels with no fields. State that speeds work
up (a memo such as `TimestampMemo`) is an object the shell creates, owns and passes in.
"""

from __future__ import annotations
import __future__

import ast
import collections.abc
import datetime as dt
import enum
import importlib
import inspect
import operator
import pkgutil
import re
import types
import typing
from typing import Any

import hogkit.core
import msgspec
import pytest
from hogkit.core.timestamps import TimestampMemo

# Values that can never change, by type (besides the containers checked item by item).
_IMMUTABLE_TYPES = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,  # `str.startswith` and the like
    types.UnionType,
    types.GenericAlias,
    typing.TypeVar,
    re.Pattern,
    dt.timezone,
    dt.timedelta,
    enum.Enum,
    operator.itemgetter,
    msgspec.Raw,
    msgspec.json.Encoder,  # configuration fixed at construction
    msgspec.json.Decoder,
    __future__._Feature,
)


def _has_no_fields(value: object) -> bool:
    """An instance with nowhere to keep state: no `__dict__`, and no slots in its classes."""
    if hasattr(value, "__dict__"):
        return False
    return all(cls.__dict__.get("__slots__") == () for cls in type(value).__mro__[:-1])


def _frozen_struct(value: object) -> bool:
    config = getattr(type(value), "__struct_config__", None)
    return config is not None and bool(config.frozen)


def is_immutable(value: Any, depth: int = 0) -> bool:
    """Whether `value`, and everything it holds, can never change."""
    if depth > 20:
        return False
    if isinstance(value, _IMMUTABLE_TYPES):
        return True
    if type(value).__module__ in ("typing", "collections.abc") and not isinstance(
        value, collections.abc.MutableMapping | collections.abc.MutableSequence
    ):
        return True  # annotations such as `Callable[[...], ...]` and special forms
    if isinstance(value, tuple | frozenset):  # NamedTuples included
        return all(is_immutable(item, depth + 1) for item in value)
    if isinstance(value, types.MappingProxyType):
        return all(
            is_immutable(key, depth + 1) and is_immutable(item, depth + 1)
            for key, item in value.items()
        )
    if type(value) is object or _has_no_fields(value):
        return True  # a sentinel
    return _frozen_struct(value)


def _core_modules() -> list[types.ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(hogkit.core.__path__, "hogkit.core.")]
    return [hogkit.core, *(importlib.import_module(name) for name in names)]


def _mutable_globals() -> list[tuple[str, str, str]]:
    found = []
    for module in _core_modules():
        for name, value in vars(module).items():
            if name.startswith("__") and name.endswith("__"):
                continue  # the interpreter's own (`__all__`, `__spec__`, ...)
            if not is_immutable(value):
                found.append((module.__name__, name, type(value).__name__))
    return found


def test_no_core_module_keeps_mutable_state() -> None:
    assert _mutable_globals() == []


def _rebound_globals() -> list[tuple[str, str]]:
    """Names a core function rebinds (`global`): module-level state even when every value
    bound is immutable (a memo swapped for a new tuple on each call, say)."""
    found = []
    for module in _core_modules():
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Global | ast.Nonlocal):
                found.extend((module.__name__, name) for name in node.names)
    return found


def test_no_core_function_rebinds_a_module_global() -> None:
    assert _rebound_globals() == []


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        set(),
        bytearray(b"x"),
        (1, []),
        types.MappingProxyType({"a": []}),
        TimestampMemo(),
        type("Box", (), {})(),
        msgspec.defstruct("Open", [("a", int)])(1),
    ],
    ids=repr,
)
def test_the_check_catches_mutable_values(value: object) -> None:
    assert not is_immutable(value)


@pytest.mark.parametrize(
    "value",
    [
        (1, "a", None, (2.5, b"x")),
        frozenset({1, 2}),
        types.MappingProxyType({"a": (1, 2)}),
        re.compile("x"),
        dt.timezone.utc,
        object(),
        msgspec.defstruct("Shut", [("a", int)], frozen=True)(1),
        len,
    ],
    ids=repr,
)
def test_the_check_lets_immutable_values_through(value: object) -> None:
    assert is_immutable(value)
