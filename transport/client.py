"""The Client: PostHog's capture API in front of the core's event builders and a background worker.

The Client supplies what the pure core must not: the clock, event ids, the process's system
facts, source lines for stack frames, threads and the network. A capture call builds an
immutable `Event` with the core, encodes it once, and hands the bytes to a bounded queue
that one daemon worker drains into `/batch/` requests (or sends them in the caller's thread
with `sync_mode=True`). The commonest call is cheaper still: its checked arguments, clock
reading and uuid are queued as they are, and the worker builds and encodes the event
(`Client.capture`). Public methods never raise into the caller unless `debug=True`:
problems are logged on the `hogkit` logger and passed to `on_error`.

Extension points (for the feature-flags code, issue 7):

* Constructor: flag options (`secret_key`, `personal_api_key`, `poll_interval`,
  `feature_flags_request_timeout_seconds`, `flag_definitions`, ...) go after the
  "feature flags" marker in `__init__`'s signature and are set up in `_init_flags()`, which
  this module defines as a no-op hook called at the end of `__init__`. The capture code
  reads none of them.
* `self._on_fork` and `self._on_shutdown` are lists of no-argument callables: the first run
  in a forked child after the client has its fresh queue and worker (restart a poller
  there), the second during `shutdown()` before the queue is drained (stop a poller).
  A raising hook is logged, never propagated.
* `capture(flags=...)` passes the object to the core untouched: a mapping of flag values, or
  anything with a `flag_values` mapping (the snapshot type). `send_feature_flags` belongs to
  the flags code, which can wrap `capture`.
* `self._submit(event)` sends any core-built `Event` (e.g. `$feature_flag_called`) through
  the same path as `capture`: `before_send`, size check, queue or sync send. `self._context`
  is the core `EventContext`, `now()` and `new_uuid()` give timestamps and ids, and
  `self._fail(name, exc)` is the never-raise error path for public methods.
* HTTP: `hogkit.transport.http.request()` (same pool, bounded timeouts, credential-free
  errors). `self.api_key`, `self.host`, `self.debug` are public attributes.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import linecache
import logging
import os
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core import events as core
from hogkit.core.batch import (
    MAX_EVENT_BYTES,
    PlainCapture,
    check_event_size,
    encode_capture,
    encode_capture_call,
    encode_event,
    encode_plain_captures,
)
from hogkit.core.errors import HogkitError
from hogkit.core.events import Event, EventContext, FlagsArg
from hogkit.core.exception_list import CONTEXT_LINES
from hogkit.core.normalize import _PLAIN_VALUES, _STR_KEYS, is_plain

from .flags_api import FlagsMixin
from .hosts import ingestion_host
from .ids import new_uuid
from .queue import Deferred, EventQueue
from .system import system_properties
from .transports import HttpTransport, Transport, decode_events
from .worker import Worker

log = logging.getLogger("hogkit")
if log.level == logging.NOTSET:
    log.setLevel(logging.WARNING)

OnError = Callable[[Exception, list[dict[str, Any]]], Any]
BeforeSend = Callable[[dict[str, Any]], Any]
ExceptionArg = BaseException | tuple[Any, Any, Any]

_UTC = _dt.timezone.utc
_CAPTURED_ATTR = "__hogkit_captured_uuid"
_clock = time.time


class EventTooLarge(HogkitError):
    """An event whose JSON exceeds the per-event limit; it is not sent."""


# ---------------------------------------------------------------------------------------------
# time and ids


def now() -> _dt.datetime:
    return _dt.datetime.now(_UTC)


def event_timestamp(value: object) -> _dt.datetime | str:
    """A caller's timestamp in a form the core accepts, or now (with a warning) if unusable.

    A naive datetime within 5 s of the local clock is taken as local time and any other as
    UTC, as the reference does (the core cannot look at a clock to make that call).
    """
    if isinstance(value, _dt.datetime) and value.tzinfo is None:
        if abs((_dt.datetime.now() - value).total_seconds()) <= 5:
            return value.astimezone(_UTC)
        return value.replace(tzinfo=_UTC)
    text = core.format_timestamp(value)
    if text is None:
        log.warning("invalid timestamp %r; using the current time", value)
        return now()
    return text


def event_uuid(value: object) -> str:
    text = core.normalize_uuid(value)
    if text is None:
        log.error("invalid uuid %r; using a generated one", value)
        return new_uuid()
    return text


def _when(timestamp: _dt.datetime | str | None) -> core.Timestamp:
    """An event's time: the caller's (checked), or the clock's now."""
    return _clock() if timestamp is None else event_timestamp(timestamp)


def _event_id(uuid: Any) -> str:
    """An event's uuid: the caller's (checked), or a fresh one."""
    return new_uuid() if uuid is None else event_uuid(uuid)


def _anonymous_id(distinct_id: Any) -> str | None:
    """The id that stands for the person in a personless event (none when there is an id)."""
    return new_uuid() if distinct_id is None or distinct_id == "" else None


def source_lines(path: str, lineno: int) -> tuple[list[str], str | None, list[str]]:
    """Up to `CONTEXT_LINES` lines around `lineno` of `path`, read through `linecache`."""
    lines = linecache.getlines(path)
    if not lines or not 1 <= lineno <= len(lines):
        return [], None, []
    index = lineno - 1
    before = lines[max(0, index - CONTEXT_LINES) : index]
    after = lines[index + 1 : index + 1 + CONTEXT_LINES]
    return (
        [line.rstrip("\r\n") for line in before],
        lines[index].rstrip("\r\n"),
        [line.rstrip("\r\n") for line in after],
    )


def _synthetic_traceback() -> types.TracebackType | None:
    """The caller's stack as a traceback, for an exception that was never raised.

    hogkit's own frames are left out, so the innermost frame is the caller's.
    """
    frames: list[types.FrameType] = []
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if not (isinstance(module, str) and module.startswith("hogkit.")):
            frames.append(frame)
        frame = frame.f_back
    tb: types.TracebackType | None = None
    for frame in frames:
        tb = types.TracebackType(tb, frame, frame.f_lasti, frame.f_lineno)
    return tb


# ---------------------------------------------------------------------------------------------
# the client


class Client(FlagsMixin):
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
        # -- feature flags (issue 7) --
        secret_key: str | None = None,
        personal_api_key: str | None = None,
        poll_interval: float = 30.0,
        feature_flags_request_timeout_seconds: float = 3.0,
        flag_definitions: Any = None,
        enable_local_evaluation: bool = True,
        flags_transport: Any = None,
        flag_called_cache_size: int = 50_000,
        flag_definition_cache_provider: Any = None,
        flag_definitions_follower_only: bool = False,
        flag_fallback_cache_url: str | None = None,
    ) -> None:
        self.debug = debug
        if debug:
            log.setLevel(logging.DEBUG)
            if not log.handlers:
                log.addHandler(logging.StreamHandler())
        self.on_error = on_error
        self._queue: EventQueue | None = None
        self._fast: EventQueue | None = None
        self._closed = False
        self.before_send = before_send
        self.sync_mode = sync_mode
        self.send = send
        self.exit_timeout = exit_timeout
        self.api_key = (project_api_key or "").strip() if isinstance(project_api_key, str) else ""
        self.disabled = disabled
        if not self.api_key:
            self._config_error("project_api_key is empty; the client is disabled")
        try:
            self.host = ingestion_host(host)
        except HogkitError as exc:
            self.host = ""
            self._config_error(f"{exc}; the client is disabled")
        self.project_root = project_root if project_root is not None else os.getcwd()
        self.in_app_modules = tuple(in_app_modules or ())
        self._context = EventContext(
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
        self._max_queue_size = max_queue_size
        self._flush_at = flush_at
        self._flush_interval = flush_interval
        self._lock = threading.Lock()
        self._shutdown_result: bool | None = None
        self._warned_closed = False
        self._stop_sync = threading.Event()
        self._on_fork: list[Callable[[], None]] = []
        self._on_shutdown: list[Callable[[], None]] = []
        self._worker: Worker | None = None
        self._start_pipeline()
        _live_clients.add(self)
        self._init_flags(
            secret_key=secret_key,
            personal_api_key=personal_api_key,
            poll_interval=poll_interval,
            feature_flags_request_timeout_seconds=feature_flags_request_timeout_seconds,
            flag_definitions=flag_definitions,
            enable_local_evaluation=enable_local_evaluation,
            flags_transport=flags_transport,
            flag_called_cache_size=flag_called_cache_size,
            flag_definition_cache_provider=flag_definition_cache_provider,
            flag_definitions_follower_only=flag_definitions_follower_only,
            flag_fallback_cache_url=flag_fallback_cache_url,
        )

    def _config_error(self, message: str) -> None:
        if self.debug:
            raise HogkitError(message)
        log.error("hogkit: %s", message)
        self.disabled = True

    @property
    def before_send(self) -> BeforeSend | None:
        """A hook that sees (and may change or drop) every event before it is queued."""
        return self._before_send

    @before_send.setter
    def before_send(self, hook: BeforeSend | None) -> None:
        self._before_send = hook
        self._refresh_fast_path()

    @property
    def disabled(self) -> bool:
        """True when the client sends nothing (set it to pause or resume capturing)."""
        return self._disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self._disabled = value
        self._refresh_fast_path()

    def _refresh_fast_path(self) -> None:
        """`_fast`: the queue while `capture` may take its fast path, else None.

        Kept in step with everything that rules the fast path out as a whole (closed,
        disabled, a `before_send` hook, no queue), so `capture` tests one attribute.
        """
        queue = getattr(self, "_queue", None)
        usable = (
            not getattr(self, "_closed", False)
            and not getattr(self, "_disabled", False)
            and getattr(self, "_before_send", None) is None
        )
        self._fast = queue if usable else None

    def _start_pipeline(self) -> None:
        """A fresh queue and worker (at construction and in a forked child)."""
        self._queue = None
        self._worker = None
        self._refresh_fast_path()
        if self.disabled or self.sync_mode or not self.send:
            return
        queue = EventQueue(self._max_queue_size, self._flush_at)
        worker = Worker(
            queue,
            self.transport,
            flush_interval=self._flush_interval,
            report=self._report,
            prepare=self._encode_deferred,
            prepare_many=self._encode_deferred_many,
        )
        worker.start()
        self._queue, self._worker = queue, worker
        self._refresh_fast_path()

    def __repr__(self) -> str:
        return f"Client(host={self.host!r})"

    # -- capture side ---------------------------------------------------------------------------

    def capture(
        self,
        event: str,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        groups: Mapping[str, Any] | None = None,
        flags: FlagsArg = None,
        disable_geoip: bool | None = None,
        send_feature_flags: Any = None,
    ) -> str | None:
        """Queue an event; returns its uuid, or None if it was not accepted.

        Without a `distinct_id` the event is personless (`$process_person_profile: false`).
        `flags` (an `evaluate_flags` snapshot or a `{key: value}` mapping) adds
        `$feature/<key>` and `$active_feature_flags` without any request.
        `send_feature_flags` (deprecated) evaluates flags for the event; `flags` wins.

        The common call (a str event and id, flat properties of plain values, no hook, no
        explicit time, uuid or flags) only samples the clock, draws the uuid and queues the
        arguments (a shallow copy of a plain dict is a snapshot of it): the worker builds
        and encodes the event, many at once. Anything else is built here, as is every event
        in sync mode, and so is every event while half the queue is waiting: a worker that
        falls far behind gets ready-made events (the common call still takes the bulk
        encoder's per-event path), and the callers' threads share its work.
        """
        queue = self._fast
        if (
            queue is not None
            and type(event) is str
            and event
            and (distinct_id is None or type(distinct_id) is str)
            and timestamp is None
            and uuid is None
            and flags is None
            and not send_feature_flags
            and (
                properties is None
                # `is_plain`, inline: a call is a measurable share of this path.
                or (
                    type(properties) is dict
                    and _PLAIN_VALUES.issuperset(map(type, properties.values()))
                    and _STR_KEYS.issuperset(map(type, properties))
                )
            )
            and (groups is None or is_plain(groups))
        ):
            event_id = new_uuid()
            waiting = queue.waiting
            if len(waiting) < queue.defer_below:
                waiting.append(
                    PlainCapture(
                        _clock(),
                        event_id,
                        event,
                        distinct_id,
                        properties.copy() if properties else None,
                        groups.copy() if groups else None,
                        disable_geoip,
                    )
                )
                # `queue.put` inlined: below `defer_below` there is room, and no yield.
                if len(waiting) >= queue.wake_at and not queue.awake:
                    queue.awake = True
                    queue.wake.set()
                return event_id
            # The worker is behind: encode here, the way it would have (no copy needed).
            call = PlainCapture(
                _clock(), event_id, event, distinct_id, properties, groups, disable_geoip
            )
            try:
                data = encode_plain_captures(self._context, (call,))[0]
                if data is None:
                    data = self._encode_deferred(call)
            except Exception as exc:
                return self._fail("capture", exc)
            return event_id if queue.put(data) else None
        if (
            flags is not None
            and self._before_send is None
            and not self._disabled
            and not self._closed
            and type(event) is str
            and timestamp is None
            and uuid is None
            and not send_feature_flags
        ):
            # Flags attached and no hook to see an `Event`: straight to wire bytes, where
            # the snapshot's `$feature/...` properties are spliced in as one fragment.
            try:
                when = _clock()
                event_id = new_uuid()
                data = encode_capture_call(
                    self._context,
                    event,
                    distinct_id,
                    properties,
                    groups,
                    when,
                    event_id,
                    flags,
                    _anonymous_id(distinct_id),
                    disable_geoip,
                    False,  # plain: not checked here
                )
                return self._deliver(data, event, event_id)
            except Exception as exc:
                return self._fail("capture", exc)
        # Not `_emit`: a closure here would turn the fast path's locals into cells.
        if self.disabled or self._closed:
            return self._inactive()
        try:
            if send_feature_flags:
                if flags is None:
                    flags = self._flags_for_capture(distinct_id, groups, send_feature_flags)
                else:
                    log.warning("capture: both flags and send_feature_flags given; using flags")
            ev = core.capture(
                self._context,
                event,
                distinct_id=distinct_id,
                properties=properties,
                groups=groups,
                timestamp=_when(timestamp),
                uuid=_event_id(uuid),
                flags=flags,
                anonymous_id=_anonymous_id(distinct_id),
                disable_geoip=disable_geoip,
            )
            return self._submit(ev)
        except Exception as exc:
            return self._fail("capture", exc)

    def pageview(
        self,
        url: str,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        groups: Mapping[str, Any] | None = None,
        flags: FlagsArg = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """A `$pageview` with `$current_url`, for backend-only setups (the seed docs' pageviews)."""
        return self._emit(
            "pageview",
            lambda: core.pageview(
                self._context,
                url,
                distinct_id=distinct_id,
                properties=properties,
                groups=groups,
                timestamp=_when(timestamp),
                uuid=_event_id(uuid),
                flags=flags,
                anonymous_id=_anonymous_id(distinct_id),
                disable_geoip=disable_geoip,
            ),
        )

    def set(
        self,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """Set person properties (`$set`). A no-op (None) without a distinct id or properties."""
        return self._person_update(
            core.set_properties, "set", distinct_id, properties, timestamp, uuid, disable_geoip
        )

    def set_once(
        self,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """Set person properties that are not set yet (`$set_once`); None like `set`."""
        return self._person_update(
            core.set_once, "set_once", distinct_id, properties, timestamp, uuid, disable_geoip
        )

    def _person_update(
        self,
        build: Callable[..., Event | None],
        name: str,
        distinct_id: Any,
        properties: Mapping[str, Any] | None,
        timestamp: _dt.datetime | str | None,
        uuid: Any,
        disable_geoip: bool | None,
    ) -> str | None:
        return self._emit(
            name,
            lambda: build(
                self._context,
                distinct_id=distinct_id,
                properties=properties,
                timestamp=_when(timestamp),
                uuid=_event_id(uuid),
                disable_geoip=disable_geoip,
            ),
        )

    def identify(
        self,
        distinct_id: Any,
        properties: Mapping[str, Any] | None = None,
        *,
        anon_distinct_id: Any = None,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$identify`: set person properties and, with `anon_distinct_id`, link an anonymous id."""
        return self._emit(
            "identify",
            lambda: core.identify(
                self._context,
                distinct_id=distinct_id,
                properties=properties,
                anon_distinct_id=anon_distinct_id,
                timestamp=_when(timestamp),
                uuid=_event_id(uuid),
                disable_geoip=disable_geoip,
            ),
        )

    def alias(
        self,
        previous_id: Any,
        distinct_id: Any,
        *,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$create_alias`: make `distinct_id` another id of the person known as `previous_id`."""
        return self._emit(
            "alias",
            lambda: core.alias(
                self._context,
                previous_id=previous_id,
                distinct_id=distinct_id,
                timestamp=_when(timestamp),
                uuid=_event_id(uuid),
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
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$groupidentify`: set a group's properties. Sent as `$<type>_<key>` without a distinct id."""
        return self._emit(
            "group_identify",
            lambda: core.group_identify(
                self._context,
                group_type,
                group_key,
                properties=properties,
                distinct_id=distinct_id,
                timestamp=_when(timestamp),
                uuid=_event_id(uuid),
                disable_geoip=disable_geoip,
            ),
        )

    def capture_exception(
        self,
        exception: ExceptionArg | None = None,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: _dt.datetime | str | None = None,
        uuid: Any = None,
        groups: Mapping[str, Any] | None = None,
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
            exc = self._exception_of(exception)
            if exc is None:
                log.warning("capture_exception: no exception given and none is being handled")
                return None
            if getattr(exc, _CAPTURED_ATTR, None):
                return None
            found.append(exc)
            synthetic = _synthetic_traceback() if exc.__traceback__ is None else None
            return core.exception_event(
                self._context,
                exc,
                distinct_id=distinct_id,
                properties=properties,
                timestamp=_when(timestamp),
                uuid=_event_id(uuid),
                anonymous_id=_anonymous_id(distinct_id),
                source_lines=source_lines,
                in_app_prefixes=self.in_app_modules,
                project_root=self.project_root,
                fingerprint=fingerprint,
                groups=groups,
                flags=flags,
                disable_geoip=disable_geoip,
                synthetic_traceback=synthetic,
            )

        sent = self._emit("capture_exception", build)
        if sent is not None:
            with contextlib.suppress(Exception):
                setattr(found[0], _CAPTURED_ATTR, sent)
        return sent

    @staticmethod
    def _exception_of(exception: ExceptionArg | None) -> BaseException | None:
        if exception is None:
            return sys.exc_info()[1]
        if isinstance(exception, BaseException):
            return exception
        if isinstance(exception, tuple) and len(exception) == 3:
            value = exception[1]
            if isinstance(value, BaseException):
                return value
        raise TypeError(
            f"capture_exception needs an exception or an exc_info tuple, not {type(exception).__name__}"
        )

    # -- the shared path ------------------------------------------------------------------------

    def _emit(self, name: str, build: Callable[[], Event | None]) -> str | None:
        """The body every event method shares: nothing once disabled or shut down, the
        built event (None sends nothing) through `_submit`, and any problem to `_fail`.

        `build` samples the clock and draws ids itself, so they come in the order it needs.
        """
        if self.disabled or self._closed:
            return self._inactive()
        try:
            ev = build()
            return None if ev is None else self._submit(ev)
        except Exception as exc:
            return self._fail(name, exc)

    def _submit(self, ev: Event) -> str | None:
        """Send a built event: `before_send`, size check, then the queue or a sync send."""
        if self._before_send is not None:
            hooked = self._run_before_send(ev)
            if hooked is None:
                return None
            ev = hooked
        return self._deliver(encode_event(ev), ev.event, ev.uuid)

    def _deliver(self, data: bytes, event: str, event_id: str) -> str | None:
        """An encoded event's size check, then the queue or a sync send; its uuid if accepted."""
        if len(data) > MAX_EVENT_BYTES:
            problem = check_event_size(data) or "too large"
            return self._fail("capture", EventTooLarge(f"{event!r}: {problem}"))
        queue = self._queue
        if queue is not None:
            return event_id if queue.put(data) else None
        if not self.send:
            return event_id
        return event_id if self._send_now(data) else None

    def _encode_deferred_many(self, items: list[Deferred]) -> list[bytes | None]:
        """The worker's bulk half of fast-path captures: a burst encoded in one core call.

        None for the ones the core leaves to `_encode_deferred` (which also rejects events
        over the size limit, with the reason).
        """
        return encode_plain_captures(self._context, items, owned=True)  # the queue's copies

    def _encode_deferred(self, item: Deferred) -> bytes:
        """The worker's half of a fast-path `capture`: the event's wire bytes. Raises if unusable."""
        call: PlainCapture = item
        event, distinct_id = call.event, call.distinct_id
        data = encode_capture(
            self._context,
            event,
            distinct_id=distinct_id,
            properties=call.properties,
            groups=call.groups,
            timestamp=call.when,
            uuid=call.uuid,
            anonymous_id=None if distinct_id else new_uuid(),
            disable_geoip=call.disable_geoip,
            plain=True,  # `capture` queued it only after `is_plain` said so
        )
        if len(data) > MAX_EVENT_BYTES:
            problem = check_event_size(data) or "too large"
            raise EventTooLarge(f"{event!r}: {problem}")
        return data

    def _run_before_send(self, ev: Event) -> Event | None:
        hook = self.before_send
        assert hook is not None
        try:
            result = hook(ev.to_message())
        except Exception as exc:
            log.error(
                "before_send raised %s; the event %r was dropped", type(exc).__name__, ev.event
            )
            self._call_on_error(exc, [])
            return None
        if result is None:
            log.debug("before_send dropped the event %r", ev.event)
            return None
        if not isinstance(result, dict):
            log.error(
                "before_send returned %s, not a dict or None; the event %r was dropped",
                type(result).__name__,
                ev.event,
            )
            return None
        return Event.from_message(result, fallback_uuid=new_uuid())

    def _send_now(self, data: bytes) -> bool:
        """`sync_mode`: send in the caller's thread, with the transport's retries."""
        try:
            result = self.transport.send([data], stop=self._stop_sync)
        except Exception as exc:
            self._report(exc, [data])
            return False
        if result.failed:
            self._report(result.error or HogkitError("not delivered"), result.failed)
            return False
        return True

    def _inactive(self) -> str | None:
        if self._closed and not self._warned_closed:
            self._warned_closed = True
            log.warning("hogkit: the client was shut down; events are no longer sent")
        return None

    def _fail(self, name: str, exc: Exception) -> str | None:
        """The error path of every public method: re-raise in debug mode, else log and report."""
        if self.debug:
            raise exc
        if isinstance(exc, HogkitError):
            log.warning("hogkit %s: %s", name, exc)
        else:
            log.warning("hogkit %s failed: %s: %s", name, type(exc).__name__, exc)
        self._call_on_error(exc, [])
        return None

    def _report(self, error: Exception, events: Sequence[bytes]) -> None:
        """A delivery failure or drop, from the worker or a sync send."""
        if events:
            log.warning("hogkit: %d events were not delivered: %s", len(events), error)
        else:
            log.warning("hogkit: %s", error)
        if self.on_error is not None:
            self._call_on_error(error, decode_events(events) if events else [])

    def _call_on_error(self, error: Exception, events: list[dict[str, Any]]) -> None:
        if self.on_error is None:
            return
        try:
            self.on_error(error, events)
        except Exception:
            log.exception("hogkit: on_error raised")

    # -- lifecycle ------------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0, *, timeout_seconds: float | None = None) -> bool:
        """Send everything captured so far; True when all of it was delivered in time.

        Returns within `timeout` seconds whatever the server does (`timeout_seconds` is the
        reference's name for it). False also when events were dropped or failed since the
        previous flush. Called from an `on_error` callback it does not wait (the worker
        cannot wait for itself).
        """
        try:
            limit = timeout if timeout_seconds is None else timeout_seconds
            queue, worker = self._queue, self._worker
            if queue is None or worker is None:
                return True
            if worker.stop.is_set() and not worker.thread.is_alive():
                return len(queue) == 0
            marker = queue.mark()
            if worker.is_current():
                return False
            return marker.done.wait(max(0.0, limit)) and marker.delivered
        except Exception as exc:
            self._fail("flush", exc)
            return False

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush within `timeout` seconds, stop the worker and refuse later captures.

        Returns whether everything captured was delivered. Idempotent; events still
        unsent at the deadline are reported to `on_error` as not delivered.
        """
        try:
            deadline = time.monotonic() + max(0.0, timeout)
            with self._lock:
                first = not self._closed
                self._closed = True
                self._refresh_fast_path()
            if not first and self._shutdown_result is not None:
                return self._shutdown_result
            if first:
                for hook in self._on_shutdown:
                    try:
                        hook()
                    except Exception:
                        log.exception("hogkit: a shutdown hook raised")
            delivered = self.flush(max(0.0, deadline - time.monotonic()))
            self._stop_sync.set()
            worker = self._worker
            if worker is not None:
                worker.stop.set()
                worker.queue.wake.set()
                if not worker.is_current():
                    worker.thread.join(max(0.0, deadline - time.monotonic()))
            self._shutdown_result = delivered
            return delivered
        except Exception as exc:
            self._fail("shutdown", exc)
            return False

    def join(self) -> None:
        """posthog-python's name for `shutdown()`."""
        self.shutdown()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _after_fork_in_child(self) -> None:
        """Fresh locks, queue and worker: the parent's threads do not exist in the child.

        Events the parent had queued stay the parent's to send; the child starts empty.
        """
        self._lock = threading.Lock()
        self._stop_sync = threading.Event()
        if not self._closed:
            self._start_pipeline()
        for hook in self._on_fork:
            try:
                hook()
            except Exception:
                log.exception("hogkit: a fork hook raised")


# ---------------------------------------------------------------------------------------------
# process-wide hooks

_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_live_clients):
        client._after_fork_in_child()


def _at_exit() -> None:
    """Give every open client a short, shared deadline to deliver what it holds."""
    clients = [c for c in list(_live_clients) if not c._closed]
    if not clients:
        return
    deadline = time.monotonic() + max(c.exit_timeout for c in clients)
    for client in clients:
        try:
            client.shutdown(max(0.0, min(client.exit_timeout, deadline - time.monotonic())))
        except Exception:
            log.exception("hogkit: error while flushing at exit")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
