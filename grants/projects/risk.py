"""Running projects at risk: overdue milestones, silence, spending far behind the time elapsed.

A running project is at risk when

- one of its milestones is past its due date (Beijing) and still open (no report in);
- no progress report has been submitted for ``PROJECT_SILENCE_DAYS`` days (counted from
  the signing of the task book when there has never been one);
- the verified spending share of the award is below the elapsed share of the project's
  period minus ``PROJECT_SPENDING_LAG``.

The whole list costs a fixed number of queries, whatever the number of projects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from grants.core.timeutil import local_today, utc_to_local
from grants.extensions import db
from grants.projects.hooks import spent_by_category
from grants.projects.models import Milestone, ProgressReport, Project

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass
class ProjectRisk:
    """One running project and why it is (or is not) at risk."""

    project: Project
    overdue: list[Milestone] = field(default_factory=list)
    last_report_at: datetime | None = None
    silent_since: date | None = None
    silent_days: int = 0
    silent: bool = False
    spent: Decimal = ZERO
    spent_share: Decimal = ZERO
    elapsed_share: Decimal = ZERO
    spending_behind: bool = False

    @property
    def at_risk(self) -> bool:
        return bool(self.overdue) or self.silent or self.spending_behind

    @property
    def reasons(self) -> list[str]:
        """The kinds of risk, in the order they are shown: overdue, silent, spending."""
        return [
            kind
            for kind, present in (
                ("overdue", bool(self.overdue)),
                ("silent", self.silent),
                ("spending", self.spending_behind),
            )
            if present
        ]


def elapsed_share(project: Project, today: date) -> Decimal:
    """The share of the project's period gone by on ``today``, between 0 and 1."""
    total = (project.end_date - project.start_date).days
    if total <= 0:
        return ONE
    gone = (today - project.start_date).days
    return min(ONE, max(ZERO, Decimal(gone) / Decimal(total)))


def assess(projects: list[Project], today: date | None = None) -> list[ProjectRisk]:
    """The risk of each project (three queries for all of them together)."""
    today = today or local_today()
    config = current_app.config
    silence_days = int(config.get("PROJECT_SILENCE_DAYS", 120))
    lag = Decimal(str(config.get("PROJECT_SPENDING_LAG", "0.30")))
    ids = [p.id for p in projects]
    overdue: dict[int, list[Milestone]] = defaultdict(list)
    last_report: dict[int, datetime] = {}
    if ids:
        for milestone in db.session.scalars(
            sa.select(Milestone)
            .where(
                Milestone.project_id.in_(ids), Milestone.state == "open", Milestone.due_date < today
            )
            .order_by(Milestone.due_date, Milestone.position)
        ):
            overdue[milestone.project_id].append(milestone)
        last_report = dict(
            db.session.execute(
                sa.select(ProgressReport.project_id, sa.func.max(ProgressReport.submitted_at))
                .where(ProgressReport.project_id.in_(ids), ProgressReport.submitted_at.is_not(None))
                .group_by(ProgressReport.project_id)
            ).all()
        )
    spent = spent_by_category(ids)
    risks = []
    for project in projects:
        risk = ProjectRisk(project=project, overdue=overdue.get(project.id, []))
        risk.last_report_at = last_report.get(project.id)
        reference = risk.last_report_at or project.signed_at
        risk.silent_since = utc_to_local(reference).date() if reference else project.start_date
        risk.silent_days = (today - risk.silent_since).days
        risk.silent = risk.silent_days > silence_days
        risk.spent = sum(spent.get(project.id, {}).values(), ZERO)
        risk.spent_share = risk.spent / project.award if project.award else ZERO
        risk.elapsed_share = elapsed_share(project, today)
        risk.spending_behind = risk.spent_share < risk.elapsed_share - lag
        risks.append(risk)
    return risks


def running_projects() -> list[Project]:
    """Running projects with organisation and call loaded, by code."""
    return db.session.scalars(
        sa.select(Project)
        .where(Project.state == "in_progress")
        .options(joinedload(Project.organisation), joinedload(Project.call))
        .order_by(Project.code)
    ).all()


def projects_at_risk(today: date | None = None) -> list[ProjectRisk]:
    """Running projects at risk, those with the most reasons first, then by code."""
    risks = [r for r in assess(running_projects(), today) if r.at_risk]
    return sorted(risks, key=lambda r: (-len(r.reasons), r.project.code))


def percent(share: Decimal) -> int:
    """A share between 0 and 1 as a whole percentage."""
    return int((share * 100).quantize(ONE))
