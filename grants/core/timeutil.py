"""Asia/Shanghai for people, UTC in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from grants.core.types import utcnow

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_to_utc(value: datetime) -> datetime:
    """A naive wall-clock time typed in Beijing time, as an aware UTC datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC)


def utc_to_local(value: datetime) -> datetime:
    """An aware datetime in Beijing time."""
    return value.astimezone(LOCAL_TZ)


def local_naive(value: datetime | None) -> datetime | None:
    """Beijing wall-clock time without tzinfo, for ``datetime-local`` form fields."""
    return utc_to_local(value).replace(tzinfo=None) if value else None


def local_today() -> date:
    """Today's date in Beijing."""
    return utc_to_local(utcnow()).date()


def local_day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in Beijing, as UTC."""
    return local_to_utc(datetime.combine(day, time.min))


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, clamped to the last day of a shorter month.

    31 January + 1 month is 28 February (29 in a leap year); 29 February + 12 months is
    28 February. The one month arithmetic of the app (durations, extensions, due dates).
    """
    return day + relativedelta(months=months)
