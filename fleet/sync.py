"""`hogkit sync`: the one process that downloads flag definitions for a fleet of readers.

App servers started with `flag_definitions_follower_only=True` never call PostHog for
definitions; they read the copy this process keeps in Redis. Several sync processes may run
for redundancy: they elect a leader through the same lock the clients use, so PostHog still
sees one poll per interval.
"""

from __future__ import annotations

import logging
import threading

from hogkit.transport.definitions_cache import CacheBridge
from hogkit.transport.flags_transport import FlagsTransport, HttpFlagsTransport
from hogkit.transport.poller import DefinitionsPoller

from .redis_cache import DEFAULT_TIMEOUT, RedisDefinitionCache

__all__ = ["run_sync"]

log = logging.getLogger("hogkit.fleet.sync")


def run_sync(
    redis_url: str,
    project_api_key: str,
    secret_key: str,
    host: str = "https://us.i.posthog.com",
    interval: float = 30.0,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    prefix: str = "hogkit",
    redis_timeout: float = DEFAULT_TIMEOUT,
    transport: FlagsTransport | None = None,
) -> int:
    """Keep the project's definitions in Redis fresh until `stop` is set (or once).

    Returns a process exit code: 0, or 1 when `once` could not download the definitions or
    could not reach Redis.
    """
    cache = RedisDefinitionCache(
        redis_url, project_api_key, interval=interval, prefix=prefix, timeout=redis_timeout
    )
    bridge = CacheBridge(cache)
    poller = DefinitionsPoller(
        transport or HttpFlagsTransport(project_api_key, host, secret_key=secret_key),
        interval=interval,
        cache=bridge,
    )
    if once:
        ok = poller.poll_once()
        shared = not bridge.failing  # read before shutdown, which may fail on its own
        poller.stop(0.0)
        return 0 if ok and shared and poller.status().source is not None else 1
    stop = stop or threading.Event()
    log.info("sync: sharing flag definitions through %s every %gs", cache.key, interval)
    poller.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        poller.stop(1.0)
    return 0
