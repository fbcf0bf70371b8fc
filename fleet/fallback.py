"""The Redis store behind `flag_fallback_cache_url="redis://..."`: remembered `/flags` answers
shared by every process, so one process's good answer covers another's failed request.

One key per (project, distinct id, flag) holding the answer as JSON, written with `SET PX`
so Redis forgets it after `ttl`; reads are one `MGET`. The calls run on the flags path only
after a remote request (which already paid a round trip), with short timeouts and no
retries, and a failing Redis only means no fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import msgspec
import redis
from hogkit.core.remote import RemoteFlag

from .redis_cache import DEFAULT_TIMEOUT, connect, project_namespace

__all__ = ["RedisFallbackCache"]

log = logging.getLogger("hogkit.fleet.fallback")

_decoder = msgspec.json.Decoder(RemoteFlag)


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
        self.redis = connect(client, timeout=timeout) if isinstance(client, str) else client
        self.prefix = f"{prefix}:fallback:{project_namespace(project_api_key)}:"
        self.ttl_ms = max(1, int(ttl * 1000))
        self._failing = False

    def _key(self, distinct_id: str, flag: str) -> str:
        return f"{self.prefix}{len(distinct_id)}:{distinct_id}:{flag}"

    def remember(self, distinct_id: str, records: Mapping[str, RemoteFlag]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, record in records.items():
                if not record.failed:
                    pipe.set(
                        self._key(distinct_id, key), msgspec.json.encode(record), px=self.ttl_ms
                    )
            pipe.execute()
            self._failing = False
        except (redis.RedisError, OSError) as exc:
            self._broken(exc)

    def recall(self, distinct_id: str, keys: Iterable[str]) -> dict[str, RemoteFlag]:
        wanted = list(keys)
        if not wanted:
            return {}
        try:
            values = self.redis.mget([self._key(distinct_id, k) for k in wanted])
        except (redis.RedisError, OSError) as exc:
            self._broken(exc)
            return {}
        found = {}
        for key, raw in zip(wanted, values, strict=True):
            if raw is None:
                continue
            try:
                found[key] = _decoder.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        return found

    def _broken(self, exc: BaseException) -> None:
        if not self._failing:
            self._failing = True
            log.warning("[hogkit] the flag fallback cache failed (%s)", type(exc).__name__)
