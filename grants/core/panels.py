"""Dashboard panels of the cores: failed jobs and failed sign-ins, for administrators."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.core.dashboard import panel
from grants.core.models import AuditEvent, Job
from grants.core.types import utcnow
from grants.extensions import db


@panel(
    "core.failed_jobs",
    _l("Failed background jobs"),
    ("admin",),
    "core/panels/failed_jobs.html",
    order=80,
)
def failed_jobs(user) -> dict:
    jobs = db.session.scalars(
        sa.select(Job).where(Job.status == "failed").order_by(Job.id.desc()).limit(5)
    ).all()
    total = db.session.scalar(sa.select(sa.func.count(Job.id)).where(Job.status == "failed"))
    return {"jobs": jobs, "total": total}


@panel(
    "core.failed_logins",
    _l("Sign-in failures in the last 24 hours"),
    ("admin",),
    "core/panels/failed_logins.html",
    order=85,
)
def failed_logins(user) -> dict:
    since = utcnow() - timedelta(hours=24)
    stmt = sa.select(AuditEvent).where(
        AuditEvent.action.in_(("login.failed", "login.throttled")), AuditEvent.at >= since
    )
    events = db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(5)).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    return {"events": events, "total": total}
