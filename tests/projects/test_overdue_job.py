"""The daily overdue check on a frozen clock: Beijing dates, once per milestone, idempotent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

import grants.projects.jobs as jobs
from grants.core.jobs import JOB_FUNCTIONS, enqueue
from grants.core.models import Job
from grants.core.scheduler import SCHEDULES
from grants.extensions import db
from grants.projects import progress as ops
from tests.factories import make_user
from tests.projects.tracking_helpers import (
    audit_events,
    bureau_officer,
    notifications_of,
    owner_of,
    reload,
    running_project,
)

# 2027-03-01 00:30 in Beijing is still 2027-02-28 16:30 in UTC.
NOW = datetime(2027, 2, 28, 16, 30, tzinfo=UTC)
TODAY = date(2027, 3, 1)


def project_due(days_from_today: int, **kwargs):
    return running_project(today=TODAY, first_due_in=days_from_today, **kwargs)


def test_overdue_uses_the_beijing_date(app):
    yesterday = project_due(-1)  # due 2027-02-28: in Beijing that day is over
    today = project_due(0)
    counts = jobs.notify_overdue_milestones(NOW)
    assert counts == {"milestones": 1, "projects": 1}
    assert reload(yesterday.milestones[0]).overdue_notified_at == NOW
    assert reload(today.milestones[0]).overdue_notified_at is None
    assert (
        jobs.notify_overdue_milestones(NOW - timedelta(hours=1))["milestones"] == 0
    )  # still 02-28 in Beijing


def test_owner_and_bureau_told_once_per_milestone(app):
    project = project_due(-10)
    owner = owner_of(project)
    colleague = owner_of(project)
    officer = bureau_officer()
    outsider = make_user("applicant", locale="en")
    assert jobs.notify_overdue_milestones(NOW)["milestones"] == 1
    for user in (owner, colleague):
        [message] = notifications_of(user, "milestone.overdue")
        assert project.code in message.subject and project.milestones[0].title in message.body
        assert "10 days overdue" in message.body
        assert message.link == f"/projects/{project.id}/milestones"
    [alert] = notifications_of(officer, "milestone.overdue")
    assert project.code in alert.body and project.organisation.name in alert.body
    assert alert.link == "/projects/at-risk"
    assert notifications_of(outsider) == []
    [event] = audit_events("milestone.overdue_notified")
    assert event.after["milestones"] == [project.milestones[0].id] and event.actor_id is None
    for later in (NOW, NOW + timedelta(days=1), NOW + timedelta(days=30)):
        assert jobs.notify_overdue_milestones(later) == {"milestones": 0, "projects": 0}
    assert len(notifications_of(owner, "milestone.overdue")) == 1
    assert len(notifications_of(officer, "milestone.overdue")) == 1


def test_bureau_gets_one_message_listing_every_new_overdue_milestone(app):
    first = project_due(-3)
    second = project_due(-40)
    officer = bureau_officer()
    assert jobs.notify_overdue_milestones(NOW) == {"milestones": 2, "projects": 2}
    [alert] = notifications_of(officer, "milestone.overdue")
    assert "2" in alert.subject and first.code in alert.body and second.code in alert.body


def test_reported_achieved_and_stopped_projects_are_not_overdue(app):
    reported = project_due(-5)
    ops.save_report(reported.milestones[0], "已完成", {}, [], owner_of(reported), submit=True)
    achieved = project_due(-5)
    ops.save_report(achieved.milestones[0], "已完成", {}, [], owner_of(achieved), submit=True)
    ops.approve_report(ops.waiting_reports()[-1], bureau_officer())
    stopped = project_due(-5)
    db.session.execute(
        sa.update(type(stopped))
        .where(type(stopped).id == stopped.id)
        .values(state="terminated", terminated_at=NOW, termination_reason="企业停产")
    )
    db.session.expire_all()
    assert jobs.notify_overdue_milestones(NOW) == {"milestones": 0, "projects": 0}
    assert reload(achieved.milestones[0]).state == "achieved"


def test_job_is_scheduled_daily_and_commits(app, run_jobs, monkeypatch):
    assert SCHEDULES["projects.notify_overdue_milestones"].every == timedelta(days=1)
    assert JOB_FUNCTIONS["projects.notify_overdue_milestones"] is jobs.notify_overdue_milestones_job
    monkeypatch.setattr(jobs, "utcnow", lambda: NOW)
    project = project_due(-2)
    job_id = enqueue("projects.notify_overdue_milestones").id
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    record = db.session.get(Job, job_id)
    assert record.status == "finished" and record.result == {"milestones": 1, "projects": 1}
    assert reload(project.milestones[0]).overdue_notified_at == NOW
