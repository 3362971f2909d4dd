"""Helpers for the acceptance tests: a project ready for acceptance and the people around it,
a complete final report, verified spending, panel experts and their submitted reviews."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.funding.models import Disbursement, Expenditure
from grants.notifications.models import Notification
from grants.projects import acceptance as ops
from grants.projects.models import FinalReport, Milestone, Project
from grants.review import scoring
from grants.review.models import Assignment
from tests.factories import ExpertFactory, make_project, make_user

LONG_COMMENT = (
    "项目按任务书完成了全部研究内容，绩效指标基本达成，经费使用规范，成果具有较好的应用前景；"
    "建议进一步加强成果转化与产业化推广，完善知识产权布局。"
)
_keys = itertools.count(1)


@dataclass
class Cast:
    """A project ready for acceptance and everyone who acts on it."""

    project: Project
    owner: object
    bureau: object
    finance: object
    outsider: object
    experts: list = field(default_factory=list)


def ready_project(**kwargs) -> Project:
    """A project in progress whose milestones are all achieved (the tranche plan: 30 % contract, 70 % acceptance)."""
    project = make_project(milestones=0, **kwargs)
    year = project.year
    for i in range(2):
        project.milestones.append(
            Milestone(
                position=i + 1,
                title=f"里程碑{i + 1}",
                deliverable="阶段报告",
                due_date=date(year + i, 6, 30),
                state="achieved",
                achieved_at=utcnow() - timedelta(days=30),
            )
        )
    db.session.flush()
    return project


def cast(**kwargs) -> Cast:
    project = ready_project(**kwargs)
    return Cast(
        project=project,
        owner=make_user("applicant", organisation=project.organisation),
        bureau=make_user("bureau"),
        finance=make_user("finance"),
        outsider=make_user("applicant"),
    )


def verified_spending(project: Project, category: str, amount: str) -> Expenditure:
    """A spending report line finance has verified."""
    now = utcnow()
    row = Expenditure(
        project_id=project.id,
        category=category,
        period_start=date(project.year, 1, 1),
        period_end=date(project.year, 6, 30),
        amount=Decimal(amount),
        note="材料采购",
        state="verified",
        verified_at=now,
        submitted_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def report_values(project: Project, **changes) -> dict:
    """A complete final report: summary, every KPI achieved, every statement line."""
    values = {
        "summary": "项目完成了中药提取过程在线监测与自动控制系统的研制，并在企业生产线上应用。",
        "kpi_achieved": {k.kind: k.target + 1 for k in project.kpis},
        "statement": {
            line.category: line.fiscal - Decimal("1000.00") for line in project.budget_lines
        },
    }
    values.update(changes)
    return values


def submit_report(c: Cast, **changes) -> FinalReport:
    """The owner submits a complete final report: the project goes into acceptance review."""
    return ops.submit_final_report(c.project, c.owner, **report_values(c.project, **changes))


def verify(c: Cast) -> FinalReport:
    return ops.verify_statement(ops.current_report(c.project), c.finance)


def panel_expert(**kwargs):
    """An active expert of the pool with an account (employer unrelated to any project)."""
    return ExpertFactory(**kwargs)


def join_panel(c: Cast, expert, *, accept: bool = True) -> Assignment:
    """Invite ``expert`` to the project's panel (and let them accept, declaring no conflict)."""
    assignment = ops.invite_panel_expert(c.project, expert, c.bureau, utcnow() + timedelta(days=14))
    if accept:
        transition(assignment, "accept", expert.user, no_conflict=True)
    c.experts.append(expert)
    return assignment


def score(assignment: Assignment, values=(8, 8, 8, 8), recommendation: str = "fund"):
    """The expert scores the acceptance criteria (in rubric order) and submits the review."""
    criteria = scoring.criteria_for(assignment)
    user = assignment.expert.user
    review = scoring.save_draft(
        assignment,
        user,
        scores={c.id: Decimal(str(v)) for c, v in zip(criteria, values, strict=True)},
        comment=LONG_COMMENT,
        recommendation=recommendation,
    )
    return scoring.submit_review(review, user)


def scored_panel(
    c: Cast, size: int = 3, values=((8, 8, 8, 8), (9, 9, 9, 9), (7, 7, 7, 7))
) -> list[Assignment]:
    """A panel of ``size`` experts who accepted and submitted their reviews."""
    assignments = []
    for n in range(size):
        assignment = join_panel(c, panel_expert())
        score(assignment, values[n % len(values)])
        assignments.append(assignment)
    return assignments


def pay(tranche, c: Cast) -> Disbursement:
    """A paid disbursement of ``tranche`` (money moves through the project's totals)."""
    project = tranche.project
    requester, approver = make_user("bureau"), make_user("finance")
    now = utcnow()
    d = Disbursement(
        project_id=project.id,
        tranche_id=tranche.id,
        amount=tranche.amount,
        state="paid",
        idempotency_key=f"test-{next(_keys)}",
        requested_by_id=requester.id,
        requested_at=now,
        payee_name=project.organisation.name,
        payee_bank="中国银行",
        payee_account="6217000000000001",
        approved_by_id=approver.id,
        approved_at=now,
        voucher_no=f"V{next(_keys)}",
        voucher_date=date.today(),
        paid_by_id=approver.id,
        paid_at=now,
    )
    db.session.add(d)
    project.committed_total += tranche.amount
    project.disbursed_total += tranche.amount
    db.session.flush()
    return d


def inbox(user, kind: str | None = None) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return db.session.scalars(stmt).all()


def audit_events(action: str) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)
