"""Remembered `/flags` answers, used only when the server fails (`flag_fallback_cache_url`).

A remote answer is remembered per (distinct id, flag) after every successful `/flags`
request; when a later request times out, is refused or errors, the remembered answers fill
the flags local evaluation could not decide, and the snapshot still reports the error.
The store is chosen by URL, in the forms posthog-python accepts:

- `memory://local/?ttl=300&size=10000`: this process only, at most `size` distinct ids
  (the least recently used go first), each answer usable for `ttl` seconds;
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

__all__ = ["DEFAULT_SIZE", "DEFAULT_TTL", "FallbackCache", "MemoryFallbackCache", "open_fallback"]

log = logging.getLogger("hogkit.transport.fallback_cache")

DEFAULT_TTL = 300.0
DEFAULT_SIZE = 10_000


class FallbackCache(Protocol):
    """Where remote answers are remembered. Neither method raises into the flags path."""

    def remember(self, distinct_id: str, records: Mapping[str, RemoteFlag]) -> None: ...

    def recall(self, distinct_id: str, keys: Iterable[str] | None) -> dict[str, RemoteFlag]:
        """The remembered answers for `keys` (None: every flag remembered for the id)."""
        ...


class MemoryFallbackCache:
    """A per-process store: `size` distinct ids at most, answers usable for `ttl` seconds."""

    def __init__(self, size: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL) -> None:
        self.size = max(1, size)
        self.ttl = max(0.0, ttl)
        self._users: OrderedDict[str, dict[str, tuple[float, RemoteFlag]]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, distinct_id: str, records: Mapping[str, RemoteFlag]) -> None:
        usable = {k: r for k, r in records.items() if not r.failed}
        if not usable:
            return
        expires = time.monotonic() + self.ttl
        with self._lock:
            answers = self._users.pop(distinct_id, None) or {}
            for key, record in usable.items():
                answers[key] = (expires, record)
            self._users[distinct_id] = answers
            while len(self._users) > self.size:
                self._users.popitem(last=False)

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
            return MemoryFallbackCache(int(query.get("size", [DEFAULT_SIZE])[0]), ttl)
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
