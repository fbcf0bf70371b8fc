"""Remembered `/flags` answers, used only when the server fails (`flag_fallback_cache_url`).

A remote answer is remembered per (distinct id, flag) after every successful `/flags`
request; when a later request times out, is refused or errors, the remembered answers fill
the flags local evaluation could not decide, and the snapshot still reports the error.
The store is chosen by URL, in the forms posthog-python accepts:

- `memory://local/?ttl=300&size=10000`: this process only, at most `size` distinct ids
  and `records` flag answers in all (the least recently used ids go first), each answer
  usable for `ttl` seconds. A `/flags` answer holds every flag of the project, and one
  flag's answer takes about 420 bytes, so the ids bound alone would let a project with a
  thousand flags hold gigabytes; the default `records` keeps the store near 40 MB;
- `redis://[user:password@]host:port/db?ttl=300`, `rediss://...`: shared by every process
  (needs `hogkit[redis]`; see `hogkit.fleet.fallback`).

Stale answers are better than none during an outage, but only briefly: after `ttl` they are
forgotten, and a definitions change does not touch them (they are the server's answers).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Protocol

from hogkit.core.remote import RemoteFlag

__all__ = [
    "DEFAULT_RECORDS",
    "DEFAULT_SIZE",
    "DEFAULT_TTL",
    "FallbackCache",
    "MemoryFallbackCache",
    "open_fallback",
]

log = logging.getLogger("hogkit.transport.fallback_cache")

DEFAULT_TTL = 300.0
DEFAULT_SIZE = 10_000
DEFAULT_RECORDS = 100_000


class FallbackCache(Protocol):
    """Where remote answers are remembered. Neither method raises into the flags path."""

    def remember(self, distinct_id: str, records: Mapping[str, RemoteFlag]) -> None: ...

    def recall(self, distinct_id: str, keys: Iterable[str] | None) -> dict[str, RemoteFlag]:
        """The remembered answers for `keys` (None: every flag remembered for the id)."""
        ...


class MemoryFallbackCache:
    """A per-process store: `size` distinct ids and `records` flag answers at most (the
    least recently used ids go first, the last one remembered never), answers usable for
    `ttl` seconds."""

    def __init__(
        self, size: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL, records: int = DEFAULT_RECORDS
    ) -> None:
        self.size = max(1, size)
        self.ttl = max(0.0, ttl)
        self.records = max(1, records)
        self._held = 0  # flag answers held in all, changed under the lock
        self._users: OrderedDict[str, dict[str, tuple[float, RemoteFlag]]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, distinct_id: str, records: Mapping[str, RemoteFlag]) -> None:
        usable = {k: r for k, r in records.items() if not r.failed}
        if not usable:
            return
        expires = time.monotonic() + self.ttl
        with self._lock:
            users = self._users
            answers = users.pop(distinct_id, None) or {}
            self._held -= len(answers)
            for key, record in usable.items():
                answers[key] = (expires, record)
            users[distinct_id] = answers
            self._held += len(answers)
            while len(users) > 1 and (len(users) > self.size or self._held > self.records):
                self._held -= len(users.popitem(last=False)[1])

    def recall(self, distinct_id: str, keys: Iterable[str] | None) -> dict[str, RemoteFlag]:
        now = time.monotonic()
        with self._lock:
            answers = self._users.get(distinct_id)
            if not answers:
                return {}
            self._users.move_to_end(distinct_id)
            found = {}
            for key in answers if keys is None else keys:
                entry = answers.get(key)
                if entry is not None and entry[0] > now:
                    found[key] = entry[1]
            return found


def open_fallback(url: str | None, project_api_key: str) -> FallbackCache | None:
    """The store a `flag_fallback_cache_url` names; None (logged) when the URL is unusable."""
    if not url:
        return None
    try:
        parsed = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parsed.query)
        ttl = float(query.get("ttl", [DEFAULT_TTL])[0])
        scheme = parsed.scheme.lower()
        if scheme == "memory":
            size = int(query.get("size", [DEFAULT_SIZE])[0])
            return MemoryFallbackCache(size, ttl, int(query.get("records", [DEFAULT_RECORDS])[0]))
        if scheme in ("redis", "rediss"):
            from hogkit.fleet.fallback import RedisFallbackCache

            return RedisFallbackCache(url, project_api_key, ttl=ttl)
        raise ValueError(f"unknown scheme {scheme!r} (memory, redis or rediss)")
    except Exception as exc:  # an optional cache must never stop the client
        log.warning(
            "flag_fallback_cache_url is unusable (%s: %s); no fallback cache",
            type(exc).__name__,
            _without_password(str(exc), url),
        )
        return None


def _without_password(text: str, url: str) -> str:
    password = urllib.parse.urlsplit(url).password
    return text.replace(password, "***") if password else text
