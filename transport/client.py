"""The Client: PostHog's API in front of the core's builders and evaluator.

The Client composes collaborators, each with one job, and keeps no logic of its own beyond
settings and lifecycle. `assembly.assemble` builds them from the call's frozen
`ClientOptions`; the Client only holds them:

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

The collaborators' public methods appear on the Client through `forward`, unchanged, and
their settings (`disabled`, `before_send`, ...) through `attribute`. None of
them raises into the caller unless `debug=True`: problems are logged on the `hogkit` logger
and passed to `on_error`.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core.accounting import Stats

from .assembly import assemble
from .autocapture import (
    DEFAULT_BUCKET_SIZE,
    DEFAULT_REFILL_INTERVAL_SECONDS,
    DEFAULT_REFILL_RATE,
)
from .contexts import ContextMethods
from .dedup import DEFAULT_CAPACITY
from .event_methods import EventMethods
from .flag_api import FlagAPI
from .flag_decisions import FlagDecisions
from .flags import DEFAULT_REQUEST_TIMEOUT, Definitions, FlagService
from .flags_transport import FlagsTransport
from .forward import attribute, forward
from .hosts import redacted
from .legacy_flags import LegacyFlags
from .options import ClientOptions
from .orphans import stop_orphans
from .pipeline import DEFAULT_QUEUE_BYTES, BeforeSend, EventPipeline
from .problems import OnError, log
from .settings import LiveSettings
from .transports import Transport

__all__ = ["BeforeSend", "Client", "OnError"]

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
        self._build(ClientOptions.from_arguments(locals(), _defaults()))

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
        self._settings = LiveSettings(
            self._events, self._event_methods, self._flags, self._problems
        )
        self._on_fork, self._on_shutdown = parts.on_fork, parts.on_shutdown
        self._lock = threading.Lock()
        self._shutdown_result: bool | None = None
        _live_clients.add(self)
        _live_pipelines.add(self._events)

    def __repr__(self) -> str:
        return f"Client(host={redacted(self.host)!r})"

    def __getattr__(self, name: str) -> Any:
        """posthog-python keeps every constructor option as an attribute; an option that
        hogkit reads only while building the client is answered from `options`."""
        if name in _READ_WHEN_BUILT:
            return getattr(self.options, name)
        raise AttributeError(f"'Client' object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _READ_WHEN_BUILT:  # posthog-python would use it; say that hogkit won't
            log.warning("%s is read when a client is built; setting it changes nothing", name)
            return
        object.__setattr__(self, name, value)

    def stats(self) -> Stats:
        """What became of the events accepted so far: accepted, delivered, dropped by
        reason, retried, in flight, duplicated (see `hogkit.core.accounting.Stats`).

        Exact once the client is idle (after a flush or shutdown); while events move, a
        consistent snapshot of each counter, not of all of them at one instant.
        """
        return self._events.stats()

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

    super_properties = attribute[Mapping[str, Any] | None](
        "_settings",
        "super_properties",
        "Properties every event carries (over its own), None when there are none. Set it to "
        "change them for the events after, flag events included; reading gives a copy. "
        "Events still queued are encoded with the properties in force then: `flush()` first "
        "for a clean cut.",
    )
    # Definitions set directly, as posthog-python test suites do (see `LiveSettings`).
    feature_flags = attribute[list[Any] | None]("_settings", "feature_flags", "Flag definitions.")
    group_type_mapping = attribute[dict[str, Any]]("_settings", "group_type_mapping", "Groups.")
    cohorts = attribute[dict[str, Any]]("_settings", "cohorts", "Cohort definitions.")
    in_app_modules = attribute[Sequence[str] | None](
        "_settings",
        "in_app_modules",
        "Module prefixes whose frames count as the application's own.",
    )

    # read-only
    closed = attribute[bool](
        "_events", "closed", "True once `shutdown()` was called.", writable=False
    )
    sync_mode = attribute[bool](
        "_events", "sync_mode", "Events go out on the caller's thread.", writable=False
    )
    send = attribute[bool](
        "_events", "send", "False: events are built, never sent.", writable=False
    )
    exit_timeout = attribute[float](
        "_events",
        "exit_timeout",
        "The longest the flush at exit may take (seconds).",
        writable=False,
    )
    enable_exception_autocapture = attribute[bool](
        "_event_methods",
        "enable_exception_autocapture",
        "Whether uncaught exceptions (and contexts' escaping ones) are captured.",
        writable=False,
    )

    @property
    def flag_service(self) -> FlagService:
        """The flag collaborator: read or replace the local definitions in force
        (`flagset`, `replace_definitions`) and hear of changes (`on_change`)."""
        return self._flags

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
    load_feature_flags = forward("_flag_api", FlagAPI.load_feature_flags)
    feature_flag_definitions = forward("_flag_api", FlagAPI.feature_flag_definitions)
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

    def flush(self, timeout: float = 10.0, *, timeout_seconds: float | None = None) -> bool:
        """Send everything captured so far; True when all of it was delivered in time.

        Returns within `timeout` seconds whatever the server does (`timeout_seconds` is
        posthog-python's name for it). False also when events were dropped or failed since
        the previous flush, and when called from an `on_error` callback.
        """
        try:
            return self._events.flush(timeout if timeout_seconds is None else timeout_seconds)
        except Exception as exc:
            self._problems.fail("flush", exc)
            return False

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush within `timeout` seconds, stop the worker and refuse later captures.

        Returns whether everything captured was delivered. Idempotent; events still
        unsent at the deadline are reported to `on_error` as not delivered.
        """
        try:
            deadline = time.monotonic() + max(0.0, timeout)
            with self._lock:
                first = self._events.close()
            if not first and self._shutdown_result is not None:
                return self._shutdown_result
            if first:
                _run_hooks(self._on_shutdown, "a shutdown hook raised")
            delivered = self._events.shutdown(max(0.0, deadline - time.monotonic()))
            self._shutdown_result = delivered
            return delivered
        except Exception as exc:
            self._problems.fail("shutdown", exc)
            return False

    def join(self) -> None:
        """posthog-python's name for `shutdown()`."""
        self.shutdown()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def after_fork_in_child(self) -> None:
        """Fresh locks, queue and worker: the parent's threads do not exist in the child.

        Events the parent had queued stay the parent's to send; the child starts empty.
        """
        self._lock = threading.Lock()
        if not self._events.closed:
            self._events.start(not self.disabled)
        _run_hooks(self._on_fork, "a fork hook raised")


@functools.cache
def _defaults() -> dict[str, Any]:
    """The constructor's defaults, by option: what replaces an unusable value."""
    parameters = inspect.signature(Client.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not p.empty}


def _run_hooks(hooks: list[Callable[[], None]], message: str) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception(message)


# ---------------------------------------------------------------------------------------------
# process-wide hooks

# Constructor options a running client does not read again (the rest are live settings
# or attributes the client sets itself).
_READ_WHEN_BUILT = frozenset(
    name
    for name in ClientOptions.__struct_fields__
    if not name.startswith("_") and not hasattr(Client, name) and name not in ("host", "transport")
)

_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()
# Weak: a client the application drops is collected with its pipeline; its worker then
# sends what was queued and ends (`orphans.stop_orphans` gives it the exit deadline).
_live_pipelines: weakref.WeakSet[EventPipeline] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_live_clients):
        client.after_fork_in_child()


def _at_exit() -> None:
    """Give every open pipeline a short, shared deadline to deliver what it holds, and
    the workers of dropped clients (still sending what was queued) the same deadline."""
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
atexit.register(_at_exit)
