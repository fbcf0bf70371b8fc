"""The Redis store behind `flag_fallback_cache_url="redis://..."`: remembered `/flags` answers
shared by every process, so one process's good answer covers another's failed request.

One hash per (project, distinct id): a field per flag holding the server's answer as JSON,
the whole hash expiring `ttl` after its last write. Remembering is one pipelined round
trip, recalling one `HMGET` (or `HGETALL`). The calls run on the flags path only after a
remote request, which already paid a round trip, with short timeouts and no retries; a
failing Redis only means no fallback (one warning per outage).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable, Mapping

import msgspec
import redis
from hogkit.core.remote import RemoteFlag

from .redis_cache import DEFAULT_TIMEOUT, as_bytes, connect, project_namespace

__all__ = ["RedisFallbackCache", "redis_url"]

log = logging.getLogger("hogkit.fleet.fallback")

_decoder = msgspec.json.Decoder(RemoteFlag)
_OURS = frozenset({"ttl", "size"})


def redis_url(url: str) -> str:
    """The URL redis-py should see: without our `ttl`/`size` options or a trailing slash on
    the database (`redis://host:6379/0/?ttl=300` is a form people use)."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k not in _OURS]
    path = parts.path.rstrip("/")
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, path, urllib.parse.urlencode(query), "")
    )


class RedisFallbackCache:
    """Remote answers in Redis for `ttl` seconds (see the module docstring)."""

    def __init__(
        self,
        client: str | redis.Redis,
        project_api_key: str,
        *,
        ttl: float = 300.0,
        prefix: str = "hogkit",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.redis = (
            connect(redis_url(client), timeout=timeout) if isinstance(client, str) else client
        )
        self.prefix = f"{prefix}:fallback:{project_namespace(project_api_key)}:"
        self.ttl_ms = max(1, int(ttl * 1000))
        self._failing = False

    def remember(self, distinct_id: str, records: Mapping[str, RemoteFlag]) -> None:
        usable = {k: msgspec.json.encode(r) for k, r in records.items() if not r.failed}
        if not usable:
            return
        key = self.prefix + distinct_id
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, mapping=usable)  # type: ignore[arg-type]
            pipe.pexpire(key, self.ttl_ms)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._broken(exc)
            return
        self._failing = False

    def recall(self, distinct_id: str, keys: Iterable[str] | None) -> dict[str, RemoteFlag]:
        key = self.prefix + distinct_id
        try:
            if keys is None:
                found = self.redis.hgetall(key)
                pairs: list[tuple[str, bytes | str | None]]
                pairs = [(as_bytes(k).decode("utf-8", "replace"), v) for k, v in found.items()]
            else:
                wanted = list(keys)
                if not wanted:
                    return {}
                values: list[bytes | str | None] = self.redis.hmget(key, wanted)
                pairs = list(zip(wanted, values, strict=True))
        except (redis.RedisError, OSError) as exc:
            self._broken(exc)
            return {}
        answers = {}
        for flag, raw in pairs:
            if raw is None:
                continue
            try:
                answers[flag] = _decoder.decode(as_bytes(raw))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        return answers

    def _broken(self, exc: BaseException) -> None:
        if not self._failing:
            self._failing = True
            log.warning("the flag fallback cache failed (%s)", type(exc).__name__)
