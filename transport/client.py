"""The Client: PostHog's API in front of the core's builders and evaluator.

The Client composes collaborators, each with one job, and holds no logic of its own beyond
argument handling:

* `EventPipeline` (`pipeline.py`): every event passes through it to the queue, the worker
  and the transport; `submit` is the one seam for built events, `capture` for capture calls.
* `FlagService` (`flags.py`): the local `FlagSet` in force (its `flagset`/`definitions` are
  the one place it is read), the poller, the `/flags` fallback and `$feature_flag_called`
  dedup; `FlagReads` (`flag_reads.py`) puts the never-raise error path and the deprecated
  read API on top of it.
* `Problems` (`problems.py`): the error path every public method shares.

Public methods never raise into the caller unless `debug=True`: problems are logged on the
`hogkit` logger and passed to `on_error`.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core import FlagSet
from hogkit.core import events as core
from hogkit.core.errors import HogkitError
from hogkit.core.event import Event, EventContext, FlagsArg

from . import stamps
from .dedup import DEFAULT_CAPACITY
from .evaluations import FlagEvaluations
from .exception_source import ExceptionArg, exception_of, source_lines, synthetic_traceback
from .flag_reads import FlagReads, deprecated
from .flags import DEFAULT_REQUEST_TIMEOUT, Definitions, FlagService
from .flags_transport import FlagsTransport
from .hosts import ingestion_host
from .ids import new_uuid
from .logs import enable_debug_output
from .pipeline import BeforeSend, EventPipeline
from .problems import OnError, Problems, log
from .system import system_properties
from .transports import HttpTransport, Transport

__all__ = ["BeforeSend", "Client", "OnError"]

_CAPTURED_ATTR = "__hogkit_captured_uuid"

Groups = Mapping[str, Any] | None
GroupProperties = Mapping[str, Mapping[str, Any]] | None
Timestamp = _dt.datetime | str | None


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
        exit_timeout: float = 1.0,
        secret_key: str | None = None,
        personal_api_key: str | None = None,
        poll_interval: float = 30.0,
        feature_flags_request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT,
        flag_definitions: Definitions | None = None,
        enable_local_evaluation: bool = True,
        flags_transport: FlagsTransport | None = None,
        flag_called_cache_size: int = DEFAULT_CAPACITY,
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
        self.project_root = project_root if project_root is not None else os.getcwd()
        self.in_app_modules = tuple(in_app_modules or ())
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
        )
        self._events.disabled = disabled or not config_ok
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
        )
        self._reads = FlagReads(self._flags, self._problems)
        # Never joins the poller: `shutdown(timeout)` must return within its own deadline.
        self._on_shutdown.append(functools.partial(self._flags.shutdown, 0.0))
        if self._flags.poller is not None:
            self._on_fork.append(self._flags.poller.start)
        _live_clients.add(self)
        _live_pipelines.add(self._events)

    def _config_error(self, message: str) -> bool:
        self._problems.config(message)
        return False

    def __repr__(self) -> str:
        return f"Client(host={self.host!r})"

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

    def capture(
        self,
        event: str,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        groups: Groups = None,
        flags: FlagsArg = None,
        disable_geoip: bool | None = None,
        send_feature_flags: Any = None,
    ) -> str | None:
        """Queue an event; returns its uuid, or None if it was not accepted.

        Without a `distinct_id` the event is personless (`$process_person_profile: false`).
        `flags` (an `evaluate_flags` snapshot or a `{key: value}` mapping) adds
        `$feature/<key>` and `$active_feature_flags` without any request.
        `send_feature_flags` (deprecated) evaluates flags for the event; `flags` wins.
        """
        if send_feature_flags:
            if flags is not None:
                log.warning("capture: both flags and send_feature_flags given; using flags")
            elif not self.disabled and not self._events.closed:
                try:
                    flags = self._reads.for_capture(distinct_id, groups, send_feature_flags)
                except Exception as exc:
                    self._problems.fail("capture", exc)
                    return None
        return self._events.capture(
            event, distinct_id, properties, timestamp, uuid, groups, flags, disable_geoip
        )

    def pageview(
        self,
        url: str,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        groups: Groups = None,
        flags: FlagsArg = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """A `$pageview` with `$current_url`, for pages served by the backend."""
        return self._events.emit(
            "pageview",
            lambda: core.pageview(
                self._events.context,
                url,
                distinct_id=distinct_id,
                properties=properties,
                groups=groups,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                flags=flags,
                anonymous_id=stamps.anonymous_id(distinct_id),
                disable_geoip=disable_geoip,
            ),
        )

    def set(
        self,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """Set person properties (`$set`). A no-op (None) without a distinct id or properties."""
        return self._person(
            core.set_properties, "set", distinct_id, properties, timestamp, uuid, disable_geoip
        )

    def set_once(
        self,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """Set person properties that are not set yet (`$set_once`); None like `set`."""
        return self._person(
            core.set_once, "set_once", distinct_id, properties, timestamp, uuid, disable_geoip
        )

    def _person(
        self,
        build: Callable[..., Event | None],
        name: str,
        distinct_id: Any,
        properties: Mapping[str, Any] | None,
        timestamp: Timestamp,
        uuid: Any,
        disable_geoip: bool | None,
    ) -> str | None:
        return self._events.emit(
            name,
            lambda: build(
                self._events.context,
                distinct_id=distinct_id,
                properties=properties,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                disable_geoip=disable_geoip,
            ),
        )

    def identify(
        self,
        distinct_id: Any,
        properties: Mapping[str, Any] | None = None,
        *,
        anon_distinct_id: Any = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$identify`: set person properties and, with `anon_distinct_id`, link an anonymous id."""
        return self._events.emit(
            "identify",
            lambda: core.identify(
                self._events.context,
                distinct_id=distinct_id,
                properties=properties,
                anon_distinct_id=anon_distinct_id,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                disable_geoip=disable_geoip,
            ),
        )

    def alias(
        self,
        previous_id: Any,
        distinct_id: Any,
        *,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$create_alias`: make `distinct_id` another id of the person known as `previous_id`."""
        return self._events.emit(
            "alias",
            lambda: core.alias(
                self._events.context,
                previous_id=previous_id,
                distinct_id=distinct_id,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                disable_geoip=disable_geoip,
            ),
        )

    def group_identify(
        self,
        group_type: str,
        group_key: str,
        properties: Mapping[str, Any] | None = None,
        *,
        distinct_id: Any = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$groupidentify`: set a group's properties. Sent as `$<type>_<key>` without a distinct id."""
        return self._events.emit(
            "group_identify",
            lambda: core.group_identify(
                self._events.context,
                group_type,
                group_key,
                properties=properties,
                distinct_id=distinct_id,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                disable_geoip=disable_geoip,
            ),
        )

    def capture_exception(
        self,
        exception: ExceptionArg | None = None,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        groups: Groups = None,
        flags: FlagsArg = None,
        disable_geoip: bool | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        """`$exception` for an exception (or `sys.exc_info()` when None), with its stack and source.

        An exception that was never raised gets the caller's stack, marked synthetic. The
        same exception object is captured once; later calls return None.
        """
        found: list[BaseException] = []

        def build() -> Event | None:
            exc = exception_of(exception)
            if exc is None:
                log.warning("capture_exception: no exception given and none is being handled")
                return None
            if getattr(exc, _CAPTURED_ATTR, None):
                return None
            found.append(exc)
            synthetic = synthetic_traceback() if exc.__traceback__ is None else None
            return core.exception_event(
                self._events.context,
                exc,
                distinct_id=distinct_id,
                properties=properties,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                anonymous_id=stamps.anonymous_id(distinct_id),
                source_lines=source_lines,
                in_app_prefixes=self.in_app_modules,
                project_root=self.project_root,
                fingerprint=fingerprint,
                groups=groups,
                flags=flags,
                disable_geoip=disable_geoip,
                synthetic_traceback=synthetic,
            )

        sent = self._events.emit("capture_exception", build)
        if sent is not None:
            with contextlib.suppress(Exception):
                setattr(found[0], _CAPTURED_ATTR, sent)
        return sent

    # -- feature flags --------------------------------------------------------------------------

    def evaluate_flags(
        self,
        distinct_id: Any = None,
        *,
        person_properties: Mapping[str, Any] | None = None,
        groups: Groups = None,
        group_properties: GroupProperties = None,
        flag_keys: Sequence[str] | None = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> FlagEvaluations:
        """Evaluate a person's flags once; read them from the snapshot and pass it to `capture`.

        Local evaluation first; flags it cannot decide (and requested keys it has no
        definition for) go to PostHog in one request unless `only_evaluate_locally`.
        Reading a flag with `is_enabled`/`get_flag` sends `$feature_flag_called` once per
        (distinct id, flag, value, groups). `flag_keys=[]` evaluates nothing.
        """
        snap = self._reads.evaluate(
            "evaluate_flags",
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys,
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        return snap if snap is not None else FlagEvaluations("")

    def load_feature_flags(self) -> bool:
        """Download the flag definitions now (the poller also does it every `poll_interval`)."""
        try:
            return self._flags.reload()
        except Exception as exc:
            self._problems.fail("load_feature_flags", exc)
            return False

    def feature_flag_definitions(self) -> FlagSet | None:
        """The compiled definitions in force, or None when none are loaded."""
        return self._flags.flagset

    def get_feature_flag(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | str | None:
        """Deprecated: `evaluate_flags(distinct_id, flag_keys=[key]).get_flag(key)`."""
        deprecated("get_feature_flag", "evaluate_flags(...).get_flag(key)")
        try:  # `_flag_value`, inline: this is the deprecated API's hot path
            return self._flags.flag_value(
                key,
                distinct_id,
                person_properties,
                groups,
                group_properties,
                only_evaluate_locally,
                send_feature_flag_events,
                disable_geoip,
                device_id,
            )
        except Exception as exc:
            self._problems.fail("get_feature_flag", exc)
            return None

    def feature_enabled(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | None:
        """Deprecated: `evaluate_flags(...).is_enabled(key)`; None when the flag has no value."""
        deprecated("feature_enabled", "evaluate_flags(...).is_enabled(key)")
        value = self._flag_value(
            "feature_enabled",
            key,
            distinct_id,
            groups,
            person_properties,
            group_properties,
            only_evaluate_locally,
            send_feature_flag_events,
            disable_geoip,
            device_id,
        )
        return None if value is None else value is not False

    def is_feature_enabled(
        self,
        key: str,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = True,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> bool | None:
        """Deprecated: another name for `feature_enabled`."""
        deprecated("is_feature_enabled", "evaluate_flags(...).is_enabled(key)")
        value = self._flag_value(
            "is_feature_enabled",
            key,
            distinct_id,
            groups,
            person_properties,
            group_properties,
            only_evaluate_locally,
            send_feature_flag_events,
            disable_geoip,
            device_id,
        )
        return None if value is None else value is not False

    def _flag_value(
        self,
        name: str,
        key: str,
        distinct_id: Any,
        groups: Groups,
        person_properties: Mapping[str, Any] | None,
        group_properties: GroupProperties,
        only_evaluate_locally: bool,
        send_events: bool,
        disable_geoip: bool | None,
        device_id: str | None,
    ) -> bool | str | None:
        try:
            return self._flags.flag_value(
                key,
                distinct_id,
                person_properties,
                groups,
                group_properties,
                only_evaluate_locally,
                send_events,
                disable_geoip,
                device_id,
            )
        except Exception as exc:
            self._problems.fail(name, exc)
            return None

    def get_feature_flag_payload(
        self,
        key: str,
        distinct_id: Any,
        *,
        match_value: bool | str | None = None,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        send_feature_flag_events: bool = False,
        disable_geoip: bool | None = None,
        device_id: str | None = None,
    ) -> Any:
        """Deprecated: `evaluate_flags(...).get_flag_payload(key)`.

        With `match_value`, the payload is returned only when the flag has that value.
        """
        deprecated("get_feature_flag_payload", "evaluate_flags(...).get_flag_payload(key)")
        return self._reads.payload(
            key,
            distinct_id,
            match_value,
            groups,
            person_properties,
            group_properties,
            only_evaluate_locally,
            send_feature_flag_events,
            disable_geoip,
            device_id,
        )

    def get_all_flags(
        self,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, bool | str] | None:
        """Deprecated: `evaluate_flags(...).flag_values`. Sends no `$feature_flag_called`."""
        deprecated("get_all_flags", "evaluate_flags(...)")
        if self.disabled:
            return None
        snap = self._reads.evaluate(
            "get_all_flags",
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys_to_evaluate or None,
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        return None if snap is None else dict(snap.flag_values)

    def get_all_flags_and_payloads(
        self,
        distinct_id: Any,
        *,
        groups: Groups = None,
        person_properties: Mapping[str, Any] | None = None,
        group_properties: GroupProperties = None,
        only_evaluate_locally: bool = False,
        disable_geoip: bool | None = None,
        flag_keys_to_evaluate: Sequence[str] | None = None,
        device_id: str | None = None,
    ) -> dict[str, dict[str, Any] | None]:
        """Deprecated. `featureFlags` as `get_all_flags`; `featureFlagPayloads` holds the payload
        of each enabled flag as JSON text, the form posthog-python's bulk getters return."""
        deprecated("get_all_flags_and_payloads", "evaluate_flags(...)")
        if self.disabled:
            return {"featureFlags": None, "featureFlagPayloads": None}
        snap = self._reads.evaluate(
            "get_all_flags_and_payloads",
            distinct_id,
            person_properties,
            groups,
            group_properties,
            flag_keys_to_evaluate or None,
            only_evaluate_locally,
            disable_geoip,
            device_id,
        )
        return FlagReads.with_payloads(snap)

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
            delivered = self.flush(max(0.0, deadline - time.monotonic()))
            self._events.stop(deadline - time.monotonic())
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
_live_pipelines: weakref.WeakSet[EventPipeline] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_live_clients):
        client.after_fork_in_child()


def _at_exit() -> None:
    """Give every open pipeline a short, shared deadline to deliver what it holds.

    Pipelines, not clients: a client the application dropped is collected, but its worker
    keeps its pipeline (and the events queued in it) alive until the process ends.
    """
    pipelines = [p for p in list(_live_pipelines) if not p.closed]
    if not pipelines:
        return
    deadline = time.monotonic() + max(p.exit_timeout for p in pipelines)
    for pipeline in pipelines:
        try:
            pipeline.close()
            budget = max(0.0, min(pipeline.exit_timeout, deadline - time.monotonic()))
            pipeline.flush(budget)
            pipeline.stop(max(0.0, deadline - time.monotonic()))
        except Exception:
            log.exception("error while flushing at exit")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
