"""The clock readings and ids the shell gives the core's event builders.

The core has no clock and draws no ids; these functions supply them, checking what a caller
passed (a bad timestamp or uuid is replaced, with a log line, rather than failing the call).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
import uuid as _uuid
from typing import Any

from hogkit.core.context import is_blank
from hogkit.core.events import format_timestamp, normalize_uuid
from hogkit.core.timestamps import Timestamp, is_naive, parse_timestamp

from .ids import new_uuid
from .problems import short_text

__all__ = [
    "CallerTime",
    "CanonicalUuid",
    "anonymous_id",
    "canonical_uuid",
    "clock",
    "event_id",
    "event_timestamp",
    "now",
    "when",
]

log = logging.getLogger("hogkit")

_UTC = _dt.timezone.utc

CallerTime = _dt.datetime | str | None
"""A timestamp a caller may pass to an event method (None: now)."""

clock = time.time
"""The wall clock as epoch seconds: the capture path's cheapest timestamp."""


def now() -> _dt.datetime:
    return _dt.datetime.now(_UTC)


def event_timestamp(value: object) -> _dt.datetime | str:
    """A caller's timestamp in a form the core accepts, or now (with a warning) if unusable.

    A naive time, given as a datetime or as text naming no offset, is taken as local time
    (at the zone's offset now) when it lies within the last 5 s, as one just read from
    `datetime.now()` does, and as UTC otherwise, as posthog-python does (the core cannot
    look at a clock to make that call).
    """
    moment = parse_timestamp(value)
    if moment is not None and is_naive(moment):
        return moment.replace(tzinfo=_caller_zone(moment))
    text = format_timestamp(moment)
    if text is None:
        log.warning("invalid timestamp %s; using the current time", short_text(value))
        return now()
    return text


def _caller_zone(naive: _dt.datetime) -> _dt.tzinfo:
    """The zone a naive caller time is in: local if it was read from the clock just now."""
    here = _dt.datetime.now()
    try:
        recent = 0 <= (here - naive).total_seconds() < 5
    except (OverflowError, TypeError):
        recent = False
    if not recent:
        return _UTC
    return here.astimezone().tzinfo or _UTC


class CanonicalUuid:
    """A caller's uuid that its event carries as posthog-python's AsyncClient sends it:
    `str(value)` in canonical text (lowercase, hyphenated) when that is a uuid, where its
    Client keeps a valid text as given (a `str` subclass's own characters).

    Only a mark: `event_id` reads it when the event is built, as it reads any caller's
    uuid, so a client that builds nothing (disabled, closed) reads and reports nothing."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def canonical_uuid(value: object) -> CanonicalUuid | None:
    """A caller's uuid marked to be read the AsyncClient's way (None stays None: the
    event draws its own)."""
    return None if value is None else CanonicalUuid(value)


def _canonical_text(value: object) -> tuple[str | None, str]:
    """(the canonical text of `str(value)` if that is a uuid, else None; `str(value)`,
    empty when it raises, to report)."""
    try:
        text = str(value)
    except Exception:
        return None, ""
    try:
        return str(_uuid.UUID(text)), text
    except Exception:  # a `str` subclass's own methods may raise anything
        return None, text


def event_id(uuid: Any) -> str:
    """An event's uuid: the caller's, read once here (as the Client reads it, or as the
    AsyncClient does when marked `CanonicalUuid`), a fresh one when none was given or the
    given one is not a uuid (with an error logged)."""
    if uuid is None:
        return new_uuid()
    shown: object
    if type(uuid) is CanonicalUuid:
        text, shown = _canonical_text(uuid.value)
    else:
        text, shown = normalize_uuid(uuid), uuid
    if text is None:
        log.error("invalid uuid %s; using a generated one", short_text(shown))
        return new_uuid()
    return text


def when(timestamp: _dt.datetime | str | None) -> Timestamp:
    """An event's time: the caller's (checked), or the clock's now."""
    return clock() if timestamp is None else event_timestamp(timestamp)


def anonymous_id(distinct_id: Any) -> str | None:
    """The id that stands for the person in a personless event (none when there is an id)."""
    return new_uuid() if is_blank(distinct_id) else None
