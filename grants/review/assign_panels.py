"""Dashboard panels of assignment: the expert's open invitations and due reviews, and the
bureau's declined invitations awaiting a replacement."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from grants.applications.models import Application
from grants.core.dashboard import panel
from grants.core.types import utcnow
from grants.extensions import db
from grants.review.assignments import declined_awaiting_replacement
from grants.review.experts import expert_for_user
from grants.review.models import Assignment, Review

DUE_SOON = timedelta(days=3)
LISTED = 5


@panel(
    "review.my_assignments", _l("Your reviews"), ("expert",), "review/expert/panel.html", order=15
)
def my_assignments(user) -> dict | None:
    """Open invitations, and accepted reviews due within three days or overdue."""
    expert = expert_for_user(user)
    if expert is None:
        return None
    now = utcnow()
    submitted = sa.exists().where(
        Review.assignment_id == Assignment.id, Review.state == "submitted"
    )
    base = (
        sa.select(Assignment)
        .join(Assignment.application)
        .where(Assignment.expert_id == expert.id, Application.state == "under_review")
        .options(joinedload(Assignment.application), selectinload(Assignment.review))
        .order_by(Assignment.due_at, Assignment.id)
    )
    invitations = db.session.scalars(base.where(Assignment.state == "invited")).all()
    pressing = db.session.scalars(
        base.where(Assignment.state == "accepted", ~submitted, Assignment.due_at <= now + DUE_SOON)
    ).all()
    open_reviews = (
        db.session.scalar(
            sa.select(sa.func.count(Assignment.id))
            .join(Assignment.application)
            .where(
                Assignment.expert_id == expert.id,
                Assignment.state == "accepted",
                ~submitted,
                Application.state == "under_review",
            )
        )
        or 0
    )
    if not invitations and not open_reviews:
        return None
    return {
        "invitations": invitations[:LISTED],
        "invitation_count": len(invitations),
        "pressing": pressing[:LISTED],
        "open_reviews": open_reviews,
        "now": now,
    }


@panel(
    "review.declined_awaiting",
    _l("Declined invitations awaiting a replacement"),
    ("bureau",),
    "review/assign/panel_declined.html",
    order=35,
)
def declined_awaiting(user) -> dict | None:
    """Declined invitations of applications under review that nobody replaced yet."""
    declined = declined_awaiting_replacement()
    if not declined:
        return None
    return {"total": len(declined), "latest": declined[:LISTED]}
