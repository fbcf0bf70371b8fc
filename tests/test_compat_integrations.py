"""The web integrations side by side with posthog 7.91.1's: the same constructor parameters
(older names included), and the same identity on events for each way of saying whether the
`X-POSTHOG-*` headers are read. Each app runs with its own SDK's integration and client
against one loopback server; every expectation is the reference's, run in the same test."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import posthog.integrations.asgi as ref_asgi
import posthog.integrations.celery as ref_celery
import posthog.integrations.flask as ref_flask
import pytest
from flask import Flask
from hogkit.integrations import asgi, celery, flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from twin import Twin

HEADERS = {"X-POSTHOG-DISTINCT-ID": "header-user", "X-POSTHOG-SESSION-ID": "header-session"}

CONSTRUCTORS = {
    "flask": (ref_flask.PosthogFlaskIntegration, flask.PosthogFlaskIntegration),
    "asgi": (ref_asgi.PosthogASGIMiddleware, asgi.PosthogASGIMiddleware),
    "celery": (ref_celery.PosthogCeleryIntegration, celery.PosthogCeleryIntegration),
}


def _parameters(cls: type) -> tuple[list[tuple[str, str, Any]], set[tuple[str, Any]]]:
    """(positional parameters in order, keyword-only ones), each with its default."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    positional = [(p.name, p.kind.name, p.default) for p in params if p.kind is not p.KEYWORD_ONLY]
    return positional, {(p.name, p.default) for p in params if p.kind is p.KEYWORD_ONLY}


@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_integration_takes_the_reference_parameters(name: str) -> None:
    reference, ours = (_parameters(cls) for cls in CONSTRUCTORS[name])
    assert ours[0] == reference[0]
    assert reference[1] <= ours[1]


# How an application says whether the identity headers are read.
HEADER_OPTIONS: list[dict[str, Any]] = [
    {},
    {"capture_tracing_headers": False},
    {"capture_tracing_headers": None},
    {"trust_tracing_headers": False},
    {"trust_tracing_headers": True},
    {"trust_tracing_headers": False, "capture_tracing_headers": True},
]


def _identity(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Who each event is about: the header's person and session, or someone else."""
    return [
        (
            e["event"],
            e["distinct_id"] == HEADERS["X-POSTHOG-DISTINCT-ID"],
            e["properties"].get("$session_id"),
        )
        for e in events
    ]


def _flask_app(integration: Callable[..., Any], client: Any, options: dict[str, Any]) -> Flask:
    app = Flask(__name__)
    integration(app, client=client, **options)

    @app.get("/viewed")
    def viewed() -> str:
        client.capture("viewed")
        return "ok"

    return app


def _starlette_app(middleware: Callable[..., Any], client: Any, options: dict[str, Any]) -> Any:
    async def viewed(request: Request) -> PlainTextResponse:
        client.capture("viewed")
        return PlainTextResponse("ok")

    return middleware(Starlette(routes=[Route("/viewed", viewed)]), client=client, **options)


@pytest.mark.parametrize("options", HEADER_OPTIONS, ids=[repr(o) for o in HEADER_OPTIONS])
@pytest.mark.parametrize("framework", ["flask", "asgi"])
def test_identity_headers_follow_the_same_options(framework: str, options: dict[str, Any]) -> None:
    reference, ours = CONSTRUCTORS[framework]
    with Twin(local=False) as twin:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for integration, client in ((reference, twin.ref), (ours, twin.kit)):
                if framework == "flask":
                    http: Any = _flask_app(integration, client, options).test_client()
                else:
                    http = TestClient(_starlette_app(integration, client, options))
                assert http.get("/viewed", headers=HEADERS).status_code == 200
        ref, kit = _identity(twin.ref_events()), _identity(twin.kit_events())
        assert ref
        assert kit == ref


@pytest.mark.parametrize("framework", ["flask", "asgi"])
def test_the_older_option_name_warns(framework: str) -> None:
    _, ours = CONSTRUCTORS[framework]
    app: Any = Flask(__name__) if framework == "flask" else Starlette()
    with pytest.warns(DeprecationWarning, match="capture_tracing_headers"):
        ours(app, trust_tracing_headers=False)


@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_integration_has_the_reference_public_names(name: str) -> None:
    reference, ours = CONSTRUCTORS[name]
    public = {n for n in dir(reference) if not n.startswith("_")}
    assert public <= {n for n in dir(ours) if not n.startswith("_")}


@pytest.mark.parametrize("framework", ["flask", "asgi"])
def test_trust_tracing_headers_set_on_the_instance(framework: str) -> None:
    """The older name is also an attribute: setting it after construction turns reading
    the identity headers off, in both SDKs."""
    reference, ours = CONSTRUCTORS[framework]
    with Twin(local=False) as twin:
        for integration, client in ((reference, twin.ref), (ours, twin.kit)):
            if framework == "flask":
                app = Flask(__name__)
                hooks = integration(app, client=client)

                @app.get("/viewed")
                def viewed(client: Any = client) -> str:
                    client.capture("viewed")
                    return "ok"

                http: Any = app.test_client()
            else:
                hooks = _starlette_app(integration, client, {})
                http = TestClient(hooks)
            assert hooks.trust_tracing_headers is True
            hooks.trust_tracing_headers = False
            assert hooks.capture_tracing_headers is False
            assert http.get("/viewed", headers=HEADERS).status_code == 200
        ref, kit = _identity(twin.ref_events()), _identity(twin.kit_events())
        assert ref == [("viewed", False, None)]
        assert kit == ref
