"""Dashboard panels of the applicants' side of applications."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.applications.checks import eligibility_problems, section_problems
from grants.applications.models import Application
from grants.core.dashboard import panel
from grants.core.types import utcnow
from grants.extensions import db
from grants.programmes.models import Call

CLOSING_SOON_DAYS = 7
SHOWN = 5


@panel(
    "applications.my_drafts",
    _l("Your applications to finish"),
    ("applicant",),
    "applications/drafting/panels/my_applications.html",
    order=10,
)
def my_drafts(user) -> dict | None:
    """The organisation's drafts and returned applications with what each still lacks."""
    if user.organisation_id is None:
        return None
    returned_first = sa.case((Application.state == "returned", 0), else_=1)
    applications = db.session.scalars(
        sa.select(Application)
        .where(
            Application.organisation_id == user.organisation_id,
            Application.state.in_(("draft", "returned")),
        )
        .options(joinedload(Application.call))
        .order_by(returned_first, Application.updated_at.desc())
        .limit(SHOWN)
    ).all()
    if not applications:
        return None
    rows = []
    for application in applications:
        problems = [p for items in section_problems(application).values() for p in items]
        rows.append((application, problems + eligibility_problems(application)))
    return {"applications": rows}


@panel(
    "applications.closing_calls",
    _l("Calls closing within 7 days"),
    ("applicant",),
    "applications/drafting/panels/closing_calls.html",
    order=12,
)
def closing_calls(user) -> dict | None:
    """Open calls whose close time is less than a week away."""
    now = utcnow()
    calls = db.session.scalars(
        sa.select(Call)
        .where(
            Call.state == "published",
            Call.opens_at <= now,
            Call.closes_at > now,
            Call.closes_at <= now + timedelta(days=CLOSING_SOON_DAYS),
        )
        .order_by(Call.closes_at, Call.id)
    ).all()
    return {"calls": calls} if calls else None
