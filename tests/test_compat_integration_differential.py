"""Requests the web-integration differential (property_tests/test_integration_differential.py)
found hogkit's integrations recording differently from posthog 7.91.1's, each pinned by
running both: the same app, once with posthog's integration and client and once with
hogkit's, through the framework's own test client against one loopback server. Events are
compared by name, distinct id, properties and each exception's type, value and mechanism.
"""

from __future__ import annotations

import inspect
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, NamedTuple

import pytest

# Django is configured once a process; tests/test_integration_django.py does it for every
# module that needs it (each test here overrides the settings it reads).
import test_integration_django  # noqa: F401

# isort: split
import posthog.integrations.asgi as ref_asgi
import posthog.integrations.drf as ref_drf
import posthog.integrations.flask as ref_flask
from django.http import HttpRequest, HttpResponse
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import path as django_path
from flask import Flask
from hogkit.integrations import asgi as kit_asgi
from hogkit.integrations import drf as kit_drf
from hogkit.integrations import flask as kit_flask
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import APIException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from twin import Twin, context_tags_in_order, personless_marked


class Side(NamedTuple):
    """One SDK's integrations."""

    name: str
    flask: Any
    asgi: Any
    django: str
    drf: Any


REF = Side(
    "ref",
    ref_flask.PosthogFlaskIntegration,
    ref_asgi.PosthogASGIMiddleware,
    "posthog.integrations.django.PosthogContextMiddleware",
    ref_drf,
)
KIT = Side(
    "kit",
    kit_flask.PosthogFlaskIntegration,
    kit_asgi.PosthogASGIMiddleware,
    "hogkit.integrations.django.PosthogContextMiddleware",
    kit_drf,
)
IDENTITY = {"X-POSTHOG-DISTINCT-ID": "header-user", "X-POSTHOG-SESSION-ID": "header-session"}


def observed(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each event's name, distinct id, properties and exceptions (type, value, mechanism)."""
    out = []
    for event in personless_marked([context_tags_in_order(e) for e in events]):
        props = dict(event["properties"])
        exceptions = [
            (x["type"], x["value"], x["mechanism"]) for x in props.pop("$exception_list", [])
        ]
        out.append((event["event"], event["distinct_id"], props, exceptions))
    return out


@contextmanager
def _hooks_kept() -> Iterator[None]:
    """Exception autocapture installs process-wide hooks; put them back afterwards."""
    hooks = (sys.excepthook, threading.excepthook)
    try:
        yield
    finally:
        sys.excepthook, threading.excepthook = hooks


def both(run: Callable[[Side, Any], Any], **options: Any) -> tuple[list[Any], list[Any]]:
    """`run(side, client)` for posthog, then for hogkit; the events each one's server saw."""
    with _hooks_kept(), Twin(local=False, **options) as twin, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        run(REF, twin.ref)
        run(KIT, twin.kit)
        return observed(twin.ref_events()), observed(twin.kit_events())


# -- ASGI: what the scope says about the request ------------------------------------------------


def _starlette(side: Side, client: Any) -> Any:
    async def view(request: Request) -> PlainTextResponse:
        client.capture("viewed")
        return PlainTextResponse("ok")

    return side.asgi(Starlette(routes=[Route("/{rest:path}", view)]), client)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/viewed", [("host", b"")]),  # no usable Host: the server's own address
        ("/" + "p" * 1500, []),  # a path is bounded more loosely than a header
        ("/viewed", [("user-agent", b""), ("user-agent", b"second")]),  # the first one counts
        ("/viewed", [("x-posthog-distinct-id", b" "), ("x-posthog-distinct-id", b"second")]),
    ],
    ids=["blank-host", "long-path", "repeated-header", "repeated-identity"],
)
def test_asgi_request_properties_match(path: str, headers: list[tuple[str, bytes]]) -> None:
    ref, kit = both(
        lambda side, client: TestClient(_starlette(side, client)).get(path, headers=headers)
    )
    assert len(ref) == 1
    assert kit == ref


# -- Django and DRF ----------------------------------------------------------------------------


class _User:
    is_authenticated = True
    pk = 7
    email = "ada@example.com"


def logged_in(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Django middleware: every request is from a logged-in user."""

    def middleware(request: HttpRequest) -> Any:
        request.user = _User()  # type: ignore[assignment]
        return get_response(request)

    return middleware


def _django_get(side: Side, view: Callable[..., Any], headers: Any = None, **extra: Any) -> int:
    urls = ModuleType(f"urls_{side.name}")
    urls.urlpatterns = [django_path("v", view)]  # type: ignore[attr-defined]
    chain = [f"{__name__}.logged_in", side.django]
    with override_settings(ROOT_URLCONF=urls, MIDDLEWARE=chain, ALLOWED_HOSTS=["*"], **extra):
        response = DjangoClient(raise_request_exception=False).get("/v", headers=headers or {})
        return int(response.status_code)


def _capturing(client: Any) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        client.capture("viewed")
        return HttpResponse("ok")

    return view


def _raising(request: HttpRequest) -> HttpResponse:
    raise ValueError("view failed")


def test_django_tags_the_logged_in_users_email() -> None:
    ref, kit = both(
        lambda side, client: _django_get(side, _capturing(client), POSTHOG_MW_CLIENT=client)
    )
    assert len(ref) == 1
    assert kit == ref


@pytest.mark.parametrize("setting", [None, "", 0], ids=["none", "blank", "zero"])
def test_django_capture_exceptions_setting_reads_as_posthog(setting: Any) -> None:
    """None leaves it to the client's autocapture (on here); a value that is not a bool
    reads as the default, True."""

    def run(side: Side, client: Any) -> None:
        options = {"POSTHOG_MW_CLIENT": client, "POSTHOG_MW_CAPTURE_EXCEPTIONS": setting}
        assert _django_get(side, _raising, **options) == 500

    ref, kit = both(run, enable_exception_autocapture=True)
    assert [e[0] for e in ref] == ["$exception"]
    assert kit == ref


# -- an application callback that fails: the error is still the request's person's ---------------


def _failing(request: Any) -> Any:
    raise ZeroDivisionError("extra properties failed")


def test_flask_callback_error_keeps_the_identity() -> None:
    def run(side: Side, client: Any) -> None:
        app = Flask(f"failing_{side.name}")
        app.logger.disabled = True
        side.flask(app, client=client, capture_exceptions=True, extra_properties=_failing)
        app.add_url_rule("/v", "v", lambda: "ok")
        assert app.test_client().get("/v", headers=IDENTITY).status_code == 500

    ref, kit = both(run)
    assert [e[0] for e in ref] == ["$exception"]
    assert kit == ref


def test_django_callback_error_keeps_the_identity() -> None:
    def run(side: Side, client: Any) -> None:
        options = {"POSTHOG_MW_CLIENT": client, "POSTHOG_MW_EXTRA_PROPERTIES": _failing}
        assert _django_get(side, _capturing(client), IDENTITY, **options) == 500

    ref, kit = both(run)
    assert [e[0] for e in ref] == ["$exception"]
    assert kit == ref


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def api_failing(request: Any) -> Any:
    raise APIException("api failed")


def _drf_get(side: Side, client: Any, handler: Any = None, **extra: Any) -> None:
    rest = {
        "EXCEPTION_HANDLER": handler or side.drf.exception_handler,
        "UNAUTHENTICATED_USER": None,
    }
    extra.setdefault("POSTHOG_MW_CLIENT", client)
    assert _django_get(side, api_failing, IDENTITY, REST_FRAMEWORK=rest, **extra) == 500


DRF_CASES: dict[str, Callable[[Side, Any], None]] = {
    "handled": lambda side, client: _drf_get(side, client),
    "filtered-out": lambda side, client: _drf_get(
        side, client, side.drf.create_exception_handler(exception_filter=lambda *a: False)
    ),
    "filtered-in": lambda side, client: _drf_get(
        side, client, side.drf.create_exception_handler(exception_filter=lambda *a: True)
    ),
    "drf-client": lambda side, client: _drf_get(
        side, client, POSTHOG_MW_CLIENT=None, POSTHOG_DRF_CLIENT=client
    ),
    "request-filter": lambda side, client: _drf_get(
        side, client, POSTHOG_MW_REQUEST_FILTER=lambda request: request.path != "/v"
    ),
    "setting-none": lambda side, client: _drf_get(side, client, POSTHOG_MW_CAPTURE_EXCEPTIONS=None),
}


UNCAPTURED = {"filtered-out", "request-filter"}
API_ERROR = ("APIException", "api failed")


@pytest.mark.parametrize("case", list(DRF_CASES))
def test_drf_handler_captures_as_posthog(case: str) -> None:
    """The captured exception is a handled one; the factory's filter, the older client
    setting, the middleware's request filter and its capture setting (None: the client's
    autocapture, on here) apply as in posthog."""
    ref, kit = both(DRF_CASES[case], enable_exception_autocapture=True)
    assert [e[3][0][:2] for e in ref] == ([] if case in UNCAPTURED else [API_ERROR])
    assert kit == ref


def test_drf_handler_factory_takes_the_reference_parameters() -> None:
    def parameters(factory: Callable[..., Any]) -> list[tuple[str, str, Any]]:
        signature = inspect.signature(factory).parameters.values()
        return [(p.name, p.kind.name, p.default) for p in signature]

    reference = parameters(ref_drf.create_exception_handler)
    assert parameters(kit_drf.create_exception_handler) == reference
