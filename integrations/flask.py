"""Flask: an extension giving each request a context and capturing unhandled errors once.

`PosthogFlaskIntegration(app, client=client)` (or `init_app(app)` in an app factory).
Flask answers a view's exception before the request stack unwinds, so the context opened
in `before_request` does not capture; `got_request_exception` does, once, and the context
closes in `teardown_request`. Errors the app's own error handlers answer (and HTTP
exceptions such as 404) are not captured. `capture_exceptions` defaults to the client's
`enable_exception_autocapture`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from flask import Flask, Request, g, got_request_exception, has_request_context, request
from hogkit.transport import contexts

from .request import (
    captures_exceptions,
    identify_request,
    older_name,
    report_exception,
    request_properties,
    tag_request,
    tracing_headers_setting,
)

__all__ = ["SOURCE", "PosthogFlaskIntegration"]

SOURCE = "flask.got_request_exception"
_EXTENSION = "hogkit"
_SCOPE = "_hogkit_context"
_HEADER_OPTIONS = ("capture_tracing_headers", "trust_tracing_headers")


class PosthogFlaskIntegration:
    """Per-request contexts and unhandled-exception capture for a Flask app."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        client: Any = None,
        capture_exceptions: bool | None = None,
        request_filter: Callable[[Request], bool] | None = None,
        extra_properties: Callable[[Request], Mapping[str, Any]] | None = None,
        trust_tracing_headers: bool | None = None,
        capture_tracing_headers: bool | None = None,
    ) -> None:
        """`trust_tracing_headers` is `capture_tracing_headers`' older name."""
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.request_filter = request_filter
        self.extra_properties = extra_properties
        self.capture_tracing_headers = tracing_headers_setting(
            capture_tracing_headers, trust_tracing_headers, _HEADER_OPTIONS
        )
        if app is not None:
            self.init_app(app)

    # posthog-python's older name for the setting.
    trust_tracing_headers = older_name[bool]("capture_tracing_headers")

    def init_app(self, app: Flask) -> None:
        """Register the hooks on `app` (once per app)."""
        if _EXTENSION in app.extensions:
            raise RuntimeError("hogkit is already set up for this Flask app")
        app.extensions[_EXTENSION] = self
        app.before_request(self._before_request)
        app.teardown_request(self._teardown_request)
        got_request_exception.connect(self._on_exception, app, weak=False)

    def _before_request(self) -> None:
        if self.request_filter is not None and not self.request_filter(request):
            return
        scope = contexts.new_context(fresh=True, capture_exceptions=False, client=self.client)
        scope.__enter__()
        setattr(g, _SCOPE, scope)
        identify_request(request.headers.get, read_headers=self.capture_tracing_headers)
        props = request_properties(
            request.base_url,  # no query string: it often carries tokens
            request.method,
            request.path,
            request.remote_addr,
            request.headers.get("User-Agent"),
        )
        if request.url_rule is not None:
            props["$request_route"] = str(request.url_rule)
        tag_request(props)
        if self.extra_properties is not None:
            tag_request(self.extra_properties(request))

    def _on_exception(self, sender: Flask, exception: BaseException, **_: Any) -> None:
        if not has_request_context() or getattr(g, _SCOPE, None) is None:
            return
        if captures_exceptions(self.capture_exceptions, self.client):
            report_exception(self.client, exception, SOURCE, "middleware")

    def _teardown_request(self, exception: BaseException | None) -> None:
        scope: AbstractContextManager[None] | None = g.pop(_SCOPE, None)
        if scope is not None:
            scope.__exit__(None, None, None)
