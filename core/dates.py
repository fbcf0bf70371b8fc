"""Dates in property filters: relative (`-30d`, `6m`, `1y`), bare years and ISO 8601.

The caller supplies `now`, so relative dates are kept as (count, unit) and placed in time
on each match. A bare year means that year on today's month and day, so it too waits for
`now`. Everything else is parsed once. Naive moments are UTC.

Months and years are counted back a step at a time, the day clamped to every month a step
lands on: 31 March minus two months is 28 January (by way of 28 February), 31 March minus
one year is 31 March, and 29 February minus any number of years is 28 February.
"""

from __future__ import annotations

import abc
import re
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType

__all__ = ["DateFilter", "as_utc", "parse_date_filter", "parse_date_text"]

_UTC = timezone.utc
_RELATIVE = re.compile(r"-?([0-9]+)([a-z])\n?")
_RELATIVE_LIMIT = 10_000
_SIMPLE_UNITS = MappingProxyType(
    {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
)


def as_utc(moment: datetime) -> datetime:
    """A naive moment read as UTC (`datetime.combine` rather than `replace`, which costs
    several times as much on the evaluation path)."""
    return datetime.combine(moment.date(), moment.time(), _UTC)


def _utc(now: datetime) -> datetime:
    if now.tzinfo is _UTC:
        return now
    if now.tzinfo is None:
        return as_utc(now)
    return now.astimezone(_UTC)


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_SHORTEST_MONTH = min(_MONTH_DAYS)
# Within any 24 consecutive months lie two Februaries, and one of them is in a common year.
_CLAMPING_SPAN = 24
# The Gregorian calendar repeats every 400 years.
_CYCLE = 400 * 12


def _month_length(month_number: int) -> int:
    """Days in a month numbered from January of year 0 (`year * 12 + month - 1`)."""
    year, index = divmod(month_number, 12)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if index == 1 and leap else _MONTH_DAYS[index]


# Month lengths over one cycle and the span after it, so the landings of one move (at most
# `_CLAMPING_SPAN` months long) are one slice.
_LENGTHS = tuple([_month_length(number) for number in range(_CYCLE + _CLAMPING_SPAN)])


def _back(moment: datetime, months: int, step: int) -> datetime | None:
    """`moment` moved `months` months earlier in steps of `step` months (1 or 12).

    Each step lands on a month and the day is clamped to that month's length, so the day
    ends as the smallest of its own value and every month landed on. Landings past the
    first `_CLAMPING_SPAN` months cannot lower it further: stepping by months has by then
    landed on a common-year February (28 days), stepping by years on the same month in
    two consecutive years, one of them common if the month is February."""
    here = moment.year * 12 + moment.month - 1
    there = here - months
    year, index = divmod(there, 12)
    if not 1 <= year <= 9999:
        return None
    day = moment.day
    # No month is shorter than a common February, so only a later day can be clamped.
    if day > _SHORTEST_MONTH:
        # The landings are here - step, here - 2 * step, ... down to `last`.
        last = there if months < _CLAMPING_SPAN else here - _CLAMPING_SPAN
        count = (here - last) // step
        if count:
            first = (here - step * count) % _CYCLE
            shortest = min(_LENGTHS[first : first + step * (count - 1) + 1 : step])
            day = shortest if shortest < day else day
    return datetime.combine(date(year, index + 1, day), moment.timetz())


class DateFilter(abc.ABC):
    """A filter's moment, placed in time by `at(now)` (None: not a date at this `now`)."""

    __slots__ = ()

    @abc.abstractmethod
    def at(self, now: datetime) -> datetime | None:
        """The aware moment the filter stands for when the time is `now`."""


class _Fixed(DateFilter):
    __slots__ = ("_moment",)

    def __init__(self, moment: datetime) -> None:
        self._moment = moment

    def at(self, now: datetime) -> datetime | None:
        return self._moment


class _Relative(DateFilter):
    __slots__ = ("_count", "_delta", "_unit")

    def __init__(self, count: int, unit: str) -> None:
        self._count = count
        self._unit = unit
        self._delta = _SIMPLE_UNITS[unit] * count if unit in _SIMPLE_UNITS else None

    def at(self, now: datetime) -> datetime | None:
        base = now if now.tzinfo is _UTC else _utc(now)
        try:
            if self._delta is not None:
                return base - self._delta
            if self._unit == "m":
                return _back(base, self._count, 1)
            return _back(base, 12 * self._count, 12)
        except OverflowError:
            return None


class _BareYear(DateFilter):
    __slots__ = ("_year",)

    def __init__(self, year: int) -> None:
        self._year = year

    def at(self, now: datetime) -> datetime | None:
        return _year_today(self._year, now)


def _year_today(year: int, now: datetime) -> datetime | None:
    today = _utc(now)
    try:
        return datetime(year, today.month, today.day, tzinfo=_UTC)
    except ValueError:
        # Year 0, or 29 February in a common year.
        return None


def _iso_text(text: str) -> str | int:
    """Normalise absolute-date text for `fromisoformat`, or the year if it is a bare year."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif text[-4:].upper() == " UTC" if text.isascii() else text.upper().endswith(" UTC"):
        text = text[:-4] + "+00:00"
    elif len(text) == 4 and text.isdecimal():
        return int(text)
    # "2024-01-01 12:00 +05:00": the space before a trailing offset is dropped.
    if (
        len(text) >= 7
        and text[-7] == " "
        and text[-6] in "+-"
        and text[-3] == ":"
        and text[-5:-3].isdecimal()
        and text[-2:].isdecimal()
    ):
        text = text[:-7] + text[-6:]
    return text


def _fixed(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else as_utc(moment)


def parse_date_text(value: str, now: datetime) -> datetime | None:
    """An absolute date from a property value, or None when it is not one.

    Most values are ISO 8601 text `fromisoformat` reads as it is. Wherever it reads text
    `_iso_text` would rewrite, it gives the same moment (it accepts no surrounding
    whitespace and no bare year, and reads `Z` and an offset after a space as their
    rewritten forms), so only text it refuses is normalised first."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        return moment if moment.tzinfo is not None else as_utc(moment)
    prepared = _iso_text(value)
    if isinstance(prepared, int):
        return _year_today(prepared, now)
    return _fixed(prepared)


def parse_date_filter(value: str) -> DateFilter | None:
    """A filter value read once: relative, bare year or fixed; None when it is no date."""
    relative = _RELATIVE.fullmatch(value)
    if relative is not None:
        digits, unit = relative.groups()
        try:
            count = int(digits)
        except ValueError:
            return None
        if count < _RELATIVE_LIMIT and unit in "hdwmy":
            return _Relative(count, unit)
    prepared = _iso_text(value)
    if isinstance(prepared, int):
        return _BareYear(prepared)
    moment = _fixed(prepared)
    return _Fixed(moment) if moment is not None else None
