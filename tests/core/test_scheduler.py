from datetime import timedelta

import sqlalchemy as sa

from grants.core.models import Job
from grants.core.scheduler import SCHEDULES, run_due
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs.models import Invitation
from tests.factories import InvitationFactory


def jobs_named(name):
    return db.session.scalars(sa.select(Job).where(Job.name == name)).all()


def test_due_jobs_are_enqueued_once_per_interval(app, run_jobs):
    now = utcnow()
    first = run_due(now)
    assert set(first) == set(SCHEDULES)
    assert run_due(now + timedelta(minutes=1)) == []
    hourly = SCHEDULES["orgs.expire_invitations"].every
    later = run_due(now + hourly + timedelta(seconds=1))
    assert "orgs.expire_invitations" in later
    run_jobs()
    assert len(jobs_named("orgs.expire_invitations")) == 2


def test_expire_job_moves_only_past_invitations(app, run_jobs):
    old = InvitationFactory(expires_at=utcnow() - timedelta(hours=1))
    fresh = InvitationFactory()
    db.session.commit()
    run_due()
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Invitation, old.id).state == "expired"
    assert db.session.get(Invitation, fresh.id).state == "pending"
    job = jobs_named("orgs.expire_invitations")[0]
    assert job.status == "finished" and job.result == {"expired": 1}
