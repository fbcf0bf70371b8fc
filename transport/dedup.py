"""Which `$feature_flag_called` events this client has already sent.

PostHog only needs one such event per (distinct id, flag, value, groups); a busy server reads
the same flags for the same people all day, so the client remembers what it reported. The
memory is bounded twice — by users (least recently used evicted first) and by keys per user —
so millions of distinct ids cost a constant amount, and everything stored is an xxhash
integer rather than the ids and values themselves.

Sending is a reservation: `reserve` claims a key atomically (two threads reading the same flag
send one event), and `release` gives it back when the event could not be queued, so a dropped
event is tried again by the next read instead of being silently marked as sent.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict

import xxhash

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_KEYS_PER_USER", "DedupKey", "FlagCalledCache"]

DEFAULT_CAPACITY = 50_000
"""Distinct ids remembered, as in the reference SDKs."""

DEFAULT_KEYS_PER_USER = 1_024
"""Reported (flag, value, groups) keys kept per distinct id; the oldest go first."""


DedupKey = tuple[str, str, "bool | str | None", tuple[tuple[str, str], ...]]
"""(distinct id, flag key, response, sorted groups), as `core.events.flag_called_dedup_key` makes it."""


def _digest(text: str) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


def _hashes(dedup_key: DedupKey) -> tuple[int, int]:
    """(user hash, report hash). `repr` keeps `True` and `"True"` apart in the report hash."""
    distinct_id, key, response, groups = dedup_key
    return _digest(distinct_id), _digest(repr((key, response, groups)))


class FlagCalledCache:
    """A thread-safe, bounded record of reported `$feature_flag_called` keys."""

    __slots__ = ("__weakref__", "_keys_per_user", "_lock", "_users", "capacity")

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, *, keys_per_user: int = DEFAULT_KEYS_PER_USER
    ) -> None:
        self.capacity = max(1, int(capacity))
        self._keys_per_user = max(1, int(keys_per_user))
        self._lock = threading.Lock()
        self._users: OrderedDict[int, dict[int, None]] = OrderedDict()
        _caches.add(self)

    def _after_fork(self) -> None:
        # Another thread may have held the lock when the process forked.
        self._lock = threading.Lock()

    def reserve(self, dedup_key: DedupKey) -> bool:
        """Claim a report (`core.events.flag_called_dedup_key`): True when the caller should
        send the event now, False when it was already sent (or is being sent)."""
        user, item = _hashes(dedup_key)
        with self._lock:
            seen = self._users.get(user)
            if seen is None:
                if len(self._users) >= self.capacity:
                    self._users.popitem(last=False)
                seen = {}
                self._users[user] = seen
            else:
                self._users.move_to_end(user)
                if item in seen:
                    return False
            if len(seen) >= self._keys_per_user:
                del seen[next(iter(seen))]
            seen[item] = None
            return True

    def release(self, dedup_key: DedupKey) -> None:
        """Forget a reservation whose event was not queued, so a later read sends it."""
        user, item = _hashes(dedup_key)
        with self._lock:
            seen = self._users.get(user)
            if seen is not None:
                seen.pop(item, None)

    def contains(self, dedup_key: DedupKey) -> bool:
        user, item = _hashes(dedup_key)
        with self._lock:
            seen = self._users.get(user)
            return seen is not None and item in seen

    def clear(self) -> None:
        with self._lock:
            self._users.clear()

    def __len__(self) -> int:
        """Distinct ids currently remembered."""
        with self._lock:
            return len(self._users)


_caches: weakref.WeakSet[FlagCalledCache] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for cache in list(_caches):
        cache._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
