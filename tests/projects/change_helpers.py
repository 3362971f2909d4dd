"""Helpers for the change request and termination tests: people around one project, proposals, rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.extensions import db
from grants.funding.models import Disbursement, Expenditure
from grants.notifications.models import Notification
from grants.projects import changes as ops
from grants.projects.models import ChangeRequest, Project
from tests.factories import make_project, make_user

_keys = itertools.count(1)


@dataclass
class Cast:
    """A running project and everyone who might act on it."""

    project: Project
    owner: object
    bureau: object
    finance: object
    expert: object
    outsider: object

    def everyone(self) -> dict:
        return {
            "owner": self.owner,
            "bureau": self.bureau,
            "finance": self.finance,
            "expert": self.expert,
            "outsider": self.outsider,
        }


def cast(**project_kwargs) -> Cast:
    """A project in progress with its owner, a bureau officer, finance, an expert and another organisation's user."""
    project = make_project(**project_kwargs)
    return Cast(
        project=project,
        owner=make_user("applicant", organisation=project.organisation),
        bureau=make_user("bureau"),
        finance=make_user("finance"),
        expert=make_user("expert"),
        outsider=make_user("applicant"),
    )


def proposal(project: Project, kind: str, **changes) -> dict:
    """The proposal a new request of ``kind`` starts from, with ``changes`` laid over it."""
    values = ops.starting_values(project, kind)
    values.update(changes)
    return values


def extension(project: Project, months: int = 6) -> dict:
    """A proposal extending the project by ``months`` and moving every open milestone as far."""
    return {
        "end_date": ops.add_months(project.end_date, months).isoformat(),
        "milestones": [
            {"id": m.id, "due_date": ops.add_months(m.due_date, months).isoformat()}
            for m in ops.open_milestones(project)
        ],
    }


def budget_moving(
    project: Project,
    amount: str,
    source: str = "equipment",
    target: str = "business",
    self_raised: dict | None = None,
) -> dict:
    """A budget proposal moving ``amount`` yuan of fiscal funds from ``source`` to ``target``."""
    lines = ops.current_values(project, "budget")["lines"]
    lines[source]["fiscal"] = str(Decimal(lines[source]["fiscal"]) - Decimal(amount))
    lines[target]["fiscal"] = str(Decimal(lines[target]["fiscal"]) + Decimal(amount))
    for category, value in (self_raised or {}).items():
        lines[category]["self_raised"] = value
    return {"lines": lines}


def submitted(
    project: Project, kind: str, proposed: dict, owner, reason: str = "实施需要调整"
) -> ChangeRequest:
    """A change request drafted and submitted by the owner."""
    return ops.draft_change(project, kind, owner, reason=reason, proposed=proposed, submit=True)


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def audit_events(action: str, obj=None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if obj is not None:
        stmt = stmt.where(
            AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == str(obj.id)
        )
    return db.session.scalars(stmt).all()


def inbox(user, kind: str | None = None) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.user_id == user.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return db.session.scalars(stmt).all()


def verified_spending(project: Project, category: str, amount: str) -> Expenditure:
    """A verified spending report line in ``category``."""
    day = date(project.year, 6, 30)
    expenditure = Expenditure(
        project_id=project.id,
        category=category,
        period_start=day - timedelta(days=29),
        period_end=day,
        amount=Decimal(amount),
        state="verified",
        verified_at=utcnow(),
    )
    db.session.add(expenditure)
    db.session.flush()
    return expenditure


def live_disbursement(
    project: Project, tranche, requester, state: str = "requested"
) -> Disbursement:
    """A disbursement of ``tranche`` requested by ``requester`` (``rejected`` ones carry a reason)."""
    extra = {"rejection_reason": "账户信息有误"} if state == "rejected" else {}
    disbursement = Disbursement(
        project_id=project.id,
        tranche_id=tranche.id,
        amount=tranche.amount,
        state=state,
        idempotency_key=f"test-{next(_keys)}",
        requested_by_id=requester.id,
        **extra,
    )
    db.session.add(disbursement)
    db.session.flush()
    if state in ("requested", "approved", "paid"):  # the money reserved, as requesting does
        from grants.funding.disbursements import reserve

        reserve(project, tranche.amount)
    return disbursement
