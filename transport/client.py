"""The Client: PostHog's API in front of the core's builders and evaluator.

The Client composes collaborators, each with one job, and keeps no logic of its own beyond
construction, settings and lifecycle:

* `EventPipeline` (`pipeline.py`): every event passes through it to the queue, the worker
  and the transport; `submit` is the one seam for built events, `capture` for capture calls.
* `EventMethods` (`event_methods.py`): `pageview`, `identify`, `set`, ..., `capture_exception`.
* `FlagService` (`flags.py`): the local `FlagSet` in force (read and replaced in one place),
  the poller, the `/flags` fallback and `$feature_flag_called` dedup; `FlagReads` and
  `FlagAPI` (`flag_reads.py`, `flag_api.py`) put the never-raise error path and the flag
  methods on top of it.
* `Problems` (`problems.py`): the error path every public method shares.
* `ContextMethods` (`contexts.py`): request contexts (`new_context`, `tag`, ...), whose
  escaping exceptions go to `EventMethods.capture_exception`; `ExceptionAutocapture`
  (`autocapture.py`): the uncaught-exception hooks, when `enable_exception_autocapture`.

The collaborators' public methods appear on the Client through `forward`, unchanged. None of
them raises into the caller unless `debug=True`: problems are logged on the `hogkit` logger
and passed to `on_error`.
"""

from __future__ import annotations

import atexit
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core.accounting import Stats
from hogkit.core.code_variables import VariablesConfig
from hogkit.core.errors import HogkitError
from hogkit.core.event import EventContext

from . import stamps
from .autocapture import (
    DEFAULT_BUCKET_SIZE,
    DEFAULT_REFILL_INTERVAL_SECONDS,
    DEFAULT_REFILL_RATE,
    ExceptionAutocapture,
    install_hooks,
)
from .contexts import ContextMethods
from .dedup import DEFAULT_CAPACITY
from .event_methods import EventMethods
from .flag_api import FlagAPI
from .flag_reads import FlagReads, deprecated
from .flags import DEFAULT_REQUEST_TIMEOUT, Definitions, FlagService
from .flags_transport import FlagsTransport
from .forward import forward
from .hosts import ingestion_host, redacted
from .ids import new_uuid
from .logs import enable_debug_output
from .orphans import stop_orphans
from .pipeline import DEFAULT_QUEUE_BYTES, BeforeSend, EventPipeline
from .problems import OnError, Problems, log
from .spool import Spool
from .system import system_properties
from .transports import HttpTransport, Transport

__all__ = ["BeforeSend", "Client", "OnError"]

DEFAULT_EXIT_TIMEOUT = 1.0

_CAPTURED_ATTR = "__hogkit_captured_uuid"

Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None


class Client:
    """A PostHog client. Create one per process and reuse it; it is thread-safe.

    Arguments follow posthog-python 7.91.1's names and defaults, except `gzip` (on by
    default here). `retry_backoff` and `retry_backoff_cap` set the first retry wait and the
    longest one (seconds); `exit_timeout` bounds the flush at interpreter exit; `transport`
    replaces the HTTP transport (see `MemoryTransport`, `FileTransport`).
    """

    def __init__(
        self,
        project_api_key: str,
        host: str | None = None,
        *,
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
        disabled: bool = False,
        disable_geoip: bool = True,
        is_server: bool = True,
        historical_migration: bool = False,
        super_properties: Mapping[str, Any] | None = None,
        before_send: BeforeSend | None = None,
        project_root: str | None = None,
        in_app_modules: Sequence[str] | None = None,
        transport: Transport | None = None,
        retry_backoff: float = 1.0,
        retry_backoff_cap: float = 30.0,
        exit_timeout: float = DEFAULT_EXIT_TIMEOUT,
        secret_key: str | None = None,
        personal_api_key: str | None = None,
        poll_interval: float = 30.0,
        feature_flags_request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT,
        flag_definitions: Definitions | None = None,
        enable_local_evaluation: bool = True,
        flags_transport: FlagsTransport | None = None,
        flag_called_cache_size: int = DEFAULT_CAPACITY,
        flag_definition_cache_provider: Any = None,
        flag_definitions_follower_only: bool = False,
        flag_fallback_cache_url: str | None = None,
        enable_exception_autocapture: bool = False,
        log_captured_exceptions: bool = False,
        enable_exception_autocapture_rate_limiting: bool = False,
        exception_autocapture_bucket_size: int = DEFAULT_BUCKET_SIZE,
        exception_autocapture_refill_rate: float = DEFAULT_REFILL_RATE,
        exception_autocapture_refill_interval_seconds: float = DEFAULT_REFILL_INTERVAL_SECONDS,
        capture_exception_code_variables: bool = False,
        code_variables_mask_patterns: Sequence[str] | None = None,
        code_variables_ignore_patterns: Sequence[str] | None = None,
        code_variables_mask_url_credentials: bool | None = None,
        code_variables_detect_secrets: bool | None = None,
        max_queue_bytes: int = DEFAULT_QUEUE_BYTES,
        block_when_full: float = 0.0,
        spool_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if debug:
            enable_debug_output()
        self._problems = Problems(debug, on_error)
        self.api_key = project_api_key.strip() if isinstance(project_api_key, str) else ""
        config_ok = True
        if not self.api_key:
            config_ok = self._config_error("project_api_key is empty; the client is disabled")
        try:
            self.host = ingestion_host(host)
        except HogkitError as exc:
            self.host = ""
            config_ok = self._config_error(f"{exc}; the client is disabled")
        self._lock = threading.Lock()
        self._shutdown_result: bool | None = None
        self._on_fork: list[Callable[[], None]] = []
        self._on_shutdown: list[Callable[[], None]] = []
        context = EventContext(
            system_properties=system_properties(),
            super_properties=super_properties or {},
            disable_geoip=disable_geoip,
            is_server=is_server,
            release_id=os.environ.get("POSTHOG_RELEASE_ID") or None,
        )
        self.transport: Transport = transport or HttpTransport(
            self.api_key,
            self.host or None,
            gzip=gzip,
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=retry_backoff,
            backoff_cap=retry_backoff_cap,
            historical_migration=historical_migration,
        )
        self._events = EventPipeline(
            context,
            self.transport,
            self._problems,
            max_queue_size=max_queue_size,
            flush_at=flush_at,
            flush_interval=flush_interval,
            sync_mode=sync_mode,
            send=send,
            before_send=before_send,
            exit_timeout=exit_timeout,
            max_queue_bytes=max_queue_bytes,
            block_when_full=block_when_full,
            spool=Spool(os.fspath(spool_dir)) if spool_dir is not None and send else None,
        )
        self._events.disabled = disabled or not config_ok
        variables = VariablesConfig.build(
            code_variables_mask_patterns,
            code_variables_ignore_patterns,
            code_variables_mask_url_credentials,
            code_variables_detect_secrets,
        )
        self._event_methods = EventMethods(
            self._events,
            project_root if project_root is not None else os.getcwd(),
            in_app_modules or (),
            enable_exception_autocapture=enable_exception_autocapture,
            log_captured_exceptions=log_captured_exceptions,
            code_variables=variables if capture_exception_code_variables else None,
        )
        self._contexts = ContextMethods(self._event_methods)
        self.exception_autocapture: ExceptionAutocapture | None = install_hooks(
            self._event_methods,
            enabled=enable_exception_autocapture,
            rate_limited=enable_exception_autocapture_rate_limiting,
            bucket_size=exception_autocapture_bucket_size,
            refill_rate=exception_autocapture_refill_rate,
            refill_interval=exception_autocapture_refill_interval_seconds,
        )
        if self.exception_autocapture is not None:
            self._on_shutdown.append(self.exception_autocapture.close)
        self._events.start(not self.disabled)
        if personal_api_key:
            deprecated("personal_api_key", "secret_key=")
            secret_key = secret_key or personal_api_key
        if flags_transport is None and isinstance(self.transport, FlagsTransport):
            flags_transport = self.transport
        self._flags = FlagService(
            self.api_key,
            host=self.host or "http://127.0.0.1",
            secret_key=secret_key,
            flags_transport=flags_transport,
            poll_interval=poll_interval,
            request_timeout=feature_flags_request_timeout_seconds,
            flag_definitions=flag_definitions,
            enable_local_evaluation=enable_local_evaluation,
            disable_geoip=disable_geoip,
            disabled=self.disabled,
            emit=self._events.submit,
            context=context,
            dedup_capacity=flag_called_cache_size,
            event_time=stamps.clock,
            new_uuid=new_uuid,
            definitions_cache=flag_definition_cache_provider,
            follower_only=flag_definitions_follower_only,
            fallback_cache_url=flag_fallback_cache_url,
        )
        self._reads = FlagReads(self._flags, self._problems)
        self._events.flags_for_capture = self._reads.for_capture
        events = self._events  # not `self`: collaborators hold no reference to the Client
        self._flag_api = FlagAPI(self._reads, self._problems, lambda: events.disabled)
        # Never joins the poller: `shutdown(timeout)` must return within its own deadline.
        self._on_shutdown.append(functools.partial(self._flags.shutdown, 0.0))
        self._on_fork.append(self._flags.after_fork)
        _live_clients.add(self)
        _live_pipelines.add(self._events)

    def _config_error(self, message: str) -> bool:
        self._problems.config(message)
        return False

    def __repr__(self) -> str:
        return f"Client(host={redacted(self.host)!r})"

    def stats(self) -> Stats:
        """What became of the events accepted so far: accepted, delivered, dropped by
        reason, retried, in flight, duplicated (see `hogkit.core.accounting.Stats`).

        Exact once the client is idle (after a flush or shutdown); while events move, a
        consistent snapshot of each counter, not of all of them at one instant.
        """
        return self._events.stats()

    # -- settings -------------------------------------------------------------------------------

    @property
    def debug(self) -> bool:
        return self._problems.debug

    @property
    def on_error(self) -> OnError | None:
        """Called with (error, undelivered events) for every problem; must not raise."""
        return self._problems.on_error

    @on_error.setter
    def on_error(self, hook: OnError | None) -> None:
        self._problems.on_error = hook

    @property
    def before_send(self) -> BeforeSend | None:
        """A hook that sees (and may change or drop) every event before it is queued."""
        return self._events.before_send

    @before_send.setter
    def before_send(self, hook: BeforeSend | None) -> None:
        self._events.before_send = hook

    @property
    def disabled(self) -> bool:
        """True when the client sends nothing (set it to pause or resume capturing)."""
        return self._events.disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self._events.disabled = value

    @property
    def project_root(self) -> str:
        """Frames under this folder are the application's own in `$exception` events."""
        return self._event_methods.project_root

    @project_root.setter
    def project_root(self, path: str) -> None:
        self._event_methods.project_root = path

    @property
    def in_app_modules(self) -> tuple[str, ...]:
        """Module prefixes whose frames count as the application's own."""
        return self._event_methods.in_app_modules

    @in_app_modules.setter
    def in_app_modules(self, prefixes: Sequence[str]) -> None:
        self._event_methods.in_app_modules = tuple(prefixes)

    @property
    def enable_exception_autocapture(self) -> bool:
        """Whether uncaught exceptions (and, by default, contexts' escaping ones) are captured."""
        return self._event_methods.enable_exception_autocapture

    @property
    def flag_service(self) -> FlagService:
        """The flag collaborator: read or replace the local definitions in force
        (`flagset`, `replace_definitions`) and hear of changes (`on_change`)."""
        return self._flags

    @property
    def exit_timeout(self) -> float:
        """The longest the flush at interpreter exit may take (seconds)."""
        return self._events.exit_timeout

    @property
    def sync_mode(self) -> bool:
        return self._events.sync_mode

    @property
    def send(self) -> bool:
        return self._events.send

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

    @property
    def closed(self) -> bool:
        """True once `shutdown()` was called."""
        return self._events.closed


def _run_hooks(hooks: list[Callable[[], None]], message: str) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception(message)


# ---------------------------------------------------------------------------------------------
# process-wide hooks

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
