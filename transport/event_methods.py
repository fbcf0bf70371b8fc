"""The Client's event methods other than `capture`: pageviews, person and group updates,
aliases and exceptions.

Each samples the clock and draws ids (through `stamps`), has the core build the event and
hands it to the pipeline's `emit`, which owns the never-raise error path. Inside a context,
exceptions and person updates get the context's identity and tags first (`with_context`).

The exception options live here too: whether uncaught exceptions are captured (the hooks
themselves are `autocapture.py`'s), whether each captured one is logged, and how in-app
frames' local variables are attached (`code_variables`, read when `capture_code_variables`
is on; a context's `set_*_context` settings override both for its exceptions).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hogkit.core import events as core
from hogkit.core.code_variables import VariablesConfig
from hogkit.core.context import person_or_context, variables_config
from hogkit.core.event import Event, FlagsArg

from . import stamps
from .code_variables import with_code_variables
from .context_events import with_session
from .contexts import get_context_distinct_id, variables_overrides, with_context
from .exception_source import (
    ExceptionArg,
    exception_of,
    named_traceback,
    named_type,
    source_lines,
    synthetic_traceback,
)
from .pipeline import EventPipeline
from .problems import log, unknown_arguments
from .stamps import CallerTime
from .tracing import with_span

__all__ = ["EventMethods"]

_CAPTURED_ATTR = "__hogkit_captured_uuid"

Groups = Mapping[str, Any] | None
Timestamp = CallerTime


class EventMethods:
    """`pageview`, `set`, `set_once`, `identify`, `alias`, `group_identify` and
    `capture_exception` for a Client (which forwards them)."""

    def __init__(
        self,
        events: EventPipeline,
        project_root: str,
        in_app_modules: Sequence[str],
        *,
        enable_exception_autocapture: bool = False,
        log_captured_exceptions: bool = False,
        code_variables: VariablesConfig | None = None,
        capture_code_variables: bool = False,
    ) -> None:
        self._events = events
        self.project_root = project_root
        self.in_app_modules = tuple(in_app_modules)
        self.enable_exception_autocapture = enable_exception_autocapture
        self.log_captured_exceptions = log_captured_exceptions
        self.code_variables = code_variables or VariablesConfig.build()
        self.capture_code_variables = capture_code_variables

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
        # posthog-python's own advice: `capture("$pageview", {"$current_url": url, ...})`.
        return self._events.emit(
            "pageview",
            lambda: self._events.builder.event(
                "$pageview",
                distinct_id,
                {**(properties or {}), "$current_url": url},
                timestamp,
                uuid,
                groups,
                flags,
                disable_geoip,
            ),
        )

    def set(
        self,
        /,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
        **unknown: Any,
    ) -> str | None:
        """Set person properties (`$set`). A no-op (None) without a distinct id or properties."""
        if unknown:
            unknown_arguments("set", unknown)
        return self._person(
            "set", core.set_properties, distinct_id, properties, timestamp, uuid, disable_geoip
        )

    def set_once(
        self,
        /,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
        **unknown: Any,
    ) -> str | None:
        """Set person properties that are not set yet (`$set_once`); None like `set`."""
        if unknown:
            unknown_arguments("set_once", unknown)
        return self._person(
            "set_once", core.set_once, distinct_id, properties, timestamp, uuid, disable_geoip
        )

    def _person(
        self,
        name: str,
        build: Callable[..., Event | None],
        distinct_id: Any,
        properties: Mapping[str, Any] | None,
        timestamp: Timestamp,
        uuid: Any,
        disable_geoip: bool | None,
    ) -> str | None:
        """A person update, with the context's identity and tags merged in first."""
        distinct_id, properties = with_context(distinct_id, properties, person=True)
        return self._emit(
            name,
            build,
            timestamp,
            uuid,
            distinct_id=distinct_id,
            properties=properties,
            disable_geoip=disable_geoip,
        )

    def _emit(
        self,
        name: str,
        build: Callable[..., Event | None],
        timestamp: Timestamp,
        uuid: Any,
        *args: Any,
        **fields: Any,
    ) -> str | None:
        """`build(context, *args, timestamp=..., uuid=..., **fields)` through the pipeline's
        `emit`: the clock is sampled and the uuid drawn as the event is built."""
        events = self._events
        return events.emit(
            name,
            lambda: build(
                events.context,
                *args,
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                **fields,
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
        return self._emit(
            "identify",
            core.identify,
            timestamp,
            uuid,
            distinct_id=distinct_id,
            properties=properties,
            anon_distinct_id=anon_distinct_id,
            disable_geoip=disable_geoip,
        )

    def alias(
        self,
        previous_id: Any,
        distinct_id: Any,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
    ) -> str | None:
        """`$create_alias`: make `distinct_id` another id of the person known as
        `previous_id` (inside a context, in its session; without `distinct_id`, the
        context's person)."""
        distinct_id = person_or_context(distinct_id, get_context_distinct_id())
        return self._emit(
            "alias",
            _ALIAS,
            timestamp,
            uuid,
            previous_id=previous_id,
            distinct_id=distinct_id,
            disable_geoip=disable_geoip,
        )

    def group_identify(
        self,
        group_type: str,
        group_key: str,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        disable_geoip: bool | None = None,
        distinct_id: Any = None,
    ) -> str | None:
        """`$groupidentify`: set a group's properties. Without a distinct id, sent as the
        context's person, or else as `$<type>_<key>`; inside a context, in its session.
        A blank type or key drops the call with a warning (and `on_error` hears of it), never
        raised, in debug mode too, as posthog-python drops it."""
        problem = core.group_problem(group_type, group_key)
        if problem is not None:
            log.warning("group_identify: %s", problem)
            self._events.problems.tell(problem, [])
            return None
        distinct_id = person_or_context(distinct_id, get_context_distinct_id())
        return self._emit(
            "group_identify",
            _GROUP_IDENTIFY,
            timestamp,
            uuid,
            group_type,
            group_key,
            properties=properties,
            distinct_id=distinct_id,
            disable_geoip=disable_geoip,
        )

    def capture_exception(
        self,
        /,
        exception: ExceptionArg | None = None,
        *,
        distinct_id: Any = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        uuid: Any = None,
        groups: Groups = None,
        flags: FlagsArg = None,
        disable_geoip: bool | None = None,
        send_feature_flags: Any = None,
        fingerprint: str | None = None,
        level: str | None = "error",
        source: str | None = None,
        mechanism: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> str | None:
        """`$exception` for an exception (or `sys.exc_info()` when None), with its stack and source.

        An exception that was never raised gets the caller's stack, marked synthetic. The
        same exception object is captured once; later calls return None. `level`,
        `source` (`$exception_source`) and `mechanism` describe how it was caught, for
        hooks and framework integrations. `send_feature_flags` (deprecated) attaches flags
        the way `capture` does; `flags` wins.
        """
        if unknown:
            unknown_arguments("capture_exception", unknown)
        # The context's tags and session go under the exception's own properties, not
        # into the caller's (which may replace them).
        distinct_id, context_properties = with_context(distinct_id, None)
        found: list[BaseException] = []

        def build() -> Event | None:
            exc = exception_of(exception)
            if exc is None:
                log.warning("capture_exception: no exception given and none is being handled")
                return None
            if getattr(exc, _CAPTURED_ATTR, None):
                return None
            found.append(exc)
            chosen, anonymous = flags, None
            if send_feature_flags is not None:
                chosen, anonymous = self._events.builder.flags_for(
                    distinct_id, groups, flags, send_feature_flags, disable_geoip
                )
            named = named_traceback(exception)
            stack = exc.__traceback__ if named is ... else named
            synthetic = synthetic_traceback() if named is ... and stack is None else None
            ev = core.exception_event(
                self._events.context,
                exc,
                distinct_id=distinct_id,
                # Always, whatever `capture_trace_context` says: an error is most useful
                # next to the trace it broke.
                properties=with_span(properties),
                timestamp=stamps.when(timestamp),
                uuid=stamps.event_id(uuid),
                anonymous_id=anonymous or stamps.anonymous_id(distinct_id),
                source_lines=source_lines,
                in_app_prefixes=self.in_app_modules,
                project_root=self.project_root,
                fingerprint=fingerprint,
                groups=groups,
                flags=chosen,
                disable_geoip=disable_geoip,
                synthetic_traceback=synthetic,
                traceback=named,
                exc_type=named_type(exception),
                level=level,
                source=source,
                mechanism=mechanism,
                context_properties=context_properties,
            )
            config = variables_config(
                self.capture_code_variables, self.code_variables, variables_overrides()
            )
            if config is not None:
                # The variables of the stack the event shows: the one an exc_info tuple
                # names, or the caller's for an exception never raised.
                ev = with_code_variables(ev, stack or synthetic, config)
            return ev

        sent = self._events.emit("capture_exception", build)
        if sent is not None:
            with contextlib.suppress(Exception):
                setattr(found[0], _CAPTURED_ATTR, sent)
            if self.log_captured_exceptions:
                log.error("captured exception %s", sent, exc_info=found[0])
        return sent


def _in_session(build: Callable[..., Event]) -> Callable[..., Event]:
    """`build`, its event carrying the current context's `$session_id` (alias and group
    updates are built whole, so the context is applied to the built event)."""

    def built(*args: Any, **fields: Any) -> Event:
        return with_session(build(*args, **fields))

    return built


# Made once: the builders `alias` and `group_identify` hand to `_emit`.
_ALIAS = _in_session(core.alias)
_GROUP_IDENTIFY = _in_session(core.group_identify)
