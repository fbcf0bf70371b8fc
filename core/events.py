"""Events: one import for the event model and every builder.

The pieces live in modules with one job each: `event` (the `Event` value and the
`EventContext`), `timestamps` (ids and times in wire form), `flag_properties` (flags
attached to an event), `builders` (capture, pageview, identify, ...), `flag_called`
(`$feature_flag_called` and its dedup identity) and `exception_event` (`$exception`).
Events become bytes in `encoding`, and bodies of them in `batch`.
"""

from __future__ import annotations

from .builders import (
    alias,
    capture,
    group_identify,
    group_problem,
    identify,
    pageview,
    set_once,
    set_properties,
)
from .errors import InvalidEvent
from .event import Event, EventContext, FlagsArg
from .exception_event import exception_event
from .flag_called import (
    MINIMAL_FLAG_CALLED_PROPERTIES,
    FlagCalled,
    feature_flag_called,
    flag_called_event,
)
from .flag_properties import flag_fragment, flag_properties, flag_values_of
from .timestamps import Timestamp, format_epoch, format_timestamp, normalize_uuid

__all__ = [
    "MINIMAL_FLAG_CALLED_PROPERTIES",
    "Event",
    "EventContext",
    "FlagCalled",
    "FlagsArg",
    "InvalidEvent",
    "Timestamp",
    "alias",
    "capture",
    "exception_event",
    "feature_flag_called",
    "flag_called_event",
    "flag_fragment",
    "flag_properties",
    "flag_values_of",
    "format_epoch",
    "format_timestamp",
    "group_identify",
    "group_problem",
    "identify",
    "normalize_uuid",
    "pageview",
    "set_once",
    "set_properties",
]
