"""Server-side sessions: the cookie carries a random token; the row is the session.

Logging out, disabling a user or changing a password deletes rows, which ends those
sessions at once. Idle and absolute time-outs are checked on every request.

Reading a page never writes: the session's ``last_seen_at`` is touched after the response
is built, once the request's own transaction has ended, in a short transaction of its own
and only when it is older than ``SESSION_TOUCH_SECONDS``. A touch that cannot get the
write lock soon is logged and skipped; the page has been answered already.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import joinedload

from grants.accounts.models import User, UserSession, hash_token
from grants.core.transactions import own_transaction
from grants.core.types import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)

#: How long the touch of a session waits for SQLite's write lock before it is skipped (ms).
TOUCH_BUSY_TIMEOUT_MS = 1000


def _expired(now):
    config = current_app.config
    idle_limit = now - timedelta(minutes=config["SESSION_IDLE_MINUTES"])
    absolute_limit = now - timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])
    return sa.or_(UserSession.last_seen_at < idle_limit, UserSession.created_at < absolute_limit)


def start_session(user: User) -> str:
    """Create a session row for ``user`` and return its token; expired rows are purged."""
    db.session.execute(
        sa.delete(UserSession).where(UserSession.user_id == user.id, _expired(utcnow()))
    )
    token = secrets.token_urlsafe(32)
    row = UserSession(token_hash=hash_token(token), user_id=user.id)
    if has_request_context():
        row.ip = request.remote_addr
        row.user_agent = (request.user_agent.string or "")[:255]
    db.session.add(row)
    db.session.flush()
    user.session_token = token
    return token


def end_session(token: str | None) -> None:
    """Delete the session row for ``token``."""
    if token:
        db.session.execute(
            sa.delete(UserSession).where(UserSession.token_hash == hash_token(token))
        )


def end_all_sessions(user: User, keep_token: str | None = None) -> int:
    """Delete every session of ``user`` except ``keep_token``'s; returns how many."""
    stmt = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if keep_token:
        stmt = stmt.where(UserSession.token_hash != hash_token(keep_token))
    return db.session.execute(stmt).rowcount


def load_session_user(token: str) -> User | None:
    """Flask-Login's user loader: the user of a live session, or None."""
    if not token:
        return None
    row = (
        db.session.scalars(  # one statement: the session, its user and the user's roles
            sa.select(UserSession)
            .where(UserSession.token_hash == hash_token(token))
            .options(joinedload(UserSession.user).joinedload(User.roles))
        )
        .unique()
        .first()
    )
    if row is None:
        return None
    now = utcnow()
    config = current_app.config
    idle = timedelta(minutes=config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])
    user = row.user
    if now - row.last_seen_at > idle or now - row.created_at > absolute or not user.active:
        return None  # a dead session; its row goes at the user's next sign-in
    if now - row.last_seen_at > touch_interval() and has_request_context():
        g.grants_session_touch = row.id
    user.session_token = token
    return user


def touch_interval() -> timedelta:
    """How old ``last_seen_at`` may grow before a request touches it (``SESSION_TOUCH_SECONDS``)."""
    return timedelta(seconds=int(current_app.config.get("SESSION_TOUCH_SECONDS", 60)))


def touch_session(session_id: int) -> bool:
    """Set the session's ``last_seen_at`` to now in a short transaction of its own; True if done.

    Never raises: a touch that fails (the write lock stays taken) is logged and left for
    the next request.
    """
    try:
        with own_transaction(busy_timeout_ms=TOUCH_BUSY_TIMEOUT_MS) as side:
            side.execute(
                sa.update(UserSession)
                .where(UserSession.id == session_id)
                .values(last_seen_at=utcnow())
            )
    except Exception as exc:
        log.warning("session %s not touched: %s", session_id, exc.__class__.__name__)
        return False
    return True


def _touch_after_response(_error=None) -> None:
    session_id = g.pop("grants_session_touch", None)
    if session_id is None:
        return
    try:
        db.session.rollback()  # the request's transaction ends before the touch begins
    except Exception:
        log.warning("rollback before the session touch failed", exc_info=True)
        return
    touch_session(session_id)


def init_sessions(app: Flask) -> None:
    """Touch the signed-in session after each response (teardown), not while the page is read."""
    app.teardown_request(_touch_after_response)
