"""SQLite write transactions: code outside a request may ask for BEGIN IMMEDIATE."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

#: How long a connection waits for SQLite's write lock before "database is locked" (ms).
BUSY_TIMEOUT_MS = 30000

_immediate: ContextVar[bool] = ContextVar("sqlite_immediate", default=False)
_deferred: ContextVar[bool] = ContextVar("sqlite_deferred", default=False)


def immediate_requested() -> bool:
    return _immediate.get()


def deferred_requested() -> bool:
    """True inside :func:`reads_only`: transactions begun there only read (plain BEGIN)."""
    return _deferred.get()


@contextmanager
def immediate_writes():
    """Transactions begun inside this block take SQLite's write lock at once (no-op elsewhere)."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


@contextmanager
def reads_only():
    """Transactions begun inside this block only read: a POST's error page takes no write lock."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)
