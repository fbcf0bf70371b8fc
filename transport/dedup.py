"""Which `$feature_flag_called` events this client has already sent.

PostHog only needs one such event per (distinct id, flag, value, groups); a busy server reads
the same flags for the same people all day, so the client remembers what it reported. The
memory is bounded three times — by users (least recently used evicted first), by reports
per user, and by reports in all (least recently used users evicted until it holds) — so
millions of distinct ids reading hundreds of flags cost a constant amount, and everything
stored is an xxhash integer rather than the ids and values themselves. A report costs
about 85 bytes, so the default bound on reports in all keeps a cache near 40 MB at most;
the users and per-user bounds alone would allow tens of millions of reports.

A report is two integers, its identity as `hogkit.core.flag_called` defines it: the user's
hash (once per snapshot) and the report's hash (flag, value and groups, one per read).
Reading a flag that was already reported is the hot path, so it takes no lock: a dict
lookup and an LRU touch are each atomic under the GIL. Claiming a new report takes
the lock, so two threads reading the same flag send one event; `release` gives a claim back
when the event could not be queued, so a dropped event is tried again by the next read
instead of being silently marked as sent.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_KEYS_PER_USER", "DEFAULT_MAX_REPORTS", "FlagCalledCache"]

DEFAULT_CAPACITY = 50_000
"""Distinct ids remembered, as in the other PostHog SDKs."""

DEFAULT_KEYS_PER_USER = 1_024
"""Reported (flag, value, groups) keys kept per distinct id; the oldest go first."""

DEFAULT_MAX_REPORTS = 500_000
"""Reported keys kept in all, whatever the users: the bound on the cache's memory."""


class FlagCalledCache:
    """A thread-safe, bounded record of reported `$feature_flag_called` keys."""

    __slots__ = (
        "__weakref__",
        "_keys_per_user",
        "_lock",
        "_max_reports",
        "_reports",
        "_users",
        "capacity",
    )

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        keys_per_user: int = DEFAULT_KEYS_PER_USER,
        max_reports: int = DEFAULT_MAX_REPORTS,
    ) -> None:
        self.capacity = max(1, int(capacity))
        self._keys_per_user = max(1, int(keys_per_user))
        self._max_reports = max(1, int(max_reports))
        self._reports = 0  # reports held in all; changed under the lock only
        self._lock = threading.Lock()
        self._users: OrderedDict[int, dict[int, None]] = OrderedDict()
        _caches.add(self)

    def _after_fork(self) -> None:
        # Another thread may have held the lock when the process forked.
        self._lock = threading.Lock()

    def reserve(self, user: int, report: int) -> bool:
        """Claim a report: True when the caller should send the event now, False when it
        was already sent (or is being sent by another thread)."""
        users = self._users
        seen = users.get(user)
        if seen is not None and report in seen:
            # Already reported: no lock (each step is one atomic dict operation).
            try:
                users.move_to_end(user)
            except KeyError:  # evicted by another thread in between: nothing to touch
                return False
            return False
        # `acquire`/`release` rather than `with`: cheaper, and every new report pays it.
        lock = self._lock
        lock.acquire()
        try:
            seen = users.get(user)
            if seen is None:  # the user's first report: a fresh entry holding just it
                if len(users) >= self.capacity:
                    self._reports -= len(users.popitem(False)[1])
                users[user] = {report: None}
            else:
                users.move_to_end(user)
                if report in seen:
                    return False
                if len(seen) >= self._keys_per_user:
                    del seen[next(iter(seen))]
                    self._reports -= 1
                seen[report] = None
            self._reports += 1
            # The least recently used users go, never the one just reported.
            while self._reports > self._max_reports and len(users) > 1:
                self._reports -= len(users.popitem(False)[1])
            return True
        finally:
            lock.release()

    def release(self, user: int, report: int) -> None:
        """Forget a reservation whose event was not queued, so a later read sends it."""
        with self._lock:
            seen = self._users.get(user)
            if seen is not None and report in seen:
                del seen[report]
                self._reports -= 1

    def contains(self, user: int, report: int) -> bool:
        seen = self._users.get(user)
        return seen is not None and report in seen

    def clear(self) -> None:
        with self._lock:
            self._users.clear()
            self._reports = 0

    def __len__(self) -> int:
        """Distinct ids currently remembered."""
        return len(self._users)


_caches: weakref.WeakSet[FlagCalledCache] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for cache in list(_caches):
        cache._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
