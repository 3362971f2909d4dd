"""SQLite write transactions: code outside a request may ask for BEGIN IMMEDIATE."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_immediate: ContextVar[bool] = ContextVar("sqlite_immediate", default=False)


def immediate_requested() -> bool:
    return _immediate.get()


@contextmanager
def immediate_writes():
    """Transactions begun inside this block take SQLite's write lock at once (no-op elsewhere)."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)
