"""Uncaught-exception hooks: `sys.excepthook`, `threading.excepthook` and asyncio's loops.

Each hook captures the exception as `$exception` (with `$exception_source` naming the
hook), whatever its type: a `KeyboardInterrupt` that ends the program, or a `SystemExit`
that ends a thread, is reported as posthog-python reports it. It then hands the exception
to the hook that was there before, so tracebacks still print and other tools still see
them. `close()` puts back the previous hooks if ours are still the
installed ones (another tool may have chained on top; then ours pass straight through).
A token bucket per exception type keeps a crash loop from flooding the queue.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any, Protocol

from hogkit.core.context import Bucket, take_token

__all__ = [
    "ASYNCIO_SOURCE",
    "DEFAULT_BUCKET_SIZE",
    "DEFAULT_REFILL_INTERVAL_SECONDS",
    "DEFAULT_REFILL_RATE",
    "MAX_BUCKET_SIZE",
    "MAX_REFILL_INTERVAL",
    "SYS_SOURCE",
    "THREADING_SOURCE",
    "ExceptionAutocapture",
    "ExceptionCapture",
    "RateLimiter",
    "install_hooks",
]

log = logging.getLogger("hogkit")

DEFAULT_BUCKET_SIZE = 50
DEFAULT_REFILL_RATE = 10
DEFAULT_REFILL_INTERVAL_SECONDS = 10.0

SYS_SOURCE = "python.sys_excepthook"
THREADING_SOURCE = "python.threading_excepthook"
ASYNCIO_SOURCE = "python.asyncio_exception_handler"

_UNHANDLED = {"type": "onuncaughtexception", "handled": False}


class HookedClient(Protocol):
    """What the hooks need from a client."""

    def capture_exception(
        self,
        exception: Any = None,
        *,
        level: str = "error",
        source: str | None = None,
        mechanism: Any = None,
    ) -> str | None: ...


MAX_BUCKET_SIZE = 100
MAX_REFILL_INTERVAL = 86400.0


def _bounded(name: str, value: float, low: float, high: float) -> float:
    """`value` kept within `[low, high]` (a warning names what was changed): a bucket
    larger than 100 or refilled more than once a day would not limit anything, and a
    negative size or rate would drain the bucket instead of filling it."""
    if low <= value <= high:
        return value
    kept = low if value < low else high
    log.warning("exception autocapture %s %r is out of range; using %r", name, value, kept)
    return kept


class RateLimiter:
    """Token buckets per exception type, and a count of what they dropped."""

    def __init__(
        self,
        size: int = DEFAULT_BUCKET_SIZE,
        refill_rate: float = DEFAULT_REFILL_RATE,
        refill_interval: float = DEFAULT_REFILL_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = _bounded("bucket size", size, 0, MAX_BUCKET_SIZE)
        self._rate = _bounded("refill rate", refill_rate, 0, self._size)
        self._interval = _bounded("refill interval", refill_interval, 0, MAX_REFILL_INTERVAL)
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._dropped: dict[str, int] = {}
        self._lock = threading.Lock()

    def allow(self, kind: str) -> bool:
        """Whether an exception of this type may be captured now."""
        with self._lock:
            allowed, bucket = take_token(
                self._buckets.get(kind),
                self._clock(),
                size=self._size,
                refill_rate=self._rate,
                refill_interval=self._interval,
            )
            self._buckets[kind] = bucket
            if not allowed:
                self._dropped[kind] = self._dropped.get(kind, 0) + 1
                return False
            dropped = self._dropped.pop(kind, 0)
        if dropped:
            self._log_dropped(kind, dropped)
        return True

    def report(self) -> None:
        """Log what was dropped since the last report, once per exception type."""
        with self._lock:
            dropped, self._dropped = self._dropped, {}
        for kind, count in dropped.items():
            self._log_dropped(kind, count)

    @staticmethod
    def _log_dropped(kind: str, count: int) -> None:
        log.warning("rate limit dropped %d autocaptured %s exception(s)", count, kind)


class ExceptionAutocapture:
    """The installed hooks of one client; `close()` removes them."""

    def __init__(self, client: HookedClient, limiter: RateLimiter | None = None) -> None:
        self._client = client
        self._limiter = limiter
        self._closed = False
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook
        self._previous_loop_handler = asyncio.BaseEventLoop.call_exception_handler
        sys.excepthook = self._sys_hook
        threading.excepthook = self._threading_hook
        previous_loop = self._previous_loop_handler
        capture = self._capture

        def call_exception_handler(loop: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            if isinstance(exc, Exception):
                capture(exc, "error", ASYNCIO_SOURCE)
            previous_loop(loop, context)

        self._loop_handler = call_exception_handler
        asyncio.BaseEventLoop.call_exception_handler = call_exception_handler  # type: ignore[method-assign, assignment]

    def close(self) -> None:
        """Stop capturing; restore the previous hooks where ours are still installed."""
        if self._closed:
            return
        self._closed = True
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self._threading_hook:
            threading.excepthook = self._previous_threading
        if asyncio.BaseEventLoop.call_exception_handler is self._loop_handler:
            asyncio.BaseEventLoop.call_exception_handler = self._previous_loop_handler  # type: ignore[method-assign]
        if self._limiter is not None:
            self._limiter.report()

    def _sys_hook(
        self,
        kind: type[BaseException],
        value: BaseException,
        tb: types.TracebackType | None,
    ) -> None:
        if isinstance(value, BaseException):
            self._capture(value, "fatal", SYS_SOURCE)
        self._previous_sys(kind, value, tb)

    def _threading_hook(self, args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, BaseException):
            self._capture(args.exc_value, "error", THREADING_SOURCE)
        self._previous_threading(args)

    def _capture(self, exc: BaseException, level: str, source: str) -> None:
        if self._closed:
            return
        try:
            if self._limiter is not None and not self._limiter.allow(type(exc).__name__):
                return
            self._client.capture_exception(exc, level=level, source=source, mechanism=_UNHANDLED)
        except Exception:
            log.exception("capturing an uncaught exception failed")


class ExceptionCapture(ExceptionAutocapture):
    """The same hooks, built from posthog-python's constructor arguments.

    A client installs its hooks itself (`enable_exception_autocapture=True`); this class is
    for code moved from posthog-python that installs them by hand, such as
    `ExceptionCapture(client, rate_limiting_enabled=True)`. Only the constructor differs.
    """

    def __init__(
        self,
        client: HookedClient,
        rate_limiting_enabled: bool = False,
        bucket_size: int = DEFAULT_BUCKET_SIZE,
        refill_rate: float = DEFAULT_REFILL_RATE,
        refill_interval_seconds: float = DEFAULT_REFILL_INTERVAL_SECONDS,
    ) -> None:
        limiter = None
        if rate_limiting_enabled:
            limiter = RateLimiter(bucket_size, refill_rate, refill_interval_seconds)
        super().__init__(client, limiter)


def install_hooks(
    client: HookedClient,
    *,
    enabled: bool,
    rate_limited: bool,
    bucket_size: int = DEFAULT_BUCKET_SIZE,
    refill_rate: float = DEFAULT_REFILL_RATE,
    refill_interval: float = DEFAULT_REFILL_INTERVAL_SECONDS,
) -> ExceptionAutocapture | None:
    """The hooks for a client's `enable_exception_autocapture` options (None when off)."""
    if not enabled:
        return None
    limiter = RateLimiter(bucket_size, refill_rate, refill_interval) if rate_limited else None
    return ExceptionAutocapture(client, limiter)
