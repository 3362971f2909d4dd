"""Users, their roles and their server-side sessions."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.passwords import hash_password, verify_password
from grants.core.types import UTCDateTime, utcnow
from grants.extensions import db

ROLES = ("applicant", "expert", "finance", "bureau", "admin")


def normalise_email(email: str) -> str:
    """An e-mail address as accounts, throttles and limits compare it: trimmed, lower case."""
    return (email or "").strip().lower()


class User(UserMixin, db.Model):
    """A person who signs in; may hold several roles and belong to one organisation."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Goes up with every change of the password; reset links carry it and die when it moves.
    password_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    organisation = relationship("Organisation", back_populates="members")

    session_token = None  # set per request by the session loader; not a column

    def set_password(self, password: str) -> None:
        """Store the new password's hash; every reset link issued before stops working."""
        self.password_hash = hash_password(password)
        self.password_changed_at = utcnow()
        self.password_version = (self.password_version or 0) + 1

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.active)

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_names & set(roles))

    def get_id(self) -> str | None:
        """Flask-Login stores the server-side session token, not the user id."""
        return self.session_token

    def __str__(self) -> str:
        return self.name or self.email


class UserRole(db.Model):
    """One role held by one user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    user: Mapped[User] = relationship(back_populates="roles")

    __table_args__ = (
        sa.CheckConstraint(
            "role in ('applicant','expert','finance','bureau','admin')", name="known_role"
        ),
    )


def hash_token(token: str) -> str:
    """Tokens are stored only as their SHA-256 digest."""
    return hashlib.sha256(token.encode()).hexdigest()


class LoginThrottle(db.Model):
    """Failed sign-ins counted per key ('account:<e-mail>' or 'ip:<address>') and the back-off they earned."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class UserSession(db.Model):
    """A signed-in browser session; deleting the row signs that browser out."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")

    user: Mapped[User] = relationship()
