"""The in-app inbox and the e-mail outbox."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.states import StateSet, state_set
from grants.core.types import UTCDateTime, utcnow
from grants.extensions import db


class Notification(db.Model):
    """One message in one user's inbox."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(60))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")

    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at"),)


@state_set("outbox_email")
class OutboxEmailState(StateSet):
    """The status of an e-mail in the outbox (stored in ``OutboxEmail.status``; no workflow)."""

    PENDING = "pending", lazy_pgettext("outbox email state", "Waiting to be sent"), "secondary"
    SENT = "sent", lazy_pgettext("outbox email state", "Sent"), "success"
    FAILED = "failed", lazy_pgettext("outbox email state", "Sending failed"), "danger"
    HELD = "held", lazy_pgettext("outbox email state", "Held: no mail server"), "warning"


class OutboxEmail(db.Model):
    """An e-mail waiting to be sent, sent, failed, or held (no SMTP configured)."""

    __tablename__ = "outbox_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint("status in ('pending','sent','failed','held')", name="known_status"),
        sa.CheckConstraint("status != 'sent' or sent_at is not null", name="sent_has_date"),
    )
