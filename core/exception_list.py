"""`$exception_list`: an exception object, its cause/context chain and its frames, as data.

PostHog's error tracking groups and renders exceptions from this list, so its shape follows
posthog-python 7.91.1: outermost exception first, then
each cause (`raise … from`) or context (raised while handling) in unwrap order, then the
members of exception groups depth-first; at most `MAX_ENTRIES` entries and
`MAX_GROUP_MEMBER_INSPECTIONS` group members, each exception once even in cycles.

The core reads no files: source context comes from a `source_lines(path, lineno)` function
the shell injects (it wraps `linecache`). Reading a traceback's frames is pure data access.

Deliberate differences from posthog-python, all on paths it gets wrong:
* a frame's `filename` is derived from its module name and path (`a/b/c.py` for `a.b.c`),
  where posthog-python looks the top-level package up in `sys.modules` and, for namespace
  packages (no `__init__.py`), falls back to the absolute path;
* a relative `co_filename` (e.g. `<string>`) is kept as is rather than joined to the
  process's working directory;
* source lines longer than 1 024 UTF-8 bytes are cut with `...` (posthog-python's own
  truncation object is turned into null by its `clean()`).
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Callable, Mapping, Sequence
from types import EllipsisType, FrameType, TracebackType
from typing import Any, NamedTuple

from .normalize import clean_text

__all__ = [
    "CONTEXT_LINES",
    "MAX_ENTRIES",
    "MAX_GROUP_MEMBER_INSPECTIONS",
    "MAX_LINE_BYTES",
    "SourceLines",
    "exception_list",
]

MAX_ENTRIES = 50
MAX_GROUP_MEMBER_INSPECTIONS = 1000
MAX_LINE_BYTES = 1024
CONTEXT_LINES = 5

SourceLines = Callable[[str, int], tuple[list[str], str | None, list[str]]]
"""`(path, 1-based lineno) -> (up to 5 lines before, the line or None, up to 5 after)`."""

_BASE_GROUP: type[BaseException] | None = getattr(builtins, "BaseExceptionGroup", None)
_EXTERNAL = re.compile(r"[\\/](?:dist|site)-packages[\\/]")
_MECHANISM_FIELDS = (("type", str), ("handled", bool), ("source", str), ("synthetic", bool))
_LINKAGE_KEYS = frozenset({"type", "handled", "source", "synthetic", "exception_id", "parent_id"})


class _Link(NamedTuple):
    """Where an entry hangs in the list: its id, its parent's, how it relates to the parent
    ("cause", "context" or "member"; None for the root) and whether its stack is synthetic."""

    exception_id: int
    parent_id: int
    relation: str | None
    synthetic: bool


class _Options:
    __slots__ = ("group_inspections", "in_app_prefixes", "project_root", "seen", "source_lines")

    def __init__(
        self,
        source_lines: SourceLines | None,
        in_app_prefixes: Sequence[str],
        project_root: str | None,
    ) -> None:
        self.source_lines = source_lines
        self.in_app_prefixes = tuple(in_app_prefixes)
        self.project_root = project_root
        self.seen: set[int] = set()
        self.group_inspections = 0


def exception_list(
    exc: BaseException,
    *,
    source_lines: SourceLines | None = None,
    in_app_prefixes: Sequence[str] = (),
    project_root: str | None = None,
    mechanism: Mapping[str, Any] | None = None,
    synthetic_traceback: TracebackType | None = None,
    traceback: TracebackType | EllipsisType | None = ...,
    exc_type: object = ...,
) -> list[dict[str, Any]]:
    """The `$exception_list` entries for `exc`.

    `mechanism` overrides the root entry's defaults (`type: "generic"`, `handled: true`),
    e.g. `{"type": "onuncaughtexception", "handled": False}` for autocapture.
    `synthetic_traceback` is the stack the shell built for an exception that was never
    raised (posthog-python synthesises one from the caller's stack); it is used only when
    `exc.__traceback__` is None and marks the root `mechanism.synthetic`. `traceback` is
    the root's stack when the caller names one (the third item of an exc_info tuple: the
    stack it was taken at, None for none), in place of `exc.__traceback__`; `exc_type`
    is the first item of such a tuple, whatever it holds, and names the root entry's
    type and module in place of `type(exc)`.
    """
    opts = _Options(source_lines, in_app_prefixes, project_root)
    tb = exc.__traceback__ if traceback is ... else traceback
    synthetic = False
    if traceback is ... and tb is None and synthetic_traceback is not None:
        tb, synthetic = synthetic_traceback, True
    _, entries = _walk(exc, tb, mechanism, _Link(0, 0, None, synthetic), opts, exc_type)
    return entries


def _walk(
    exc: BaseException,
    tb: TracebackType | None,
    mechanism: Mapping[str, Any] | None,
    link: _Link,
    opts: _Options,
    cls: object = ...,
) -> tuple[int, list[dict[str, Any]]]:
    """Entries for `exc` (named by `cls`, or by its own class when `...`) and everything
    under it; returns the next free exception id too."""
    if id(exc) in opts.seen or link.exception_id >= MAX_ENTRIES:
        return link.exception_id, []
    opts.seen.add(id(exc))
    entries = [_entry(exc, tb, mechanism, link, opts, type(exc) if cls is ... else cls)]
    parent_id = link.exception_id
    exception_id = parent_id + 1

    if getattr(exc, "__suppress_context__", False):
        nested, relation = exc.__cause__, "cause"
    else:
        nested, relation = exc.__context__, "context"
    if nested is not None and exception_id < MAX_ENTRIES:
        below = _Link(exception_id, parent_id, relation, False)
        exception_id, more = _walk(nested, nested.__traceback__, None, below, opts)
        entries.extend(more)

    if _BASE_GROUP is not None and isinstance(exc, _BASE_GROUP):
        members: Sequence[BaseException] = getattr(exc, "exceptions", ())
        for member in members:
            if (
                exception_id >= MAX_ENTRIES
                or opts.group_inspections >= MAX_GROUP_MEMBER_INSPECTIONS
            ):
                break
            opts.group_inspections += 1
            below = _Link(exception_id, parent_id, "member", False)
            exception_id, more = _walk(member, member.__traceback__, None, below, opts)
            entries.extend(more)
    return exception_id, entries


def _entry(
    exc: BaseException,
    tb: TracebackType | None,
    mechanism: Mapping[str, Any] | None,
    link: _Link,
    opts: _Options,
    cls: object,
) -> dict[str, Any]:
    mech = _mechanism(exc, mechanism, link)
    module = getattr(cls, "__module__", None)
    entry: dict[str, Any] = {
        "mechanism": mech,
        "module": None if module in (None, "builtins", "__builtins__") else module,
        "type": getattr(cls, "__qualname__", None) or getattr(cls, "__name__", None),
        "value": _message(exc),
    }
    frames = _frames(tb, opts)
    if frames:
        entry["stacktrace"] = {"frames": frames, "type": "raw"}
    return entry


def _mechanism(exc: BaseException, given: Mapping[str, Any] | None, link: _Link) -> dict[str, Any]:
    exception_id, parent_id, source, synthetic = link
    mech: dict[str, Any] = {}
    if isinstance(given, Mapping):
        mech = {k: v for k, v in given.items() if k not in _LINKAGE_KEYS}
        for name, kind in _MECHANISM_FIELDS:
            value = given.get(name)
            if isinstance(value, kind) and (kind is bool or value):
                mech[name] = value
    mech["exception_id"] = exception_id
    errno = _safe_getattr(exc, "errno")
    if errno is not None:
        meta = dict(mech["meta"]) if isinstance(mech.get("meta"), Mapping) else {}
        number = dict(meta["errno"]) if isinstance(meta.get("errno"), Mapping) else {}
        number.setdefault("number", errno)
        meta["errno"] = number
        mech["meta"] = meta
    if source:
        mech["source"] = source
    if exception_id == 0:
        mech.setdefault("type", "generic")
        mech.setdefault("handled", True)
        mech.pop("source", None)
    else:
        mech["parent_id"] = parent_id
        mech["type"] = "chained"
        mech.pop("handled", None)
    mech.setdefault("synthetic", synthetic)
    if _BASE_GROUP is not None and isinstance(exc, _BASE_GROUP):
        mech["is_exception_group"] = True
    return mech


def _safe_getattr(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _message(exc: BaseException) -> str:
    """`exc.message` or `exc.detail` when truthy (Django/DRF style), else `str(exc)`."""
    value: object = _safe_getattr(exc, "message") or _safe_getattr(exc, "detail") or exc
    try:
        return clean_text(str(value))
    except Exception:
        try:
            return clean_text(repr(value))
        except Exception:
            return "<broken repr>"


def _hidden(frame: FrameType) -> bool:
    """Frames that ask not to be shown (`__traceback_hide__`) and Sentry's own frames."""
    try:
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and name.startswith("sentry_sdk."):
            return True
    except Exception:
        pass
    for flag in ("__traceback_hide__", "__tracebackhide__"):
        try:
            if frame.f_locals[flag]:
                return True
        except Exception:
            pass
    return False


def _frames(tb: TracebackType | None, opts: _Options) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while tb is not None:
        if not _hidden(tb.tb_frame):
            frames.append(_frame(tb.tb_frame, tb.tb_lineno, opts))
        tb = tb.tb_next
    return frames


def _frame(frame: FrameType, lineno: int | None, opts: _Options) -> dict[str, Any]:
    code = frame.f_code
    raw_path: str | None = code.co_filename or None
    try:
        module = frame.f_globals.get("__name__")
    except Exception:
        module = None
    if not isinstance(module, str):
        module = None
    abs_path = os.path.normpath(raw_path) if raw_path and os.path.isabs(raw_path) else raw_path
    pre: list[str] = []
    line: str | None = None
    post: list[str] = []
    if opts.source_lines is not None and raw_path and lineno:
        try:
            got_pre, got_line, got_post = opts.source_lines(raw_path, lineno)
            pre = [_line(x) for x in list(got_pre)[-CONTEXT_LINES:]]
            line = _line(got_line) if got_line is not None else None
            post = [_line(x) for x in list(got_post)[:CONTEXT_LINES]]
        except Exception:
            pre, line, post = [], None, []
    out: dict[str, Any] = {
        "platform": "python",
        "filename": _filename(module, abs_path) or None,
        "abs_path": abs_path,
        "function": code.co_name or "<unknown>",
        "module": module,
        "lineno": lineno,
        "pre_context": pre,
        "context_line": line,
        "post_context": post,
    }
    in_app = _in_app(module, abs_path, opts)
    if in_app is not None:
        out["in_app"] = in_app
    return out


def _line(text: object) -> str:
    value = clean_text(text if isinstance(text, str) else str(text)).strip("\r\n")
    raw = value.encode("utf-8")
    if len(raw) <= MAX_LINE_BYTES:
        return value
    return raw[: MAX_LINE_BYTES - 3].decode("utf-8", "ignore") + "..."


def _filename(module: str | None, abs_path: str | None) -> str | None:
    """The path relative to the directory holding the top-level package (basename for a
    top-level module), so frames group the same across deploy directories.

    The directories must spell the module's packages (`a/b/c.py` for `a.b.c`); when they
    do not (a package mapped from another directory), the absolute path is kept.
    """
    if not abs_path or not module:
        return abs_path
    path = abs_path[:-1] if abs_path.endswith(".pyc") else abs_path
    parts = re.split(r"[\\/]", path)
    names = module.split(".")
    if len(names) == 1:
        return parts[-1]
    packages = names if parts[-1].startswith("__init__.") else names[:-1]
    depth = len(packages) + 1
    if len(parts) < depth or parts[-depth:-1] != packages:
        return abs_path
    return os.sep.join(parts[-depth:])


def _in_app(module: str | None, abs_path: str | None, opts: _Options) -> bool | None:
    if module is not None:
        for prefix in opts.in_app_prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return True
    if abs_path is None:
        return None
    if _EXTERNAL.search(abs_path) is not None:
        return False
    if opts.project_root is not None and abs_path.startswith(opts.project_root):
        return True
    return None
