"""Tranche triggers: the events that make a tranche due for release, and those that cancel it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from grants.core import audit
from grants.core.types import utcnow
from grants.extensions import db
from grants.funding.live import live_project_problem
from grants.funding.models import LIVE_DISBURSEMENT_STATES, Disbursement, Tranche


def mark_due(project, trigger: str, *, milestone=None, at: datetime | None = None) -> list[Tranche]:
    """Mark the project's tranches with ``trigger`` (and ``milestone``) as due; returns them.

    Called by the events that meet a trigger: signing the task book ('contract'), the
    approval of a milestone ('milestone') and passing acceptance ('acceptance'). Tranches
    already due or cancelled are left alone, and nothing becomes due unless the project
    is live for money (read under its row lock, :mod:`grants.funding.live`). Flushes; the
    caller commits.
    """
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


def tranches_to_cancel(project) -> list[Tranche]:
    """The project's tranches that termination cancels: not cancelled and without a live disbursement."""
    live = sa.select(Disbursement.id).where(
        Disbursement.tranche_id == Tranche.id, Disbursement.state.in_(LIVE_DISBURSEMENT_STATES)
    )
    return db.session.scalars(
        sa.select(Tranche)
        .where(Tranche.project_id == project.id, Tranche.cancelled_at.is_(None), ~sa.exists(live))
        .order_by(Tranche.position)
    ).all()


def open_tranches(project) -> list[Tranche]:
    """The project's tranches neither paid nor cancelled."""
    paid = sa.exists().where(Disbursement.tranche_id == Tranche.id, Disbursement.state == "paid")
    return db.session.scalars(
        sa.select(Tranche)
        .where(Tranche.project_id == project.id, Tranche.cancelled_at.is_(None), ~paid)
        .order_by(Tranche.position, Tranche.id)
    ).all()


def cancel_for_termination(project, actor) -> list[Tranche]:
    """Cancel every tranche of a terminated project that has no live disbursement; audited."""
    with db.session.no_autoflush:
        tranches = tranches_to_cancel(project)
    for tranche in tranches:
        cancel_tranche(tranche, actor, "project.terminate", at=project.terminated_at)
    return tranches


def cancel_acceptance_tranches(project, actor) -> list[Tranche]:
    """Cancel the acceptance tranches that never fell due (a project that failed acceptance); audited."""
    tranches = db.session.scalars(
        sa.select(Tranche).where(
            Tranche.project_id == project.id,
            Tranche.trigger == "acceptance",
            Tranche.due_since.is_(None),
            Tranche.cancelled_at.is_(None),
        )
    ).all()
    for tranche in tranches:
        cancel_tranche(tranche, actor, "acceptance failed")
    return tranches


def cancel_tranche(tranche: Tranche, actor, reason: str, *, at: datetime | None = None, **extra):
    """Mark ``tranche`` cancelled (at ``at``, else now) and audit it with ``reason``."""
    tranche.cancelled_at = at or utcnow()
    audit.record(
        "tranche.cancelled",
        tranche,
        actor=actor,
        after={
            "project": tranche.project.code,
            "amount": str(tranche.amount),
            "trigger": tranche.trigger,
            "reason": reason,
            **extra,
        },
    )
