"""The same small web app in Flask, Starlette and Django, wired to one SDK's integration.

Each builder takes an `Sdk` (a client and that SDK's integration classes) and the drawn
options, and returns an app whose views do what a request's `behaviour` names. Everything
an app does is the same for both SDKs except the integration and the client it calls.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, NamedTuple

# Django is configured once a process; tests/test_integration_django.py does it for every
# module that needs it (each app here overrides the settings it reads).
import test_integration_django  # noqa: F401

# isort: split
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path as django_path
from flask import Flask, abort
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response as DrfResponse
from rest_framework.views import exception_handler as drf_default_handler
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from web_strategies import (
    EXCEPTION_FILTERS,
    EXTRA_PROPERTIES,
    PROPERTIES_MAPS,
    REQUEST_FILTERS,
    DjangoSetup,
    DrfHandler,
    Options,
)

__all__ = [
    "HandledError",
    "HandledMiddleware",
    "Sdk",
    "act",
    "asgi_app",
    "django_settings",
    "flask_app",
    "user_middleware",
]

METHODS = ["GET", "POST", "PUT", "DELETE"]


class Sdk(NamedTuple):
    """One SDK's side of the differential."""

    name: str
    client: Any
    flask: Any  # the Flask integration class
    asgi: Any  # the ASGI middleware class
    django_middleware: str  # the Django middleware's dotted path
    drf: ModuleType  # the DRF integration module
    reader: str  # who reads the flag: new in each example, so no earlier read hides the event


class HandledError(Exception):
    """An error the app's own error handler answers (with 409)."""


def act(sdk: Sdk, behaviour: str, http_error: Callable[[], Exception]) -> str:
    """Do what `behaviour` names; the text a view answers with when it returns."""
    client = sdk.client
    if behaviour == "capture":
        client.capture("viewed", properties={"step": 1})
    elif behaviour == "capture_id":
        client.capture("viewed", distinct_id="explicit-user", properties={"step": 2})
    elif behaviour == "tag_capture":
        client.tag("view_tag", "tagged")
        client.capture("viewed")
    elif behaviour == "flag":
        return f"flag:{client.get_feature_flag('beta', sdk.reader)}"
    elif behaviour == "raise_value":
        raise ValueError("view failed")
    elif behaviour == "raise_chained":
        try:
            {}["missing"]
        except KeyError as cause:
            raise RuntimeError("wrapped failure") from cause
    elif behaviour == "raise_http":
        raise http_error()
    elif behaviour == "raise_handled":
        raise HandledError("the app answers this")
    elif behaviour == "capture_raise":
        client.tag("view_tag", "before failing")
        client.capture("before failing")
        raise LookupError("after capture")
    return f"ok:{behaviour}"


def _named(table: Mapping[str, Callable[..., Any]], name: str | None) -> Callable[..., Any] | None:
    return None if name is None else table[name]


# -- Flask ----------------------------------------------------------------------------------------


def flask_app(sdk: Sdk, options: Options) -> Flask:
    app = Flask(f"webdiff_{sdk.name}")
    app.logger.disabled = True  # it logs every unhandled exception
    chosen_filter = _named(REQUEST_FILTERS, options.request_filter)
    chosen_extra = _named(EXTRA_PROPERTIES, options.extra_properties)
    filter_ = None if chosen_filter is None else _flask_callback(chosen_filter)
    extra = None if chosen_extra is None else _flask_callback(chosen_extra)
    sdk.flask(app, client=sdk.client, **options.keywords(filter_, extra))

    def forbidden() -> Exception:
        try:
            abort(403)
        except Exception as exc:
            return exc
        raise AssertionError("abort returned")

    def view(behaviour: str, segment: str) -> str:
        return act(sdk, behaviour, forbidden)

    for prefix in ("v", "skip"):
        app.add_url_rule(
            f"/{prefix}/<behaviour>/<segment>", f"{prefix}_view", view, methods=METHODS
        )
    app.register_error_handler(HandledError, lambda exc: ("handled", 409))
    return app


def _flask_callback(chosen: Callable[[str, str], Any]) -> Callable[[Any], Any]:
    return lambda request: chosen(request.method, request.path)


# -- ASGI (Starlette) -----------------------------------------------------------------------------


def asgi_app(sdk: Sdk, options: Options) -> Any:
    chosen_filter = _named(REQUEST_FILTERS, options.request_filter)
    chosen_extra = _named(EXTRA_PROPERTIES, options.extra_properties)
    filter_ = None if chosen_filter is None else _scope_callback(chosen_filter, options)
    extra = None if chosen_extra is None else _scope_callback(chosen_extra, options)
    keywords = options.keywords(filter_, extra)

    def teapot() -> Exception:
        return HTTPException(status_code=418, detail="teapot")

    def sync_view(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse(act(sdk, request.path_params["behaviour"], teapot))

    async def async_view(request: StarletteRequest) -> PlainTextResponse:
        return sync_view(request)

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(act(sdk, websocket.path_params["behaviour"], teapot))
        await websocket.close()

    endpoint = async_view if options.async_views else sync_view
    routes: list[Any] = []
    for prefix in ("v", "skip"):
        route = f"/{prefix}/{{behaviour}}/{{segment}}"
        routes += [Route(route, endpoint, methods=METHODS), WebSocketRoute(route, socket)]
    handlers: Any = {HandledError: lambda request, exc: PlainTextResponse("handled", 409)}
    if options.wiring == "add":
        middleware = [Middleware(sdk.asgi, client=sdk.client, **keywords)]
        return Starlette(routes=routes, exception_handlers=handlers, middleware=middleware)
    return sdk.asgi(Starlette(routes=routes, exception_handlers=handlers), sdk.client, **keywords)


def _scope_callback(chosen: Callable[[str, str], Any], options: Options) -> Callable[[Any], Any]:
    def callback(scope: Mapping[str, Any]) -> Any:
        return chosen(str(scope.get("method")), str(scope.get("path")))

    async def async_callback(scope: Mapping[str, Any]) -> Any:
        return callback(scope)

    return async_callback if options.async_callbacks else callback


# -- Django and Django REST framework -------------------------------------------------------------


class _User:
    """A logged-in user as Django's auth middleware would set it (no database needed)."""

    is_authenticated = True

    def __init__(self, pk: str, email: str) -> None:
        self.pk = pk
        self.email = email


class _Anonymous:
    is_authenticated = False
    pk = None
    email = ""


def user_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Sets `request.user` (and `request.auser`, which async middleware reads) from the
    test's `X-Test-User` header ("pk|email", or anonymous)."""

    def middleware(request: HttpRequest) -> Any:
        raw = request.headers.get("X-Test-User", "")
        pk, _, email = raw.partition("|")
        user = _User(pk, email) if pk else _Anonymous()

        async def auser() -> Any:
            return user

        request.user = user  # type: ignore[assignment]
        request.auser = auser  # type: ignore[method-assign]
        return get_response(request)

    return middleware


class HandledMiddleware:
    """The app's own answer to `HandledError` (409), inside the SDK's middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        return HttpResponse("handled", status=409) if isinstance(exception, HandledError) else None


def _drf_view(client: Any) -> Callable[..., Any]:
    @api_view(METHODS)
    @authentication_classes([])
    @permission_classes([])
    def api(request: Any, behaviour: str, segment: str) -> Any:
        if behaviour == "drf_ok":
            client.capture("api viewed")
            return DrfResponse({"ok": True})
        if behaviour == "drf_api_error":
            raise APIException("api failed")
        if behaviour == "drf_not_found":
            raise NotFound("nope")
        if behaviour == "drf_invalid":
            raise ValidationError({"field": ["bad value"]})
        raise ValueError("not an API error")

    return api


def _urlconf(sdk: Sdk) -> ModuleType:
    """A URLconf module of its own for each app (Django caches resolvers by URLconf)."""
    api = _drf_view(sdk.client)

    def view(request: HttpRequest, behaviour: str, segment: str) -> Any:
        if behaviour.startswith("drf_"):
            return api(request, behaviour=behaviour, segment=segment)
        return HttpResponse(act(sdk, behaviour, lambda: PermissionDenied("no")))

    urls = ModuleType(f"webdiff_urls_{sdk.name}")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        django_path(f"{prefix}/<str:behaviour>/<str:segment>", view) for prefix in ("v", "skip")
    ]
    return urls


def _custom_delegate(exc: Exception, context: Mapping[str, Any]) -> Any:
    """An application's own DRF handler: it answers ValueError with 503 itself."""
    if isinstance(exc, ValueError):
        return DrfResponse({"custom": True}, status=503)
    return drf_default_handler(exc, context)  # type: ignore[arg-type]


def _drf_handler(sdk: Sdk, handler: DrfHandler) -> Any:
    if not handler.factory:
        return sdk.drf.exception_handler
    keywords: dict[str, Any] = {
        "capture_exceptions": handler.capture_exceptions,
        "capture_4xx": handler.capture_4xx,
    }
    if handler.client_argument:
        keywords["client"] = sdk.client
    if handler.exception_filter is not None:
        keywords["exception_filter"] = EXCEPTION_FILTERS[handler.exception_filter]
    delegate = _custom_delegate if handler.custom_delegate else None
    return sdk.drf.create_exception_handler(delegate, **keywords)


def _request_callback(chosen: Callable[[str, str], Any]) -> Callable[[HttpRequest], Any]:
    return lambda request: chosen(str(request.method), request.path)


def django_settings(sdk: Sdk, setup: DjangoSetup) -> dict[str, Any]:
    """The settings (for `override_settings`) of one SDK's Django app."""
    chosen_filter = _named(REQUEST_FILTERS, setup.request_filter)
    chosen_extra = _named(EXTRA_PROPERTIES, setup.extra_properties)
    filter_ = None if chosen_filter is None else _request_callback(chosen_filter)
    extra = None if chosen_extra is None else _request_callback(chosen_extra)
    mapping = _named(PROPERTIES_MAPS, setup.properties_map)
    here = inspect.getmodulename(__file__) or os.path.basename(__file__)
    return {
        "DEBUG": False,
        "ALLOWED_HOSTS": ["testserver", "example.com", "[::1]"],
        "ROOT_URLCONF": _urlconf(sdk),
        "MIDDLEWARE": [
            f"{here}.user_middleware",
            sdk.django_middleware,
            f"{here}.HandledMiddleware",
        ],
        "REST_FRAMEWORK": {
            "EXCEPTION_HANDLER": _drf_handler(sdk, setup.drf),
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,
        },
        "POSTHOG_MW_CLIENT": sdk.client,
        **setup.settings(filter_, extra, mapping),
    }
