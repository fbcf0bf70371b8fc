"""Django: a middleware giving each request a context, and capturing view exceptions once.

Add `hogkit.integrations.django.PosthogContextMiddleware` to `MIDDLEWARE`. Settings:
`POSTHOG_MW_CLIENT` (the client; else the default client), `POSTHOG_MW_CAPTURE_EXCEPTIONS`
(default True; None: as the client's `enable_exception_autocapture`),
`POSTHOG_MW_REQUEST_FILTER` (a callable; False skips the request),
`POSTHOG_MW_EXTRA_PROPERTIES` (a callable returning more tags), `POSTHOG_MW_PROPERTIES_MAP`
(a callable transforming the tags) and `POSTHOG_MW_CAPTURE_TRACING_HEADERS` (default True:
take the distinct id and session from the `X-POSTHOG-*` headers). Without a header the
logged-in user's primary key is the distinct id; their e-mail address, when they have one,
is the `email` property of the request's events, as in posthog-python. The older names
`POSTHOG_MW_EXTRA_TAGS`, `POSTHOG_MW_TAG_MAP` and `POSTHOG_MW_TRUST_TRACING_HEADERS` still
work when the current ones are not set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
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

__all__ = [
    "SOURCE",
    "PosthogContextMiddleware",
    "capture_exceptions_setting",
    "request_filter_setting",
]

SOURCE = "django.middleware"
# Whether the identity headers are read: the setting, and its older name.
_HEADER_SETTINGS = ("POSTHOG_MW_CAPTURE_TRACING_HEADERS", "POSTHOG_MW_TRUST_TRACING_HEADERS")


class PosthogContextMiddleware:
    """One context per request (sync or async), with the request's identity and URL."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.client = getattr(settings, "POSTHOG_MW_CLIENT", None)
        self.capture_exceptions = capture_exceptions_setting()
        self.request_filter = request_filter_setting()
        self.extra_properties = _callable_setting(
            "POSTHOG_MW_EXTRA_PROPERTIES", "POSTHOG_MW_EXTRA_TAGS"
        )
        self.properties_map = _callable_setting("POSTHOG_MW_PROPERTIES_MAP", "POSTHOG_MW_TAG_MAP")
        self.capture_tracing_headers = tracing_headers_setting(
            getattr(settings, _HEADER_SETTINGS[0], None),
            getattr(settings, _HEADER_SETTINGS[1], None),
            _HEADER_SETTINGS,
        )

    # posthog-python's older names for three settings.
    trust_tracing_headers = older_name[bool]("capture_tracing_headers")
    extra_tags = older_name[Callable[[HttpRequest], Any] | None]("extra_properties")
    tag_map = older_name[Callable[[dict[str, Any]], Any] | None]("properties_map")

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        if not self._wanted(request):
            return self.get_response(request)
        with contexts.new_context(capture_exceptions=self.capture_exceptions, client=self.client):
            self._enter(request, _user_details(getattr(request, "user", None)))
            return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if not self._wanted(request):
            return await self.get_response(request)
        with contexts.new_context(capture_exceptions=self.capture_exceptions, client=self.client):
            user = None
            auser = getattr(request, "auser", None)
            if callable(auser):
                try:
                    user = await auser()
                except Exception:
                    user = None
            self._enter(request, _user_details(user))
            return await self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Django turns view errors into responses inside the middleware; catch them here."""
        if not self._wanted(request):
            return
        if captures_exceptions(self.capture_exceptions, self.client):
            report_exception(self.client, exception, SOURCE, "middleware")

    def _wanted(self, request: HttpRequest) -> bool:
        return self.request_filter is None or bool(self.request_filter(request))

    def _enter(self, request: HttpRequest, user: tuple[str | None, str | None]) -> None:
        user_id, email = user
        identify_request(
            request.headers.get,
            read_headers=self.capture_tracing_headers,
            fallback_distinct_id=user_id,
        )
        props: dict[str, Any] = {"email": email} if email else {}
        props.update(
            request_properties(
                request.build_absolute_uri(),
                request.method,
                request.path,
                request.headers.get("X-Forwarded-For"),
                request.headers.get("User-Agent"),
            )
        )
        if self.extra_properties is not None:
            props.update(self.extra_properties(request) or {})
        if self.properties_map is not None:
            props = self.properties_map(props)
        tag_request(props)


def capture_exceptions_setting() -> bool | None:
    """`POSTHOG_MW_CAPTURE_EXCEPTIONS`: True when not set (or set to something that is not
    a bool, as posthog-python reads it); None leaves it to the client's autocapture."""
    value = getattr(settings, "POSTHOG_MW_CAPTURE_EXCEPTIONS", True)
    return value if value is None or isinstance(value, bool) else True


def request_filter_setting() -> Callable[..., Any] | None:
    """`POSTHOG_MW_REQUEST_FILTER` when callable: a request it answers falsy for is not
    tracked. Read by the middleware and by the DRF handler, which skip the same requests."""
    return _callable_setting("POSTHOG_MW_REQUEST_FILTER")


def _callable_setting(name: str, older: str | None = None) -> Callable[..., Any] | None:
    """Setting `name` when it is callable; when it is not set at all, its `older` name's."""
    if older is not None and not hasattr(settings, name):
        name = older
    value = getattr(settings, name, None)
    return value if callable(value) else None


def _user_details(user: Any) -> tuple[str | None, str | None]:
    """The logged-in user's primary key and e-mail address; (None, None) for anonymous
    users."""
    if user is None:
        return None, None
    try:
        authenticated = getattr(user, "is_authenticated", False)
        if callable(authenticated):
            authenticated = authenticated()
        if not authenticated:
            return None, None
        pk, email = getattr(user, "pk", None), getattr(user, "email", None)
        return (None if pk is None else str(pk)), (str(email) if email else None)
    except Exception:
        return None, None
