"""How `AsyncClient` reaches PostHog without blocking its event loop: `AsyncTransport`.

The async client awaits only two kinds of request, `/flags` (remote evaluation of what local
evaluation could not decide) and a remote-config payload; events go through the same
queue and worker thread as the sync client's, and definitions through the same poller
thread. So this protocol is small, and everything it returns is the sync transports'
`Response`, judged by the same code.

Which library, and why aiohttp (the `async` extra, `pip install 'hogkit[async]'`):

* aiohttp is an asyncio-native client with its own connection pool and a total deadline
  per request (`ClientTimeout(total=...)`), actively released, and the library the
  asyncio clients of other flag SDKs (LaunchDarkly, Unleash) already put in applications.
* httpx also has an async API, but its maintenance has slowed to a trickle of releases;
  a new dependency of an SDK should be one that keeps up with new Python versions.
* Offloading the sync urllib3 transport to threads needs no new dependency, but every
  request in flight then holds a thread: a hundred concurrent slow `/flags` calls mean a
  hundred threads, or a queue behind a small pool whose wait eats the flags timeout, and a
  cancelled task cannot take its thread's socket back. `ThreadedTransport` is still here,
  as the fallback when aiohttp is not installed and to run a sync `FlagsTransport` (a test
  double, an embedder's own) under the async client.

Both raise `NetworkError` (with `kind` "timeout", "refused" or "network") when no answer
arrived, return any HTTP status as a `Response`, and never put a key in a message.

Both follow the process's connection settings (`hogkit.transport.sockets`), the proxies
and the certificate bundle the environment names (`hogkit.transport.trust`): the threaded
one through `http.request`, the aiohttp one by making a new session when the settings or
the bundle change (its connector's `socket_factory` sets the socket options,
`force_close` stops reuse), and naming the proxy on each request.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.parse
from typing import Any, Protocol, runtime_checkable

from hogkit.core.flags_request import FLAGS_PATH

from . import http, sockets, trust
from .flags_transport import FlagsTransport, HttpFlagsTransport
from .http import NetworkError, Response
from .proxies import proxy_for

try:  # at import, not in the loop: importing aiohttp takes tens of milliseconds
    import aiohttp as _aiohttp
except ImportError:  # the `async` extra is not installed
    _aiohttp = None  # type: ignore[assignment]

__all__ = [
    "REMOTE_CONFIG_PATH",
    "AiohttpTransport",
    "AsyncTransport",
    "ThreadedTransport",
    "default_async_transport",
    "remote_config_url",
]

REMOTE_CONFIG_PATH = "/api/projects/@current/feature_flags/{key}/remote_config"


@runtime_checkable
class AsyncTransport(Protocol):
    """What the async client awaits. Failures raise `http.NetworkError`."""

    async def post_flags(self, body: bytes, *, timeout: float) -> Response:
        """One remote evaluation; `body` is the encoded request. Any status returns."""
        ...

    async def fetch_remote_config(self, key: str, *, timeout: float) -> Response:
        """The decrypted payload of the remote-config flag `key`. Any status returns."""
        ...

    async def aclose(self) -> None:
        """Release connections; later calls may open new ones."""
        ...


def remote_config_url(host: str, api_key: str, key: str) -> str:
    """Where a remote-config payload is read (the project key rides in the query)."""
    path = REMOTE_CONFIG_PATH.format(key=urllib.parse.quote(key, safe=""))
    return f"{host.rstrip('/')}{path}?token={urllib.parse.quote(api_key, safe='')}"


def _where(method: str, url: str) -> str:
    """`GET https://host/path` for messages: no userinfo, query or fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{method} {parts.scheme}://{host}{parts.path}"


class _Endpoints:
    """The two URLs and their headers, shared by both transports."""

    __slots__ = ("api_key", "flags_url", "host", "secret_key")

    def __init__(self, api_key: str, host: str, secret_key: str | None) -> None:
        self.api_key = api_key
        self.host = host.rstrip("/")
        self.secret_key = secret_key or None
        self.flags_url = self.host + FLAGS_PATH

    def remote_config(self, key: str) -> tuple[str, dict[str, str]]:
        url = remote_config_url(self.host, self.api_key, key)
        return url, {"Authorization": f"Bearer {self.secret_key or ''}"}


class AiohttpTransport:
    """`AsyncTransport` over aiohttp; one session (connection pool) per event loop.

    A session belongs to the loop it was made on, so a client used from another loop (a
    test's `asyncio.run`, a framework's per-thread loop) gets a session of its own there.
    """

    def __init__(
        self,
        api_key: str,
        host: str,
        *,
        secret_key: str | None = None,
        connections: int = 100,
        max_response_bytes: int = http.MAX_RESPONSE_BYTES,
    ) -> None:
        if _aiohttp is None:
            raise ImportError("AiohttpTransport needs the async extra: pip install 'hogkit[async]'")
        self._aiohttp = _aiohttp
        self._endpoints = _Endpoints(api_key, host, secret_key)
        self._connections = connections
        self._max_bytes = max_response_bytes
        # Per loop: the connection settings and certificate bundle it was made for, and
        # the session.
        self._sessions: dict[
            asyncio.AbstractEventLoop, tuple[tuple[sockets.ConnectionSettings, str | None], Any]
        ] = {}
        self._retired: list[tuple[asyncio.AbstractEventLoop, Any]] = []

    def __repr__(self) -> str:
        return f"AiohttpTransport({self._endpoints.host!r})"

    async def post_flags(self, body: bytes, *, timeout: float) -> Response:
        headers = {"Content-Type": "application/json"}
        return await self._request("POST", self._endpoints.flags_url, body, headers, timeout)

    async def fetch_remote_config(self, key: str, *, timeout: float) -> Response:
        url, headers = self._endpoints.remote_config(key)
        return await self._request("GET", url, None, headers, timeout)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        closing = [session for owner, session in self._retired if owner is loop]
        self._retired = [(owner, session) for owner, session in self._retired if owner is not loop]
        current = self._sessions.pop(loop, None)
        if current is not None:
            closing.append(current[1])
        self._forget_closed_loops()
        for session in closing:
            await session.close()

    def _forget_closed_loops(self) -> None:
        """Drop the sessions of loops that are gone (their sockets went with them)."""
        for owner in [owner for owner in self._sessions if owner.is_closed()]:
            del self._sessions[owner]
        self._retired = [
            (owner, session) for owner, session in self._retired if not owner.is_closed()
        ]

    def _session(self) -> Any:
        """This loop's session, made anew when the process's connection settings changed.

        A replaced session is not closed here, as requests may still be reading from it: it
        waits for `aclose()`, and aiohttp's keep-alive timer closes its idle connections.
        """
        loop = asyncio.get_running_loop()
        settings = (sockets.current(), trust.bundle())
        built = self._sessions.get(loop)
        if built is not None and not built[1].closed:
            if built[0][0] is settings[0] and built[0][1] == settings[1]:
                return built[1]
            self._retired.append((loop, built[1]))
        self._forget_closed_loops()
        connection, ca = settings
        aiohttp = self._aiohttp
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._connections,
                force_close=not connection.reuse,
                socket_factory=_socket_factory(connection),
                ssl=trust.ssl_context(ca),
            ),
            headers={"User-Agent": http.USER_AGENT},
            auto_decompress=True,
        )
        self._sessions[loop] = (settings, session)
        return session

    async def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> Response:
        aiohttp = self._aiohttp
        where = _where(method, url)
        parts = urllib.parse.urlsplit(url)
        try:
            async with self._session().request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=max(0.001, timeout)),
                allow_redirects=False,
                # The environment's proxy, as the sync transport takes it (see `proxies`).
                proxy=proxy_for(parts.scheme, parts.hostname or ""),
            ) as reply:
                data = await reply.content.read(self._max_bytes + 1)
                if len(data) > self._max_bytes:
                    raise NetworkError(f"{where}: response larger than {self._max_bytes} bytes")
                return Response(
                    status=reply.status,
                    headers={name.lower(): value for name, value in reply.headers.items()},
                    body=data,
                )
        except NetworkError:
            raise
        except asyncio.TimeoutError:
            raise NetworkError(f"{where}: timed out", "timeout") from None
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            kind = "refused" if refused else "network"
            raise NetworkError(f"{where}: {_failure(exc.os_error)}", kind) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"{where}: {_failure(exc)}", "network") from None


def _socket_factory(settings: sockets.ConnectionSettings) -> Any:
    """aiohttp's socket maker for `settings`; None (aiohttp's own) without socket options.
    aiohttp sets TCP_NODELAY on every connection itself, whatever the options."""
    if settings.socket_options is None:
        return None

    def make(address: tuple[Any, ...]) -> socket.socket:
        family, kind, proto = address[0], address[1], address[2]
        return settings.new_socket(family, kind, proto)

    return make


def _failure(exc: BaseException) -> str:
    """An exception's type and OS error code: never its text, which may hold a URL."""
    code = getattr(exc, "errno", None)
    return f"{type(exc).__name__}" + (f" (errno {code})" if isinstance(code, int) else "")


class ThreadedTransport:
    """`AsyncTransport` that runs blocking calls in the loop's default executor.

    Each request in flight holds one executor thread: fine for a sync `FlagsTransport`
    double, or light use without the `async` extra; see the module docstring for the
    cost under concurrency.
    """

    def __init__(
        self,
        api_key: str,
        host: str,
        *,
        secret_key: str | None = None,
        flags_transport: FlagsTransport | None = None,
    ) -> None:
        self._endpoints = _Endpoints(api_key, host, secret_key)
        self._flags: FlagsTransport = flags_transport or HttpFlagsTransport(
            api_key, host, secret_key=secret_key
        )

    def __repr__(self) -> str:
        return f"ThreadedTransport({self._flags!r})"

    async def post_flags(self, body: bytes, *, timeout: float) -> Response:
        return await asyncio.to_thread(self._flags.post_flags, body, timeout=timeout)

    async def fetch_remote_config(self, key: str, *, timeout: float) -> Response:
        url, headers = self._endpoints.remote_config(key)
        return await asyncio.to_thread(http.request, "GET", url, headers=headers, timeout=timeout)

    async def aclose(self) -> None:
        return None


def default_async_transport(
    api_key: str,
    host: str,
    *,
    secret_key: str | None = None,
    flags_transport: FlagsTransport | None = None,
) -> AsyncTransport:
    """aiohttp when the `async` extra is installed; threads for a sync `flags_transport`
    or without the extra."""
    if flags_transport is None:
        try:
            return AiohttpTransport(api_key, host, secret_key=secret_key)
        except ImportError:
            pass
    return ThreadedTransport(api_key, host, secret_key=secret_key, flags_transport=flags_transport)
