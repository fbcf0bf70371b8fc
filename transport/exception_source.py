"""What `capture_exception` needs from the running interpreter: the exception, its
source lines, and a stack for an exception that was never raised."""

from __future__ import annotations

import linecache
import sys
import types
from types import EllipsisType
from typing import Any

from hogkit.core.exception_list import CONTEXT_LINES

__all__ = [
    "ExceptionArg",
    "exception_of",
    "named_traceback",
    "named_type",
    "source_lines",
    "synthetic_traceback",
]

ExceptionArg = BaseException | tuple[Any, Any, Any]


def exception_of(exception: ExceptionArg | None) -> BaseException | None:
    """The exception a `capture_exception` argument names (None: the one being handled)."""
    if exception is None:
        return sys.exc_info()[1]
    if isinstance(exception, BaseException):
        return exception
    if isinstance(exception, tuple) and len(exception) == 3:
        value = exception[1]
        if isinstance(value, BaseException):
            return value
    raise TypeError(
        f"capture_exception needs an exception or an exc_info tuple, not {type(exception).__name__}"
    )


def named_traceback(exception: ExceptionArg | None) -> types.TracebackType | EllipsisType | None:
    """The stack an exc_info tuple names (None when it names none), or `...` when the
    argument names no stack and the exception's own is used.

    A tuple taken by `sys.exc_info()` in an inner frame keeps the stack as it was then,
    even if the exception travelled on (and grew its `__traceback__`) before the capture.
    """
    if isinstance(exception, tuple):
        tb = exception[2]
        return tb if isinstance(tb, types.TracebackType) else None
    return ...


def named_type(exception: ExceptionArg | None) -> object:
    """The class an exc_info tuple names (its first item, whatever it holds: posthog-python
    names the exception by it), or `...` when the argument names none."""
    return exception[0] if isinstance(exception, tuple) else ...


def source_lines(path: str, lineno: int) -> tuple[list[str], str | None, list[str]]:
    """Up to `CONTEXT_LINES` lines around `lineno` of `path`, read through `linecache`."""
    lines = linecache.getlines(path)
    if not lines or not 1 <= lineno <= len(lines):
        return [], None, []
    index = lineno - 1
    before = lines[max(0, index - CONTEXT_LINES) : index]
    after = lines[index + 1 : index + 1 + CONTEXT_LINES]
    return (
        [line.rstrip("\r\n") for line in before],
        lines[index].rstrip("\r\n"),
        [line.rstrip("\r\n") for line in after],
    )


def synthetic_traceback() -> types.TracebackType | None:
    """The caller's stack as a traceback, for an exception that was never raised.

    hogkit's own frames are left out, so the innermost frame is the caller's.
    """
    frames: list[types.FrameType] = []
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if not (isinstance(module, str) and module.startswith("hogkit.")):
            frames.append(frame)
        frame = frame.f_back
    tb: types.TracebackType | None = None
    for frame in frames:
        tb = types.TracebackType(tb, frame, frame.f_lasti, frame.f_lineno)
    return tb
