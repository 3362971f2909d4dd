"""Dashboard panel of decisions: calls waiting for a decision, running notices, open objections."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.applications.models import Application
from grants.core.dashboard import panel
from grants.core.timeutil import local_today
from grants.extensions import db
from grants.programmes.models import Call
from grants.review.models import Objection, PublicNotice


@panel(
    "review.decisions",
    _l("Decisions and public notices"),
    ("bureau", "admin"),
    "review/decisions/panels/decisions.html",
    order=40,
)
def decisions_panel(user) -> dict | None:
    """Calls with reviewed applications awaiting a decision, published notices, open objections."""
    awaiting = db.session.execute(
        sa.select(Call, sa.func.count(Application.id))
        .join(Application, Application.call_id == Call.id)
        .where(Application.state == "reviewed")
        .group_by(Call.id)
        .order_by(Call.id)
    ).all()
    notices = db.session.scalars(
        sa.select(PublicNotice)
        .where(PublicNotice.state == "published")
        .order_by(PublicNotice.ends_on, PublicNotice.id)
    ).all()
    objections = db.session.scalars(
        sa.select(Objection)
        .where(Objection.state == "open")
        .order_by(Objection.received_on, Objection.id)
        .limit(10)
    ).all()
    if not (awaiting or notices or objections):
        return None
    today = local_today()
    return {
        "awaiting": [(call, count) for call, count in awaiting],
        "notices": [(n, (n.ends_on - today).days) for n in notices],
        "objections": objections,
    }
