"""Projects at risk: overdue milestones, silence, spending behind time; the page says why."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.core.types import utcnow
from grants.extensions import db
from grants.projects import progress as ops
from grants.projects.models import ProgressReport, Project
from grants.projects.risk import assess, elapsed_share, projects_at_risk
from tests.factories import make_user
from tests.projects.tracking_helpers import (
    bureau_officer,
    count_statements,
    outsiders,
    owner_of,
    running_project,
    verified_spending,
)


def risk_of(project):
    [risk] = assess([db.session.get(Project, project.id)])
    return risk


def healthy(**kwargs):
    """A running project with a recent report and spending in line with time."""
    project = running_project(**kwargs)
    ops.save_report(project.milestones[0], "进展顺利", {}, [], owner_of(project))
    report = db.session.scalars(
        sa.select(ProgressReport).where(ProgressReport.project_id == project.id)
    ).one()
    db.session.execute(
        sa.update(ProgressReport)
        .where(ProgressReport.id == report.id)
        .values(state="submitted", submitted_at=utcnow() - timedelta(days=10))
    )
    verified_spending(project, str(project.award * Decimal("0.25")))
    db.session.expire_all()
    return project


def test_healthy_project_is_not_at_risk(app):
    project = healthy()
    risk = risk_of(project)
    assert risk.reasons == [] and not risk.at_risk
    assert project.id not in {r.project.id for r in projects_at_risk()}


def test_overdue_milestone_is_a_reason(app):
    project = healthy(first_due_in=-1)
    risk = risk_of(project)
    assert risk.reasons == ["overdue"] and [m.id for m in risk.overdue] == [
        project.milestones[0].id
    ]


def test_silence_counts_from_the_last_report_or_the_signing(app):
    never = running_project()
    verified_spending(never, "60000")
    db.session.execute(
        sa.update(Project)
        .where(Project.id == never.id)
        .values(signed_at=utcnow() - timedelta(days=121))
    )
    db.session.expire_all()
    risk = risk_of(never)
    assert risk.reasons == ["silent"] and risk.last_report_at is None and risk.silent_days == 121
    recent = running_project()
    verified_spending(recent, "60000")
    db.session.execute(
        sa.update(Project)
        .where(Project.id == recent.id)
        .values(signed_at=utcnow() - timedelta(days=120))
    )
    db.session.expire_all()
    assert risk_of(recent).reasons == []


def test_silence_threshold_is_configurable(app, monkeypatch):
    project = healthy()
    monkeypatch.setitem(app.config, "PROJECT_SILENCE_DAYS", 5)
    assert risk_of(project).reasons == ["silent"]


def test_spending_far_behind_time_is_a_reason(app):
    # 200 of 730 days gone (27 %): the lag of 30 points is not reached even without spending.
    assert risk_of(healthy()).spending_behind is False
    late = running_project(started_days_ago=500)  # 68 % of the period gone
    ops.save_report(late.milestones[0], "x", {}, [], owner_of(late))
    db.session.execute(sa.update(Project).where(Project.id == late.id).values(signed_at=utcnow()))
    verified_spending(late, "70000")  # 35 % of 200,000: 35 < 68 - 30
    db.session.expire_all()
    risk = risk_of(late)
    assert risk.reasons == ["spending"] and risk.spent == Decimal("70000.00")
    assert risk.spent_share == Decimal("0.35")
    verified_spending(late, "10000")  # 40 %: no longer far behind
    assert risk_of(late).reasons == []


def test_only_verified_spending_counts(app):
    late = running_project(started_days_ago=600)
    db.session.execute(sa.update(Project).where(Project.id == late.id).values(signed_at=utcnow()))
    item = verified_spending(late, "150000")
    db.session.execute(
        sa.update(type(item))
        .where(type(item).id == item.id)
        .values(state="submitted", verified_at=None)
    )
    db.session.expire_all()
    assert risk_of(late).reasons == ["spending"]


def test_elapsed_share_is_clamped(app):
    project = running_project()
    assert elapsed_share(project, project.start_date - timedelta(days=10)) == 0
    assert elapsed_share(project, project.end_date + timedelta(days=10)) == 1


def test_at_risk_page_lists_each_reason(app, english_ui, login, client):
    overdue = healthy(first_due_in=-3)
    silent = running_project()
    db.session.execute(
        sa.update(Project)
        .where(Project.id == silent.id)
        .values(signed_at=utcnow() - timedelta(days=200))
    )
    verified_spending(silent, "60000")
    fine = healthy()
    login(bureau_officer())
    response = client.get("/projects/at-risk")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-project-id="{overdue.id}" data-reasons="overdue"' in html
    assert f'data-project-id="{silent.id}" data-reasons="silent"' in html
    assert f'data-project-id="{fine.id}"' not in html
    assert "3 days ago" in html and "since the task book was signed" in html


@pytest.mark.parametrize("who", ["finance", "expert", "other_owner"])
def test_at_risk_page_for_the_bureau_only(app, login, client, who):
    login(outsiders()[who])
    assert client.get("/projects/at-risk").status_code == 403


def test_at_risk_statement_count_is_constant(app, login, client):
    login(make_user("bureau"))
    healthy(first_due_in=-3)
    client.get("/projects/at-risk")
    with count_statements() as few:
        client.get("/projects/at-risk")
    for _ in range(4):
        healthy(first_due_in=-3)
        running_project()
    with count_statements() as many:
        assert client.get("/projects/at-risk").status_code == 200
    assert many["n"] == few["n"]
