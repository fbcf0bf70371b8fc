"""From one construction's `ClientOptions` to the Client's collaborators, wired together.

The Client holds what this builds and delegates to it; keeping the wiring here lets the
Client read as the list of what it holds and what it forwards. The collaborators get no
reference to the Client: each sees only the parts it works with, so a Client the
application drops is collected with its parts.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import attrs
from hogkit.core.code_variables import VariablesConfig
from hogkit.core.errors import HogkitError
from hogkit.core.event import EventContext, release_id

from .autocapture import ExceptionAutocapture, install_hooks
from .capture_flags import CaptureFlags
from .contexts import ContextMethods
from .event_methods import EventMethods
from .flag_reads import deprecated
from .flag_stack import FlagStack
from .hosts import ingestion_host
from .lifecycle import Hook, Lifecycle
from .logs import enable_debug_output
from .options import ClientOptions, report_unused
from .pipeline import EventPipeline
from .problems import Problems
from .settings import LiveSettings
from .spool import Spool
from .system import system_properties
from .transports import HttpTransport, Transport

__all__ = ["Parts", "assemble"]


@attrs.frozen
class Parts:
    """Everything a Client is made of."""

    problems: Problems
    api_key: str
    host: str
    transport: Transport
    events: EventPipeline
    event_methods: EventMethods
    contexts: ContextMethods
    exception_autocapture: ExceptionAutocapture | None
    flags: FlagStack
    settings: LiveSettings
    lifecycle: Lifecycle


def assemble(o: ClientOptions) -> Parts:
    """Build and start the collaborators. A bad key or host disables the client (reported
    through `Problems.config`, which raises when `debug`); it never stops construction."""
    if o.debug:
        enable_debug_output()
    problems = Problems(o.debug, o.on_error)
    api_key, host, config_ok = _keys(o, problems)
    report_unused(o)
    # Before anything starts: with warnings turned into errors, this raises (as in
    # posthog-python) and must leave no thread running behind it.
    if o.personal_api_key is not None and o.secret_key is None:  # the older name alone
        deprecated("personal_api_key", "secret_key=")
    context = EventContext(
        system_properties=system_properties(),
        super_properties=o.super_properties or {},
        disable_geoip=o.disable_geoip,
        is_server=o.is_server,
        release_id=release_id(os.environ.get("POSTHOG_RELEASE_ID")),
    )
    transport = o.transport or _http_transport(o, api_key, host)
    events = _pipeline(o, context, transport, problems)
    events.disabled = o.disabled or not config_ok
    event_methods = _event_methods(o, events)
    autocapture = install_hooks(
        event_methods,
        enabled=o.enable_exception_autocapture,
        rate_limited=o.enable_exception_autocapture_rate_limiting,
        bucket_size=o.exception_autocapture_bucket_size,
        refill_rate=o.exception_autocapture_refill_rate,
        refill_interval=o.exception_autocapture_refill_interval_seconds,
    )
    # The hooks the lifecycle runs at the first shutdown, and in a forked child.
    on_shutdown: list[Hook] = [] if autocapture is None else [autocapture.close]
    events.start(not events.disabled)
    stack = FlagStack(
        o,
        api_key=api_key,
        host=host,
        transport=transport,
        problems=problems,
        context=context,
        emit=events.settle,
        disabled=lambda: events.disabled,
    )
    events.builder.flags_for_capture = CaptureFlags(stack.service, stack.decisions)
    events.trace_context = stack.service.trace_context = bool(o.capture_trace_context)
    # Never joins the poller: `shutdown(timeout)` must return within its own deadline.
    on_shutdown.append(functools.partial(stack.service.shutdown, 0.0))
    return Parts(
        problems=problems,
        api_key=api_key,
        host=host,
        transport=transport,
        events=events,
        event_methods=event_methods,
        contexts=ContextMethods(event_methods),
        exception_autocapture=autocapture,
        flags=stack,
        settings=LiveSettings(events, event_methods, stack.service, problems),
        lifecycle=Lifecycle(events, problems, [stack.service.after_fork], on_shutdown),
    )


def _keys(o: ClientOptions, problems: Problems) -> tuple[str, str, bool]:
    """The project key and ingestion host, and whether both are usable."""
    key = o.project_api_key
    api_key = key.strip() if isinstance(key, str) else ""
    ok = True
    if not api_key:
        problems.config("project_api_key is empty; the client is disabled")
        ok = False
    try:
        host = ingestion_host(o.host)
    except HogkitError as exc:
        host = ""
        problems.config(f"{exc}; the client is disabled")
        ok = False
    return api_key, host, ok


def _http_transport(o: ClientOptions, api_key: str, host: str) -> HttpTransport:
    return HttpTransport(
        api_key,
        host or None,
        gzip=o.gzip,
        timeout=o.timeout,
        max_retries=o.max_retries,
        backoff_base=o.retry_backoff,
        backoff_cap=o.retry_backoff_cap,
        historical_migration=o.historical_migration,
    )


def _pipeline(
    o: ClientOptions, context: EventContext, transport: Transport, problems: Problems
) -> EventPipeline:
    return EventPipeline(
        context,
        transport,
        problems,
        max_queue_size=o.max_queue_size,
        flush_at=o.flush_at,
        flush_interval=o.flush_interval,
        sync_mode=o.sync_mode,
        send=o.send,
        before_send=o.before_send,
        exit_timeout=o.exit_timeout,
        max_queue_bytes=o.max_queue_bytes,
        block_when_full=o.block_when_full,
        spool=Spool(os.fspath(o.spool_dir)) if o.spool_dir is not None and o.send else None,
        senders=_senders(o.thread),
    )


MAX_SENDERS = 64
"""The most sender threads one client starts, whatever `thread` asks for."""


def _senders(thread: Any) -> int:
    """Sender threads for the `thread` option: at least one (a client that sends nothing
    would only fill its queue), at most `MAX_SENDERS`."""
    try:
        return min(MAX_SENDERS, max(1, int(thread)))
    except (TypeError, ValueError, OverflowError):
        return 1


def _event_methods(o: ClientOptions, events: EventPipeline) -> EventMethods:
    variables = VariablesConfig.build(
        o.code_variables_mask_patterns,
        o.code_variables_ignore_patterns,
        o.code_variables_mask_url_credentials,
        o.code_variables_detect_secrets,
    )
    return EventMethods(
        events,
        o.project_root if o.project_root is not None else os.getcwd(),
        o.in_app_modules or (),
        enable_exception_autocapture=o.enable_exception_autocapture,
        log_captured_exceptions=o.log_captured_exceptions,
        code_variables=variables,
        capture_code_variables=o.capture_exception_code_variables,
    )
