"""Web-integration differential: hogkit's Flask, ASGI, Django and DRF integrations against
posthog 7.91.1's, through each framework's own test client, over one loopback server.

Each example draws the integration's options (exception capture on, off or inherited from
the client, with the client's autocapture on or off; request filters, extra properties and
Django's properties map, some of them raising or answering with values that are not bools,
sync or async; the identity-header settings under both names, Django's settings under
their older names; the DRF handler's factory arguments and exception filter; for ASGI, the
middleware wrapping the app or added to Starlette, and views run as coroutines or in a
thread; Django served over WSGI or ASGI) and one to four requests: method (a WebSocket
too), path with odd and unicode segments (some past any bound), query string, the identity,
forwarding, host, user-agent, traceparent and referer headers (blank, padded, with control
characters, over-long, repeated), and a logged-in Django user. A view returns, captures with
or without a distinct id, tags the context, reads a flag, or raises: plain, chained, HTTP
errors the framework answers, errors the app's own handler answers, REST framework errors
of each kind. Some examples make the requests inside an application's own tagged context.
The same app runs twice, once with posthog's integration and client and once with
hogkit's; the answers the test client got and what the server received must agree.

What is relaxed, and why (nothing else is):

- Events are compared without `uuid`, `timestamp`, `$lib` and `$lib_version`, a personless
  event's random distinct id is compared as a marker (`twin.personless_marked`), and
  `$context_tags` is compared as a sorted list (posthog sends a set, in no order).
- An exception's stack frames are compared without the frames of either SDK's own code
  (an integration's middleware sits in the traceback of what it catches).

Not compared here, because no framework's test client can send it: an ASGI scope without a
`scheme`. posthog-python then leaves `$current_url` out; hogkit takes the ASGI default
("http", or "ws" for a WebSocket), which the ASGI specification gives for a missing scheme.
"""

from __future__ import annotations

# Django is configured once a process, by tests/test_integration_django.py, before anything
# imports REST framework (which reads its settings when imported).
import test_integration_django  # noqa: F401

# isort: split

import asyncio
import itertools
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

import httpx
import posthog.integrations.asgi as ref_asgi
import posthog.integrations.drf as ref_drf
import posthog.integrations.flask as ref_flask
import pytest
from client_compare import describe
from django.test import AsyncClient, override_settings
from django.test import Client as DjangoClient
from hogkit.integrations import asgi as kit_asgi
from hogkit.integrations import drf as kit_drf
from hogkit.integrations import flask as kit_flask
from httpserver import Reply
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from reference import quiet_logger
from starlette.testclient import TestClient
from twin import (
    KIT_KEY,
    REF_KEY,
    Twin,
    context_tags_in_order,
    event_differences,
    flags_response,
    normalized,
    personless_marked,
    record,
    sdk_key,
)
from web_apps import Sdk, asgi_app, django_settings, flask_app
from web_strategies import (
    BEHAVIOURS,
    DRF_BEHAVIOURS,
    WEBSOCKET,
    WebRequest,
    django_setups,
    options,
    web_requests,
)

# The loggers that report each unhandled exception: thousands of them only slow a run.
NOISY_LOGGERS = ("posthog", "hogkit", "django.request", "django.security", "webdiff_ref")


@pytest.fixture(scope="module")
def twins() -> Iterator[dict[bool, Twin]]:
    """A pair of clients (reference and hogkit) without exception autocapture, and a pair
    with it; the hooks autocapture installs are put back once the clients exist."""
    hooks = (sys.excepthook, threading.excepthook)
    flags = Reply.json(flags_response(record("beta", "variant-b")))
    with ExitStack() as stack:
        made = {
            on: stack.enter_context(
                Twin(local=False, remote=flags, enable_exception_autocapture=on)
            )
            for on in (False, True)
        }
        sys.excepthook, threading.excepthook = hooks
        for name in NOISY_LOGGERS:
            stack.enter_context(quiet_logger(name))
        yield made


def sdks(twin: Twin, reader: str) -> tuple[Sdk, Sdk]:
    return (
        Sdk(
            "ref",
            twin.ref,
            ref_flask.PosthogFlaskIntegration,
            ref_asgi.PosthogASGIMiddleware,
            "posthog.integrations.django.PosthogContextMiddleware",
            ref_drf,
            reader,
        ),
        Sdk(
            "kit",
            twin.kit,
            kit_flask.PosthogFlaskIntegration,
            kit_asgi.PosthogASGIMiddleware,
            "hogkit.integrations.django.PosthogContextMiddleware",
            kit_drf,
            reader,
        ),
    )


# -- comparing --------------------------------------------------------------------------------

_SDK_MODULES = ("posthog.", "hogkit.", "contextlib")


def comparable(event: dict[str, Any]) -> dict[str, Any]:
    """An event (normalized) with its context's tags in order and its exceptions' frames
    of either SDK's own code left out."""
    context_tags_in_order(event)
    for exc in event.get("properties", {}).get("$exception_list") or ():
        frames = (exc.get("stacktrace") or {}).get("frames")
        if isinstance(frames, list):
            exc["stacktrace"]["frames"] = [
                f for f in frames if not str(f.get("module") or "").startswith(_SDK_MODULES)
            ]
    return event


def events_since(twin: Twin, key: str, mark: int) -> list[dict[str, Any]]:
    sent = [r for r in twin.server.requests("/batch/")[mark:] if sdk_key(r) == key]
    return personless_marked([comparable(normalized(e)) for r in sent for e in r.json()["batch"]])


@contextmanager
def enclosing(client: Any, outer: bool) -> Iterator[None]:
    """With `outer`, an application's own context around the requests, with a tag, a
    person and a session of its own."""
    if not outer:
        yield
        return
    with client.new_context(capture_exceptions=False):
        client.tag("outer_tag", "outside")
        client.identify_context("outer-user")
        client.set_context_session("outer-session")
        yield


def answer(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a test client's request came to: status, content type and body, or the error."""
    try:
        response = call()
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    if isinstance(response, tuple):
        return response
    body = getattr(response, "content", None)
    if body is None:
        body = response.get_data()
    return (response.status_code, response.headers.get("Content-Type"), bytes(body))


def run_both(twin: Twin, example: Any, serve: Callable[[Sdk], list[tuple[Any, ...]]]) -> None:
    """`serve` each SDK's app, then compare its answers and what the server received."""
    mark = len(twin.server.requests("/batch/"))
    answers = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sdk in sdks(twin, f"reader-{next(EXAMPLES)}"):
            with enclosing(sdk.client, example.setup.outer):
                answers[sdk.name] = serve(sdk)
    context = describe(example)
    assert answers["kit"] == answers["ref"], context
    ref, kit = events_since(twin, REF_KEY, mark), events_since(twin, KIT_KEY, mark)
    assert kit == ref, f"{event_differences(ref, kit)}\n{context}"
    for sent in ref:  # what the examples reached (--hypothesis-show-statistics)
        event(f"sent {sent['event']}")
    for outcome in answers["ref"]:
        event(f"answered {outcome[0]}")


EXAMPLES = itertools.count()
REQUESTS = st.lists(web_requests(), min_size=1, max_size=4)


# -- the frameworks ---------------------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opts=options(), requests=REQUESTS)
def test_flask_integration_matches_posthog(
    twins: dict[bool, Twin], opts: Any, requests: Sequence[WebRequest]
) -> None:
    def serve(sdk: Sdk) -> list[tuple[Any, ...]]:
        http = flask_app(sdk, opts).test_client()
        return [
            answer(lambda r=r: http.open(r.url, method=r.method, headers=list(r.headers)))
            for r in requests
        ]

    run_both(twins[opts.autocapture], example_of(opts, requests), serve)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opts=options(), requests=REQUESTS)
def test_asgi_integration_matches_posthog(
    twins: dict[bool, Twin], opts: Any, requests: Sequence[WebRequest]
) -> None:
    def serve(sdk: Sdk) -> list[tuple[Any, ...]]:
        http = TestClient(asgi_app(sdk, opts), raise_server_exceptions=False)
        return [answer(lambda r=r: asgi_call(http, r)) for r in requests]

    run_both(twins[opts.autocapture], example_of(opts, requests), serve)


def asgi_call(http: TestClient, request: WebRequest) -> Any:
    """`request` through Starlette's test client: over HTTP, or as a WebSocket whose first
    message is the answer."""
    headers = [(k, v.encode("latin-1")) for k, v in request.headers]
    if request.method != WEBSOCKET:
        return http.request(request.method, request.url, headers=headers)
    with http.websocket_connect(request.url, headers=httpx.Headers(headers)) as socket:
        return ("websocket", socket.receive_text())


DJANGO_REQUESTS = st.lists(web_requests(BEHAVIOURS + DRF_BEHAVIOURS), min_size=1, max_size=4)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setup=django_setups(), requests=DJANGO_REQUESTS)
def test_django_integration_matches_posthog(
    twins: dict[bool, Twin], setup: Any, requests: Sequence[WebRequest]
) -> None:
    def serve(sdk: Sdk) -> list[tuple[Any, ...]]:
        with override_settings(**django_settings(sdk, setup)):
            if setup.asynchronous:
                http: Any = AsyncClient(raise_request_exception=False)
            else:
                http = DjangoClient(raise_request_exception=False)

            def call(r: WebRequest) -> Any:
                sent = http.generic(r.method, r.url, headers=django_headers(r))
                return asyncio.run(sent) if setup.asynchronous else sent

            return [answer(lambda r=r: call(r)) for r in requests]

    run_both(twins[setup.autocapture], example_of(setup, requests), serve)


def django_headers(request: WebRequest) -> dict[str, str]:
    """The request's headers as one WSGI server joins repeated ones, and its user."""
    joined: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    if request.user:
        joined["x-test-user"] = request.user
    return joined


class Example(NamedTuple):
    """One example, for the failure report."""

    setup: Any
    requests: Sequence[WebRequest]


def example_of(setup: Any, requests: Sequence[WebRequest]) -> Example:
    return Example(setup, requests)
