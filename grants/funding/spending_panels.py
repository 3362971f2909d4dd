"""Dashboard panels of spending: reports waiting for finance, returned reports waiting for the owner."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from grants.core.dashboard import panel
from grants.extensions import db
from grants.funding.models import Expenditure
from grants.projects.models import Project

SHOWN = 8


@panel(
    "funding.spending_to_verify",
    _l("Spending reports waiting for verification"),
    ("finance",),
    "funding/spending/panels/to_verify.html",
    order=30,
)
def spending_to_verify(user) -> dict | None:
    """The number of submitted spending reports and the oldest few."""
    count = db.session.scalar(
        sa.select(sa.func.count(Expenditure.id)).where(Expenditure.state == "submitted")
    )
    if not count:
        return None
    oldest = db.session.scalars(
        sa.select(Expenditure)
        .where(Expenditure.state == "submitted")
        .options(selectinload(Expenditure.project))
        .order_by(Expenditure.submitted_at, Expenditure.id)
        .limit(SHOWN)
    ).all()
    return {"count": count, "oldest": oldest}


@panel(
    "funding.spending_returned",
    _l("Spending reports returned for correction"),
    ("applicant",),
    "funding/spending/panels/returned.html",
    order=30,
)
def spending_returned(user) -> dict | None:
    """The organisation's spending reports that finance returned, waiting for a correction."""
    if getattr(user, "organisation_id", None) is None:
        return None
    returned = db.session.scalars(
        sa.select(Expenditure)
        .join(Project, Project.id == Expenditure.project_id)
        .where(
            Project.organisation_id == user.organisation_id,
            Expenditure.state == "returned",
            Project.state.in_(("in_progress", "acceptance_review")),
        )
        .options(selectinload(Expenditure.project))
        .order_by(Expenditure.verified_at, Expenditure.id)
    ).all()
    return {"returned": returned} if returned else None
