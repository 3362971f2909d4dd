"""Dashboard panels of acceptance: the bureau's projects awaiting a panel or a conclusion,
finance's final statements to verify, and the expert's acceptance reviews."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.core.dashboard import panel
from grants.extensions import db
from grants.projects import acceptance as ops
from grants.projects.models import FinalReport, Project
from grants.review.experts import expert_for_user
from grants.review.models import Assignment, Review

LISTED = 5


@panel(
    "projects.acceptance_bureau",
    _l("Acceptance: panels and conclusions"),
    ("bureau",),
    "projects/acceptance/panels/bureau.html",
    order=46,
)
def bureau_acceptance(user) -> dict | None:
    """Projects in acceptance review without an expert invited, and those ready for a conclusion."""
    projects = db.session.scalars(
        sa.select(Project)
        .where(Project.state == "acceptance_review")
        .order_by(Project.acceptance_requested_at, Project.id)
    ).all()
    awaiting_panel, ready = [], []
    for project in projects:
        state = ops.panel_state(project)
        report = ops.current_report(project)
        if not state.open_count and not state.submitted:
            awaiting_panel.append(project)
        elif state.quorate and report is not None and report.state == "verified":
            ready.append(project)
    if not awaiting_panel and not ready:
        return None
    return {
        "awaiting_panel": awaiting_panel[:LISTED],
        "awaiting_panel_count": len(awaiting_panel),
        "ready": ready[:LISTED],
        "ready_count": len(ready),
    }


@panel(
    "projects.acceptance_finance",
    _l("Final statements to verify"),
    ("finance",),
    "projects/acceptance/panels/finance.html",
    order=46,
)
def statements_to_verify(user) -> dict | None:
    """Submitted final reports whose statement awaits finance."""
    stmt = (
        sa.select(FinalReport)
        .join(FinalReport.project)
        .where(FinalReport.state == "submitted", Project.state == "acceptance_review")
        .options(joinedload(FinalReport.project))
        .order_by(FinalReport.submitted_at, FinalReport.id)
    )
    reports = db.session.scalars(stmt.limit(LISTED)).all()
    if not reports:
        return None
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    return {"reports": reports, "total": total}


@panel(
    "projects.acceptance_expert",
    _l("Acceptance reviews"),
    ("expert",),
    "projects/acceptance/panels/expert.html",
    order=16,
)
def expert_acceptance_reviews(user) -> dict | None:
    """The expert's open acceptance invitations and accepted acceptance reviews not yet submitted."""
    expert = expert_for_user(user)
    if expert is None:
        return None
    submitted = sa.exists().where(
        Review.assignment_id == Assignment.id, Review.state == "submitted"
    )
    items = db.session.scalars(
        sa.select(Assignment)
        .join(Project, Project.application_id == Assignment.application_id)
        .where(
            Assignment.expert_id == expert.id,
            Assignment.purpose == "acceptance",
            Project.state == "acceptance_review",
            sa.or_(
                Assignment.state == "invited", sa.and_(Assignment.state == "accepted", ~submitted)
            ),
        )
        .options(joinedload(Assignment.application))
        .order_by(Assignment.due_at, Assignment.id)
    ).all()
    if not items:
        return None
    return {
        "invitations": [a for a in items if a.state == "invited"],
        "to_write": [a for a in items if a.state == "accepted"],
    }
