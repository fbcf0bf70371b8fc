"""Celery: a context per task, failures captured once, the producer's context carried along.

`PosthogCeleryIntegration(client).instrument()` in both the producer and the worker. When
a task is published inside a context, its distinct id, session and tags ride in the task's
headers; the worker opens a fresh context per task from them, adds the task's own
properties (`celery_task_name`, `celery_task_id`, `celery_retry_count`, `celery_queue`,
...), and closes it when the task ends. Lifecycle events (`celery task started`,
`... success`, `... failure`, `... retry`, `... published`) are optional. The client is
flushed when a worker (or a worker's child process) shuts down.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import celery
from celery import signals
from hogkit.transport import contexts

from .request import report_exception

__all__ = [
    "CONTEXT_DISTINCT_ID_HEADER",
    "CONTEXT_SESSION_ID_HEADER",
    "CONTEXT_TAGS_HEADER",
    "SOURCE",
    "PosthogCeleryIntegration",
]

log = logging.getLogger("hogkit")

SOURCE = "celery.task_failure"
CONTEXT_DISTINCT_ID_HEADER = "X-POSTHOG-DISTINCT-ID"
CONTEXT_SESSION_ID_HEADER = "X-POSTHOG-SESSION-ID"
CONTEXT_TAGS_HEADER = "X-POSTHOG-CONTEXT-TAGS"
_SCOPE = "_hogkit_context"
_STARTED = "_hogkit_started"

TaskFilter = Callable[[str | None, dict[str, Any]], bool]


class PosthogCeleryIntegration:
    """Signal handlers for one client; `instrument()` connects them, `uninstrument()` undoes it."""

    def __init__(
        self,
        client: Any = None,
        capture_exceptions: bool = True,
        capture_task_lifecycle_events: bool = True,
        propagate_context: bool = True,
        task_filter: TaskFilter | None = None,
    ) -> None:
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.capture_task_lifecycle_events = capture_task_lifecycle_events
        self.propagate_context = propagate_context
        self.task_filter = task_filter
        self._handlers: list[tuple[Any, Callable[..., None]]] = [
            (signals.before_task_publish, self._before_publish),
            (signals.after_task_publish, self._after_publish),
            (signals.task_prerun, self._prerun),
            (signals.task_success, self._success),
            (signals.task_failure, self._failure),
            (signals.task_retry, self._retry),
            (signals.task_postrun, self._postrun),
            (signals.worker_process_shutdown, self._flush),
            (signals.worker_shutdown, self._flush),
        ]

    def instrument(self) -> None:
        """Connect the handlers (strongly referenced: they live as long as the integration)."""
        for signal, handler in self._handlers:
            signal.connect(handler, weak=False)

    def uninstrument(self) -> None:
        """Disconnect the handlers."""
        for signal, handler in self._handlers:
            signal.disconnect(handler)

    def shutdown(self) -> None:
        """Disconnect and flush what was captured."""
        self.uninstrument()
        self._flush()

    # -- producer side ----------------------------------------------------------------------

    def _before_publish(self, *args: Any, headers: Any = None, **kwargs: Any) -> None:
        values = contexts.context_values()
        if not self.propagate_context or values is None or not isinstance(headers, dict):
            return
        carried: dict[str, str] = {}
        if values.distinct_id:
            carried[CONTEXT_DISTINCT_ID_HEADER] = values.distinct_id
        if values.session_id:
            carried[CONTEXT_SESSION_ID_HEADER] = values.session_id
        if values.tags:
            carried[CONTEXT_TAGS_HEADER] = json.dumps(dict(values.tags), default=str)
        if carried:
            headers.update(carried)
            # Workers see the nested "headers" mapping as `task.request.headers`.
            headers.setdefault("headers", {}).update(carried)

    def _after_publish(
        self, *args: Any, sender: Any = None, headers: Any = None, **kw: Any
    ) -> None:
        if not self.capture_task_lifecycle_events:
            return
        headers = headers if isinstance(headers, dict) else {}
        props = {
            "celery_task_id": headers.get("id"),
            "celery_task_name": sender,
            "celery_state": "published",
            "celery_exchange": kw.get("exchange"),
            "celery_routing_key": kw.get("routing_key"),
            "celery_retry_count": headers.get("retries"),
            "celery_version": celery.__version__,
        }
        self._event("published", props)

    # -- worker side ------------------------------------------------------------------------

    def _prerun(self, *args: Any, task_id: Any = None, task: Any = None, **kw: Any) -> None:
        request = getattr(task, "request", None)
        if request is None:
            return
        try:
            scope = contexts.new_context(fresh=True, capture_exceptions=False, client=self.client)
            scope.__enter__()
            setattr(request, _SCOPE, scope)
            setattr(request, _STARTED, time.monotonic())
            carried = _carried_headers(request)
            if carried.get(CONTEXT_DISTINCT_ID_HEADER):
                contexts.identify_context(str(carried[CONTEXT_DISTINCT_ID_HEADER]))
            if carried.get(CONTEXT_SESSION_ID_HEADER):
                contexts.set_context_session(str(carried[CONTEXT_SESSION_ID_HEADER]))
            props = {**_carried_tags(carried), **_task_properties(task, task_id, "started")}
            for key, value in props.items():
                contexts.tag(key, value)
            self._event("started", _task_properties(task, task_id, "started"))
        except Exception:
            log.exception("hogkit: setting up a Celery task's context failed")

    def _success(self, *args: Any, sender: Any = None, **kw: Any) -> None:
        self._end(sender, "success", None, {})

    def _failure(self, *args: Any, sender: Any = None, exception: Any = None, **kw: Any) -> None:
        self._end(sender, "failure", exception, {})

    def _retry(self, *args: Any, sender: Any = None, reason: Any = None, **kw: Any) -> None:
        self._end(sender, "retry", None, {"celery_reason": str(reason)})

    def _end(self, task: Any, state: str, exception: Any, extra: dict[str, Any]) -> None:
        request = getattr(task, "request", None)
        props = {**_task_properties(task, getattr(request, "id", None), state), **extra}
        started = getattr(request, _STARTED, None)
        if started is not None:
            props["celery_task_duration_ms"] = round((time.monotonic() - started) * 1000.0, 3)
        if isinstance(exception, BaseException):
            props["error_type"] = type(exception).__name__
            props["error_message"] = str(exception)
            if self.capture_exceptions and self._tracked(props):
                report_exception(self.client, exception, SOURCE, "celery")
        self._event(state, props)

    def _postrun(self, *args: Any, task: Any = None, **kw: Any) -> None:
        request = getattr(task, "request", None)
        scope = getattr(request, _SCOPE, None)
        if scope is not None:
            setattr(request, _SCOPE, None)
            scope.__exit__(None, None, None)

    def _flush(self, *args: Any, **kwargs: Any) -> None:
        target = self.client if self.client is not None else contexts.default_client()
        flush = getattr(target, "flush", None)
        if callable(flush):
            try:
                flush()
            except Exception:
                log.exception("hogkit: flushing at Celery worker shutdown failed")

    def _tracked(self, props: dict[str, Any]) -> bool:
        return self.task_filter is None or bool(
            self.task_filter(props.get("celery_task_name"), props)
        )

    def _event(self, state: str, props: dict[str, Any]) -> None:
        if not self.capture_task_lifecycle_events or not self._tracked(props):
            return
        target = self.client if self.client is not None else contexts.module_client()
        capture = getattr(target, "capture", None)
        if callable(capture):
            capture(f"celery task {state}", properties=props)


def _carried_headers(request: Any) -> dict[str, Any]:
    headers = getattr(request, "headers", None)
    return headers if isinstance(headers, dict) else {}


def _carried_tags(headers: dict[str, Any]) -> dict[str, Any]:
    raw = headers.get(CONTEXT_TAGS_HEADER)
    if not isinstance(raw, (str, bytes)):
        return {}
    try:
        tags = json.loads(raw)
    except ValueError:
        return {}
    return tags if isinstance(tags, dict) else {}


def _task_properties(task: Any, task_id: Any, state: str) -> dict[str, Any]:
    request = getattr(task, "request", None)
    delivery = getattr(request, "delivery_info", None)
    delivery = delivery if isinstance(delivery, dict) else {}
    return {
        "celery_task_id": task_id,
        "celery_task_name": getattr(task, "name", None),
        "celery_state": state,
        "celery_hostname": getattr(request, "hostname", None),
        "celery_exchange": delivery.get("exchange"),
        "celery_routing_key": delivery.get("routing_key"),
        # Celery's requests do not name the queue; with its default direct routing the
        # routing key is the queue's name.
        "celery_queue": delivery.get("queue") or delivery.get("routing_key"),
        "celery_retry_count": getattr(request, "retries", None),
        "celery_version": celery.__version__,
    }
