"""The `/flags` request: one exchange within the flags timeout, and what its answer means.

The flag service decides whether to ask (see `hogkit.core.flag_requests`); this performs the
request, retries as `hogkit.core.retry.flags_retry_delay` says, and turns every outcome into
a response or an error code. Problems are logged once per kind until a request succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from hogkit.core.flag_requests import QUOTA_LIMITED, failure_code
from hogkit.core.remote import FlagsResponse, FlagsResponseError, RemoteFlag, parse_flags_response
from hogkit.core.retry import flags_retry_delay

from .fallback_cache import FallbackCache
from .flags_transport import FlagsTransport
from .http import NetworkError

__all__ = ["OnceLog", "RemoteFlags", "safe_text"]

log = logging.getLogger("hogkit.transport.flags")


class OnceLog:
    """Logs a message once per kind, until the kind is forgotten (the problem went away)."""

    def __init__(self) -> None:
        self._logged: set[str] = set()
        self._lock = threading.Lock()

    def once(self, kind: str, level: int, message: str) -> None:
        with self._lock:
            if kind in self._logged:
                return
            self._logged.add(kind)
        log.log(level, "%s", message)

    def forget(self, kind: str) -> None:
        self._logged.discard(kind)


class RemoteFlags:
    """`/flags` requests over a `FlagsTransport`; see the module docstring."""

    def __init__(
        self,
        transport: FlagsTransport,
        request_timeout: float,
        notes: OnceLog,
        fallback: FallbackCache | None = None,
    ) -> None:
        """`fallback` remembers good answers for when a later request fails."""
        self._transport = transport
        self.request_timeout = request_timeout
        self._notes = notes
        self._fallback = fallback

    def remember(self, distinct_id: str, response: FlagsResponse) -> None:
        """Keep a good answer's flags in the fallback store (when one is configured)."""
        if self._fallback is not None:
            self._fallback.remember(distinct_id, response.flags)

    def recall(self, distinct_id: str, keys: Sequence[str] | None) -> dict[str, RemoteFlag]:
        """The remembered answers for `keys` (None: all of them), empty without a store."""
        if self._fallback is None:
            return {}
        return self._fallback.recall(distinct_id, keys)

    def request(self, encoded: bytes) -> tuple[FlagsResponse | None, str | None]:
        """One `/flags` exchange within `request_timeout` in total, retried as
        `flags_retry_delay` decides. (response, error code)."""
        deadline = time.monotonic() + self.request_timeout
        retried = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, self._failed(failure_code("timeout"), "timed out")
            log.debug("POST /flags (%d bytes, %.2fs left)", len(encoded), remaining)
            try:
                reply = self._transport.post_flags(encoded, timeout=remaining)
            except NetworkError as exc:
                kind, status, detail = exc.kind, None, str(exc)
            except Exception as exc:
                return None, self._failed(failure_code("unreadable"), safe_text(exc))
            else:
                if reply.status == 200:
                    return self._answered(reply.body)
                kind, status, detail = "status", reply.status, f"HTTP {reply.status}"
            log.debug("/flags request failed: %s", detail)
            wait = flags_retry_delay(
                kind, status, retried=retried, remaining=deadline - time.monotonic()
            )
            if wait is None:
                return None, self._failed(failure_code(kind, status), detail)
            retried = True
            if wait:
                time.sleep(wait)

    def _answered(self, body: bytes) -> tuple[FlagsResponse | None, str | None]:
        """A 200 answer's flags, or the error code that replaces them."""
        try:
            response = parse_flags_response(body)
        except FlagsResponseError as exc:
            return None, self._failed(failure_code("unreadable"), str(exc))
        if response.quota_limited:
            self._notes.once(
                "quota",
                logging.WARNING,
                "feature flags quota limited: remote evaluation returned no flags "
                "(see https://posthog.com/docs/billing/limits-alerts)",
            )
            return None, QUOTA_LIMITED
        if response.untyped:
            self._notes.once(
                "untyped",
                logging.INFO,
                "the /flags response has no typed values; the server may not support /flags?v=4",
            )
        self._notes.forget("remote")
        log.debug("/flags answered with %d flags", len(response.flags))
        return response, None

    def _failed(self, code: str, detail: str) -> str:
        self._notes.once(
            "remote",
            logging.WARNING,
            f"remote flag evaluation failed ({detail}); using local values only",
        )
        return code


def safe_text(exc: BaseException) -> str:
    """An exception's type and message, for logs (never a key: callers pass our own errors)."""
    return f"{type(exc).__name__}: {exc}"
