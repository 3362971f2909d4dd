"""The system job that closes calls whose close time has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from grants.core.jobs import JOB_FUNCTIONS, enqueue
from grants.core.models import Job
from grants.extensions import db
from grants.programmes import operations as ops
from tests.factories import CallFactory
from tests.programmes.helpers import audit_events, reload

NOW = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)


def test_close_expired_calls_closes_only_published_calls_past_their_close_time(app):
    long_past = CallFactory(opens_at=NOW - timedelta(days=60), closes_at=NOW - timedelta(days=1))
    just_now = CallFactory(opens_at=NOW - timedelta(days=30), closes_at=NOW)
    still_open = CallFactory(
        opens_at=NOW - timedelta(days=30), closes_at=NOW + timedelta(seconds=1)
    )
    draft = CallFactory(
        state="draft",
        published_at=None,
        opens_at=NOW - timedelta(days=60),
        closes_at=NOW - timedelta(days=1),
    )
    already = CallFactory(
        state="closed",
        closed_at=NOW - timedelta(days=2),
        opens_at=NOW - timedelta(days=60),
        closes_at=NOW - timedelta(days=3),
    )
    result = ops.close_expired_calls(at=NOW)
    assert sorted(result["closed"]) == sorted([long_past.id, just_now.id])
    assert {reload(c).state for c in (long_past, just_now)} == {"closed"}
    assert (reload(still_open).state, reload(draft).state, reload(already).state) == (
        "published",
        "draft",
        "closed",
    )
    for call in (long_past, just_now):
        [event] = audit_events("call.close", call)
        assert event.actor_id is None
        assert (event.before, event.after) == ({"state": "published"}, {"state": "closed"})
    assert audit_events("call.close", still_open) == []
    assert ops.close_expired_calls(at=NOW)["closed"] == []


def test_close_expired_calls_is_a_registered_job_that_commits_its_work(app, run_jobs):
    call = CallFactory(
        opens_at=datetime(2020, 1, 1, tzinfo=UTC), closes_at=datetime(2020, 2, 1, tzinfo=UTC)
    )
    assert JOB_FUNCTIONS["programmes.close_expired_calls"] is ops.close_expired_calls
    job_id = enqueue("programmes.close_expired_calls").id
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    record = db.session.get(Job, job_id)
    assert record.status == "finished"
    assert call.id in record.result["closed"]
    assert reload(call).state == "closed" and reload(call).closed_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(sa.select(Job).subquery())) >= 1
