"""Keeps the local flag definitions fresh: one daemon thread, conditional fetches, atomic swaps.

Why it is built this way:
- The constructor and `start()` never touch the network; the thread does. A flag call waits
  for the *first* attempt at most its own timeout, once: after a slow or failed first load,
  later calls go straight on (to the server, or with what is loaded) instead of each paying
  the wait again, which is posthog-python's worst production trap.
- The poller owns only the thread, its sleep and backoff, and the first-load wait. One
  refresh is `DefinitionsFetch` (the conditional download, `definitions_fetch.py`) or, with
  a shared store, `SharedRound` (`definitions_round.py`); both write one `DefinitionsState`
  (`definitions_state.py`), which holds the set in force and answers `status()`.
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
import weakref
from collections.abc import Callable

from hogkit.core import FlagSet

from .definitions_cache import CacheBridge
from .definitions_fetch import DefinitionsFetch
from .definitions_round import SharedRound
from .definitions_state import DefinitionsState, DefinitionsStatus
from .flags_transport import FlagsTransport

__all__ = ["DEFINITIONS_TIMEOUT", "DefinitionsPoller", "DefinitionsStatus", "next_delay"]

# Poll jitter from the system's randomness: no state to share with the application's
# `random` stream (which it may seed) or to copy into a forked child.
_SYSTEM_RANDOM = random.SystemRandom()

log = logging.getLogger("hogkit.transport.poller")

DEFINITIONS_TIMEOUT = 10.0
"""Seconds one definitions download may take (posthog-python's fixed value)."""


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
        poller.after_fork()


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
        rng: Callable[[], float] = _SYSTEM_RANDOM.random,
        on_error: Callable[[Exception], None] | None = None,
        cache: CacheBridge | None = None,
        follower_only: bool = False,
    ) -> None:
        """`cache` shares the definitions with other processes (see `definitions_cache`);
        `follower_only` never downloads: the definitions come only from `cache`."""
        self.state = DefinitionsState(on_error)
        self.follower_only = follower_only and cache is not None
        self._cache = cache
        self._shared = (
            SharedRound(cache, self.state, follower_only=self.follower_only)
            if cache is not None
            else None
        )
        self._fetch = DefinitionsFetch(
            transport, self.state, timeout=request_timeout, shared=self._shared
        )
        self.interval = max(0.01, float(interval))
        self._refresh = refresh
        self._jitter = min(max(jitter, 0.0), 1.0)
        self._max_backoff = max_backoff
        self._rng = rng
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
        self._was_polling = False

    def after_fork(self) -> None:
        """In a forked child: fresh locks and events (the parent's may have been held)."""
        had_thread = self._thread is not None
        first_done = self._first_attempt.is_set()
        stopped = self._stopped.is_set()
        self._init_runtime()
        self._was_polling = had_thread
        if first_done or had_thread:
            # The inherited definitions are usable at once; the child's own thread refreshes them.
            self._first_attempt.set()
        if stopped:
            self._stopped.set()

    def load_now(self) -> bool:
        """One refresh on the calling thread (`load_feature_flags()`), after which polling
        goes on in the background from an interval later. True when it went usefully."""
        try:
            ok = self.poll_once()
        finally:
            self._first_attempt.set()
        self.start(polled=True)
        return ok

    def resume_after_fork(self) -> None:
        """In a forked child: poll again if the parent was polling (a parent that never read
        a flag leaves its children not polling either)."""
        if self._pid != os.getpid():  # forked without the at-fork hook having run
            self.after_fork()
        if self._was_polling:
            self.start()

    # ----------------------------------------------------------------- reading

    @property
    def flagset(self) -> FlagSet | None:
        """The definitions in force now (None: nothing usable is loaded)."""
        return self.state.flagset

    @property
    def etag(self) -> str | None:
        return self.state.etag

    @property
    def fetches(self) -> int:
        """Downloads attempted so far (answered or not)."""
        return self.state.fetches

    @property
    def last_error(self) -> str | None:
        """The latest problem, None once a refresh succeeds."""
        return self.state.last_error

    def status(self) -> DefinitionsStatus:
        """Where the definitions in force came from, their age, ETag and the last problem."""
        return self.state.status()

    def current(self, wait: float) -> FlagSet | None:
        """The definitions, waiting at most `wait` seconds for the first load, once per
        process. The first call starts polling, unless a load already happened here (in a
        forked child: unless the parent was not polling)."""
        if self._pid != os.getpid():  # forked without the at-fork hook having run
            self.resume_after_fork()
        elif self._thread is None and (self._was_polling or not self._first_attempt.is_set()):
            self.start()
        if (
            not self._waited
            and not self._first_attempt.is_set()
            and not self._first_attempt.wait(max(0.0, wait))
        ):
            self._waited = True
        return self.state.flagset

    def in_force(self, holds_flags: Callable[[], bool]) -> None:
        """Tell the shared round how to know whether definitions with a flag are in force,
        for an owner that may put others in force than the downloads (with an empty
        store, a round downloads only when none are)."""
        if self._shared is not None:
            self._shared.holds_flags = holds_flags

    def on_install(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each document is put in force (downloaded or read from a
        shared store, changed or not), on the thread that put it there, for an owner that
        must know of a download as it happens rather than check on every read. It must be
        quick and must not raise: it runs under the refresh lock."""
        self.state.on_install = listener

    # ----------------------------------------------------------------- lifecycle

    def start(self, *, polled: bool = False) -> None:
        """Start the polling thread if it is not running in this process. Never blocks,
        except where no thread can start (see below). `polled`: a refresh just happened on
        the caller's thread, so the thread's first one waits an interval (and without
        refreshing, no thread is needed)."""
        if (self._thread is not None and self._pid == os.getpid()) or (
            polled and not self._refresh
        ):
            return
        if self._pid != os.getpid():  # forked without the at-fork hook having run
            self.after_fork()
        with self._state_lock:
            if self._thread is not None or self._stopped.is_set():
                return
            thread = threading.Thread(
                target=self._run, args=(polled,), name="hogkit-flag-poller", daemon=True
            )
            self._thread = thread
            try:
                thread.start()
                return
            except RuntimeError:
                self._thread = None
        # No thread can start (Python 3.12.0 and 3.12.1 at interpreter exit): nothing
        # polls, but the first load the thread would have made is made here, once.
        log.debug("definitions polling could not start: no thread can start now")
        if not polled and not self._first_attempt.is_set():
            try:
                self.poll_once()
            except Exception:  # the read that asked goes on without definitions
                log.exception("flag definitions refresh failed")
            finally:
                self._first_attempt.set()

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

    def _run(self, polled: bool) -> None:
        try:
            if polled:
                self._pause(0)
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
            self._pause(failures)

    def _pause(self, failures: int) -> None:
        """Sleep until the next refresh is due (or `wake`)."""
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

    # ----------------------------------------------------------------- one refresh

    def poll_once(self) -> bool:
        """One refresh on the calling thread: from the shared store when one is configured and
        another process leads, else a conditional download. True when it went usefully."""
        with self._fetch_lock:
            ok = self._fetch() if self._shared is None else self._shared.run(self._fetch)
            state = self.state
            log.debug(
                "flag definitions refresh: %s, source=%s, etag=%s, flags=%d%s",
                "ok" if ok else "failed",
                state.source,
                state.etag,
                len(state.flagset.keys) if state.flagset is not None else 0,
                f", error={state.last_error}" if state.last_error else "",
            )
            return ok
