"""Dashboard panels of the bureau's side of applications."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.applications.models import Application
from grants.core.dashboard import panel
from grants.core.timeutil import local_today, utc_to_local
from grants.extensions import db


def days_waiting(application: Application, today: date | None = None) -> int:
    """Whole days (Beijing calendar) since the application was submitted."""
    if application.submitted_at is None:
        return 0
    return ((today or local_today()) - utc_to_local(application.submitted_at).date()).days


@panel(
    "applications.formal_check",
    _l("Applications waiting for the formal check"),
    ("bureau",),
    "applications/bureau/panels/check_queue.html",
    order=10,
)
def formal_check_queue(user) -> dict:
    """How many submitted applications wait for the formal check, and the five oldest."""
    waiting = sa.select(Application).where(Application.state == "submitted")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(waiting.subquery())) or 0
    oldest = db.session.scalars(
        waiting.options(joinedload(Application.organisation))
        .order_by(Application.submitted_at.asc(), Application.id.asc())
        .limit(5)
    ).all()
    today = local_today()
    return {"total": total, "oldest": [(a, days_waiting(a, today)) for a in oldest]}
