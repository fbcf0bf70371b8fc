"""The active OpenTelemetry span, as `$trace_id`/`$span_id` event properties.

Events carry the ids so PostHog can link them to the backend trace they happened in. hogkit
never imports OpenTelemetry itself: a span can only be active once the application has
imported `opentelemetry.trace`, so the module is looked up among those already imported, and
an application without OpenTelemetry pays one dict lookup.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["span_properties", "with_span"]


def span_properties() -> dict[str, str]:
    """`$trace_id` (32 hex digits) and `$span_id` (16) of the current valid span, else {}."""
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return {}
    try:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return {}
        return {"$trace_id": f"{context.trace_id:032x}", "$span_id": f"{context.span_id:016x}"}
    except Exception:  # a broken tracer must never cost the application its event
        return {}


def with_span(properties: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """`properties` over the current span's ids (explicit `$trace_id`/`$span_id` win)."""
    span = span_properties()
    if not span:
        return properties
    if properties:
        span.update(properties)
    return span
