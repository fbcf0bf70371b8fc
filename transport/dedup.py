"""Which `$feature_flag_called` events this client has already sent.

PostHog only needs one such event per (distinct id, flag, value, groups); a busy server reads
the same flags for the same people all day, so the client remembers what it reported. The
memory is bounded twice — by users (least recently used evicted first) and by reports per
user — so millions of distinct ids cost a constant amount, and everything stored is an
xxhash integer rather than the ids and values themselves.

A report is two integers: the user's hash (`user_hash`, once per snapshot) and the report's
hash (`report_hash`: flag, value and the snapshot's `groups_token`, one xxhash of one string
per read). Reading a flag that was already reported is the hot path, so it takes no lock:
a dict lookup and an LRU touch are each atomic under the GIL. Claiming a new report takes
the lock, so two threads reading the same flag send one event; `release` gives a claim back
when the event could not be queued, so a dropped event is tried again by the next read
instead of being silently marked as sent.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import xxhash

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_KEYS_PER_USER",
    "FlagCalledCache",
    "groups_token",
    "report_hash",
    "report_of",
    "user_hash",
]

DEFAULT_CAPACITY = 50_000
"""Distinct ids remembered, as in the reference SDKs."""

DEFAULT_KEYS_PER_USER = 1_024
"""Reported (flag, value, groups) keys kept per distinct id; the oldest go first."""

_hash = xxhash.xxh3_64_intdigest


def _digest(text: str) -> int:
    return _hash(text.encode("utf-8", "surrogatepass"))


def _text(value: object) -> str:
    if type(value) is str:
        return value
    try:
        return str(value)
    except Exception:  # a group key whose __str__ fails still gets a stable identity
        return f"<{type(value).__name__}>"


def user_hash(distinct_id: str) -> int:
    """The LRU bucket of a distinct id."""
    return _digest(_text(distinct_id))


def groups_token(groups: Mapping[str, Any] | None) -> str:
    """The groups part of every report of one snapshot, computed once per snapshot.

    Order-insensitive `str(type)`/`str(key)` pairs, as the reference compares them. It is a
    `repr`, so it never holds a NUL character: `report_hash` uses one as its separator.
    """
    if not groups:
        return ""
    return repr(sorted((_text(k), _text(v)) for k, v in groups.items()))


def report_hash(token: str, key: str, response: bool | str | None) -> int:
    """One (flag, value) read under a snapshot's groups: a single xxhash of one string.

    The key is length-prefixed and the value tagged by type, so `True` and `"True"`, or a
    key and value that concatenate alike, never share a hash by construction.
    """
    name = key if type(key) is str else _text(key)
    if type(response) is str:
        tag = "s" + response
    elif response is True:
        tag = "T"
    elif response is False:
        tag = "F"
    elif response is None:
        tag = "N"
    else:
        tag = "o" + _text(response)
    return _digest(f"{token}\x00{len(name)}:{name}{tag}")


def report_of(
    distinct_id: str, key: str, response: bool | str | None, groups: Mapping[str, Any] | None
) -> tuple[int, int]:
    """(user hash, report hash) for one read; the same numbers the snapshot's hot path uses."""
    return user_hash(distinct_id), report_hash(groups_token(groups), key, response)


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
        with self._lock:
            seen = users.get(user)
            if seen is None:
                if len(users) >= self.capacity:
                    users.popitem(last=False)
                seen = {}
                users[user] = seen
            else:
                users.move_to_end(user)
                if report in seen:
                    return False
            if len(seen) >= self._keys_per_user:
                del seen[next(iter(seen))]
            seen[report] = None
            return True

    def release(self, user: int, report: int) -> None:
        """Forget a reservation whose event was not queued, so a later read sends it."""
        with self._lock:
            seen = self._users.get(user)
            if seen is not None:
                seen.pop(report, None)

    def contains(self, user: int, report: int) -> bool:
        seen = self._users.get(user)
        return seen is not None and report in seen

    def clear(self) -> None:
        with self._lock:
            self._users.clear()

    def __len__(self) -> int:
        """Distinct ids currently remembered."""
        return len(self._users)


_caches: weakref.WeakSet[FlagCalledCache] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for cache in list(_caches):
        cache._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
