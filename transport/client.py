"""The Client: PostHog's API in front of the core's builders and evaluator.

The Client composes collaborators, each with one job, and keeps no logic of its own.
`assembly.assemble` builds them from the call's frozen `ClientOptions`; the Client only
holds them:

* `EventPipeline` (`pipeline.py`): every event passes through it to the queue, the worker
  and the transport; `submit` is the one seam for built events, `capture` for capture calls.
* `EventMethods` (`event_methods.py`): `pageview`, `identify`, `set`, ..., `capture_exception`.
* `FlagService` (`flags.py`): the local `FlagSet` in force (read and replaced in one place),
  the poller, the `/flags` fallback and `$feature_flag_called` dedup; `FlagReads` and
  `FlagAPI` (`flag_reads.py`, `flag_api.py`) put the never-raise error path and the flag
  methods on top of it; `LegacyFlags` and `FlagDecisions` (`legacy_flags.py`,
  `flag_decisions.py`) answer the older flag methods by their own rules. `FlagStack`
  (`flag_stack.py`) composes them.
* `Problems` (`problems.py`): the error path every public method shares.
* `ContextMethods` (`contexts.py`): request contexts (`new_context`, `tag`, ...), whose
  escaping exceptions go to `EventMethods.capture_exception`; `ExceptionAutocapture`
  (`autocapture.py`): the uncaught-exception hooks, when `enable_exception_autocapture`.
* `LiveSettings` (`settings.py`): the settings a running client may change (`debug`,
  `super_properties`, definitions set directly); `Lifecycle` (`lifecycle.py`): flush,
  shutdown and fork.

The collaborators' public methods appear on the Client through `forward`, unchanged, and
their settings (`disabled`, `before_send`, ...) through `attribute`. None of
them raises into the caller unless `debug=True`: problems are logged on the `hogkit` logger
and passed to `on_error`.
"""

from __future__ import annotations

import functools
import inspect
import os
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from .assembly import assemble
from .autocapture import (
    DEFAULT_BUCKET_SIZE,
    DEFAULT_REFILL_INTERVAL_SECONDS,
    DEFAULT_REFILL_RATE,
)
from .contexts import ContextMethods
from .dedup import DEFAULT_CAPACITY
from .delivery import exit_flush_started
from .event_methods import EventMethods
from .flag_api import FlagAPI
from .flag_decisions import FlagDecisions
from .flags import DEFAULT_REQUEST_TIMEOUT, Definitions, FlagService
from .flags_transport import FlagsTransport
from .forward import attribute, forward
from .hosts import redacted
from .legacy_flags import LegacyFlags
from .lifecycle import Lifecycle
from .options import ClientOptions, read_back
from .orphans import stop_orphans
from .pipeline import DEFAULT_QUEUE_BYTES, BeforeSend, EventPipeline
from .problems import OnError, log
from .settings import LiveSettings
from .transports import Transport

__all__ = ["BeforeSend", "Client", "OnError", "deliver_at_exit"]

_Table = Mapping[str, Any] | None
"""`group_type_mapping` and `cohorts`: the JSON objects posthog-python keeps them as."""

DEFAULT_EXIT_TIMEOUT = 1.0

_CAPTURED_ATTR = "__hogkit_captured_uuid"

Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None


class Client:
    """A PostHog client. Create one per process and reuse it; it is thread-safe.

    The parameters are posthog-python 7.91.1's, with its names, defaults and positional
    order, except `gzip` (on by default here); options outside hogkit's scope (AI capture,
    tracing spans, metrics, e-mail) are accepted and, when set, logged once as ignored (see
    `ClientOptions`). hogkit's own options are keyword-only: `retry_backoff` and
    `retry_backoff_cap` set the first retry wait and the longest one (seconds);
    `exit_timeout` bounds the flush at interpreter exit; `transport` replaces the HTTP
    transport (see `MemoryTransport`, `FileTransport`).
    `capture_trace_context` adds the active OpenTelemetry span's `$trace_id`/`$span_id` to
    captured and flag events (exceptions always carry them).
    """

    def __init__(
        self,
        project_api_key: str,
        host: str | None = None,
        debug: bool = False,
        max_queue_size: int = 10000,
        send: bool = True,
        on_error: OnError | None = None,
        flush_at: int = 100,
        flush_interval: float = 5.0,
        gzip: bool = True,
        max_retries: int = 3,
        sync_mode: bool = False,
        timeout: float = 15,
        thread: int = 1,
        poll_interval: float = 30,
        personal_api_key: str | None = None,
        disabled: bool = False,
        disable_geoip: bool = True,
        is_server: bool = True,
        historical_migration: bool = False,
        feature_flags_request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT,
        feature_flags_request_max_retries: int = 1,
        super_properties: Mapping[str, Any] | None = None,
        enable_exception_autocapture: bool = False,
        log_captured_exceptions: bool = False,
        project_root: str | None = None,
        privacy_mode: bool = False,
        before_send: BeforeSend | None = None,
        flag_fallback_cache_url: str | None = None,
        enable_local_evaluation: bool = True,
        flag_definition_cache_provider: Any = None,
        capture_exception_code_variables: bool = False,
        code_variables_mask_patterns: Sequence[str] | None = None,
        code_variables_ignore_patterns: Sequence[str] | None = None,
        code_variables_mask_url_credentials: bool | None = None,
        code_variables_detect_secrets: bool | None = None,
        in_app_modules: Sequence[str] | None = None,
        enable_exception_autocapture_rate_limiting: bool = False,
        exception_autocapture_bucket_size: int = DEFAULT_BUCKET_SIZE,
        exception_autocapture_refill_rate: float = DEFAULT_REFILL_RATE,
        exception_autocapture_refill_interval_seconds: float = DEFAULT_REFILL_INTERVAL_SECONDS,
        capture_mode: Any = None,
        capture_compression: Any = None,
        secret_key: str | None = None,
        metrics: Any = None,
        enable_full_ai_capture: bool = False,
        capture_trace_context: bool = False,
        _use_ai_lane: bool = False,
        _enable_multimodal_capture: bool = False,
        traces: Any = None,
        app_host: str | None = None,
        email_request_timeout_seconds: float = 15,
        email_request_max_retries: int = 2,
        migrated_from: str | None = None,
        *,
        transport: Transport | None = None,
        retry_backoff: float = 1.0,
        retry_backoff_cap: float = 30.0,
        exit_timeout: float = DEFAULT_EXIT_TIMEOUT,
        flag_definitions: Definitions | None = None,
        flags_transport: FlagsTransport | None = None,
        flag_called_cache_size: int = DEFAULT_CAPACITY,
        flag_definitions_follower_only: bool = False,
        max_queue_bytes: int = DEFAULT_QUEUE_BYTES,
        block_when_full: float = 0.0,
        spool_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        options = ClientOptions(
            project_api_key=project_api_key,
            host=host,
            debug=debug,
            max_queue_size=max_queue_size,
            send=send,
            on_error=on_error,
            flush_at=flush_at,
            flush_interval=flush_interval,
            gzip=gzip,
            max_retries=max_retries,
            sync_mode=sync_mode,
            timeout=timeout,
            thread=thread,
            poll_interval=poll_interval,
            personal_api_key=personal_api_key,
            disabled=disabled,
            disable_geoip=disable_geoip,
            is_server=is_server,
            historical_migration=historical_migration,
            feature_flags_request_timeout_seconds=feature_flags_request_timeout_seconds,
            feature_flags_request_max_retries=feature_flags_request_max_retries,
            super_properties=super_properties,
            enable_exception_autocapture=enable_exception_autocapture,
            log_captured_exceptions=log_captured_exceptions,
            project_root=project_root,
            privacy_mode=privacy_mode,
            before_send=before_send,
            flag_fallback_cache_url=flag_fallback_cache_url,
            enable_local_evaluation=enable_local_evaluation,
            flag_definition_cache_provider=flag_definition_cache_provider,
            capture_exception_code_variables=capture_exception_code_variables,
            code_variables_mask_patterns=code_variables_mask_patterns,
            code_variables_ignore_patterns=code_variables_ignore_patterns,
            code_variables_mask_url_credentials=code_variables_mask_url_credentials,
            code_variables_detect_secrets=code_variables_detect_secrets,
            in_app_modules=in_app_modules,
            enable_exception_autocapture_rate_limiting=enable_exception_autocapture_rate_limiting,
            exception_autocapture_bucket_size=exception_autocapture_bucket_size,
            exception_autocapture_refill_rate=exception_autocapture_refill_rate,
            exception_autocapture_refill_interval_seconds=exception_autocapture_refill_interval_seconds,
            capture_mode=capture_mode,
            capture_compression=capture_compression,
            secret_key=secret_key,
            metrics=metrics,
            enable_full_ai_capture=enable_full_ai_capture,
            capture_trace_context=capture_trace_context,
            _use_ai_lane=_use_ai_lane,
            _enable_multimodal_capture=_enable_multimodal_capture,
            traces=traces,
            app_host=app_host,
            email_request_timeout_seconds=email_request_timeout_seconds,
            email_request_max_retries=email_request_max_retries,
            migrated_from=migrated_from,
            transport=transport,
            retry_backoff=retry_backoff,
            retry_backoff_cap=retry_backoff_cap,
            exit_timeout=exit_timeout,
            flag_definitions=flag_definitions,
            flags_transport=flags_transport,
            flag_called_cache_size=flag_called_cache_size,
            flag_definitions_follower_only=flag_definitions_follower_only,
            max_queue_bytes=max_queue_bytes,
            block_when_full=block_when_full,
            spool_dir=spool_dir,
        )
        self._build(options.repaired(_defaults()))

    def _build(self, o: ClientOptions) -> None:
        """Hold the collaborators built from one call's options (see `assembly`)."""
        self.options = o
        parts = assemble(o)
        self.api_key, self.host, self.transport = parts.api_key, parts.host, parts.transport
        self.exception_autocapture = parts.exception_autocapture
        self._problems = parts.problems  # the never-raise error path
        self._events = parts.events  # queue, worker, capture, flush
        self._event_methods = parts.event_methods  # identify, set, ..., capture_exception
        self._contexts = parts.contexts  # new_context, tag, ...
        stack = parts.flags  # definitions in force, /flags, and the flag methods over them
        self._flags, self._reads, self._flag_api = stack.service, stack.reads, stack.api
        self._legacy, self._decisions = stack.legacy, stack.decisions
        self._settings = parts.settings  # debug, super_properties, definitions set directly
        self._lifecycle = parts.lifecycle  # flush, shutdown, fork
        _live_clients.add(self)
        _live_pipelines.add(self._events)

    def __repr__(self) -> str:
        return f"Client(host={redacted(self.host)!r})"

    def __getattr__(self, name: str) -> Any:
        """posthog-python's attributes that are not the Client's own (see `_unlisted`)."""
        return _unlisted(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _READ_WHEN_BUILT:  # posthog-python would use it; say that hogkit won't
            log.warning("%s is read when a client is built; setting it changes nothing", name)
            return
        object.__setattr__(self, name, value)

    stats = forward("_events", EventPipeline.stats)

    log = log
    """posthog-python's `client.log`, which applications quiet with `client.log.setLevel(...)`:
    here the `hogkit` logger, whose level every hogkit message follows."""

    # -- settings: the collaborators' own, read and written through the Client ----------------

    debug = attribute[bool](
        "_settings", "debug", "With debug on, problems raise into the caller and the log shows."
    )
    on_error = attribute[OnError | None](
        "_problems", "on_error", "Called with (error, undelivered events) for every problem."
    )
    before_send = attribute[BeforeSend | None](
        "_events", "before_send", "Sees (and may change or drop) every event before it is queued."
    )
    disabled = attribute[bool](
        "_events", "disabled", "True when the client sends nothing (set it to pause or resume)."
    )
    project_root = attribute[str](
        "_event_methods", "project_root", "Frames under this folder are the application's own."
    )

    # Setting them changes the events after, flag events included; events still queued
    # are encoded with the properties in force then, so `flush()` first for a clean cut.
    super_properties = attribute[Mapping[str, Any] | None](
        "_settings", "super_properties", "Properties every event carries; None: none."
    )
    # Definitions set directly, as posthog-python test suites do (see `LiveSettings`).
    feature_flags = attribute[list[Any] | None]("_settings", "feature_flags", "Flag definitions.")
    group_type_mapping = attribute[_Table]("_settings", "group_type_mapping", "Group types.")
    cohorts = attribute[_Table]("_settings", "cohorts", "Cohort definitions.")
    in_app_modules = attribute[Sequence[str] | None](
        "_settings", "in_app_modules", "Module prefixes whose frames are the application's."
    )

    # read-only
    closed = attribute[bool]("_events", "closed", "True once shut down.", writable=False)
    sync_mode = attribute[bool](
        "_events", "sync_mode", "Sends on the caller's thread.", writable=False
    )
    send = attribute[bool](
        "_events", "send", "False: events are built, never sent.", writable=False
    )
    exit_timeout = attribute[float](
        "_events", "exit_timeout", "Seconds the flush at exit may take.", writable=False
    )
    enable_exception_autocapture = attribute[bool](
        "_event_methods",
        "enable_exception_autocapture",
        "Whether uncaught exceptions (and contexts' escaping ones) are captured.",
        writable=False,
    )

    # Read or replace the local definitions in force, hear of changes (`on_change`).
    flag_service = attribute[FlagService](
        "_reads", "service", "The flag collaborator.", writable=False
    )

    # -- events ---------------------------------------------------------------------------------

    capture = forward("_events", EventPipeline.capture)
    pageview = forward("_event_methods", EventMethods.pageview)
    set = forward("_event_methods", EventMethods.set)
    set_once = forward("_event_methods", EventMethods.set_once)
    identify = forward("_event_methods", EventMethods.identify)
    alias = forward("_event_methods", EventMethods.alias)
    group_identify = forward("_event_methods", EventMethods.group_identify)
    capture_exception = forward("_event_methods", EventMethods.capture_exception)

    # -- contexts: the `ContextMethods` collaborator's methods ---------------------------------

    new_context = forward("_contexts", ContextMethods.new_context)
    scoped = forward("_contexts", ContextMethods.scoped)
    tag = forward("_contexts", ContextMethods.tag)
    get_tags = forward("_contexts", ContextMethods.get_tags)
    identify_context = forward("_contexts", ContextMethods.identify_context)
    set_context_session = forward("_contexts", ContextMethods.set_context_session)
    set_context_device_id = forward("_contexts", ContextMethods.set_context_device_id)

    # -- feature flags: the `FlagAPI` collaborator's methods ----------------------------------

    evaluate_flags = forward("_flag_api", FlagAPI.evaluate_flags)
    load_feature_flags = forward("_settings", LiveSettings.load_feature_flags)
    feature_flag_definitions = forward("_settings", LiveSettings.feature_flag_definitions)
    flag_definitions_status = forward("_flag_api", FlagAPI.flag_definitions_status)
    get_feature_flag = forward("_flag_api", FlagAPI.get_feature_flag)
    feature_enabled = forward("_flag_api", FlagAPI.feature_enabled)
    is_feature_enabled = forward("_flag_api", FlagAPI.is_feature_enabled)
    get_feature_flag_payload = forward("_flag_api", FlagAPI.get_feature_flag_payload)
    get_all_flags = forward("_flag_api", FlagAPI.get_all_flags)
    get_all_flags_and_payloads = forward("_flag_api", FlagAPI.get_all_flags_and_payloads)
    get_feature_flag_result = forward("_legacy", LegacyFlags.get_feature_flag_result)
    get_flags_decision = forward("_decisions", FlagDecisions.get_flags_decision)
    get_feature_variants = forward("_decisions", FlagDecisions.get_feature_variants)
    get_feature_payloads = forward("_decisions", FlagDecisions.get_feature_payloads)
    get_feature_flags_and_payloads = forward(
        "_decisions", FlagDecisions.get_feature_flags_and_payloads
    )
    get_remote_config_payload = forward("_decisions", FlagDecisions.get_remote_config_payload)
    get_feature_flag_evaluation_runtime = forward(
        "_decisions", FlagDecisions.get_feature_flag_evaluation_runtime
    )
    get_feature_flag_keys_by_evaluation_runtime = forward(
        "_decisions", FlagDecisions.get_feature_flag_keys_by_evaluation_runtime
    )

    # -- lifecycle ------------------------------------------------------------------------------

    flush = forward("_lifecycle", Lifecycle.flush)
    shutdown = forward("_lifecycle", Lifecycle.shutdown)
    join = forward("_lifecycle", Lifecycle.join)
    after_fork_in_child = forward("_lifecycle", Lifecycle.after_fork_in_child)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


@functools.cache
def _defaults() -> dict[str, Any]:
    """The constructor's defaults, by option: what replaces an unusable value."""
    parameters = inspect.signature(Client.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not p.empty}


# ---------------------------------------------------------------------------------------------
# process-wide hooks

# Constructor options a running client does not read again (the rest are live settings
# or attributes the client sets itself).
_READ_WHEN_BUILT = frozenset(
    name
    for name in ClientOptions.__struct_fields__
    if not name.startswith("_") and not hasattr(Client, name) and name not in ("host", "transport")
)


def _unlisted(client: Client, name: str) -> Any:
    """posthog-python keeps every constructor option as an attribute: an option that hogkit
    reads only while building the client is answered from `options`; and its
    `feature_flags_by_key` is the definitions in force, by key."""
    if name in _READ_WHEN_BUILT:
        return read_back(client.options, name)
    if name == "feature_flags_by_key":
        return client._settings.feature_flags_by_key
    raise AttributeError(f"'Client' object has no attribute {name!r}")


_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()
# Weak: a client the application drops is collected with its pipeline; its worker then
# sends what was queued and ends (`orphans.stop_orphans` gives it the exit deadline).
_live_pipelines: weakref.WeakSet[EventPipeline] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_live_clients):
        client.after_fork_in_child()


def deliver_at_exit() -> None:
    """Give every open pipeline a short, shared deadline to deliver what it holds, and
    the workers of dropped clients (still sending what was queued) the same deadline.

    `import hogkit` registers this with `atexit` (it runs after any exit callback the
    application registered later); a client built after it ran sends in the capturing
    call (see `delivery.exit_flush_started`)."""
    exit_flush_started()
    pipelines = [p for p in list(_live_pipelines) if not p.closed]
    budget = max((p.exit_timeout for p in pipelines), default=DEFAULT_EXIT_TIMEOUT)
    deadline = time.monotonic() + budget
    for pipeline in pipelines:
        try:
            pipeline.shutdown(max(0.0, min(pipeline.exit_timeout, deadline - time.monotonic())))
        except Exception:
            log.exception("error while flushing at exit")
    try:
        stop_orphans(deadline)
    except Exception:
        log.exception("error while stopping the workers of dropped clients at exit")


os.register_at_fork(after_in_child=_after_fork_in_child)
