"""Dashboard panels of contracting: applications ready to contract (bureau), task books
waiting for their signed copy (applicants)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.applications.models import Application
from grants.core.dashboard import panel
from grants.extensions import db
from grants.funding.contracting import decision_amount, signed_copy
from grants.projects.models import Project
from grants.review.decisions import contract_blockers

SHOWN = 8


@panel(
    "funding.ready_to_contract",
    _l("Contracting"),
    ("bureau", "admin"),
    "funding/contracts/panels/ready.html",
    order=45,
)
def ready_to_contract(user) -> dict | None:
    """Approved applications with nothing standing in the way of their contract."""
    approved = db.session.scalars(
        sa.select(Application)
        .where(Application.state == "approved")
        .options(joinedload(Application.call))
        .order_by(Application.reference_no, Application.id)
    ).all()
    ready = [a for a in approved if not contract_blockers(a)]
    waiting = (
        db.session.scalar(
            sa.select(sa.func.count(Project.id)).where(Project.state == "contracting")
        )
        or 0
    )
    if not ready and not waiting:
        return None
    return {
        "ready": [(a, decision_amount(a)) for a in ready[:SHOWN]],
        "blocked": len(approved) - len(ready),
        "waiting": waiting,
    }


@panel(
    "funding.task_books_to_sign",
    _l("Task books to sign"),
    ("applicant",),
    "funding/contracts/panels/to_sign.html",
    order=8,
)
def task_books_to_sign(user) -> dict | None:
    """The organisation's projects whose task book waits for the signed copy or its confirmation."""
    if user.organisation_id is None:
        return None
    projects = db.session.scalars(
        sa.select(Project)
        .where(Project.organisation_id == user.organisation_id, Project.state == "contracting")
        .order_by(Project.created_at, Project.id)
        .limit(SHOWN)
    ).all()
    if not projects:
        return None
    return {"projects": [(p, signed_copy(p)) for p in projects]}
