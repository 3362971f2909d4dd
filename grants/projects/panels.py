"""Dashboard panels of project tracking: milestones for owners, reviews and risks for the bureau."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager

from grants.core.dashboard import panel
from grants.core.timeutil import local_today
from grants.extensions import db
from grants.projects.models import Milestone, ProgressReport, Project
from grants.projects.progress import waiting_count, waiting_reports
from grants.projects.risk import projects_at_risk

DUE_WITHIN_DAYS = 30


@panel(
    "projects.milestones_due",
    _l("Milestones of your projects"),
    ("applicant",),
    "projects/tracking/panels/milestones_due.html",
    order=15,
)
def milestones_due(user) -> dict | None:
    """Open milestones of the organisation's running projects due within 30 days or overdue."""
    if user.organisation_id is None:
        return None
    today = local_today()
    running = (
        db.session.scalar(
            sa.select(sa.func.count(Project.id)).where(
                Project.organisation_id == user.organisation_id, Project.state == "in_progress"
            )
        )
        or 0
    )
    if not running:
        return None
    milestones = db.session.scalars(
        sa.select(Milestone)
        .join(Milestone.project)
        .where(
            Project.organisation_id == user.organisation_id,
            Project.state == "in_progress",
            Milestone.state == "open",
            Milestone.due_date <= today + timedelta(days=DUE_WITHIN_DAYS),
        )
        .options(contains_eager(Milestone.project))
        .order_by(Milestone.due_date, Milestone.id)
    ).all()
    returned = db.session.scalars(
        sa.select(ProgressReport)
        .join(ProgressReport.project)
        .where(Project.organisation_id == user.organisation_id, ProgressReport.state == "returned")
        .options(contains_eager(ProgressReport.project))
        .order_by(ProgressReport.reviewed_at)
    ).all()
    return {
        "overdue": [m for m in milestones if m.due_date < today],
        "due_soon": [m for m in milestones if m.due_date >= today],
        "returned": returned,
        "today": today,
        "days": DUE_WITHIN_DAYS,
    }


@panel(
    "projects.reports_waiting",
    _l("Progress reports waiting for review"),
    ("bureau",),
    "projects/tracking/panels/reports_waiting.html",
    order=40,
)
def reports_waiting(user) -> dict:
    return {"total": waiting_count(), "latest": waiting_reports(limit=5)}


@panel(
    "projects.at_risk",
    _l("Projects at risk"),
    ("bureau",),
    "projects/tracking/panels/at_risk.html",
    order=41,
)
def at_risk(user) -> dict:
    risks = projects_at_risk()
    return {"total": len(risks), "latest": risks[:5]}
