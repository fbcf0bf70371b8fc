"""The `/flags` request: one exchange within the flags timeout, and what its answer means.

The flag service decides whether to ask (see `hogkit.core.flag_requests`); this performs the
request, retries as `hogkit.core.retry.flags_retry_delay` says, and turns every outcome into
a response or an error code. `judge` holds the per-attempt decisions, so the async client's
request (`async_client.py`) loops over an awaited transport with the very same verdicts.
Problems are logged once per kind until a request succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
from hogkit.core.flag_requests import QUOTA_LIMITED, failure_code
from hogkit.core.remote import FlagsResponse, FlagsResponseError, RemoteFlag, parse_flags_response
from hogkit.core.retry import flags_retry_delay
from hogkit.core.snapshot import Snapshot

from .evaluations import FlagMeta
from .fallback_cache import FallbackCache
from .flags_transport import FlagsTransport
from .http import NetworkError, Response

__all__ = ["FlagsRequest", "OnceLog", "Outcome", "RemoteFlags", "safe_text"]

log = logging.getLogger("hogkit.transport.flags")

_DECODER: Final = msgspec.json.Decoder()

Outcome = tuple[FlagsResponse | None, str | None]
"""A `/flags` exchange's result: the parsed answer, or the error code every read reports."""


class FlagsRequest:
    """A `/flags` request that local evaluation left to perform, with what its answer
    merges into (see `FlagService.plan` and `FlagService.complete`)."""

    __slots__ = (
        "body",
        "disable_geoip",
        "distinct_id",
        "flag_keys",
        "groups",
        "local",
        "meta",
        "minimal",
        "unresolved",
    )

    def __init__(
        self,
        body: bytes,
        distinct_id: str,
        local: Snapshot | None,
        unresolved: Mapping[str, Any],
        groups: dict[str, Any],
        disable_geoip: bool | None,
        flag_keys: Sequence[str] | None,
        minimal: bool,
        meta: dict[str, FlagMeta],
    ) -> None:
        self.body = body
        self.distinct_id = distinct_id
        self.local = local
        self.unresolved = unresolved
        self.groups = groups
        self.disable_geoip = disable_geoip
        self.flag_keys = flag_keys
        self.minimal = minimal
        self.meta = meta


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
        max_retries: int = 1,
        fallback: FallbackCache | None = None,
    ) -> None:
        """`max_retries` bounds the retries of one request (0: none); `fallback`
        remembers good answers for when a later request fails."""
        self._transport = transport
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self._notes = notes
        self._fallback = fallback

    @property
    def has_fallback(self) -> bool:
        """Whether `remember`/`recall` reach a store (which may be across the network)."""
        return self._fallback is not None

    def remember(self, distinct_id: str, response: FlagsResponse) -> None:
        """Keep a good answer's flags in the fallback store (when one is configured)."""
        if self._fallback is not None:
            self._fallback.remember(distinct_id, response.flags)

    def recall(self, distinct_id: str, keys: Sequence[str] | None) -> dict[str, RemoteFlag]:
        """The remembered answers for `keys` (None: all of them), empty without a store."""
        if self._fallback is None:
            return {}
        return self._fallback.recall(distinct_id, keys)

    def request(self, encoded: bytes) -> Outcome:
        """One `/flags` exchange within `request_timeout` in total, retried as
        `flags_retry_delay` decides, at most `max_retries` times. (response, error code)."""
        _, response, error = self.exchange(encoded)
        return response, error

    def exchange(
        self, encoded: bytes
    ) -> tuple[dict[str, Any] | None, FlagsResponse | None, str | None]:
        """`request`, plus the answer as the server wrote it (decoded JSON), for readers
        that report records as sent."""
        deadline = time.monotonic() + self.request_timeout
        retries = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return (None, *self.timed_out())
            log.debug("POST /flags (%d bytes, %.2fs left)", len(encoded), remaining)
            try:
                reply: Response | Exception = self._transport.post_flags(encoded, timeout=remaining)
            except Exception as exc:
                reply = exc
            if isinstance(reply, Response) and reply.status == 200:
                return self._read(reply.body)
            verdict = self.judge(reply, retries, deadline)
            if not isinstance(verdict, float):
                return (None, *verdict)
            retries += 1
            if verdict:
                time.sleep(verdict)

    def timed_out(self) -> Outcome:
        """The outcome of a request whose time ran out before an answer."""
        return None, self._failed(failure_code("timeout"), "timed out")

    def judge(self, reply: Response | Exception, retried: int, deadline: float) -> Outcome | float:
        """What one attempt's reply (or the exception it raised) means: the outcome, or the
        seconds to wait before the next attempt. `retried` counts the retries made so far
        (True counts one). Shared by the sync and async requests."""
        if isinstance(reply, NetworkError):
            kind, status, detail = reply.kind, None, str(reply)
        elif isinstance(reply, Exception):
            return None, self._failed(failure_code("unreadable"), safe_text(reply))
        elif reply.status == 200:
            return self._answered(reply.body)
        else:
            kind, status, detail = "status", reply.status, f"HTTP {reply.status}"
        log.debug("/flags request failed: %s", detail)
        wait = flags_retry_delay(
            kind,
            status,
            retried=int(retried) >= self.max_retries,
            remaining=deadline - time.monotonic(),
        )
        if wait is None:
            return None, self._failed(failure_code(kind, status), detail)
        return float(wait)

    def _answered(self, body: bytes) -> Outcome:
        """A 200 answer's flags, or the error code that replaces them."""
        _, response, error = self._read(body)
        return response, error

    def _read(self, body: bytes) -> tuple[dict[str, Any] | None, FlagsResponse | None, str | None]:
        """A 200 answer (as sent, and read), or the error code that replaces it."""
        try:
            document = _DECODER.decode(body)
            response = parse_flags_response(document)
        except (msgspec.DecodeError, RecursionError, ValueError) as exc:
            return None, None, self._failed(failure_code("unreadable"), safe_text(exc))
        except FlagsResponseError as exc:
            return None, None, self._failed(failure_code("unreadable"), str(exc))
        if response.quota_limited:
            self._notes.once(
                "quota",
                logging.WARNING,
                "feature flags quota limited: remote evaluation returned no flags "
                "(see https://posthog.com/docs/billing/limits-alerts)",
            )
            return document, None, QUOTA_LIMITED
        if response.untyped:
            self._notes.once(
                "untyped",
                logging.INFO,
                "the /flags response has no typed values; the server may not support /flags?v=4",
            )
        self._notes.forget("remote")
        log.debug("/flags answered with %d flags", len(response.flags))
        return document, response, None

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
