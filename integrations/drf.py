"""Django REST framework: an exception handler capturing the errors DRF turns into responses.

DRF answers many exceptions itself, so Django's middleware never sees them. Set
`REST_FRAMEWORK = {"EXCEPTION_HANDLER": "hogkit.integrations.drf.exception_handler"}`:
responses of 500 and above are captured (4xx are expected API answers; opt in with
`create_exception_handler(capture_4xx=True)`), as handled exceptions, with the request's
context (keep `PosthogContextMiddleware`). The middleware's settings apply here too:
`POSTHOG_MW_CAPTURE_EXCEPTIONS`, `POSTHOG_MW_REQUEST_FILTER` and the client,
`POSTHOG_DRF_CLIENT` (an older name) or `POSTHOG_MW_CLIENT`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from hogkit.transport import contexts
from rest_framework.views import exception_handler as drf_default_handler

from .django import capture_exceptions_setting, request_filter_setting
from .request import captures_exceptions, report_exception

__all__ = ["SOURCE", "create_exception_handler", "exception_handler"]

SOURCE = "django_rest_framework.exception_handler"
Handler = Callable[[Exception, Mapping[str, Any]], Any]
ExceptionFilter = Callable[[Exception, Any, Mapping[str, Any]], Any]


def create_exception_handler(
    handler: Handler | None = None,
    *,
    client: Any = None,
    capture_exceptions: bool | None = None,
    capture_4xx: bool = False,
    exception_filter: ExceptionFilter | None = None,
) -> Handler:
    """A DRF exception handler wrapping `handler` (DRF's own by default).

    `exception_filter(exc, response, context)` returning False keeps an exception from
    being captured. Whatever capturing does, the response is `handler`'s, unchanged.
    """
    delegate = handler or drf_default_handler

    def handle(exc: Exception, context: Mapping[str, Any]) -> Any:
        response = delegate(exc, context)
        if response is None:  # DRF re-raises: the middleware captures it as unhandled
            return None
        target = client if client is not None else _configured_client()
        try:
            if _wanted(exc, response, context, target):
                report_exception(target, exc, SOURCE, "middleware", handled=True)
        except Exception:
            contexts.log.exception("capturing a REST framework exception failed")
        return response

    def _wanted(exc: Exception, response: Any, context: Mapping[str, Any], target: Any) -> bool:
        enabled = capture_exceptions
        if enabled is None:
            enabled = captures_exceptions(capture_exceptions_setting(), target)
        if not enabled:
            return False
        status = int(response.status_code)
        if not (status >= 500 or (capture_4xx and 400 <= status < 500)):
            return False
        if not _passes_request_filter(context):
            return False
        return exception_filter is None or bool(exception_filter(exc, response, context))

    return handle


def _configured_client() -> Any:
    """The client the settings name: `POSTHOG_DRF_CLIENT`, else `POSTHOG_MW_CLIENT`."""
    for name in ("POSTHOG_DRF_CLIENT", "POSTHOG_MW_CLIENT"):
        value = getattr(settings, name, None)
        if value is not None:
            return value
    return None


def _passes_request_filter(context: Mapping[str, Any]) -> bool:
    """The middleware's `POSTHOG_MW_REQUEST_FILTER`, asked about the Django request DRF
    wraps, so a request the middleware skips is skipped here too."""
    request_filter = request_filter_setting()
    request = context.get("request")
    if request_filter is None or request is None:
        return True
    return bool(request_filter(getattr(request, "_request", request)))


exception_handler = create_exception_handler()
