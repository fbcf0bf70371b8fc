"""HTTP for hogkit: one urllib3 pool per process, every exchange under a total deadline.

Everything that talks to PostHog goes through `request()`: the event sender, and the flags
code (`/flags`, `/flags/definitions`). Keeping one pool per process gives keep-alive across
clients and a single place to reset after `fork()`. The pools follow the process's
connection settings (`hogkit.transport.sockets`: socket options, connection reuse) and are
rebuilt when those change.

Each request runs through `hogkit.transport.deadline.exchange`: name resolution, connect,
TLS, sending and reading the whole answer share one deadline, so neither a dead resolver
nor a server that trickles its answer a byte at a time can hold a caller past it.

Proxies come from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`),
as with requests, which posthog-python uses, and so does a certificate bundle to trust
(`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`; see `trust`).

Error messages name only the method and the URL's scheme, host, port and path, never
urllib3's own text (which repeats the query string, where a token may live), and never
chain the original exception, so an API key cannot reach a log or a traceback.
"""

from __future__ import annotations

import gzip as _gzip
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

import attrs
import urllib3
from hogkit.core.errors import HogkitError
from hogkit.core.version import LIB_NAME, __version__

from . import deadline as _deadline
from . import sockets, trust
from .proxies import proxy_for
from .sockets import ConnectionSettings

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
]

log = logging.getLogger("hogkit.transport.http")

USER_AGENT = f"{LIB_NAME}/{__version__}"
DEFAULT_TIMEOUT = 15.0
# Large enough for a flag definitions document; bounded so a misbehaving server cannot
# make the SDK buffer without limit.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# Level 1 already shrinks event JSON many times over; higher levels spend far more CPU (on the
# application's own cores) for little further saving.
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
# The per-process pools


class _Pools:
    """The pool managers built from one `ConnectionSettings`: the direct one, and one per
    proxy and certificate bundle the environment names."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self.direct = _deadline.pool_manager(num_pools=16, maxsize=8, **settings.pool_options())
        # By (proxy URL, certificate bundle), either of them None.
        self._routed: dict[tuple[str | None, str | None], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def manager_for(self, url: str) -> urllib3.PoolManager:
        """The pool for `url`: direct, or through the proxy and with the certificate bundle
        the environment names for it (see `trust` for the bundle).

        `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` are honoured as requests
        (and so posthog-python) honours them (see `proxies`), read on every call so a
        changed environment applies.
        """
        parts = urllib.parse.urlsplit(url)
        proxy = proxy_for(parts.scheme, parts.hostname or "")
        ca = None
        if parts.scheme == "https":
            ca = trust.bundle()
            if ca is None:
                trust.check_system_store()
        if proxy is None and ca is None:
            return self.direct
        with self._lock:
            manager = self._routed.get((proxy, ca))
            if manager is None:
                manager = self._routed[(proxy, ca)] = self._build(proxy, ca)
            return manager

    def _build(self, proxy: str | None, ca: str | None) -> urllib3.PoolManager:
        options = {**self.settings.pool_options(), **trust.urllib3_options(ca)}
        if proxy is None:
            return _deadline.pool_manager(num_pools=16, maxsize=8, **options)
        auth = urllib3.util.parse_url(proxy).auth
        manager = urllib3.ProxyManager(
            proxy,
            num_pools=16,
            maxsize=8,
            block=False,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            proxy_headers=urllib3.make_headers(proxy_basic_auth=auth) if auth else None,
            **options,
        )
        _deadline.install(manager)
        return manager

    def close(self) -> None:
        """Close idle connections now; those in use are closed when their request ends."""
        with self._lock:
            managers = [self.direct, *self._routed.values()]
        for manager in managers:
            manager.clear()


_pool_lock = threading.Lock()
_pools: _Pools | None = None


def _current_pools() -> _Pools:
    """The pools for the connection settings in force, rebuilt when the settings changed
    (`hogkit.transport.sockets`), so every client's next request uses the new ones."""
    global _pools
    pools = _pools
    if pools is not None and pools.settings is sockets.current():
        return pools
    with _pool_lock:
        pools = _pools
        if pools is None or pools.settings is not sockets.current():
            stale, pools = pools, _Pools(sockets.current())
            _pools = pools
            if stale is not None:
                stale.close()
        return pools


def pool() -> urllib3.PoolManager:
    """This process's direct pool manager (keep-alive, TLS verified; see `trust`)."""
    return _current_pools().direct


def _after_fork_in_child() -> None:
    """Forget the parent's sockets; the child opens its own.

    The parent's pools are dropped, not closed: their sockets are shared with the parent,
    and their locks may have been held by a thread that does not exist in the child.
    """
    global _pools, _pool_lock
    _pools = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------------------------------------
# Requests


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
    gzip: bool = False,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> Response:
    """One HTTP exchange, no retries and no redirects; any status comes back as a `Response`.

    `timeout` is the total time in seconds for the whole exchange (name resolution, connect,
    TLS, sending, and reading the entire answer); `deadline`, a `time.monotonic()` instant,
    can only shorten it. `gzip=True` compresses `body` and says so in `Content-Encoding`.
    Raises `NetworkError` when no complete response arrived in time.
    """
    until = time.monotonic() + max(0.0, timeout)
    if deadline is not None:
        until = min(until, deadline)
    sent_headers = {"User-Agent": USER_AGENT}
    if headers:
        sent_headers.update(headers)
    if body is not None and gzip:
        body = _gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        sent_headers["Content-Encoding"] = "gzip"

    def send(manager: urllib3.PoolManager) -> _deadline.Answer:
        return _deadline.exchange(
            manager,
            method,
            url,
            deadline=until,
            body=body,
            headers=sent_headers,
            max_response_bytes=max_response_bytes,
        )

    try:
        answer = _send(url, send)
    except _deadline.ExchangeFailed as exc:
        raise NetworkError(str(exc), exc.kind) from None
    return Response(status=answer.status, headers=answer.headers, body=answer.body)


def _send(url: str, send: Callable[[urllib3.PoolManager], _deadline.Answer]) -> _deadline.Answer:
    """`send` through the shared pools; or, with connection reuse off, through pools of
    its own that are closed afterwards, so the connection serves this one request."""
    pools = _current_pools()
    if not pools.settings.reuse:
        alone = _Pools(pools.settings)
        try:
            return send(alone.manager_for(url))
        finally:
            alone.close()
    try:
        return send(pools.manager_for(url))
    except _deadline.PoolClosed:
        # The settings changed between choosing a pool and taking a connection from it;
        # nothing was sent, so the new pools may send it.
        return send(_current_pools().manager_for(url))


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
