"""Tranche triggers: the events that make a tranche due for release."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from grants.core import audit
from grants.core.types import utcnow
from grants.extensions import db
from grants.funding.models import Tranche


def mark_due(project, trigger: str, *, milestone=None, at: datetime | None = None) -> list[Tranche]:
    """Mark the project's tranches with ``trigger`` (and ``milestone``) as due; returns them.

    Called by the events that meet a trigger: signing the task book ('contract'), the
    approval of a milestone ('milestone') and passing acceptance ('acceptance'). Tranches
    already due or cancelled are left alone, and nothing becomes due unless the project
    is live for money (read under its row lock, :mod:`grants.funding.live`). Flushes; the
    caller commits.
    """
    from grants.funding.live import live_project_problem

    if live_project_problem(project):
        return []
    stmt = sa.select(Tranche).where(
        Tranche.project_id == project.id,
        Tranche.trigger == trigger,
        Tranche.due_since.is_(None),
        Tranche.cancelled_at.is_(None),
    )
    if milestone is not None:
        stmt = stmt.where(Tranche.milestone_id == milestone.id)
    tranches = list(db.session.scalars(stmt))
    when = at or utcnow()
    for tranche in tranches:
        tranche.due_since = when
        audit.record(
            "tranche.due",
            tranche,
            after={"project": project.code, "trigger": trigger, "amount": str(tranche.amount)},
        )
    db.session.flush()
    return tranches


def is_due(tranche: Tranche) -> bool:
    """Whether the tranche's trigger has been met and it has not been cancelled."""
    return tranche.due_since is not None and tranche.cancelled_at is None
