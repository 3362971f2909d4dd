"""Month arithmetic against dates written out by hand (month ends, leap years, year turns)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from grants.applications.checks import duration_months
from grants.core import timeutil
from grants.core.timeutil import (
    add_months,
    local_day_start,
    local_naive,
    local_to_utc,
    local_today,
    utc_to_local,
)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 1, 30), 1, date(2026, 2, 28)),
        (date(2026, 1, 30), 2, date(2026, 3, 30)),  # not clamped where the month is long enough
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),  # over the year end
        (date(2026, 12, 31), 14, date(2028, 2, 29)),
        (date(2026, 8, 31), -2, date(2026, 6, 30)),  # backwards
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2027, 1, 29), -1, date(2026, 12, 29)),
        (date(2026, 5, 29), 0, date(2026, 5, 29)),
        (date(2026, 7, 29), 36, date(2029, 7, 29)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 1, 1), date(2026, 12, 31), 12),
        (date(2026, 1, 1), date(2027, 1, 1), 13),  # a day into the 13th month counts
        (date(2026, 1, 31), date(2026, 2, 27), 1),
        (date(2026, 1, 31), date(2026, 2, 28), 2),  # 31 Jan + 1 month = 28 Feb, a day over
        (date(2024, 3, 1), date(2027, 2, 28), 36),
        (date(2024, 3, 1), date(2027, 3, 1), 37),
        (date(2026, 5, 29), date(2026, 5, 29), 1),
        (date(2026, 1, 15), date(2026, 2, 14), 1),  # exactly one month
        (date(2026, 1, 15), date(2026, 2, 15), 2),  # one day into the second
        (date(2026, 1, 10), date(2026, 1, 5), 0),  # ends before it starts: no month
        (date(2026, 3, 10), date(2026, 1, 20), 0),
    ],
)
def test_duration_months(start, end, months):
    assert duration_months(start, end) == months


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (datetime(2026, 3, 1, 8, 0), datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),
        (datetime(2026, 1, 1, 2, 30), datetime(2025, 12, 31, 18, 30, tzinfo=UTC)),  # day before
        # already aware: kept as the instant it is, only expressed in UTC
        (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), datetime(2026, 3, 1, 8, 0, tzinfo=UTC)),
    ],
)
def test_beijing_wall_clock_to_utc(typed, expected):
    converted = local_to_utc(typed)
    assert converted == expected
    assert converted.utcoffset() == timedelta(0)


def test_utc_to_beijing_and_back_to_a_form_field():
    instant = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    assert utc_to_local(instant).replace(tzinfo=None) == datetime(2026, 7, 1, 0, 0)
    assert utc_to_local(instant).utcoffset() == timedelta(hours=8)
    assert local_naive(instant) == datetime(2026, 7, 1, 0, 0)
    assert local_naive(instant).tzinfo is None
    assert local_naive(None) is None


def test_a_beijing_day_starts_at_16_utc_the_day_before():
    assert local_day_start(date(2026, 7, 1)) == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)


def test_today_in_beijing_turns_at_16_utc(monkeypatch):
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2026, 6, 30, 15, 59, tzinfo=UTC))
    assert local_today() == date(2026, 6, 30)
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2026, 6, 30, 16, 0, tzinfo=UTC))
    assert local_today() == date(2026, 7, 1)
