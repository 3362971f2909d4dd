"""Dashboard panels of notifications: unread messages for everyone, outbox problems for admins."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.core.dashboard import panel
from grants.extensions import db
from grants.notifications.models import Notification, OutboxEmail

ALL_ROLES = ("applicant", "expert", "finance", "bureau", "admin")


@panel(
    "notifications.unread",
    _l("Unread messages"),
    ALL_ROLES,
    "notifications/panels/unread.html",
    order=90,
)
def unread_messages(user) -> dict | None:
    notes = db.session.scalars(
        sa.select(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .order_by(Notification.id.desc())
        .limit(5)
    ).all()
    return {"notes": notes} if notes else None


@panel(
    "notifications.failed_mail",
    _l("E-mails that could not be sent"),
    ("admin",),
    "notifications/panels/failed_mail.html",
    order=81,
)
def failed_mail(user) -> dict | None:
    total = db.session.scalar(
        sa.select(sa.func.count(OutboxEmail.id)).where(OutboxEmail.status == "failed")
    )
    return {"total": total} if total else None
