"""ASGI: a middleware giving each HTTP or WebSocket connection a context (Starlette, FastAPI,
Litestar or a bare ASGI app), capturing exceptions that escape the app once.

`app.add_middleware(PosthogASGIMiddleware, client=client)` or `PosthogASGIMiddleware(app)`.
It reads only the scope: request and response bodies pass through untouched and unbuffered.
Other scope types (lifespan) pass straight through. `capture_exceptions` defaults to the
client's `enable_exception_autocapture`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hogkit.transport import contexts

from .request import (
    DISTINCT_ID_HEADER,
    SESSION_ID_HEADER,
    captures_exceptions,
    clean_header,
    identify_request,
    older_name,
    report_exception,
    request_properties,
    tag_request,
    tracing_headers_setting,
)

__all__ = ["SOURCE", "PosthogASGIMiddleware"]

SOURCE = "asgi.middleware"

# Bounds on what the scope carries: a path may be longer than a header, a method not.
_MAX_PATH = 2048
_MAX_METHOD = 32
_MAX_SCHEME = 16
_IDENTITY_HEADERS = frozenset({DISTINCT_ID_HEADER.lower(), SESSION_ID_HEADER.lower()})

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PosthogASGIMiddleware:
    """Per-connection contexts and unhandled-exception capture for an ASGI app."""

    def __init__(
        self,
        app: ASGIApp,
        client: Any = None,
        capture_exceptions: bool | None = None,
        request_filter: Callable[[Scope], Any] | None = None,
        extra_properties: Callable[[Scope], Any] | None = None,
        trust_tracing_headers: bool | None = None,
        *,
        capture_tracing_headers: bool | None = None,
    ) -> None:
        """`trust_tracing_headers` is `capture_tracing_headers`' older name."""
        self.app = app
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.request_filter = request_filter
        self.extra_properties = extra_properties
        self.capture_tracing_headers = tracing_headers_setting(
            capture_tracing_headers,
            trust_tracing_headers,
            ("capture_tracing_headers", "trust_tracing_headers"),
        )

    # posthog-python's older name for the setting.
    trust_tracing_headers = older_name[bool]("capture_tracing_headers")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket") or not await self._wanted(scope):
            await self.app(scope, receive, send)
            return
        with contexts.new_context(capture_exceptions=False, client=self.client):
            headers = _headers(scope)
            identify_request(
                lambda name: headers.get(name.lower()), read_headers=self.capture_tracing_headers
            )
            props = _scope_properties(scope, headers)
            if self.extra_properties is not None:
                props.update(await _resolved(self.extra_properties(scope)) or {})
            tag_request(props)
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if captures_exceptions(self.capture_exceptions, self.client):
                    report_exception(self.client, exc, SOURCE, "middleware")
                raise

    async def _wanted(self, scope: Scope) -> bool:
        return self.request_filter is None or bool(await _resolved(self.request_filter(scope)))


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The scope's headers by lower-case name, the first of each name winning. For the
    identity headers the first *usable* value wins: a blank one must not hide the next."""
    found: dict[str, str] = {}
    items = scope.get("headers")
    for item in items if isinstance(items, (list, tuple)) else ():
        if not (isinstance(item, (list, tuple)) and len(item) == 2):
            continue
        raw_name, raw_value = item
        if not (isinstance(raw_name, bytes) and isinstance(raw_value, bytes)):
            continue
        name, value = raw_name.lower().decode("latin-1"), raw_value.decode("latin-1")
        if name in found or (name in _IDENTITY_HEADERS and not clean_header(value)):
            continue
        found[name] = value
    return found


def _scope_properties(scope: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    path = clean_header(scope.get("path"), _MAX_PATH)
    scheme = clean_header(scope.get("scheme"), _MAX_SCHEME) or (
        "ws" if scope.get("type") == "websocket" else "http"
    )
    host = clean_header(headers.get("host")) or _server_host(scope.get("server"), scheme)
    url = f"{scheme}://{host}{path}" if host and path else None  # never the query string
    method = clean_header(scope.get("method"), _MAX_METHOD)
    user_agent = clean_header(headers.get("user-agent"))
    return request_properties(url, method, path, _client_ip(scope, headers), user_agent)


def _client_ip(scope: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """The first address a proxy forwarded for; without that header, the peer's address."""
    forwarded = clean_header(headers.get("x-forwarded-for"))
    if forwarded:
        return clean_header(forwarded.split(",", 1)[0])
    client = scope.get("client")
    return clean_header(client[0]) if isinstance(client, (list, tuple)) and client else None


def _server_host(server: object, scheme: str) -> str | None:
    """The host the server listens on (for a request without a usable Host header), its
    port left out when it is the scheme's default."""
    if not (isinstance(server, (list, tuple)) and len(server) == 2):
        return None
    hostname, port = server
    if not isinstance(port, int):
        return None
    name = clean_header(hostname)
    if name is None:
        return None
    if ":" in name and not name.startswith("["):  # an IPv6 address
        name = f"[{name}]"
    default = (scheme, port) in (("http", 80), ("https", 443))
    return name if default else f"{name}:{port}"
