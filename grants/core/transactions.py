"""Which transaction an ORM session event belongs to.

SQLAlchemy fires ``before_commit``, ``after_commit`` and ``after_rollback`` for a SAVEPOINT
(``begin_nested()``) as for the outermost transaction. Work that must wait for the real commit
(handing jobs to the queue, telling the user what was saved, deleting replaced files) asks
:func:`is_outermost` first; a savepoint's release commits nothing.

:func:`own_transaction` is the one short write transaction beside the request's (a session
touch, a denial's audit row, a job's batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from grants.core.sqlite import BUSY_TIMEOUT_MS, immediate_writes
from grants.extensions import db


def is_outermost(session: Session) -> bool:
    """True when the transaction the event is about is the session's outermost one."""
    return session.get_nested_transaction() is None


@contextmanager
def own_transaction(*, busy_timeout_ms: int | None = None) -> Iterator[Session]:
    """A short write transaction of its own, beside the request's: committed on leaving the block.

    For writes that must not wait for (or hold up) the request's transaction: the session
    touch, the record of a denial, a job's batch. On SQLite it takes the write lock at once
    (``BEGIN IMMEDIATE``) and waits for it at most ``busy_timeout_ms`` (the connection's
    busy timeout otherwise), so a caller that may give up (a touch, a denial) gives up soon.
    An exception rolls it back and propagates. What it wrote stays readable afterwards
    (detached, not expired).
    """
    bind = db.engine
    if not isinstance(bind, Engine):  # the tests' shared connection: a savepoint of it
        with (
            immediate_writes(),
            Session(bind, join_transaction_mode="create_savepoint", expire_on_commit=False) as side,
        ):
            yield side
            side.commit()
        return
    with bind.connect() as connection:
        raw = connection.connection.driver_connection
        shorter = bind.dialect.name == "sqlite" and busy_timeout_ms is not None
        if shorter:
            raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        try:
            with immediate_writes(), Session(bind=connection, expire_on_commit=False) as side:
                yield side
                side.commit()
        finally:
            if shorter:
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
