"""Strategies for the web-integration differential: integration options and requests.

An option that is a callback (a request filter, extra properties, a properties map) is drawn
as a name from the tables here, and each framework's app turns the name into a callback over
its own request object, so both SDKs' integrations get callbacks that answer alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from hypothesis import strategies as st

__all__ = [
    "ABSENT",
    "BEHAVIOURS",
    "DRF_BEHAVIOURS",
    "EXCEPTION_FILTERS",
    "EXTRA_PROPERTIES",
    "PROPERTIES_MAPS",
    "REQUEST_FILTERS",
    "WEBSOCKET",
    "DjangoSetup",
    "DrfHandler",
    "Options",
    "WebRequest",
    "django_setups",
    "drf_handlers",
    "options",
    "web_requests",
]

# A setting or keyword that is not given at all (as opposed to given as None).
ABSENT = "<absent>"

# A request that opens a WebSocket (ASGI); other frameworks see an unknown method.
WEBSOCKET = "WEBSOCKET"

# What a view does; each framework's app carries them out the same way.
BEHAVIOURS = (
    "ok",
    "capture",
    "capture_id",
    "tag_capture",
    "flag",
    "raise_value",
    "raise_chained",
    "raise_http",
    "raise_handled",
    "capture_raise",
)
# What a Django REST framework view does (Django only).
DRF_BEHAVIOURS = ("drf_ok", "drf_api_error", "drf_not_found", "drf_invalid", "drf_value_error")


class Exploded(RuntimeError):
    """What a callback raises for a request whose path says `explode`."""


def _explode_or(value: Any) -> Callable[[str, str], Any]:
    def callback(method: str, path: str) -> Any:
        if "explode" in path:
            raise Exploded("callback failed")
        return value

    return callback


# Request filters as functions of (method, path): False skips the request.
REQUEST_FILTERS: Mapping[str, Callable[[str, str], Any]] = {
    "not_skip": lambda method, path: "/skip/" not in path,
    "get_only": lambda method, path: method == "GET",
    "non_bool": lambda method, path: "" if "/skip/" in path else 1,
    "explode": _explode_or(True),
}

# Extra properties as functions of (method, path).
EXTRA_PROPERTIES: Mapping[str, Callable[[str, str], Any]] = {
    "constant": lambda method, path: {"plan": "pro", "seats": 3},
    "from_path": lambda method, path: {"tail": path[-12:], "method": method.lower()},
    "empty": lambda method, path: {},
    "none": lambda method, path: None,
    "override": lambda method, path: {"$current_url": "https://override/", "$ip": None},
    "explode": _explode_or({"plan": "exploding"}),
}

# Django's properties map: the request's properties in, the tags out.
PROPERTIES_MAPS: Mapping[str, Callable[[dict[str, Any]], Any]] = {
    "add": lambda props: {**props, "mapped": True},
    "drop_url": lambda props: {k: v for k, v in props.items() if k != "$current_url"},
    "replace": lambda props: {"only": 1},
}


class Options(NamedTuple):
    """Flask and ASGI integration options (ABSENT: not passed)."""

    capture_exceptions: Any
    request_filter: str | None
    extra_properties: str | None
    capture_tracing_headers: Any
    trust_tracing_headers: Any
    autocapture: bool  # the client's enable_exception_autocapture
    async_callbacks: bool  # ASGI: the callbacks are coroutines
    wiring: str  # ASGI: "wrap" the app, or "add" it as Starlette middleware
    async_views: bool  # ASGI: coroutine views, else Starlette runs them in a thread
    outer: bool  # the requests are made inside an application's own tagged context

    def keywords(self, filter_: Any, extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"request_filter": filter_, "extra_properties": extra}
        for name in ("capture_exceptions", "capture_tracing_headers", "trust_tracing_headers"):
            value = getattr(self, name)
            if value != ABSENT:
                out[name] = value
        return out


_TRI = st.sampled_from([ABSENT, None, True, False])
_HEADER_SETTING = st.sampled_from([ABSENT, ABSENT, None, True, False, "yes"])


def options() -> st.SearchStrategy[Options]:
    return st.builds(
        Options,
        capture_exceptions=_TRI,
        request_filter=st.none() | st.sampled_from(sorted(REQUEST_FILTERS)),
        extra_properties=st.none() | st.sampled_from(sorted(EXTRA_PROPERTIES)),
        capture_tracing_headers=_HEADER_SETTING,
        trust_tracing_headers=_HEADER_SETTING,
        autocapture=st.booleans(),
        async_callbacks=st.booleans(),
        wiring=st.sampled_from(["wrap", "add"]),
        async_views=st.booleans(),
        outer=st.booleans(),
    )


class DrfHandler(NamedTuple):
    """How the DRF exception handler is made: the default one, or from the factory."""

    factory: bool
    custom_delegate: bool
    client_argument: bool
    capture_exceptions: Any
    capture_4xx: bool
    exception_filter: str | None


# The DRF handler's exception filters, functions of (exception, response, context).
EXCEPTION_FILTERS: Mapping[str, Callable[[Exception, Any, Any], Any]] = {
    "not_503": lambda exc, response, context: response.status_code != 503,
    "explode": lambda exc, response, context: _explode_or(True)("", "explode"),
}


def drf_handlers() -> st.SearchStrategy[DrfHandler]:
    return st.builds(
        DrfHandler,
        factory=st.booleans(),
        custom_delegate=st.booleans(),
        client_argument=st.booleans(),
        capture_exceptions=st.sampled_from([None, True, False]),
        capture_4xx=st.booleans(),
        exception_filter=st.none() | st.sampled_from(sorted(EXCEPTION_FILTERS)),
    )


class DjangoSetup(NamedTuple):
    """The Django settings the middleware reads (ABSENT: not set), and the DRF handler."""

    capture_exceptions: Any
    request_filter: str | None
    extra_properties: str | None
    extra_under_older_name: bool
    properties_map: str | None
    map_under_older_name: bool
    capture_tracing_headers: Any
    trust_tracing_headers: Any
    autocapture: bool
    drf: DrfHandler
    asynchronous: bool  # served through Django's AsyncClient (ASGI), else its Client
    outer: bool  # the requests are made inside an application's own tagged context

    def settings(self, filter_: Any, extra: Any, mapping: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in (
            ("POSTHOG_MW_CAPTURE_EXCEPTIONS", self.capture_exceptions),
            ("POSTHOG_MW_CAPTURE_TRACING_HEADERS", self.capture_tracing_headers),
            ("POSTHOG_MW_TRUST_TRACING_HEADERS", self.trust_tracing_headers),
        ):
            if value != ABSENT:
                out[name] = value
        if filter_ is not None:
            out["POSTHOG_MW_REQUEST_FILTER"] = filter_
        if extra is not None:
            older = self.extra_under_older_name
            out["POSTHOG_MW_EXTRA_TAGS" if older else "POSTHOG_MW_EXTRA_PROPERTIES"] = extra
        if mapping is not None:
            older = self.map_under_older_name
            out["POSTHOG_MW_TAG_MAP" if older else "POSTHOG_MW_PROPERTIES_MAP"] = mapping
        return out


def django_setups() -> st.SearchStrategy[DjangoSetup]:
    return st.builds(
        DjangoSetup,
        capture_exceptions=st.sampled_from([ABSENT, ABSENT, None, True, False, "", "yes"]),
        request_filter=st.none() | st.sampled_from(sorted(REQUEST_FILTERS)),
        extra_properties=st.none() | st.sampled_from(sorted(EXTRA_PROPERTIES)),
        extra_under_older_name=st.booleans(),
        properties_map=st.none() | st.sampled_from(sorted(PROPERTIES_MAPS)),
        map_under_older_name=st.booleans(),
        capture_tracing_headers=_HEADER_SETTING,
        trust_tracing_headers=_HEADER_SETTING,
        autocapture=st.booleans(),
        drf=drf_handlers(),
        asynchronous=st.booleans(),
        outer=st.booleans(),
    )


class WebRequest(NamedTuple):
    """One request: `path` and `query` are already URL text (percent-encoded)."""

    method: str  # or WEBSOCKET
    prefix: str  # "v" (a view), "skip" (a view some filters skip), "nowhere" (no route)
    behaviour: str
    segment: str
    query: str
    headers: tuple[tuple[str, str], ...]
    user: str  # Django: "" anonymous, else "pk|email" of the logged-in user

    @property
    def path(self) -> str:
        return f"/{self.prefix}/{self.behaviour}/{quote(self.segment, safe='')}"

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


# Header values: printable text, the sanitizer's targets (controls, padding, length) and
# Latin-1 letters; never CR, LF or NUL, which no test client sends.
_ODD = "\x01\x7f\x85\x9f\té ÿ"
_VALUE_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(_ODD),
    max_size=24,
)
_IDS = st.sampled_from(["user-1", "  padded  ", "", "   ", "\x01ctl\x7f", "é-ü", "42"])
_LONG = st.integers(990, 1010).map(lambda n: "z" * n)
_IPS = st.sampled_from(
    ["1.2.3.4", "1.2.3.4, 5.6.7.8", " , 9.9.9.9", "", "::1", "not an ip", "  7.7.7.7 "]
)
_HOSTS = st.sampled_from(
    ["example.com", "example.com:8080", "testserver", "", "[::1]:8000", "bad host", "EXAMPLE.com"]
)
_TRACEPARENT = st.sampled_from(
    ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "garbage", ""]
)

_HEADER = st.one_of(
    st.tuples(
        st.sampled_from(["X-POSTHOG-DISTINCT-ID", "x-posthog-distinct-id"]),
        _IDS | _VALUE_TEXT | _LONG,
    ),
    st.tuples(
        st.sampled_from(["X-POSTHOG-SESSION-ID", "X-PostHog-Session-Id"]),
        _IDS | _VALUE_TEXT | _LONG,
    ),
    st.tuples(st.just("X-POSTHOG-WINDOW-ID"), _IDS),
    st.tuples(st.just("traceparent"), _TRACEPARENT),
    st.tuples(st.sampled_from(["User-Agent", "user-agent"]), _VALUE_TEXT | _LONG),
    st.tuples(st.sampled_from(["X-Forwarded-For", "x-forwarded-for"]), _IPS | _VALUE_TEXT),
    st.tuples(st.just("X-Real-IP"), _IPS),
    st.tuples(st.just("Referer"), st.just("https://example.com/from?x=1") | _VALUE_TEXT),
    st.tuples(st.just("Host"), _HOSTS),
)

_SEGMENT = st.one_of(
    st.sampled_from(["plain", "explode", "a b", "%", "ü/ß", "a;b=c"]),
    st.text(min_size=1, max_size=16).filter(lambda s: s not in (".", "..")),
    st.integers(2040, 2060).map(lambda n: "p" * n),
)
_QUERY = st.one_of(
    st.just(""),
    st.sampled_from(["token=secret&x=1", "a=%zz", "q=ü", "=&&=", "x=1;y=2"]),
    st.text(max_size=16).map(lambda s: quote(s, safe="=&+;%")),
)


def web_requests(behaviours: tuple[str, ...] = BEHAVIOURS) -> st.SearchStrategy[WebRequest]:
    return st.builds(
        WebRequest,
        method=st.sampled_from(
            ["GET", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", WEBSOCKET]
        ),
        prefix=st.sampled_from(["v", "v", "v", "v", "skip", "nowhere"]),
        behaviour=st.sampled_from(behaviours),
        segment=_SEGMENT,
        query=_QUERY,
        headers=st.lists(_HEADER, max_size=6).map(tuple),
        user=st.sampled_from(["", "", "7|ada@example.com", "8|", "9|\u00e9@example.com"]),
    )
