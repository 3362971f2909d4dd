"""Reminders on a frozen clock: unanswered invitations, reviews due soon, overdue ones; once per 24 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

import grants.review.reminders as reminders
from grants.applications.models import Application
from grants.core.jobs import JOB_FUNCTIONS, enqueue
from grants.core.models import Job
from grants.core.scheduler import SCHEDULES
from grants.core.types import utcnow
from grants.extensions import db
from grants.review.models import Assignment, Review
from tests.factories import AssignmentFactory
from tests.review.assign_helpers import (
    application_under_review,
    audit_events,
    bureau_officer,
    notifications_of,
    pool_expert,
)

NOW = datetime(2026, 5, 10, 2, 0, tzinfo=UTC)


def invited(invited_at, expert=None, **kwargs):
    return AssignmentFactory(
        application=kwargs.pop("application", None) or application_under_review(),
        expert=expert or pool_expert(),
        state="invited",
        invited_at=invited_at,
        due_at=kwargs.pop("due_at", NOW + timedelta(days=10)),
        **kwargs,
    )


def accepted(due_at, expert=None, **kwargs):
    return AssignmentFactory(
        application=kwargs.pop("application", None) or application_under_review(),
        expert=expert or pool_expert(),
        state="accepted",
        invited_at=NOW - timedelta(days=9),
        responded_at=NOW - timedelta(days=8),
        no_conflict_declared_at=NOW - timedelta(days=8),
        due_at=due_at,
        **kwargs,
    )


def reload(assignment) -> Assignment:
    db.session.expire_all()
    return db.session.get(Assignment, assignment.id)


def test_reminders_unanswered_invitation_after_three_days_only(app):
    late = invited(NOW - timedelta(days=3, minutes=1))
    fresh = invited(NOW - timedelta(days=2))
    counts = reminders.send_reminders(NOW)
    assert counts == {"unanswered": 1, "due_soon": 0, "overdue": 0}
    assert reload(late).last_reminded_at == NOW and reload(fresh).last_reminded_at is None
    [message] = notifications_of(late.expert.user, "assignment.reminder")
    assert late.application.title in message.body and "accept or decline" in message.body
    assert message.link == "/expert/reviews"
    assert notifications_of(fresh.expert.user, "assignment.reminder") == []
    [event] = audit_events("assignment.reminders_sent")
    assert event.after["assignments"] == [late.id] and event.actor_id is None


def test_reminders_never_twice_within_24_hours(app):
    assignment = invited(NOW - timedelta(days=4))
    assert reminders.send_reminders(NOW)["unanswered"] == 1
    assert reminders.send_reminders(NOW + timedelta(hours=23, minutes=59))["unanswered"] == 0
    assert len(notifications_of(assignment.expert.user, "assignment.reminder")) == 1
    assert reminders.send_reminders(NOW + timedelta(hours=24))["unanswered"] == 1
    assert len(notifications_of(assignment.expert.user, "assignment.reminder")) == 2
    assert reload(assignment).last_reminded_at == NOW + timedelta(hours=24)


def test_reminders_due_soon_and_overdue_and_the_bureau_told_of_overdue(app):
    bureau = bureau_officer()
    expert = pool_expert(name="李专家")
    soon = accepted(NOW + timedelta(days=2), expert=expert)
    overdue = accepted(NOW - timedelta(hours=1), expert=expert)
    later = accepted(NOW + timedelta(days=5))
    done = accepted(NOW - timedelta(days=1))
    db.session.add(
        Review(
            assignment=done,
            state="submitted",
            submitted_at=NOW - timedelta(days=2),
            total=Decimal("80"),
            recommendation="fund",
        )
    )
    db.session.flush()
    counts = reminders.send_reminders(NOW)
    assert counts == {"unanswered": 0, "due_soon": 1, "overdue": 1}
    [message] = notifications_of(expert.user, "assignment.reminder")  # one message listing both
    assert soon.application.title in message.body and overdue.application.title in message.body
    assert "is overdue" in message.body
    [alert] = notifications_of(bureau, "assignment.overdue")
    assert "李专家" in alert.body and overdue.application.title in alert.body
    assert soon.application.title not in alert.body
    assert alert.link == f"/calls/{overdue.application.call_id}/assignments"
    assert reload(later).last_reminded_at is None and reload(done).last_reminded_at is None


def test_reminders_skip_applications_no_longer_under_review(app):
    assignment = accepted(NOW - timedelta(days=1))
    application = assignment.application
    db.session.execute(
        sa.update(Application).where(Application.id == application.id).values(state="reviewed")
    )
    db.session.expire_all()
    assert reminders.send_reminders(NOW) == {"unanswered": 0, "due_soon": 0, "overdue": 0}


def test_reminders_job_is_scheduled_hourly_and_commits(app, run_jobs):
    assert SCHEDULES["review.send_reminders"].every == timedelta(hours=1)
    assert JOB_FUNCTIONS["review.send_reminders"] is reminders.send_reminders_job
    assignment = invited(utcnow() - timedelta(days=4))
    job_id = enqueue("review.send_reminders").id
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    record = db.session.get(Job, job_id)
    assert record.status == "finished" and record.result["unanswered"] == 1
    assert reload(assignment).last_reminded_at is not None
