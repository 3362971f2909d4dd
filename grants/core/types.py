"""Column types and clock helpers used by every model."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

_frozen_at: ContextVar[datetime | None] = ContextVar("frozen_at", default=None)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, or the time frozen by :func:`frozen_now`."""
    frozen = _frozen_at.get()
    return frozen if frozen is not None else datetime.now(UTC)


@contextmanager
def frozen_now(at: datetime) -> Iterator[datetime]:
    """Make :func:`utcnow` return ``at`` inside the block, in this thread or task only.

    The demo replays its history through the real operations "at" the historical time;
    blocks nest, and the previous clock comes back on exit even after an exception.
    """
    if at.tzinfo is None:
        raise ValueError("frozen_now needs an aware datetime")
    token = _frozen_at.set(at.astimezone(UTC))
    try:
        yield at
    finally:
        _frozen_at.reset(token)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC on every backend and hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


Money = sa.Numeric(14, 2)
"""Amounts in yuan, two decimals; Python side is always Decimal."""
