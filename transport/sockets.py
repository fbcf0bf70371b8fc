"""How hogkit opens its connections: socket options and connection reuse, process-wide.

Some networks need a say in this. A load balancer or NAT that silently drops connections
idle for a few minutes turns the next request on a pooled connection into a reset, and
TCP keepalive probes keep such a connection known to it; an environment that kills pooled
connections outright is better served by a fresh connection per request. So the process
holds one `ConnectionSettings` value, and every pool hogkit builds (the urllib3 pools of
`hogkit.transport.http`, for events, `/flags`, definitions and remote config, and the
aiohttp sessions of the async client) is built from it.

A change applies to the next request of every client, including clients built before it:
the pools compare the settings they were built from with the current ones on each request
and are rebuilt when they differ, so no connection opened under the old settings is used
again. Requests already in flight finish on their connection. The settings are one frozen
value replaced under a lock, so a reader never sees half a change.

`set_socket_options`, `enable_keep_alive` and `disable_connection_reuse` keep the meaning
posthog-python gives them (a drop-in imports them from `hogkit`); `restore_defaults` also
turns reuse back on, which posthog-python has no call for.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from typing import Any

import attrs
from urllib3.connection import HTTPConnection

__all__ = [
    "DEFAULT_SOCKET_OPTIONS",
    "KEEPALIVE_IDLE_SECONDS",
    "KEEPALIVE_INTERVAL_SECONDS",
    "KEEPALIVE_PROBES",
    "KEEP_ALIVE_SOCKET_OPTIONS",
    "ConnectionSettings",
    "SocketOption",
    "SocketOptions",
    "current",
    "disable_connection_reuse",
    "enable_keep_alive",
    "restore_defaults",
    "set_socket_options",
]

log = logging.getLogger("hogkit")

SocketOption = tuple[int, int, int | bytes]
"""One `(level, option, value)` triple, as `socket.setsockopt` takes it."""

SocketOptions = Sequence[SocketOption]
"""What `set_socket_options` takes: the options every new connection's socket gets."""

DEFAULT_SOCKET_OPTIONS: tuple[SocketOption, ...] = tuple(HTTPConnection.default_socket_options)
"""urllib3's own choice (TCP_NODELAY): what a socket gets when no options are set."""

KEEPALIVE_IDLE_SECONDS = 60
KEEPALIVE_INTERVAL_SECONDS = 60
KEEPALIVE_PROBES = 3


def _keep_alive_options() -> tuple[SocketOption, ...]:
    """The defaults plus SO_KEEPALIVE, and the probe timing where the platform lets a socket
    set it: Linux has all three, Windows the first two, macOS none (it uses system timing)."""
    options = [*DEFAULT_SOCKET_OPTIONS, (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    timing = (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_SECONDS),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_SECONDS),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
    )
    for name, value in timing:
        option = getattr(socket, name, None)
        if option is not None:
            options.append((socket.IPPROTO_TCP, option, value))
    return tuple(options)


KEEP_ALIVE_SOCKET_OPTIONS: tuple[SocketOption, ...] = _keep_alive_options()
"""What `enable_keep_alive()` sets."""


@attrs.frozen
class ConnectionSettings:
    """How new connections are opened.

    `socket_options` None means the library defaults (urllib3's TCP_NODELAY); a tuple
    replaces them. `reuse` False closes each connection after its one request.
    """

    socket_options: tuple[SocketOption, ...] | None = None
    reuse: bool = True

    def pool_options(self) -> dict[str, Any]:
        """Keyword arguments for a urllib3 pool manager. Without options the key is left
        out: urllib3 reads an explicit None as "no options at all", not as its defaults."""
        if self.socket_options is None:
            return {}
        return {"socket_options": list(self.socket_options)}

    def new_socket(self, family: int, kind: int, proto: int) -> socket.socket:
        """An unconnected socket with `socket_options` set (for clients that make their own)."""
        sock = socket.socket(family, kind, proto)
        try:
            for option in self.socket_options or ():
                sock.setsockopt(*option)
        except OSError:
            sock.close()
            raise
        return sock


_lock = threading.Lock()
_settings = ConnectionSettings()


def current() -> ConnectionSettings:
    """The settings in force; pools built from another value are out of date."""
    return _settings


def _replace(**changes: Any) -> None:
    global _settings
    with _lock:
        updated = attrs.evolve(_settings, **changes)
        if updated != _settings:
            _settings = updated


def _valid(options: object) -> tuple[SocketOption, ...] | None:
    """`options` as a tuple of triples, or None when it is not a sequence of
    `(int, int, int | bytes)` (a bad option must not reach every later connect)."""
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence):
        return None
    checked: list[SocketOption] = []
    for option in options:
        if not (isinstance(option, (tuple, list)) and len(option) == 3):
            return None
        level, name, value = option
        if not (isinstance(level, int) and isinstance(name, int)):
            return None
        if not isinstance(value, (int, bytes)):
            return None
        checked.append((level, name, value))
    return tuple(checked)


def set_socket_options(socket_options: SocketOptions | None) -> None:
    """Set `(level, option, value)` triples on the socket of every connection opened from
    now on, by every client, in place of the defaults; None restores the defaults.

    Something that is not a sequence of such triples is logged and ignored (the settings
    stay as they were), so a typo cannot make every later request fail.
    """
    if socket_options is None:
        _replace(socket_options=None)
        return
    options = _valid(socket_options)
    if options is None:
        log.error("set_socket_options: ignored; expected (level, option, value) tuples")
        return
    _replace(socket_options=options)


def enable_keep_alive() -> None:
    """Send TCP keepalive probes on idle connections, so a network device that forgets quiet
    connections keeps the pooled ones (`KEEP_ALIVE_SOCKET_OPTIONS`)."""
    set_socket_options(KEEP_ALIVE_SOCKET_OPTIONS)


def disable_connection_reuse() -> None:
    """Open a fresh connection for every request and close it after the answer: slower, for
    environments that break pooled connections."""
    _replace(reuse=False)


def restore_defaults() -> None:
    """Library socket options and connection reuse again, as at import."""
    _replace(socket_options=None, reuse=True)
