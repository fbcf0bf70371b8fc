"""Django REST framework: an exception handler capturing the errors DRF turns into responses.

DRF answers many exceptions itself, so Django's middleware never sees them. Set
`REST_FRAMEWORK = {"EXCEPTION_HANDLER": "hogkit.integrations.drf.exception_handler"}`:
responses of 500 and above are captured (4xx are expected API answers; opt in with
`create_exception_handler(capture_4xx=True)`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from rest_framework.views import exception_handler as drf_default_handler

from .request import report_exception

__all__ = ["SOURCE", "create_exception_handler", "exception_handler"]

SOURCE = "django_rest_framework.exception_handler"
Handler = Callable[[Exception, Mapping[str, Any]], Any]


def create_exception_handler(
    handler: Handler | None = None,
    *,
    client: Any = None,
    capture_exceptions: bool | None = None,
    capture_4xx: bool = False,
) -> Handler:
    """A DRF exception handler wrapping `handler` (DRF's own by default)."""
    delegate = handler or drf_default_handler

    def handle(exc: Exception, context: Mapping[str, Any]) -> Any:
        response = delegate(exc, context)
        if response is None:  # DRF re-raises: the middleware captures it as unhandled
            return None
        enabled = (
            capture_exceptions
            if capture_exceptions is not None
            else bool(getattr(settings, "POSTHOG_MW_CAPTURE_EXCEPTIONS", True))
        )
        status = int(getattr(response, "status_code", 0))
        if enabled and (status >= 500 or (capture_4xx and 400 <= status < 500)):
            target = client if client is not None else getattr(settings, "POSTHOG_MW_CLIENT", None)
            report_exception(target, exc, SOURCE, "drf_exception_handler")
        return response

    return handle


exception_handler = create_exception_handler()
