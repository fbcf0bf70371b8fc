"""One copy of the flag definitions per project, in Redis, for every process of a fleet.

A `RedisDefinitionCache` is a definitions-cache provider (posthog-python's four-method
protocol, so it also works with posthog-python) plus two optional methods hogkit's poller
uses: a 304 keeps the shared copy alive, and the poller's sleep listens for change notices.

How the processes share the work:
- Leader: `SET lock token NX PX` elects one process per project; it renews the lock on every
  poll and releases it at shutdown, both with Lua scripts that act only while the lock still
  holds its own token, so a process that lost the lock can never extend or delete another's.
  The lock lives 1.5 poll intervals: a leader that dies is replaced within that time, since
  followers schedule their next lock check for the moment it would expire.
- The copy: one key holding the definitions document (`flags`, `group_type_mapping`,
  `cohorts`, `property_matching_version`, `minimal_flag_called_events`, flags with their
  holdouts untouched) with its `etag` and `fetched_at` (epoch milliseconds), as JSON. A
  follower that becomes leader sends that ETag, so taking over costs a 304, not a download.
- Change notices: after a write the leader PUBLISHes the stored value's hash; followers
  listening on the poller's sleep re-read at once. They also re-read every poll interval, in
  case a notice was missed (pub/sub delivers at most once).
- Every Redis call has a short socket timeout and no retries: a Redis outage costs each poll a
  refused connection, and the poller then downloads directly until Redis answers again.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
import redis
import xxhash
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["DEFAULT_TIMEOUT", "RedisDefinitionCache", "as_bytes", "connect", "project_namespace"]

DEFAULT_TIMEOUT = 0.5
"""Seconds any one Redis call may take (connect, command, or reply)."""

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

_LISTEN_SLICE = 0.25
"""Longest single wait for a notice, so a `wake` (shutdown, reload) is noticed quickly."""


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """A client for `redis://` / `rediss://` / `unix://` URLs with short timeouts, no retries."""
    retry = Retry(NoBackoff(), 0)
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=retry,
        retry_on_timeout=False,
    )


def project_namespace(project_api_key: str) -> str:
    """A key-safe name for a project (its key's hash: keys stay out of Redis key names)."""
    return xxhash.xxh3_64_hexdigest(project_api_key.encode("utf-8"))


class RedisDefinitionCache:
    """Share one project's flag definitions through Redis (see the module docstring).

    `client` is a redis URL or a `redis.Redis`; `interval` should be the clients'
    `poll_interval` (it sizes the lock); `ttl` is how long an unrefreshed copy lives
    (default: 20 intervals, at least 10 minutes); `fill_wait` bounds how long a process
    that starts with an empty store waits for the leader's first copy before downloading.
    """

    def __init__(
        self,
        client: str | redis.Redis,
        project_api_key: str,
        *,
        interval: float = 30.0,
        prefix: str = "hogkit",
        timeout: float = DEFAULT_TIMEOUT,
        ttl: float | None = None,
        fill_wait: float | None = None,
    ) -> None:
        self.redis = connect(client, timeout=timeout) if isinstance(client, str) else client
        base = f"{prefix}:flags:{project_namespace(project_api_key)}"
        self.key = base + ":definitions"
        self.lock_key = base + ":lock"
        self.channel = base + ":changed"
        interval = max(0.05, float(interval))
        self.lock_ms = max(1, int(interval * 1500))
        self.ttl_ms = int(1000 * (ttl if ttl is not None else max(600.0, 20 * interval)))
        self.fill_wait = min(interval, 5.0) if fill_wait is None else max(0.0, fill_wait)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._new_process()

    def _new_process(self) -> None:
        self._pid = os.getpid()
        self.token = uuid.uuid4().hex
        self.leader = False
        self._next_check: float | None = None
        self._seen: bytes | None = None
        self._pubsub: Any = None

    def _same_process(self) -> None:
        if self._pid != os.getpid():  # a forked child is a new contender with its own token
            self._new_process()

    # ------------------------------------------------------------------ the provider protocol

    def should_fetch_flag_definitions(self) -> bool:
        """Lead (renew or take the lock) or follow (and note when the lock could expire)."""
        self._same_process()
        if self.leader:
            if self._renew(keys=[self.lock_key], args=[self.token, self.lock_ms]) == 1:
                return True
            self.leader = False
        if self.redis.set(self.lock_key, self.token, nx=True, px=self.lock_ms):
            self.leader = True
            self._next_check = None
            return True
        left = self.redis.pttl(self.lock_key)
        left_s = left / 1000.0 if isinstance(left, int) and left > 0 else 0.0
        self._next_check = time.monotonic() + left_s + 0.005
        return False

    def get_flag_definitions(self) -> dict[str, Any] | None:
        """The shared copy; when there is none yet and another process leads, wait (at most
        `fill_wait`) for its first copy rather than download alongside it."""
        self._same_process()
        raw = self.redis.get(self.key)
        if raw is None and not self.leader and self.fill_wait > 0:
            self._subscribe()
            raw = self.redis.get(self.key)  # written between the first read and the subscribe?
            if raw is None:
                self._listen(time.monotonic() + self.fill_wait, None)
                raw = self.redis.get(self.key)
        if raw is None:
            return None
        data = as_bytes(raw)
        document = msgspec.json.decode(data)
        if not isinstance(document, dict):
            raise TypeError("the shared flag definitions are not a JSON object")
        self._seen = _digest(data)
        return document

    def on_flag_definitions_received(self, data: Mapping[str, Any]) -> None:
        """Store a downloaded document (no ETag known)."""
        self.on_flag_definitions_fetched(data, None)

    def on_flag_definitions_fetched(self, data: Mapping[str, Any], etag: str | None) -> None:
        """Store a downloaded document with its ETag and tell the followers."""
        document = dict(data)
        document["etag"] = etag
        document["fetched_at"] = int(time.time() * 1000)
        raw = msgspec.json.encode(document)
        digest = _digest(raw)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.key, raw, px=self.ttl_ms)
        pipe.publish(self.channel, digest)
        pipe.execute()
        self._seen = digest

    def on_flag_definitions_unchanged(self, etag: str | None) -> bool:
        """A 304: extend the copy's life. False when the copy is gone (the poller rewrites it)."""
        return bool(self.redis.pexpire(self.key, self.ttl_ms))

    def shutdown(self) -> None:
        """Release the lock if this process holds it, so a follower takes over at once."""
        self._drop_pubsub()
        if self.leader and self._pid == os.getpid():
            self.leader = False
            self._release(keys=[self.lock_key], args=[self.token])

    # ------------------------------------------------------------------ notices

    def wait_for_flag_definitions_change(self, timeout: float, wake: threading.Event) -> bool:
        """The poller's sleep: at most `timeout` (a follower: until the lock could expire),
        ending early on `wake` or a change notice from another process. True on a notice."""
        self._same_process()
        now = time.monotonic()
        deadline = now + max(0.0, timeout)
        check, self._next_check = self._next_check, None  # set afresh by each lost election
        if not self.leader and check is not None and check > now:
            deadline = min(deadline, check)
        try:
            self._subscribe()
            return self._listen(deadline, wake)
        except (redis.RedisError, OSError):
            self._drop_pubsub()
            wake.wait(max(0.0, deadline - time.monotonic()))
            return False

    def _subscribe(self) -> Any:
        if self._pubsub is None:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
            except BaseException:
                pubsub.close()
                raise
            self._pubsub = pubsub
        return self._pubsub

    def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                pubsub.close()

    def _listen(self, deadline: float, wake: threading.Event | None) -> bool:
        pubsub = self._subscribe()
        while wake is None or not wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            message = pubsub.get_message(timeout=min(remaining, _LISTEN_SLICE))
            if message is None or message.get("type") != "message":
                continue
            if as_bytes(message.get("data") or b"") != self._seen:
                return True
        return False

    def __repr__(self) -> str:
        return f"RedisDefinitionCache(key={self.key!r}, leader={self.leader})"


def as_bytes(value: bytes | str) -> bytes:
    """A reply as bytes, whether or not the client was made with `decode_responses=True`."""
    return value.encode("utf-8") if isinstance(value, str) else value


def _digest(raw: bytes) -> bytes:
    return xxhash.xxh3_64_hexdigest(raw).encode("ascii")
