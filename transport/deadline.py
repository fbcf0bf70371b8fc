"""One HTTP exchange under a total deadline: name resolution, connect, TLS, sending the body,
reading the headers and reading the whole body, all inside one monotonic instant.

Why not urllib3's timeouts alone: a socket timeout bounds each `recv`, so a server that
writes one byte every 0.2 s never trips a 1 s read timeout and can hold a caller for as long
as it likes. Here every socket an exchange uses is handed to a watchdog; when the deadline
passes, the watchdog shuts the socket down (`shutdown(SHUT_RDWR)`), which wakes the blocked
`recv` or `send` at once, whichever phase it is in. Socket timeouts are still set to the time
remaining, so a silent server fails on its own without the watchdog.

How sockets reach the watchdog: the connection classes below (`DeadlineHTTPConnection`,
`DeadlineHTTPSConnection`, used through `install()` or `pool_manager()`) look up the exchange
running on their thread and register each socket they create or reuse. Name resolution runs
on a helper thread (`hogkit.transport.http.resolve`) bounded by the time remaining. A pool
without these classes still gets a bounded body read (the response's socket is registered
once the headers are in) but not bounded DNS or headers.

One watchdog thread serves the whole process: arming is a heap push, so the bound costs
no thread per request. Cancelled entries leave the heap when their instant passes.

What is not covered: a TLS handshake that trickles (the socket being wrapped is not yet
the connection's socket; it is bounded per operation by the time remaining).
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import urllib3
from hogkit.core.errors import HogkitError
from hogkit.transport.dns import resolve
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

__all__ = [
    "Answer",
    "DeadlineExceeded",
    "DeadlineHTTPConnection",
    "DeadlineHTTPSConnection",
    "ExchangeFailed",
    "PoolClosed",
    "Watch",
    "Watchdog",
    "exchange",
    "install",
    "pool_manager",
]

MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


class ExchangeFailed(HogkitError):
    """No complete response arrived. The message names the failure's kind, the method and the
    URL's scheme, host, port and path: never the query string, userinfo or headers.

    `kind` lets a caller choose a retry policy without parsing text: "timeout", "refused"
    (nothing listens: retrying at once is pointless) or "network" (anything else).
    """

    kind = "network"

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class DeadlineExceeded(ExchangeFailed):
    """The deadline passed before the whole response was read."""

    kind = "timeout"


class PoolClosed(ExchangeFailed):
    """The pool was closed before a connection was taken from it: nothing was sent, so the
    request may be sent again through another pool."""


class _Refused(NewConnectionError):
    """Connecting was refused (ECONNREFUSED): the one connect failure worth telling apart."""


class _NoDescriptors(NewConnectionError):
    """No socket could be opened: the process (or system) is out of file descriptors, a
    problem of the host, not of the network, that an operator must be told by name."""


_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})


@attrs.frozen
class Answer:
    """A complete response; header names are lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes


# ---------------------------------------------------------------------------------------------
# The watchdog


class Watch:
    """The sockets of one exchange, shut down together when its deadline passes."""

    __slots__ = ("_lock", "_sockets", "cancelled", "deadline", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self.cancelled = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def add(self, sock: Any) -> None:
        """Watch `sock` too; one added after the deadline is shut down at once."""
        if sock is None:
            return
        with self._lock:
            if not self.fired:
                self._sockets.append(sock)
                return
        _shut(sock)

    def fire(self) -> None:
        with self._lock:
            if self.cancelled or self.fired:
                return
            self.fired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> bool:
        """Stop watching; True when the watchdog had already fired."""
        with self._lock:
            self.cancelled = True
            self._sockets = []
            return self.fired


def _shut(sock: Any) -> None:
    # A socket already closed or never connected has nothing to wake.
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread firing watches in deadline order.

    The thread starts with the first watch. Where no thread can start (Python 3.12.0 and
    3.12.1 refuse new threads once the interpreter is exiting, which is when a short
    script's only batch goes out; a process at its thread limit refuses them too), a
    watch is left unwatched: its exchange is bounded by its per-operation timeouts alone,
    and its events still go. A later watch tries to start the thread again.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> Watch:
        watch = Watch(deadline)
        with self._cond:
            if self._thread is None and not self._start():
                return watch  # never fires, and is not kept (see the class docstring)
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            if self._heap[0][2] is watch:
                self._cond.notify()
        return watch

    def _start(self) -> bool:
        """Start the thread; False where none can start (at exit, or out of threads)."""
        thread = threading.Thread(target=self._run, name="hogkit-deadline", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            return False
        self._thread = thread
        return True

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > self._clock():
                    wait = self._heap[0][0] - self._clock() if self._heap else None
                    self._cond.wait(wait)
                due = [heapq.heappop(self._heap)[2]]
                while self._heap and self._heap[0][0] <= self._clock():
                    due.append(heapq.heappop(self._heap)[2])
            for watch in due:
                watch.fire()


_watchdog = Watchdog()
_active = threading.local()


def _after_fork_in_child() -> None:
    """The parent's watchdog thread does not exist in the child; start afresh."""
    global _watchdog, _active
    _watchdog = Watchdog()
    _active = threading.local()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _current() -> Watch | None:
    watch: Watch | None = getattr(_active, "watch", None)
    return watch


# ---------------------------------------------------------------------------------------------
# Connections that report their sockets


def _open(conn: HTTPConnection) -> socket.socket:
    """Resolve (on a helper thread) and connect, both within the current exchange's time."""
    watch = _current()
    limit = conn.timeout if isinstance(conn.timeout, (int, float)) else 15.0
    deadline = min(watch.deadline, time.monotonic() + limit) if watch else time.monotonic() + limit
    try:
        infos = resolve(conn._dns_host.strip("[]"), conn.port or 80, deadline - time.monotonic())
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from None
    except OSError as exc:  # the resolver reads files too (EAI_SYSTEM carries its errno)
        if exc.errno in _OUT_OF_DESCRIPTORS:
            raise _NoDescriptors(conn, "no file descriptor to resolve the host") from None
        raise ConnectTimeoutError(conn, "name resolution timed out") from None
    last: OSError | None = None
    for family, kind, proto, _canon, address in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            last = exc
            break
        if watch is not None:
            watch.add(sock)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(remaining)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if last is None or isinstance(last, TimeoutError):
        raise ConnectTimeoutError(conn, "connect timed out")
    if isinstance(last, ConnectionRefusedError):
        raise _Refused(conn, "connection refused")
    if last.errno in _OUT_OF_DESCRIPTORS:
        raise _NoDescriptors(conn, "no file descriptor for a socket")
    raise NewConnectionError(conn, f"connect failed: {type(last).__name__}")


class DeadlineHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _open(self)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        watch = _current()
        if watch is not None:
            watch.add(self.sock)  # a reused keep-alive connection
        super().request(method, url, *args, **kwargs)


class DeadlineHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _open(self)

    def connect(self) -> None:
        super().connect()
        watch = _current()
        if watch is not None:
            watch.add(self.sock)  # the TLS socket that replaced the raw one

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        watch = _current()
        if watch is not None:
            watch.add(self.sock)
        super().request(method, url, *args, **kwargs)


class _Pool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


def install(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    """Make `manager` open deadline-aware connections (pools it already made are kept)."""
    manager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
    return manager


def pool_manager(**kwargs: Any) -> urllib3.PoolManager:
    """A PoolManager with deadline-aware connections, no retries, TLS verified."""
    options: dict[str, Any] = {"retries": False, "cert_reqs": "CERT_REQUIRED", "block": False}
    options.update(kwargs)
    return install(urllib3.PoolManager(**options))


# ---------------------------------------------------------------------------------------------
# The exchange


def exchange(
    manager: urllib3.PoolManager,
    method: str,
    url: str,
    *,
    deadline: float,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> Answer:
    """Send one request and read the whole answer before `deadline` (a `time.monotonic()`
    instant). No retries, no redirects: every status comes back as an `Answer`.

    Raises `DeadlineExceeded` when the deadline passes first, `PoolClosed` when the pool
    was closed before anything was sent, `ExchangeFailed` for any other way of getting no
    complete answer (refused, reset, garbage, too large).
    """
    where = _where(method, url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded(f"{where}: timed out (deadline passed before sending)")
    watch = _watchdog.arm(deadline)
    outer = _current()
    _active.watch = watch
    response: Any = None
    try:
        response = manager.request(
            method,
            url,
            body=body,
            headers=dict(headers or {}),
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        watch.add(getattr(response.connection, "sock", None))
        payload = _read_body(response, deadline, max_response_bytes, where)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if response is not None:
            response.close()
            response.release_conn()
        if isinstance(exc, ClosedPoolError):
            raise PoolClosed(f"{where}: connection pool closed") from None
        if watch.fired or _timed_out(exc):
            raise DeadlineExceeded(f"{where}: timed out (deadline passed)") from None
        refused = isinstance(_reason(exc), _Refused)
        raise ExchangeFailed(f"{where}: {_kind(exc)}", "refused" if refused else None) from None
    except ExchangeFailed:
        response.close()
        response.release_conn()
        raise
    finally:
        fired = watch.cancel()
        _active.watch = outer
    if fired:  # the answer was complete, but its socket was shut down: do not reuse it
        response.close()
    response.release_conn()
    return Answer(
        status=response.status,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=payload,
    )


def _read_body(response: Any, deadline: float, limit: int, where: str) -> bytes:
    """The whole body, in reads of at most `_CHUNK` bytes so no read sizes a buffer by the
    limit. The watchdog, not this loop, bounds the time a read can take."""
    chunks: list[bytes] = []
    received = 0
    while True:
        chunk = response.read(_CHUNK, decode_content=True)
        if not chunk:
            break
        received += len(chunk)
        if received > limit:
            raise ExchangeFailed(f"{where}: response larger than {limit} bytes")
        chunks.append(chunk)
    if time.monotonic() > deadline:
        raise DeadlineExceeded(f"{where}: timed out (deadline passed while reading the body)")
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _timed_out(exc: BaseException) -> bool:
    if isinstance(exc, NewConnectionError):  # urllib3 files it under ConnectTimeoutError
        return False
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError, TimeoutError)):
        return True
    reason = getattr(exc, "reason", None) or (exc.args[1] if len(exc.args) > 1 else None)
    return isinstance(reason, (ReadTimeoutError, ConnectTimeoutError, TimeoutError))


def _reason(exc: BaseException) -> BaseException:
    """The underlying failure of a urllib3 `MaxRetryError`, else `exc` itself."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, BaseException) else exc


def _kind(exc: BaseException) -> str:
    exc = _reason(exc)
    if isinstance(exc, _Refused):
        return "connection refused"
    if isinstance(exc, _NoDescriptors):
        return "no socket could be opened: too many open files"
    if isinstance(exc, NameResolutionError):
        return "name resolution failed"
    if isinstance(exc, NewConnectionError):
        return "connection refused or unreachable"
    if isinstance(exc, SSLError):
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        reason = getattr(inner, "reason", None) or getattr(inner, "verify_message", None)
        return f"TLS failed ({reason})" if reason else "TLS failed"
    if isinstance(exc, ProtocolError):
        return "connection dropped (reset, closed early or not HTTP)"
    return f"failed ({type(exc).__name__})"


def _where(method: str, url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{method} {parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
