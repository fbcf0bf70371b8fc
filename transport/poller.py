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
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import msgspec
import xxhash
from hogkit.core import FlagSet
from hogkit.core.errors import HogkitError
from hogkit.core.flag_requests import is_quota_limited

from .definitions_cache import CacheBridge, shared_document
from .flags_transport import FlagsTransport
from .http import Response

__all__ = ["DEFINITIONS_TIMEOUT", "DefinitionsPoller", "DefinitionsStatus", "next_delay"]

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


@attrs.frozen
class DefinitionsStatus:
    """Where the definitions in force came from and how fresh they are.

    `source`: "fetched" (downloaded by this process), "cache" (read from a shared store),
    "file" (given to the client), or None (nothing loaded). `age`: seconds since they were
    last confirmed current (a download, a 304, or a read of the shared copy). `refused`:
    401 or 402 while the server refuses this project's definitions (they are dropped then,
    so callers can tell "refused" from "not loaded yet"), None once it answers again.
    """

    source: str | None
    age: float | None
    etag: str | None
    last_error: str | None
    flags: int
    fetches: int
    refused: int | None = None


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
        cache: CacheBridge | None = None,
        follower_only: bool = False,
    ) -> None:
        """`cache` shares the definitions with other processes (see `definitions_cache`);
        `follower_only` never downloads: the definitions come only from `cache`."""
        self._transport = transport
        self._cache = cache
        self.follower_only = follower_only and cache is not None
        self._source: str | None = None
        self._confirmed: float | None = None
        self._shared: dict[str, Any] | None = None
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
        self._refused: int | None = None
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
        if self._cache is not None:
            self._cache.shutdown()  # once, here or by the thread on its way out

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._cache is not None and self._stopped.is_set():
                self._cache.shutdown()

    def _loop(self) -> None:
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
            if self._cache is not None:
                self._cache.wait(delay, self._wake)
            else:
                self._wake.wait(delay)
            self._wake.clear()

    # ----------------------------------------------------------------- one fetch

    def poll_once(self) -> bool:
        """One refresh on the calling thread: from the shared store when one is configured and
        another process leads, else a conditional download. True when it went usefully."""
        with self._fetch_lock:
            if self._cache is None:
                ok = self._fetch()
            else:
                try:
                    ok = self._coordinated(self._cache)
                finally:
                    self._cache.finish_round()
            log.debug(
                "flag definitions refresh: %s, source=%s, etag=%s, flags=%d%s",
                "ok" if ok else "failed",
                self._source,
                self._etag,
                len(self._flagset.keys) if self._flagset is not None else 0,
                f", error={self.last_error}" if self.last_error else "",
            )
            return ok

    def _coordinated(self, cache: CacheBridge) -> bool:
        """The shared-store round: read when another process leads, download when we lead,
        when the store fails, or when it is empty and nothing is loaded yet."""
        if self.follower_only or not cache.should_fetch():
            shared = cache.read()
            if isinstance(shared, Mapping) and (self._adopt(shared) or self.follower_only):
                return self._flagset is not None
            if self.follower_only:
                if cache.round_failed:
                    self.last_error = cache.last_error
                return True  # nothing to download: the filler process will share them
            if shared is None and self._flagset is not None:
                return True
        return self._fetch()

    def _adopt(self, shared: Mapping[str, Any]) -> bool:
        """Put a document read from the shared store in force (compiled only when it changed)."""
        try:
            document = shared_document(shared)
            encoded = msgspec.json.encode(document)
            digest = xxhash.xxh3_64_intdigest(encoded)
            if digest != self._body_hash or self._flagset is None:
                fresh = FlagSet.from_json(encoded)
                current = self._flagset
                if current is None or fresh.fingerprint != current.fingerprint:
                    self._flagset = fresh
                self._body_hash = digest
        except (HogkitError, ValueError, TypeError, msgspec.MsgspecError) as exc:
            self._problem(
                "shared",
                logging.ERROR,
                "the shared flag definitions are unusable (%s); keeping the current ones",
                exc,
            )
            return False
        etag = shared.get("etag")
        self._etag = etag if isinstance(etag, str) and etag else self._etag
        self._shared = document
        self._loaded("cache")
        return True

    def _loaded(self, source: str) -> None:
        self._source = source
        self._confirmed = time.monotonic()
        self._recovered()

    def status(self) -> DefinitionsStatus:
        """Where the definitions in force came from, their age, ETag and the last problem."""
        confirmed = self._confirmed
        flagset = self._flagset
        return DefinitionsStatus(
            source=self._source if flagset is not None else None,
            age=None if confirmed is None else max(0.0, time.monotonic() - confirmed),
            etag=self._etag,
            last_error=self.last_error,
            flags=len(flagset.keys) if flagset is not None else 0,
            fetches=self.fetches,
            refused=self._refused,
        )

    def _fetch(self) -> bool:
        """One conditional download. True when the server answered usefully."""
        try:
            try:
                response = self._transport.fetch_definitions(etag=self._etag, timeout=self._timeout)
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
        log.debug("definitions poll answered HTTP %d (%d bytes)", status, len(response.body))
        if status == 304:
            self._loaded("fetched")
            self._share_unchanged()
            return True
        if status in (401, 402):
            self._refused = status
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
                self._flagset = fresh
            self._body_hash = digest
        self._etag = response.header("etag") or None
        self._loaded("fetched")
        if self._cache is not None:
            self._share(body)
        return True

    def _share(self, body: bytes) -> None:
        """Hand a complete 200 document to the shared store (after it compiled)."""
        assert self._cache is not None
        try:
            document = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError):
            log.debug("definitions not shared: msgspec cannot re-read them")
            return
        if isinstance(document, list):
            document = {"flags": document}
        self._shared = shared_document(document)
        # The store's copy is hashed like a read one, so reading it back compiles nothing.
        self._body_hash = xxhash.xxh3_64_intdigest(msgspec.json.encode(self._shared))
        self._cache.received(self._shared, self._etag)

    def _share_unchanged(self) -> None:
        """After a 304: keep the shared copy alive, writing it again if the store lost it."""
        cache, shared = self._cache, self._shared
        if cache is not None and not cache.unchanged(self._etag) and shared is not None:
            cache.received(shared, self._etag)

    def _clear(self) -> None:
        self._flagset = None
        self._source = None
        self._shared = None
        self._etag = None
        self._body_hash = None

    def _recovered(self) -> None:
        self.last_error = None
        self._refused = None
        self._logged.clear()

    def _problem(self, kind: str, level: int, message: str, detail: object) -> None:
        text = message % (detail if detail is not None else "no definitions used",)
        self.last_error = text
        if kind not in self._logged:
            self._logged.add(kind)
            log.log(level, "%s", text)
        if self._on_error is not None and isinstance(detail, Exception):
            try:
                self._on_error(detail)
            except Exception:
                log.debug("on_error callback failed", exc_info=True)


def _quota_limited(body: bytes) -> bool:
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return False
    return is_quota_limited(document)
