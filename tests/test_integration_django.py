"""Django: real apps through Django's test client, events read from a MemoryTransport."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["hogkit.integrations.django.PosthogContextMiddleware"],
        INSTALLED_APPS=["rest_framework"],
        REST_FRAMEWORK={
            "EXCEPTION_HANDLER": "hogkit.integrations.drf.exception_handler",
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
        },
    )
    django.setup()

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.test import AsyncClient, RequestFactory, override_settings
from django.test import Client as DjangoClient
from django.urls import path
from hogkit.integrations.django import PosthogContextMiddleware
from hogkit.transport import Client, MemoryTransport, contexts
from posthog.integrations.django import PosthogContextMiddleware as Reference
from rest_framework.decorators import api_view
from rest_framework.exceptions import APIException, NotFound
from twin import Twin

hog: Client | None = None


def ok(request: HttpRequest) -> HttpResponse:
    contexts.tag("view", "ok")
    assert hog is not None
    hog.capture("page_loaded")
    return HttpResponse("ok")


def broken(request: HttpRequest) -> HttpResponse:
    contexts.tag("view", "broken")
    raise ValueError("view failed")


def bad(request: HttpRequest) -> HttpResponse:
    return HttpResponseBadRequest("no")


async def async_broken(request: HttpRequest) -> HttpResponse:
    contexts.tag("view", "async")
    raise RuntimeError("async view failed")


@api_view(["GET"])
def api_broken(request: Any) -> Any:
    raise APIException("api failed")  # DRF answers it with a 500 itself


@api_view(["GET"])
def api_missing(request: Any) -> Any:
    raise NotFound("nope")


urlpatterns = [
    path("ok", ok),
    path("broken", broken),
    path("bad", bad),
    path("async-broken", async_broken),
    path("api/broken", api_broken),
    path("api/missing", api_missing),
]

HEADERS = {"HTTP_X_POSTHOG_DISTINCT_ID": "user-7", "HTTP_X_POSTHOG_SESSION_ID": "sess-7"}


@pytest.fixture
def memory() -> Iterator[MemoryTransport]:
    global hog
    transport = MemoryTransport()
    hog = Client("phc_test", sync_mode=True, transport=transport)
    with override_settings(POSTHOG_MW_CLIENT=hog):
        yield transport
    hog.shutdown()
    hog = None


def test_request_context_reaches_events(memory: MemoryTransport) -> None:
    response = DjangoClient().get("/ok?x=1", **HEADERS)
    assert response.status_code == 200
    (event,) = memory.events
    props = event["properties"]
    assert event["distinct_id"] == "user-7"
    assert props["$session_id"] == "sess-7"
    assert props["$current_url"] == "http://testserver/ok?x=1"
    assert (props["$request_method"], props["$request_path"], props["view"]) == ("GET", "/ok", "ok")


def test_view_exception_captured_once(memory: MemoryTransport) -> None:
    response = DjangoClient(raise_request_exception=False).get("/broken", **HEADERS)
    assert response.status_code == 500
    (event,) = memory.events
    props = event["properties"]
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "user-7"
    assert props["$session_id"] == "sess-7"
    assert props["$exception_source"] == "django.middleware"
    assert props["$current_url"] == "http://testserver/broken"
    assert props["view"] == "broken"
    assert props["$exception_list"][0]["value"] == "view failed"


def test_async_view_exception_captured_once(memory: MemoryTransport) -> None:
    import asyncio

    async def call() -> Any:
        return await AsyncClient(raise_request_exception=False).get(
            "/async-broken", headers={"X-POSTHOG-DISTINCT-ID": "async-user"}
        )

    response = asyncio.run(call())
    assert response.status_code == 500
    (event,) = memory.events
    assert event["distinct_id"] == "async-user"
    assert event["properties"]["view"] == "async"
    assert event["properties"]["$exception_list"][0]["value"] == "async view failed"


def test_handled_4xx_captures_nothing(memory: MemoryTransport) -> None:
    assert DjangoClient().get("/bad", **HEADERS).status_code == 400
    assert DjangoClient().get("/api/missing", **HEADERS).status_code == 404
    assert memory.events == []


def test_drf_5xx_captured_once(memory: MemoryTransport) -> None:
    response = DjangoClient(raise_request_exception=False).get("/api/broken", **HEADERS)
    assert response.status_code == 500
    (event,) = memory.events
    assert event["distinct_id"] == "user-7"
    assert event["properties"]["$exception_source"] == "django_rest_framework.exception_handler"
    assert event["properties"]["$exception_list"][0]["value"] == "api failed"


OLDER_SETTINGS: list[dict[str, Any]] = [
    {
        "POSTHOG_MW_EXTRA_TAGS": lambda request: {"plan": "pro"},
        "POSTHOG_MW_TAG_MAP": lambda tags: {**tags, "mapped": True},
        "POSTHOG_MW_TRUST_TRACING_HEADERS": False,
    },
    {"POSTHOG_MW_TRUST_TRACING_HEADERS": True},
    {
        "POSTHOG_MW_EXTRA_TAGS": lambda request: {"plan": "old"},
        "POSTHOG_MW_EXTRA_PROPERTIES": lambda request: {"plan": "new"},
        "POSTHOG_MW_TRUST_TRACING_HEADERS": False,
        "POSTHOG_MW_CAPTURE_TRACING_HEADERS": True,
    },
]


@pytest.mark.parametrize("older", OLDER_SETTINGS, ids=["older-names", "trust", "both-names"])
def test_older_setting_names_work_as_in_posthog(older: dict[str, Any]) -> None:
    """posthog-python's middleware still reads the settings' older names; each app runs
    its own SDK's middleware and client against one loopback server."""

    def view_of(client: Any) -> Any:
        def view(request: HttpRequest) -> HttpResponse:
            client.capture("viewed")
            return HttpResponse("ok")

        return view

    with Twin(local=False) as twin, override_settings(**older), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for middleware, client in ((Reference, twin.ref), (PosthogContextMiddleware, twin.kit)):
            middleware(view_of(client))(RequestFactory().get("/viewed", **HEADERS))
        seen = []
        for events in (twin.ref_events(), twin.kit_events()):
            (event,) = events
            props = event["properties"]
            seen.append(
                (
                    event["distinct_id"] == "user-7",
                    props.get("$session_id"),
                    props.get("plan"),
                    props.get("mapped"),
                )
            )
        assert seen[1] == seen[0]


def test_middleware_has_the_reference_attributes() -> None:
    """Every public attribute of posthog-python's middleware instance, older names included,
    apart from its property-building hooks (`extract_*`), which hogkit's middleware does not
    call."""
    reference = Reference(lambda request: HttpResponse("ok"))
    ours = PosthogContextMiddleware(lambda request: HttpResponse("ok"))
    names = {n for n in dir(reference) if not n.startswith("_") and "extract_" not in n}
    assert names <= {n for n in dir(ours) if not n.startswith("_")}
    for name in ("trust_tracing_headers", "capture_tracing_headers", "extra_tags", "tag_map"):
        assert getattr(ours, name) == getattr(reference, name), name


def test_older_attribute_names_set_on_the_middleware() -> None:
    with Twin(local=False) as twin:
        for middleware, client in ((Reference, twin.ref), (PosthogContextMiddleware, twin.kit)):

            def view(request: HttpRequest, client: Any = client) -> HttpResponse:
                client.capture("viewed")
                return HttpResponse("ok")

            instance = middleware(view)
            instance.extra_tags = lambda request: {"plan": "pro"}
            instance.tag_map = lambda tags: {**tags, "mapped": True}
            instance.trust_tracing_headers = False
            instance(RequestFactory().get("/viewed", **HEADERS))
        seen = []
        for events in (twin.ref_events(), twin.kit_events()):
            (event,) = events
            props = event["properties"]
            seen.append((event["distinct_id"] == "user-7", props.get("plan"), props.get("mapped")))
        assert seen[0] == (False, "pro", True)
        assert seen[1] == seen[0]
