"""Celery: a context per task, failures captured once, the producer's context carried along.

`PosthogCeleryIntegration(client).instrument()` in both the producer and the worker. When
a task is published inside a context, its distinct id, session and tags ride in the task's
headers; the worker opens a fresh context per task from them, adds the task's own
properties (`celery_task_name`, `celery_task_id`, `celery_retry_count`, `celery_queue`,
...), and closes it when the task's outcome is known (success, failure or retry), or at
the latest when its run ends. Lifecycle events (`celery task started`,
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
from hogkit.core.context import ContextValues
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
        try:
            values = contexts.context_values()
            if self.propagate_context and values is not None and isinstance(headers, dict):
                _carry(values, headers)
        except Exception:
            log.exception("carrying the context into a Celery task's headers failed")

    def _after_publish(
        self, *args: Any, sender: Any = None, headers: Any = None, **kw: Any
    ) -> None:
        if not self.capture_task_lifecycle_events:
            return
        try:
            headers = headers if isinstance(headers, dict) else {}
            props = {
                "celery_task_id": headers.get("id"),
                "celery_task_name": sender,
                "celery_state": "published",
                "celery_exchange": kw.get("exchange"),
                "celery_routing_key": kw.get("routing_key"),
                # No worker has taken the task yet: the key is there, without a value.
                "celery_hostname": None,
                "celery_retry_count": headers.get("retries"),
                "celery_version": celery.__version__,
            }
            if self._tracked(props):
                self._capture("published", props)
        except Exception:
            log.exception("capturing a Celery task's publication failed")

    # -- worker side ------------------------------------------------------------------------

    def _prerun(self, *args: Any, task_id: Any = None, task: Any = None, **kw: Any) -> None:
        request = getattr(task, "request", None)
        if not task_id or request is None:
            return
        try:
            scope = contexts.new_context(fresh=True, capture_exceptions=False, client=self.client)
            scope.__enter__()
            setattr(request, _SCOPE, scope)
            setattr(request, _STARTED, time.monotonic())
        except Exception:
            log.exception("opening a Celery task's context failed")
            return
        try:
            self._enter_task(task, task_id, request)
        except Exception:
            log.exception("setting up a Celery task's context failed")
            # A half-built context is worse than none: the task runs outside any.
            _close_scope(request)

    def _enter_task(self, task: Any, task_id: Any, request: Any) -> None:
        carried = _carried_headers(request)
        if carried.get(CONTEXT_DISTINCT_ID_HEADER):
            contexts.identify_context(str(carried[CONTEXT_DISTINCT_ID_HEADER]))
        if carried.get(CONTEXT_SESSION_ID_HEADER):
            contexts.set_context_session(str(carried[CONTEXT_SESSION_ID_HEADER]))
        props = _task_properties(task, task_id, "started")
        # The task's own values win over those carried from a task that published it.
        for key, value in {**_carried_tags(carried), **props}.items():
            contexts.tag(key, value)
        if self.capture_task_lifecycle_events and self._tracked(props):
            self._capture("started", props)

    def _success(self, *args: Any, sender: Any = None, **kw: Any) -> None:
        self._end(sender, None, "success", None, {})

    def _failure(
        self, *args: Any, sender: Any = None, task_id: Any = None, exception: Any = None, **kw: Any
    ) -> None:
        self._end(sender, task_id, "failure", exception, {})

    def _retry(self, *args: Any, sender: Any = None, reason: Any = None, **kw: Any) -> None:
        self._end(sender, None, "retry", None, {"celery_reason": str(reason)})

    def _end(
        self, task: Any, task_id: Any, state: str, exception: Any, extra: dict[str, Any]
    ) -> None:
        """A task's outcome, then its context closed: what its `after_return` hook
        captures is outside it, as with posthog-python."""
        request = getattr(task, "request", None)
        try:
            if task_id is None:
                # A worker reports a rejected task's failure after the task's run, when
                # `task.request` is no longer the task's: only the signal names it.
                task_id = getattr(request, "id", None)
            props = {**_task_properties(task, task_id, state), **extra}
            started = getattr(request, _STARTED, None)
            if started is not None:
                props["celery_task_duration_ms"] = round((time.monotonic() - started) * 1000.0, 3)
            if exception:
                props["error_type"] = type(exception).__name__
                props["error_message"] = str(exception)
            self._report(state, props, exception)
        except Exception:
            log.exception("capturing a Celery task's outcome failed")
        finally:
            _close_scope(request)

    def _report(self, state: str, props: dict[str, Any], exception: Any) -> None:
        """The exception, then the lifecycle event, each if switched on; the filter is
        asked once, and only when something would be captured."""
        report = bool(exception) and self.capture_exceptions
        if not (report or self.capture_task_lifecycle_events) or not self._tracked(props):
            return
        if report:
            report_exception(self.client, exception, SOURCE, "task")
        if self.capture_task_lifecycle_events:
            self._capture(state, props)

    def _postrun(self, *args: Any, task: Any = None, **kw: Any) -> None:
        # A task that ended without an outcome signal (Reject, Ignore) still leaves its
        # context here; every other task's was closed by its outcome's handler.
        _close_scope(getattr(task, "request", None))

    def _flush(self, *args: Any, **kwargs: Any) -> None:
        target = self.client if self.client is not None else contexts.default_client()
        flush = getattr(target, "flush", None)
        if callable(flush):
            try:
                flush()
            except Exception:
                log.exception("flushing at Celery worker shutdown failed")

    def _tracked(self, props: dict[str, Any]) -> bool:
        return self.task_filter is None or bool(
            self.task_filter(props.get("celery_task_name"), props)
        )

    def _capture(self, state: str, props: dict[str, Any]) -> None:
        target = self.client if self.client is not None else contexts.module_client()
        capture = getattr(target, "capture", None)
        if callable(capture):
            capture(f"celery task {state}", properties=props)


def _carry(values: ContextValues, headers: dict[str, Any]) -> None:
    """Put the context's identity, session and tags into a task message's headers."""
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


def _close_scope(request: Any) -> None:
    """Close the context a task's run opened, once."""
    scope = getattr(request, _SCOPE, None)
    if scope is not None:
        setattr(request, _SCOPE, None)
        scope.__exit__(None, None, None)


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
        "celery_queue": delivery.get("queue"),
        "celery_retry_count": getattr(request, "retries", None),
        "celery_version": celery.__version__,
    }
