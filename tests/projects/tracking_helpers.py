"""Helpers for the project tracking tests: running projects with dated milestones, people, counters."""

from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from werkzeug.datastructures import FileStorage

from grants.core.models import AuditEvent
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.extensions import db
from grants.funding.models import Expenditure, Tranche
from grants.notifications.models import Notification
from grants.projects.models import Milestone, ProgressReport, Project
from tests.factories import OrganisationFactory, make_project, make_user

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf_upload(name: str = "中试报告.pdf") -> FileStorage:
    return FileStorage(stream=io.BytesIO(PDF_BYTES), filename=name, content_type="application/pdf")


def running_project(
    organisation=None,
    *,
    today: date | None = None,
    first_due_in: int = 30,
    started_days_ago: int = 200,
    **kwargs,
) -> Project:
    """A signed, running project whose first milestone falls due ``first_due_in`` days after ``today``.

    The period began ``started_days_ago`` days ago and lasts two years; the second milestone
    is due a year after the first. Its tranche plan waits for the first milestone.
    """
    today = today or local_today()
    start = today - timedelta(days=started_days_ago)
    project = make_project(
        state="in_progress",
        organisation=organisation or OrganisationFactory(),
        start_date=start,
        end_date=start + timedelta(days=730),
        **kwargs,
    )
    for i, milestone in enumerate(project.milestones):
        milestone.due_date = today + timedelta(days=first_due_in + 365 * i)
    db.session.flush()
    return project


def owner_of(project: Project, **kwargs):
    """An applicant of the project's organisation who reads English."""
    kwargs.setdefault("locale", "en")
    return make_user("applicant", organisation=project.organisation, **kwargs)


def bureau_officer(**kwargs):
    kwargs.setdefault("locale", "en")
    return make_user("bureau", **kwargs)


def outsiders() -> dict:
    """Users who may not act on someone else's project: another organisation, finance, an expert."""
    return {
        "other_owner": make_user("applicant", organisation=OrganisationFactory(), locale="en"),
        "finance": make_user("finance", locale="en"),
        "expert": make_user("expert", locale="en"),
    }


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def report_of(milestone: Milestone) -> ProgressReport | None:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(ProgressReport)
        .where(ProgressReport.milestone_id == milestone.id)
        .order_by(ProgressReport.id.desc())
    ).first()


def milestone_tranche(project: Project) -> Tranche:
    return db.session.scalars(
        sa.select(Tranche).where(Tranche.project_id == project.id, Tranche.trigger == "milestone")
    ).one()


def verified_spending(project: Project, amount: str, category: str = "equipment") -> Expenditure:
    """A verified spending report line (written directly: the spending pages are another helper's)."""
    today = local_today()
    item = Expenditure(
        project_id=project.id,
        category=category,
        period_start=project.start_date,
        period_end=today,
        amount=Decimal(amount),
        state="verified",
        submitted_at=utcnow(),
        verified_at=utcnow(),
    )
    db.session.add(item)
    db.session.flush()
    return item


def notifications_of(user, kind: str | None = None) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return db.session.scalars(stmt).all()


def audit_events(action: str, obj=None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if obj is not None:
        stmt = stmt.where(
            AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == str(obj.id)
        )
    return db.session.scalars(stmt).all()


@contextmanager
def count_statements():
    """Count the SELECT statements sent to the database inside the block."""
    counter = {"n": 0, "statements": []}

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            counter["n"] += 1
            counter["statements"].append(statement)

    sa.event.listen(Engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        sa.event.remove(Engine, "before_cursor_execute", before)
