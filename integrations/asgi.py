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
    captures_exceptions,
    clean_header,
    enter_request,
    older_name,
    report_exception,
    request_properties,
    tracing_headers_setting,
)

__all__ = ["SOURCE", "PosthogASGIMiddleware"]

SOURCE = "asgi.middleware"

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
            props = _scope_properties(scope, headers)
            if self.extra_properties is not None:
                props.update(await _resolved(self.extra_properties(scope)) or {})
            enter_request(
                lambda name: headers.get(name.lower()),
                props,
                read_headers=self.capture_tracing_headers,
            )
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
    """The scope's headers by lower-case name; the first usable value of each wins."""
    found: dict[str, str] = {}
    for item in scope.get("headers") or ():
        try:
            name, value = item[0].decode("latin-1").lower(), item[1].decode("latin-1")
        except Exception:
            continue
        if name not in found and clean_header(value):
            found[name] = value
    return found


def _scope_properties(scope: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    path = clean_header(scope.get("path"))
    scheme = clean_header(scope.get("scheme")) or (
        "ws" if scope.get("type") == "websocket" else "http"
    )
    host = clean_header(headers.get("host"))
    url = f"{scheme}://{host}{path}" if host and path else None  # never the query string
    forwarded = clean_header(headers.get("x-forwarded-for"))
    client = scope.get("client")
    ip = forwarded.split(",", 1)[0].strip() if forwarded else None
    if ip is None and isinstance(client, (list, tuple)) and client:
        ip = clean_header(client[0])
    method = clean_header(scope.get("method"))
    return request_properties(url, method, path, ip, clean_header(headers.get("user-agent")))
