"""Name resolution with a deadline.

`getaddrinfo` blocks for as long as the system resolver likes (tens of seconds with an
unreachable DNS server) and cannot be interrupted, so lookups run on a helper thread and the
caller waits only for the time it has left.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

__all__ = ["resolve"]


class _Lookup:
    """One in-flight `getaddrinfo`, shared by every caller waiting on the same name."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: list[Any] = []
        self.error: BaseException | None = None


_dns_lock = threading.Lock()
_dns_in_flight: dict[tuple[str, int], _Lookup] = {}


def resolve(
    host: str, port: int, timeout: float, *, getaddrinfo: Any = socket.getaddrinfo
) -> list[Any]:
    """`getaddrinfo(host, port)` for TCP, giving up after `timeout` seconds.

    A lookup that outlives its caller keeps running on its daemon thread; later callers for
    the same name join it instead of starting another, so a dead resolver costs one thread
    per name, not one per attempt. Where no thread can start (Python 3.12.0 and 3.12.1 at
    interpreter exit), the lookup runs on the caller's thread, bounded by the resolver's
    own timeout. Raises `socket.timeout` or `socket.gaierror`.
    """
    try:
        numeric: list[Any] = getaddrinfo(
            host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )
        return numeric
    except socket.gaierror:
        pass
    key = (host, port)
    with _dns_lock:
        lookup = _dns_in_flight.get(key)
        started = lookup is None
        if lookup is None:
            lookup = _dns_in_flight[key] = _Lookup()
    if started:
        thread = threading.Thread(
            target=_run_lookup, args=(key, lookup, getaddrinfo), name="hogkit-dns", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no new thread at interpreter exit
            _run_lookup(key, lookup, getaddrinfo)
    if not lookup.done.wait(timeout):
        raise TimeoutError(f"name resolution timed out after {timeout:g}s")
    if lookup.error is not None:
        if isinstance(lookup.error, socket.gaierror):
            raise socket.gaierror(*lookup.error.args)
        raise socket.gaierror(f"name resolution failed: {type(lookup.error).__name__}")
    return list(lookup.result)


def _run_lookup(key: tuple[str, int], lookup: _Lookup, getaddrinfo: Any) -> None:
    try:
        lookup.result = list(getaddrinfo(key[0], key[1], 0, socket.SOCK_STREAM))
    except BaseException as exc:  # reported to the waiters, never raised on this thread
        lookup.error = exc
    finally:
        with _dns_lock:
            if _dns_in_flight.get(key) is lookup:
                del _dns_in_flight[key]
        lookup.done.set()


def _after_fork_in_child() -> None:
    """The parent's lookup threads do not exist in the child; forget their entries."""
    global _dns_lock, _dns_in_flight
    _dns_lock = threading.Lock()
    _dns_in_flight = {}


os.register_at_fork(after_in_child=_after_fork_in_child)
