"""Reading in-app frames' local variables for `$exception` events
(`capture_exception_code_variables`).

The shell's part is what touches live objects: walking the traceback, copying `f_locals`
and rendering containers and objects (`variable_values`). What may be sent is decided in
`hogkit.core.code_variables`.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import msgspec
from hogkit.core.code_variables import VariablesConfig, encode_variables
from hogkit.core.event import Event

from .variable_values import render_value

__all__ = ["attach_code_variables", "with_code_variables"]


def _tracebacks(tb: types.TracebackType | None) -> Iterator[types.TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def attach_code_variables(
    exception_list: list[dict[str, Any]],
    traceback: types.TracebackType | None,
    config: VariablesConfig,
) -> list[dict[str, Any]]:
    """A copy of `exception_list` whose root entry's in-app frames carry `code_variables`
    read from `traceback`, the one the root entry's frames were built from.

    Frames are matched to the traceback by line and function (the list may leave out
    hidden frames). Never raises: a frame whose locals cannot be read gets none.
    """
    if not exception_list or traceback is None:
        return exception_list
    root = dict(exception_list[0])
    stack = root.get("stacktrace")
    if not isinstance(stack, dict) or not isinstance(stack.get("frames"), list):
        return exception_list
    frames = [dict(frame) for frame in stack["frames"]]
    budget = config.total_budget
    pending = iter(frames)
    current = next(pending, None)
    for tb in _tracebacks(traceback):
        # A spent budget does not end the walk: a variable that costs nothing (empty
        # text) still fits in a frame further down.
        if current is None:
            break
        code = tb.tb_frame.f_code
        if current.get("lineno") != tb.tb_lineno or current.get("function") != code.co_name:
            continue
        if current.get("in_app"):
            try:
                local_items = [(str(k), v) for k, v in tb.tb_frame.f_locals.items()]
            except Exception:
                local_items = []
            variables, budget = encode_variables(local_items, config, budget, render_value)
            if variables:
                current["code_variables"] = variables
        current = next(pending, None)
    root["stacktrace"] = {**stack, "frames": frames}
    return [root, *exception_list[1:]]


def with_code_variables(
    ev: Event, traceback: types.TracebackType | None, config: VariablesConfig
) -> Event:
    """An `$exception` event whose `$exception_list` carries the in-app frames' variables,
    read from `traceback` (see `attach_code_variables`)."""
    listed = ev.properties.get("$exception_list") if ev.properties else None
    if not isinstance(listed, list):
        return ev
    props = {**ev.properties, "$exception_list": attach_code_variables(listed, traceback, config)}
    return msgspec.structs.replace(ev, properties=props)
