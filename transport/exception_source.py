"""What `capture_exception` needs from the running interpreter: the exception, its
source lines, and a stack for an exception that was never raised."""

from __future__ import annotations

import linecache
import sys
import types
from typing import Any

from hogkit.core.exception_list import CONTEXT_LINES

__all__ = ["ExceptionArg", "exception_of", "source_lines", "synthetic_traceback"]

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
