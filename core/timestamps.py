"""Event identifiers and timestamps in their wire form.

The shell supplies the time and ids (the core has no clock); these functions check and
format them. The hot formatters take a `TimestampMemo` of the last formatted second, which
the shell owns and passes in: events arrive in bursts within a second, and the memo never
changes an answer.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid as _uuid
from typing import NamedTuple

from .errors import InvalidEvent
from .normalize import clean_text

__all__ = [
    "MICRO_TAILS",
    "NO_SECOND",
    "Second",
    "Timestamp",
    "TimestampMemo",
    "event_identity",
    "event_name",
    "format_epoch",
    "format_timestamp",
    "given_id",
    "is_naive",
    "normalize_uuid",
    "parse_timestamp",
    "stringify_id",
    "text_id",
    "utc_text",
    "wire_timestamp",
    "wire_uuid",
]

_UTC = _dt.timezone.utc

# ---------------------------------------------------------------------------------------
# identifiers and timestamps


_UUID_RE = re.compile(
    r"\A[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\Z"
)


def normalize_uuid(value: object) -> str | None:
    """`value` as the event uuid string if it is a UUID (`uuid.UUID` or a UUID string), else None.

    A valid string is kept as given, as posthog-python does; the shell substitutes a fresh
    random version 4 uuid when this answers None.
    """
    if isinstance(value, _uuid.UUID):
        return str(value)
    if value is None:
        return None
    text = value if isinstance(value, str) else _safe_str(value)
    if text is None:
        return None
    if _UUID_RE.match(text) is not None:
        return str.__str__(text)
    try:
        _uuid.UUID(text)
    except (ValueError, TypeError):
        return None
    return str.__str__(text)


_DATE_ONLY = re.compile(r"\A\d{4}-?\d{2}-?\d{2}\Z")
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})\Z")


def parse_timestamp(value: object) -> _dt.datetime | None:
    """A caller's timestamp as a datetime, or None when `value` is not a usable timestamp.

    ISO strings (with `Z` or `+HHMM`) are parsed as posthog-python parses them and
    date-only strings are rejected. A string naming no offset gives a naive datetime, as a
    naive datetime stays naive: which zone it is in is the shell's call (see
    `format_timestamp`).
    """
    if isinstance(value, _dt.datetime):
        return value
    if not isinstance(value, str) or _DATE_ONLY.match(value):
        return None
    text = _COMPACT_OFFSET.sub(r"\1:\2", value.replace("Z", "+00:00"))
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def format_timestamp(value: object) -> str | None:
    """The wire form of an event timestamp, or None when `value` is not a usable timestamp.

    An aware datetime is converted to UTC and serialised with `isoformat()` (e.g.
    `2026-01-02T03:04:05.123456+00:00`), as posthog-python does. A naive datetime is taken
    as UTC: posthog-python's guess that a naive value within 5 s of the local clock is local
    time needs a clock, so the shell makes that call before handing the value over. Strings
    are read by `parse_timestamp`.
    """
    moment = parse_timestamp(value)
    if moment is None:
        return None
    try:
        if is_naive(moment):
            moment = moment.replace(tzinfo=_UTC)
        return moment.astimezone(_UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def is_naive(moment: _dt.datetime) -> bool:
    """Whether `moment` names no offset from UTC (no zone, or a zone that gives none)."""
    return moment.tzinfo is None or moment.utcoffset() is None


# Epoch seconds below this format exactly through the fast path of `format_epoch` (year 9999).
_EPOCH_LIMIT = 253_402_300_000.0
# Below 2**32 s (year 2106) a datetime's float `timestamp()` keeps its microseconds exactly.
_EXACT_FLOAT_SECONDS = 4_294_967_296.0


# A timestamp's fraction as text from two tables, "%03d" of the milliseconds and then of
# the microseconds with the offset: two lookups and concatenations are cheaper than
# formatting "%06d" for every event.
_MILLIS = tuple(f"{millis:03d}" for millis in range(1000))
MICRO_TAILS = tuple(f"{micros:03d}+00:00" for micros in range(1000))
"""The end of a timestamp after its millisecond: "%03d" of the microseconds, and the offset."""


def _fraction(dotted: str, micros: int) -> str:
    return dotted + _MILLIS[micros // 1000] + MICRO_TAILS[micros % 1000]


class Second(NamedTuple):
    start: float  # the second, as epoch seconds (a whole number)
    dotted: str  # "YYYY-MM-DDTHH:MM:SS."
    whole: str  # "YYYY-MM-DDTHH:MM:SS+00:00"


def _second(start: int, text: str) -> Second:
    return Second(float(start), text[:19] + ".", text[:19] + "+00:00")


NO_SECOND = Second(float("-inf"), "", "")
"""A `Second` no epoch reading falls in: what a fresh memo holds."""


class TimestampMemo:
    """The second formatted last, reused while events keep arriving within it.

    Events come in bursts within one second, so most timestamps only need their
    microseconds formatted. The memo never changes an answer. The core keeps none of its
    own: the shell creates one per encoder (its worker's, say) and passes it to the
    functions that take `memo`. Threads sharing one only ever swap whole `Second` tuples.
    """

    __slots__ = ("second",)

    def __init__(self) -> None:
        self.second = NO_SECOND


def format_epoch(seconds: float, memo: TimestampMemo | None = None) -> str:
    """`datetime.fromtimestamp(seconds, timezone.utc).isoformat()`, the same text, faster.

    The shell samples the clock as epoch seconds (the wall clock) in the capturing thread
    and formats later. With a `memo`, events captured in the same second share the
    formatted `YYYY-MM-DDTHH:MM:SS` part, so most calls only format the microseconds,
    rounded half-to-even as `datetime` does. Raises `InvalidEvent` for a value no datetime
    can hold.
    """
    if memo is not None:
        second = memo.second
        fraction = seconds - second.start  # exact: both are doubles less than one apart
        if 0.0 <= fraction < 1.0:
            micros = round(fraction * 1e6)
            if micros < 1_000_000:
                if micros:
                    return _fraction(second.dotted, micros)
                return second.whole
    if memo is None or not 0.0 <= seconds < _EPOCH_LIMIT:
        try:
            return _dt.datetime.fromtimestamp(seconds, _UTC).isoformat()
        except (ValueError, OverflowError, OSError):
            raise InvalidEvent(f"not a usable event timestamp: {seconds!r}") from None
    second, micros = _epoch_second(seconds)
    memo.second = second
    return _fraction(second.dotted, micros) if micros else second.whole


def _epoch_second(seconds: float) -> tuple[Second, int]:
    """The `Second` that `seconds` (in range: 0 up to year 9999) falls in, and its
    microseconds, rounded as `datetime` rounds them (possibly into the next second)."""
    whole = int(seconds)
    micros = round((seconds - whole) * 1e6)
    if micros >= 1_000_000:
        whole += 1
        micros -= 1_000_000
    return _second(whole, _dt.datetime.fromtimestamp(whole, _UTC).isoformat()), micros


def utc_text(moment: _dt.datetime, memo: TimestampMemo | None = None) -> str:
    """`moment.isoformat()` for an aware UTC datetime, through `memo` when it hits."""
    if memo is None:
        return moment.isoformat()
    seconds = moment.timestamp()
    if not 0.0 <= seconds < _EXACT_FLOAT_SECONDS:
        return moment.isoformat()
    second = memo.second
    if 0.0 <= seconds - second.start < 1.0:
        micros = moment.microsecond
        return _fraction(second.dotted, micros) if micros else second.whole
    text = moment.isoformat()
    memo.second = _second(int(seconds), text)
    return text


Timestamp = _dt.datetime | str | float
"""An event time: a datetime, an ISO 8601 string, or seconds since the Unix epoch (UTC)."""


def wire_timestamp(value: Timestamp, memo: TimestampMemo | None = None) -> str:
    """An event time's wire text (`format_epoch`, `utc_text` or `format_timestamp`)."""
    if type(value) is float or (type(value) is int):
        return format_epoch(value, memo)
    if type(value) is _dt.datetime and value.tzinfo is _UTC:
        return utc_text(value, memo)
    text = format_timestamp(value)
    if text is None:
        raise InvalidEvent(f"not a usable event timestamp: {value!r}")
    return text


def wire_uuid(value: str | _uuid.UUID) -> str:
    if type(value) is str:
        return value
    text = normalize_uuid(value)
    if text is None:
        raise InvalidEvent(f"not a usable event uuid: {value!r}")
    return text


def _safe_str(value: object) -> str | None:
    """`value`'s text: a str subclass's own characters (what JSON sends for it, whatever its
    `__str__` says), anything else's `str()`; None when that raises."""
    if isinstance(value, str):
        return str.__str__(value)
    try:
        return str(value)
    except Exception:
        return None


def stringify_id(value: object) -> str | None:
    """A distinct id as posthog-python sends it: `str()` of anything but None and ''."""
    if value is None:
        return None
    if type(value) is str:
        return clean_text(value) if value else None
    text = _safe_str(value)
    return clean_text(text) if text else None


def text_id(value: object) -> str:
    if type(value) is str:
        return value if value.isascii() else clean_text(value)
    return clean_text(_safe_str(value) or "")


def event_name(value: object) -> str:
    """An event name's text: bytes decoded as UTF-8, as posthog-python sends them (invalid
    bytes replaced, where it sends null), anything else as `text_id` reads it."""
    if isinstance(value, bytes):
        return clean_text(value.decode("utf-8", "replace"))
    return text_id(value)


def given_id(distinct_id: object) -> str | None:
    """`stringify_id`, for a distinct id the caller passed: None when there is none, and
    `InvalidEvent` when there is one with no text (its `str()` raised), which is a bad
    argument, not a missing one."""
    given = stringify_id(distinct_id)
    unprintable = given is None and distinct_id is not None and type(distinct_id) is not str
    if unprintable and _safe_str(distinct_id) is None:
        raise InvalidEvent(
            f"the distinct_id ({type(distinct_id).__name__}) has no text: its str() failed"
        )
    return given


def event_identity(distinct_id: object, anonymous_id: object) -> tuple[str, bool]:
    """(distinct id, personless?) — an absent id falls back to the shell's anonymous id."""
    if type(distinct_id) is str and distinct_id:
        return (distinct_id if distinct_id.isascii() else clean_text(distinct_id)), False
    given = given_id(distinct_id)
    if given is not None:
        return given, False
    anonymous = stringify_id(anonymous_id)
    if anonymous is None:
        raise InvalidEvent("an event without a distinct_id needs the shell's anonymous_id")
    return anonymous, True
