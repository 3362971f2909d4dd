"""Server-side sessions: the cookie carries a random token; the row is the session.

Logging out, disabling a user or changing a password deletes rows, which ends those
sessions at once. Idle and absolute time-outs are checked on every request.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from sqlalchemy.orm import Session, joinedload

from grants.accounts.models import User, UserSession, hash_token
from grants.core.types import utcnow
from grants.extensions import db

TOUCH_INTERVAL = timedelta(seconds=60)


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


def _side_session() -> Session:
    return Session(db.engine, join_transaction_mode="create_savepoint")


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
    if now - row.last_seen_at > TOUCH_INTERVAL:
        with _side_session() as side:
            side.execute(
                sa.update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
            )
            side.commit()
    user.session_token = token
    return user
