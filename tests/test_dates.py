"""Relative dates: N hours, days, weeks, months or years before `now`, the day of month
clamped to every month a month or year step lands on, placed exactly where PostHog 7.91.1
places them; and date text in person properties, read as PostHog 7.91.1 reads it."""

from __future__ import annotations

import datetime as dt

import pytest
from hogkit.core.dates import parse_date_filter, parse_date_text
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import frozen_now
from posthog.feature_flags import parse_datetime, relative_date_parse_for_feature_flag_matching

UTC = dt.timezone.utc


def ours(value: str, now: dt.datetime) -> dt.datetime | None:
    parsed = parse_date_filter(value)
    assert parsed is not None, value
    return parsed.at(now)


def reference(value: str, now: dt.datetime) -> dt.datetime | None:
    with frozen_now(now):
        return relative_date_parse_for_feature_flag_matching(value)


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 9, 30, tzinfo=UTC)


# (now, filter, expected): the clamping rule worked by hand.
WORKED = [
    (at(2026, 3, 31), "2m", at(2026, 1, 28)),  # by way of 28 February
    (at(2026, 3, 31), "1m", at(2026, 2, 28)),
    (at(2024, 3, 31), "1m", at(2024, 2, 29)),
    (at(2024, 3, 31), "12m", at(2023, 3, 29)),  # landed on February 2024 (29 days)
    (at(2025, 3, 31), "12m", at(2024, 3, 28)),  # landed on February 2025 (28 days)
    (at(2026, 5, 31), "1m", at(2026, 4, 30)),
    (at(2026, 5, 31), "3m", at(2026, 2, 28)),
    (at(2026, 7, 31), "2m", at(2026, 5, 30)),  # June has 30 days
    (at(2026, 1, 15), "13m", at(2024, 12, 15)),
    (at(2026, 6, 15), "0m", at(2026, 6, 15)),
    (at(2025, 3, 31), "1y", at(2024, 3, 31)),  # a year step lands on March only
    (at(2024, 2, 29), "1y", at(2023, 2, 28)),
    (at(2024, 2, 29), "4y", at(2020, 2, 28)),  # stays 28 once clamped
    (at(2024, 2, 29), "-0y", at(2024, 2, 29)),
    (at(2026, 6, 15), "2h", at(2026, 6, 15) - dt.timedelta(hours=2)),
    (at(2026, 6, 15), "3w", at(2026, 5, 25)),
    (at(2026, 6, 15), "2026y", None),  # before year 1
    (at(2, 6, 15), "18m", None),
    (at(2, 6, 15), "17m", at(1, 1, 15)),
]


@pytest.mark.parametrize(("now", "value", "expected"), WORKED)
def test_worked_examples(now: dt.datetime, value: str, expected: dt.datetime | None) -> None:
    assert ours(value, now) == expected
    assert reference(value, now) == expected


@settings(max_examples=3000)
@given(
    now=st.datetimes(
        min_value=dt.datetime(1, 1, 1),
        max_value=dt.datetime(9999, 12, 31, 23, 59),
        timezones=st.just(UTC),
    ),
    count=st.one_of(st.integers(0, 40), st.integers(0, 9999)),
    unit=st.sampled_from("my"),
)
def test_month_and_year_steps_match_the_reference(now: dt.datetime, count: int, unit: str) -> None:
    value = f"-{count}{unit}"
    assert ours(value, now) == reference(value, now)


@given(
    year=st.integers(1, 9999),
    month=st.integers(1, 12),
    count=st.integers(0, 60),
)
def test_month_ends_match_the_reference(year: int, month: int, count: int) -> None:
    """The last days of each month, where clamping happens."""
    for day in (28, 29, 30, 31):
        try:
            now = at(year, month, day)
        except ValueError:
            continue
        for value in (f"{count}m", f"{count}y"):
            assert ours(value, now) == reference(value, now)


# Pieces of date text as applications store it: ISO 8601 in its several forms, around it
# whitespace, a `Z`, a ` UTC` or an offset after a space, and now and then a stray character.
_DATE_BODIES = (
    "2024-05-13",
    "2024-02-29",
    "2024-05-13T10:00",
    "2024-05-13 10:00:00",
    "2024-05-13T10:00:00.123456",
    "20240513",
    "2024-W20-1",
    "2024",
    "0001-01-01",
    "9999-12-31T23:59:59",
)
_DATE_ENDS = ("", "Z", "z", " UTC", " utc", "+05:00", " +05:00", " -01:30", "-0130", " +05", "\n")


@st.composite
def _date_texts(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(("", " ", "\t"))) + draw(st.sampled_from(_DATE_BODIES))
    text += draw(st.sampled_from(_DATE_ENDS)) + draw(st.sampled_from(("", " ", "Z")))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from("0123456789-:T +Zz.")) + text[at:]
    return text


def _reference_text(value: str, now: dt.datetime) -> dt.datetime | None:
    with frozen_now(now):
        try:
            moment = parse_datetime(value)
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@settings(max_examples=1500)
@given(value=_date_texts(), now=st.sampled_from([at(2026, 6, 15), at(2024, 2, 29)]))
def test_date_text_reads_as_the_reference_reads_it(value: str, now: dt.datetime) -> None:
    """Whichever way the text is read (as it is, or normalised first), the moment and its
    offset are the reference's."""
    expected = _reference_text(value, now)
    found = parse_date_text(value, now)
    assert found == expected
    assert (found and found.utcoffset()) == (expected and expected.utcoffset())
