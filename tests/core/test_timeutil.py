"""Month arithmetic against dates written out by hand (month ends, leap years, year turns)."""

from __future__ import annotations

from datetime import date

import pytest

from grants.applications.checks import duration_months
from grants.core.timeutil import add_months


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
    ],
)
def test_duration_months(start, end, months):
    assert duration_months(start, end) == months
