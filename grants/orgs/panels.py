"""Dashboard panels of the organisations domain."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.core.dashboard import panel
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs import operations as ops
from grants.orgs.models import Invitation, Organisation

NEW_REGISTRATION_DAYS = 30


@panel(
    "orgs.profile_checklist",
    _l("Your organisation's profile"),
    ("applicant",),
    "orgs/panels/profile_checklist.html",
    order=20,
)
def profile_checklist(user) -> dict | None:
    """What the applicant's organisation profile lacks before applying."""
    org = user.organisation
    if org is None:
        return None
    today = ops.local_today()
    last_year = today.year - 1
    return {
        "org": org,
        "cluster_missing": org.cluster_id is None,
        "last_year": last_year,
        "figures_missing": all(f.year != last_year for f in org.figures),
        "qualification_alerts": ops.qualification_alerts(org, today),
    }


@panel(
    "orgs.pending_invitations",
    _l("Open invitations of your organisation"),
    ("applicant",),
    "orgs/panels/pending_invitations.html",
    order=25,
)
def pending_invitations(user) -> dict | None:
    """Invitations the applicant's organisation has sent that nobody has accepted yet."""
    if user.organisation_id is None:
        return None
    invitations = db.session.scalars(
        sa.select(Invitation)
        .where(Invitation.organisation_id == user.organisation_id, Invitation.state == "pending")
        .order_by(Invitation.created_at.desc())
        .limit(5)
    ).all()
    return {"invitations": invitations, "now": utcnow()} if invitations else None


@panel(
    "orgs.new_registrations",
    _l("Organisations registered in the last 30 days"),
    ("bureau",),
    "orgs/panels/new_registrations.html",
    order=30,
)
def new_registrations(user) -> dict:
    since = utcnow() - timedelta(days=NEW_REGISTRATION_DAYS)
    recent = sa.select(Organisation).where(Organisation.created_at >= since)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(recent.subquery())) or 0
    latest = db.session.scalars(
        recent.order_by(Organisation.created_at.desc(), Organisation.id.desc()).limit(5)
    ).all()
    return {"total": total, "latest": latest}
