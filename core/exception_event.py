"""`$exception`: an exception, its chain and its frames as an event."""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping, Sequence
from types import EllipsisType, TracebackType
from typing import Any

from .builders import capture
from .event import Event, EventContext, FlagsArg
from .exception_list import SourceLines, exception_list
from .timestamps import Timestamp

__all__ = [
    "exception_event",
]

# ---------------------------------------------------------------------------------------
# $exception


def exception_event(
    ctx: EventContext,
    exc: BaseException,
    *,
    distinct_id: str | None,
    properties: Mapping[str, Any] | None = None,
    timestamp: Timestamp,
    uuid: str | _uuid.UUID,
    anonymous_id: str | None = None,
    source_lines: SourceLines | None = None,
    in_app_prefixes: Sequence[str] = (),
    project_root: str | None = None,
    fingerprint: str | None = None,
    groups: Mapping[str, Any] | None = None,
    flags: FlagsArg = None,
    disable_geoip: bool | None = None,
    level: str | None = "error",
    source: str | None = None,
    mechanism: Mapping[str, Any] | None = None,
    synthetic_traceback: TracebackType | None = None,
    traceback: TracebackType | EllipsisType | None = ...,
    exc_type: object = ...,
    context_properties: Mapping[str, Any] | None = None,
) -> Event:
    """`$exception` for `exc`, as posthog-python 7.91.1's `capture_exception` builds it.

    Properties: `$exception_list` (see `exception_list`), `$exception_level` (`level`, left out when None),
    `$exception_source` when given (integrations such as `python.sys_excepthook`), then the
    caller's `properties` over them, then `$exception_fingerprint` when `fingerprint` is
    given (it wins over one in `properties`); the event then takes the capture path
    (system properties, personless handling, groups, flags, common properties). The
    shell injects `source_lines` (it reads files) and `project_root` (posthog-python's
    default is the working directory at client start); `traceback` is the stack an
    exc_info tuple names and `exc_type` the class it names (see `exception_list`).
    OpenTelemetry `$trace_id`/`$span_id` are the shell's to add to `properties`.
    `context_properties` (a context's tags and session) lie under all of these: a tag
    never replaces what describes the exception.
    """
    props: dict[str, Any] = dict(context_properties) if context_properties else {}
    props["$exception_list"] = exception_list(
        exc,
        source_lines=source_lines,
        in_app_prefixes=in_app_prefixes,
        project_root=project_root,
        mechanism=mechanism,
        synthetic_traceback=synthetic_traceback,
        traceback=traceback,
        exc_type=exc_type,
    )
    if level is not None:
        props["$exception_level"] = level
    if source:
        props["$exception_source"] = source
    if properties:
        props.update(properties)
    if fingerprint is not None:
        props["$exception_fingerprint"] = fingerprint
    return capture(
        ctx,
        "$exception",
        distinct_id=distinct_id,
        properties=props,
        groups=groups,
        timestamp=timestamp,
        uuid=uuid,
        flags=flags,
        anonymous_id=anonymous_id,
        disable_geoip=disable_geoip,
    )
