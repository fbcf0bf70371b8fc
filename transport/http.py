"""HTTP for hogkit: one urllib3 pool per process, with every wait bounded.

Everything that talks to PostHog goes through `request()`: the event sender below, and the
flags code (`/flags`, `/flags/definitions`). Keeping one pool per process gives keep-alive
across clients and a single place to reset after `fork()`.

Why a custom connection class: urllib3's connect timeout only covers `connect()`; name
resolution (`getaddrinfo`) blocks for as long as the system resolver likes (tens of seconds
with an unreachable DNS server). Connections made here resolve names on a helper thread and
give up when the connect timeout runs out, so a broken resolver cannot stall a flush.

Proxies come from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`),
as with requests, which posthog-python uses.

Error messages are built here from the failure's kind and the URL's scheme, host and path,
never from urllib3's own text (which repeats the query string, where a token may live), and
never with the original exception chained, so an API key cannot reach a log or a traceback.
"""

from __future__ import annotations

import errno
import gzip as _gzip
import logging
import os
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import urllib3
from hogkit.core.errors import HogkitError
from hogkit.core.version import LIB_NAME, __version__
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "GZIP_LEVEL",
    "MAX_RESPONSE_BYTES",
    "USER_AGENT",
    "HttpError",
    "NetworkError",
    "Response",
    "StatusError",
    "detail_of",
    "pool",
    "redact",
    "request",
    "resolve",
]

log = logging.getLogger("hogkit.transport.http")

USER_AGENT = f"{LIB_NAME}/{__version__}"
DEFAULT_TIMEOUT = 15.0
# Large enough for a flag definitions document; bounded so a misbehaving server cannot
# make the SDK buffer without limit.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# Level 1 already shrinks event JSON many times over; higher levels cost several times the CPU (on the
# application's own cores) to save another 10-20% of bytes.
GZIP_LEVEL = 1
_DETAIL_CHARS = 300


class HttpError(HogkitError):
    """A request that did not succeed. Messages never contain credentials."""


class NetworkError(HttpError):
    """No usable HTTP response: DNS, connect, TLS, timeout, reset or dropped connection.

    `kind` says which, from the exception's type and OS error code (never its text), so
    callers can choose a policy: "timeout", "refused" (nothing listens: retrying now is
    pointless) or "network" (anything else, such as a dropped connection).
    """

    def __init__(self, message: str, kind: str = "network") -> None:
        super().__init__(message)
        self.kind = kind


class StatusError(HttpError):
    """The server answered with a status that is not a success."""

    def __init__(self, status: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


@attrs.frozen
class Response:
    """A complete HTTP response; header names are lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


# ---------------------------------------------------------------------------------------------
# Name resolution with a deadline


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
    per name, not one per attempt. Raises `socket.timeout` or `socket.gaierror`.
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
        if lookup is None:
            lookup = _Lookup()
            _dns_in_flight[key] = lookup
            threading.Thread(
                target=_run_lookup,
                args=(key, lookup, getaddrinfo),
                name="hogkit-dns",
                daemon=True,
            ).start()
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


def _connect(conn: HTTPConnection) -> socket.socket:
    """urllib3's `_new_conn`, with name resolution bounded by the connect timeout."""
    timeout = conn.timeout if isinstance(conn.timeout, (int, float)) else DEFAULT_TIMEOUT
    deadline = time.monotonic() + timeout
    dns_host = conn._dns_host
    try:
        infos = resolve(dns_host.strip("[]"), conn.port or 80, timeout)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from None
    except OSError:
        raise ConnectTimeoutError(conn, f"resolving {conn.host} timed out") from None
    last: OSError | None = None
    for family, kind, proto, _canon, address in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(remaining)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(address)
            sock.settimeout(timeout)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if last is None or isinstance(last, socket.timeout):
        raise ConnectTimeoutError(conn, f"connecting to {conn.host} timed out")
    raise _ConnectFailed(conn, last)


class _ConnectFailed(NewConnectionError):
    """Connecting failed; keeps the OS error code for the message `request()` builds."""

    def __init__(self, conn: HTTPConnection, error: OSError) -> None:
        super().__init__(conn, f"failed to connect to {conn.host}: {_os_error_text(error)}")
        self.code = error.errno


class _Connection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect(self)


class _TLSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect(self)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


# ---------------------------------------------------------------------------------------------
# The per-process pool

_pool_lock = threading.Lock()
_pool: urllib3.PoolManager | None = None


def pool() -> urllib3.PoolManager:
    """This process's pool manager (keep-alive, TLS verified against the system CA store)."""
    global _pool
    manager = _pool
    if manager is not None:
        return manager
    with _pool_lock:
        if _pool is None:
            created = urllib3.PoolManager(
                num_pools=16,
                maxsize=8,
                block=False,
                retries=False,
                cert_reqs="CERT_REQUIRED",
            )
            created.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
            _pool = created
        return _pool


_proxy_managers: dict[str, urllib3.ProxyManager] = {}


def _manager_for(url: str) -> urllib3.PoolManager:
    """The pool for `url`: direct, or through the proxy the environment names for it.

    `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` are honoured as requests (and
    so posthog-python) honours them, read on every call so a changed environment applies.
    """
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return pool()
    if "://" not in proxy:
        proxy = "http://" + proxy
    with _pool_lock:
        manager = _proxy_managers.get(proxy)
        if manager is None:
            auth = urllib3.util.parse_url(proxy).auth
            manager = urllib3.ProxyManager(
                proxy,
                num_pools=16,
                maxsize=8,
                block=False,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                proxy_headers=urllib3.make_headers(proxy_basic_auth=auth) if auth else None,
            )
            manager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
            _proxy_managers[proxy] = manager
        return manager


def _after_fork_in_child() -> None:
    """Forget the parent's sockets and lookups; the child opens its own.

    The parent's pool is dropped, not closed: its sockets are shared with the parent, and
    its locks may have been held by a thread that does not exist in the child.
    """
    global _pool, _pool_lock, _dns_lock, _dns_in_flight, _proxy_managers
    _pool = None
    _proxy_managers = {}
    _pool_lock = threading.Lock()
    _dns_lock = threading.Lock()
    _dns_in_flight = {}


os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------------------------------------
# Requests


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    gzip: bool = False,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> Response:
    """One HTTP exchange, no retries and no redirects; any status comes back as a `Response`.

    `timeout` is seconds for connecting (name resolution included) and for each read, or a
    `(connect, read)` pair. `gzip=True` compresses `body` and says so in `Content-Encoding`.
    Raises `NetworkError` when no complete response arrived.
    """
    connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    sent_headers = {"User-Agent": USER_AGENT}
    if headers:
        sent_headers.update(headers)
    if body is not None and gzip:
        body = _gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        sent_headers["Content-Encoding"] = "gzip"
    where = _describe(method, url)
    try:
        response = _manager_for(url).request(
            method,
            url,
            body=body,
            headers=sent_headers,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=False,
            redirect=False,
            preload_content=False,
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise NetworkError(f"{where}: {_failure_text(exc)}", _failure_kind(exc)) from None
    try:
        chunks: list[bytes] = []
        received = 0
        for chunk in response.stream(64 * 1024, decode_content=True):
            received += len(chunk)
            if received > max_response_bytes:
                response.close()
                raise NetworkError(f"{where}: response larger than {max_response_bytes} bytes")
            chunks.append(chunk)
        response.release_conn()
    except NetworkError:
        raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise NetworkError(f"{where}: {_failure_text(exc)}", _failure_kind(exc)) from None
    return Response(
        status=response.status,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=b"".join(chunks),
    )


def _describe(method: str, url: str) -> str:
    """`POST https://host/path`, without userinfo, query or fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{method} {parts.scheme}://{host}{parts.path}"


def _failure_text(exc: BaseException) -> str:
    """What went wrong, from the exception's type and OS error code only."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.ProxyError):
        return "the proxy failed"
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return "read timed out"
    if isinstance(exc, _ConnectFailed):
        return "connection failed" + _errno_suffix(exc.code)
    if isinstance(exc, SSLError):
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        reason = getattr(inner, "reason", None) or getattr(inner, "verify_message", None)
        return f"TLS failed ({reason})" if reason else "TLS failed"
    if isinstance(exc, ProtocolError):
        for arg in exc.args:
            if isinstance(arg, OSError):
                return "connection dropped" + _errno_suffix(arg.errno)
        return "connection dropped by the server"
    if isinstance(exc, NameResolutionError):
        return "could not resolve host"
    if isinstance(exc, NewConnectionError):  # before ConnectTimeoutError: urllib3 subclasses it
        return "connection failed"
    if isinstance(exc, ConnectTimeoutError):
        return "connect timed out" if "resolving" not in str(exc) else "name resolution timed out"
    if isinstance(exc, OSError):
        return "connection failed" + _errno_suffix(exc.errno)
    return type(exc).__name__


def _failure_kind(exc: BaseException) -> str:
    """`NetworkError.kind` for a urllib3 or OS exception."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: a failed connect is no timeout.
    timed_out = isinstance(exc, ReadTimeoutError | TimeoutError | ConnectTimeoutError)
    if timed_out and not isinstance(exc, NewConnectionError):
        return "timeout"
    code = exc.code if isinstance(exc, _ConnectFailed) else getattr(exc, "errno", None)
    if code == errno.ECONNREFUSED or isinstance(exc, ConnectionRefusedError):
        return "refused"
    return "network"


def _errno_suffix(code: int | None) -> str:
    if code is not None and code in errno.errorcode:
        return f" ({errno.errorcode[code]})"
    return ""


def _os_error_text(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else type(exc).__name__


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every non-empty secret replaced, for messages that quote a server."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def detail_of(response: Response, secrets: Sequence[str] = ()) -> str:
    """A short, credential-free description of an error response's body."""
    text = response.body[: _DETAIL_CHARS * 4].decode("utf-8", "replace")
    return redact(" ".join(text.split())[:_DETAIL_CHARS], secrets)
