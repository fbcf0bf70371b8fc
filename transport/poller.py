"""Keeps the local flag definitions fresh: one daemon thread, conditional fetches, atomic swaps.

Why it is built this way:
- The constructor and `start()` never touch the network; the thread does. A flag call waits
  for the *first* attempt at most its own timeout, once: after a slow or failed first load,
  later calls go straight on (to the server, or with what is loaded) instead of each paying
  the wait again, which is the reference's worst production trap.
- A fetch sends `If-None-Match` with the last ETag; a 304, or a body whose hash is unchanged,
  keeps the compiled `FlagSet` object as it is. A changed body is compiled by the core and
  published with one reference assignment, so a reader holds either the old set or the new
  one, never a mixture.
- Nothing escapes the loop: every failure is logged (401, 402 and quota once per episode)
  and the loop sleeps `interval` with ±jitter, backing off exponentially while failing, so a
  fleet of processes does not poll in lock-step nor hammer a struggling server.
- A forked child inherits the definitions but not the thread; the first use in the child
  starts a fresh one (and fresh locks, since the parent's may have been held at fork time).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable

import msgspec
import xxhash
from hogkit.core import FlagSet

from .flags_transport import FlagsTransport
from .http import Response

__all__ = ["DEFINITIONS_TIMEOUT", "DefinitionsPoller", "next_delay"]

log = logging.getLogger("hogkit.transport.poller")

DEFINITIONS_TIMEOUT = 10.0
"""Seconds one definitions download may take (the reference's fixed value)."""

_QUOTA_MARKER = b'"quotaLimited"'


def next_delay(
    interval: float, failures: int, *, jitter: float, sample: float, max_backoff: float
) -> float:
    """Seconds until the next poll: `interval` (doubling per consecutive failure, capped)
    spread by ±`jitter` (a fraction) using `sample` in [0, 1)."""
    base = interval
    if failures > 0:
        base = min(interval * (2 ** min(failures - 1, 16)), max(max_backoff, interval))
    spread = 1.0 + jitter * (2.0 * sample - 1.0)
    return max(0.0, base * spread)


_live_pollers: weakref.WeakSet[DefinitionsPoller] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for poller in list(_live_pollers):
        poller._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


class DefinitionsPoller:
    """Fetches `/flags/definitions` now and every `interval` seconds; holds the current set."""

    def __init__(
        self,
        transport: FlagsTransport,
        *,
        interval: float = 30.0,
        request_timeout: float = DEFINITIONS_TIMEOUT,
        refresh: bool = True,
        jitter: float = 0.1,
        max_backoff: float = 300.0,
        rng: Callable[[], float] = random.random,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._transport = transport
        self.interval = max(0.01, float(interval))
        self._timeout = request_timeout
        self._refresh = refresh
        self._jitter = min(max(jitter, 0.0), 1.0)
        self._max_backoff = max_backoff
        self._rng = rng
        self._on_error = on_error
        self._flagset: FlagSet | None = None
        self._etag: str | None = None
        self._body_hash: int | None = None
        self.fetches = 0
        self.last_error: str | None = None
        # The HTTP status of the last refusal (401, 402), None once the server answers again.
        self.refused_status: int | None = None
        # `time.monotonic()` of the last answer that confirmed or replaced the definitions.
        self.confirmed_at: float | None = None
        self._listeners: list[Callable[[FlagSet | None, FlagSet | None], None]] = []
        self._logged: set[str] = set()
        self._init_runtime()
        _live_pollers.add(self)

    def _init_runtime(self) -> None:
        self._pid = os.getpid()
        self._fetch_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._first_attempt = threading.Event()
        self._waited = False
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        had_thread = self._thread is not None
        first_done = self._first_attempt.is_set()
        stopped = self._stopped.is_set()
        self._init_runtime()
        if first_done or had_thread:
            # The inherited definitions are usable at once; the child's own thread refreshes them.
            self._first_attempt.set()
        if stopped:
            self._stopped.set()

    # ----------------------------------------------------------------- reading

    @property
    def flagset(self) -> FlagSet | None:
        """The definitions in force now (None: nothing usable is loaded)."""
        return self._flagset

    def add_listener(self, listener: Callable[[FlagSet | None, FlagSet | None], None]) -> None:
        """Call `listener(old, new)` on the polling thread whenever the set in force changes
        (a changed download, or a 401/402 dropping it). A failing listener is logged."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[FlagSet | None, FlagSet | None], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _publish(self, new: FlagSet | None) -> None:
        old = self._flagset
        self._flagset = new
        if old is new:
            return
        for listener in list(self._listeners):
            try:
                listener(old, new)
            except Exception:
                log.exception("[hogkit] a flag definitions listener failed")

    @property
    def etag(self) -> str | None:
        return self._etag

    def current(self, wait: float) -> FlagSet | None:
        """The definitions, waiting at most `wait` seconds for the first load, once per process."""
        if self._thread is None or self._pid != os.getpid():
            self.start()
        if (
            not self._waited
            and not self._first_attempt.is_set()
            and not self._first_attempt.wait(max(0.0, wait))
        ):
            self._waited = True
        return self._flagset

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the polling thread if it is not running in this process. Never blocks."""
        if self._thread is not None and self._pid == os.getpid():
            return
        if self._pid != os.getpid():  # forked without the at-fork hook having run
            self._after_fork()
        with self._state_lock:
            if self._thread is not None or self._stopped.is_set():
                return
            thread = threading.Thread(target=self._run, name="hogkit-flag-poller", daemon=True)
            self._thread = thread
            thread.start()

    def wake(self) -> None:
        """Poll as soon as possible instead of at the end of the current sleep."""
        self._wake.set()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop polling; waits at most `timeout` seconds for an in-flight fetch."""
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, timeout))

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                ok = self.poll_once()
            except BaseException:  # the loop itself must survive anything a poll does
                ok = False
            finally:
                self._first_attempt.set()
            failures = 0 if ok else failures + 1
            if not self._refresh:
                return
            delay = next_delay(
                self.interval,
                failures,
                jitter=self._jitter,
                sample=self._rng(),
                max_backoff=self._max_backoff,
            )
            self._wake.wait(delay)
            self._wake.clear()

    # ----------------------------------------------------------------- one fetch

    def poll_once(self) -> bool:
        """One conditional fetch on the calling thread. True when the server answered usefully."""
        with self._fetch_lock:
            try:
                try:
                    response = self._transport.fetch_definitions(
                        etag=self._etag, timeout=self._timeout
                    )
                finally:
                    self.fetches += 1  # attempts finished, answered or not
                return self._apply(response)
            except Exception as exc:
                self._problem(
                    "network",
                    logging.WARNING,
                    "could not fetch feature flag definitions (%s); keeping the current ones "
                    "and retrying with backoff",
                    exc,
                )
                return False

    def _apply(self, response: Response) -> bool:
        status = response.status
        if status == 304:
            self._recovered()
            return True
        if status in (401, 402):
            self.refused_status = status
        if status == 401:
            self._clear()
            self._problem(
                "401",
                logging.ERROR,
                "feature flag definitions were refused (HTTP 401): check the project API key and "
                "secret_key. Flags are evaluated remotely until the key works (%s)",
                None,
            )
            return False
        if status == 402:
            self._clear()
            self._problem(
                "402",
                logging.WARNING,
                "feature flags quota exceeded (HTTP 402): local evaluation is off until the "
                "quota resets; flags are evaluated remotely (%s)",
                None,
            )
            return False
        if status != 200:
            self._problem(
                "status",
                logging.ERROR,
                "feature flag definitions request failed (%s); keeping the current ones",
                f"HTTP {status}",
            )
            return False
        body = response.body
        if _QUOTA_MARKER in body and _quota_limited(body):
            self._problem(
                "quota",
                logging.WARNING,
                "feature flags quota limited: the server sent no definitions; keeping the "
                "current ones (%s)",
                None,
            )
            return False
        digest = xxhash.xxh3_64_intdigest(body)
        if digest != self._body_hash or self._flagset is None:
            fresh = FlagSet.from_json(body)  # DefinitionsError is logged by poll_once
            current = self._flagset
            if current is None or fresh.fingerprint != current.fingerprint:
                self._publish(fresh)
            self._body_hash = digest
        self._etag = response.header("etag") or None
        self._recovered()
        return True

    def _clear(self) -> None:
        self._publish(None)
        self._etag = None
        self._body_hash = None

    def _recovered(self) -> None:
        self.last_error = None
        self.refused_status = None
        self.confirmed_at = time.monotonic()
        self._logged.clear()

    def _problem(self, kind: str, level: int, message: str, detail: object) -> None:
        text = message % (detail if detail is not None else "no definitions used",)
        self.last_error = text
        if kind not in self._logged:
            self._logged.add(kind)
            log.log(level, "[hogkit] %s", text)
        if self._on_error is not None and isinstance(detail, Exception):
            try:
                self._on_error(detail)
            except Exception:
                log.debug("on_error callback failed", exc_info=True)


def _quota_limited(body: bytes) -> bool:
    try:
        doc = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return False
    quota = doc.get("quotaLimited") if isinstance(doc, dict) else None
    return isinstance(quota, list) and "feature_flags" in quota
