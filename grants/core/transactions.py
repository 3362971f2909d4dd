"""Which transaction an ORM session event belongs to.

SQLAlchemy fires ``before_commit``, ``after_commit`` and ``after_rollback`` for a SAVEPOINT
(``begin_nested()``) as for the outermost transaction. Work that must wait for the real commit
(handing jobs to the queue, telling the user what was saved, deleting replaced files) asks
:func:`is_outermost` first; a savepoint's release commits nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def is_outermost(session: Session) -> bool:
    """True when the transaction the event is about is the session's outermost one."""
    return session.get_nested_transaction() is None
