"""hogkit.core: the pure engine.

Everything here is a function of its arguments: no I/O, threads, clock, randomness,
environment or logging. Time, ids and source lines come in as arguments, so the same
inputs always give the same outputs, and any test suite or SDK can embed it.
"""

from .attribution import Attribution
from .batch import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    check_event_size,
    decode_batch,
    encode_batch,
    encode_capture,
    encode_event,
    split_batches,
)
from .errors import DefinitionsError, HogkitError
from .events import (
    Event,
    EventContext,
    InvalidEvent,
    alias,
    capture,
    exception_event,
    feature_flag_called,
    format_epoch,
    format_timestamp,
    group_identify,
    identify,
    normalize_uuid,
    pageview,
    set_once,
    set_properties,
)
from .exception_list import exception_list
from .flag_info import FlagInfo
from .flagset import FlagSet
from .normalize import is_plain, normalize, normalize_properties
from .reasons import PRECEDENCE, Unresolved
from .snapshot import FlagResult, Problem, Reason, Snapshot
from .version import __version__

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "PRECEDENCE",
    "Attribution",
    "DefinitionsError",
    "Event",
    "EventContext",
    "FlagInfo",
    "FlagResult",
    "FlagSet",
    "HogkitError",
    "InvalidEvent",
    "Problem",
    "Reason",
    "Snapshot",
    "Unresolved",
    "__version__",
    "alias",
    "capture",
    "check_event_size",
    "decode_batch",
    "encode_batch",
    "encode_capture",
    "encode_event",
    "exception_event",
    "exception_list",
    "feature_flag_called",
    "format_epoch",
    "format_timestamp",
    "group_identify",
    "identify",
    "is_plain",
    "normalize",
    "normalize_properties",
    "normalize_uuid",
    "pageview",
    "set_once",
    "set_properties",
    "split_batches",
]
