"""`Lifecycle`: a Client's flush, shutdown and fork handling, as one collaborator.

The event pipeline owns the deadlines of flushing and of closing; this object adds what
the other collaborators need at those moments (their shutdown and fork hooks, run once
each) and the answers posthog-python applications rely on: `shutdown` is idempotent and
repeats its first result, and neither raises into the caller unless `debug=True`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from .pipeline import EventPipeline
from .problems import Problems, log

__all__ = ["DEFAULT_TIMEOUT", "Hook", "Lifecycle", "wait_seconds"]

Hook = Callable[[], None]

DEFAULT_TIMEOUT = 10.0
"""Seconds a flush or shutdown waits when the caller names no usable timeout."""


def wait_seconds(timeout: Any, name: str) -> float:
    """The caller's `timeout` for `name` as seconds to wait, from 0 to the most a thread
    can wait: a value that is no finite number (None, a list, nan, infinity) means
    `DEFAULT_TIMEOUT`, so a flush still waits a bounded time and a shutdown still shuts
    down, instead of failing over its argument."""
    try:
        seconds = float(timeout)
    except Exception:
        seconds = math.nan
    if math.isfinite(seconds):
        return min(max(0.0, seconds), threading.TIMEOUT_MAX)
    if timeout is not None:
        log.warning(
            "%s: the timeout is not a finite number (%s); waiting at most %ss",
            name,
            type(timeout).__name__,
            DEFAULT_TIMEOUT,
        )
    return DEFAULT_TIMEOUT


class Lifecycle:
    """Flush, shutdown and fork for one Client (see the module docstring)."""

    def __init__(
        self,
        events: EventPipeline,
        problems: Problems,
        on_fork: list[Hook],
        on_shutdown: list[Hook],
    ) -> None:
        self._events = events
        self._problems = problems
        self._on_fork = on_fork
        self._on_shutdown = on_shutdown
        self._lock = threading.Lock()
        self._shutdown_result: bool | None = None

    def flush(
        self, timeout: float = DEFAULT_TIMEOUT, *, timeout_seconds: float | None = None
    ) -> bool:
        """Send everything captured so far; True when all of it was delivered in time.

        Returns within `timeout` seconds whatever the server does (`timeout_seconds` is
        posthog-python's name for it). False also when events were dropped or failed since
        the previous flush, and when called from an `on_error` callback.
        """
        try:
            given = timeout if timeout_seconds is None else timeout_seconds
            return self._events.flush(wait_seconds(given, "flush"))
        except Exception as exc:
            self._problems.fail("flush", exc)
            return False

    def shutdown(self, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Flush within `timeout` seconds, stop the worker and refuse later captures.

        Returns whether everything captured was delivered. Idempotent; events still
        unsent at the deadline are reported to `on_error` as not delivered.
        """
        try:
            timeout = wait_seconds(timeout, "shutdown")
            deadline = time.monotonic() + timeout
            with self._lock:
                first = self._events.close()
            if not first and self._shutdown_result is not None:
                return self._shutdown_result
            if first:
                run_hooks(self._on_shutdown, "a shutdown hook raised")
            delivered = self._events.shutdown(max(0.0, deadline - time.monotonic()))
            self._shutdown_result = delivered
            return delivered
        except Exception as exc:
            self._problems.fail("shutdown", exc)
            return False

    def join(self) -> None:
        """posthog-python's name for `shutdown()`."""
        self.shutdown()

    def after_fork_in_child(self) -> None:
        """Fresh locks, queue and worker: the parent's threads do not exist in the child.

        Events the parent had queued stay the parent's to send; the child starts empty.
        """
        self._lock = threading.Lock()
        events = self._events
        if not events.closed:
            events.start(not events.disabled)
        run_hooks(self._on_fork, "a fork hook raised")


def run_hooks(hooks: list[Hook], message: str) -> None:
    """Run each hook; one that raises is logged and does not stop the others."""
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception(message)
