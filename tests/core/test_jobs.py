"""Background jobs: dispatched after commit, recorded in the jobs table, retried on failure.

On SQLite the app runs jobs in-process (sync mode); on PostgreSQL it queues them on
a real Redis and ``run_jobs`` drains the queue with an RQ worker.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grants.core import audit
from grants.core.jobs import enqueue, job, retry, rq_queue
from grants.core.models import AuditEvent, Job
from grants.extensions import db
from tests.factories import make_user

RECORDING_JOB = "tests.core.record_marker"
FLAKY_JOB = "tests.core.fail_first_time"
_failures_left: dict[str, int] = {}


@job(RECORDING_JOB)
def record_marker(ctx, marker: str) -> dict:
    """Report progress, write an audit event and commit it, as real jobs do."""
    ctx.progress(50, "halfway")
    audit.record("tests.job_ran", label="job", after={"marker": marker})
    db.session.commit()
    return {"marker": marker}


@job(FLAKY_JOB)
def fail_first_time(ctx, marker: str) -> None:
    """Fail while ``_failures_left[marker]`` is positive, then record the marker."""
    if _failures_left.get(marker, 0) > 0:
        _failures_left[marker] -= 1
        raise RuntimeError(f"planned failure for {marker}")
    record_marker(ctx, marker)


def markers_recorded() -> list[str]:
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "tests.job_ran"))
    return [event.after["marker"] for event in events]


def queued_in_redis(app) -> int:
    return rq_queue(app).count if app.config["JOBS_MODE"] == "rq" else 0


def reload_job(job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_job_enqueued_in_request_runs_after_commit(app, run_jobs):
    owner = make_user("bureau")
    with app.test_request_context("/reports", method="POST"):
        job_id = enqueue(RECORDING_JOB, "after-commit", owner=owner).id
        assert reload_job(job_id).status == "queued"
        db.session.commit()

    if app.config["JOBS_MODE"] == "rq":
        assert reload_job(job_id).status == "queued"
        assert queued_in_redis(app) == 1
        assert markers_recorded() == []
        assert run_jobs() == 1

    record = reload_job(job_id)
    assert (record.status, record.progress, record.attempts) == ("finished", 100, 1)
    assert record.message == "halfway"
    assert record.result == {"marker": "after-commit"}
    assert record.owner_id == owner.id
    assert record.started_at is not None and record.finished_at is not None
    assert markers_recorded() == ["after-commit"]


def test_job_enqueued_in_rolled_back_transaction_queues_nothing(app, run_jobs):
    with app.test_request_context("/reports", method="POST"):
        enqueue(RECORDING_JOB, "rolled-back")
        db.session.rollback()
        db.session.commit()

    assert queued_in_redis(app) == 0
    assert run_jobs() == 0
    assert db.session.scalar(sa.select(sa.func.count(Job.id))) == 0
    assert markers_recorded() == []


def test_job_unknown_name_is_refused(app):
    with pytest.raises(LookupError):
        enqueue("tests.core.no_such_job")


def test_job_failure_is_stored_and_retry_runs_it_again(app, run_jobs):
    _failures_left["flaky"] = 1
    job_id = enqueue(FLAKY_JOB, "flaky").id
    db.session.commit()
    run_jobs()

    failed = reload_job(job_id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "RuntimeError: planned failure for flaky" in failed.error
    assert failed.finished_at is not None
    assert markers_recorded() == []

    retry(job_id)
    db.session.commit()
    run_jobs()

    retried = reload_job(job_id)
    assert (retried.status, retried.progress, retried.attempts) == ("finished", 100, 2)
    assert retried.error is None
    assert markers_recorded() == ["flaky"]


def test_job_retry_refuses_a_job_that_did_not_fail(app, run_jobs):
    job_id = enqueue(RECORDING_JOB, "fine").id
    db.session.commit()
    run_jobs()

    with pytest.raises(ValueError):
        retry(job_id)
    assert reload_job(job_id).attempts == 1


def test_job_page_visible_to_owner_and_admin_only(app, client, login):
    owner = make_user("applicant")
    admin = make_user("admin")
    stranger = make_user("applicant")
    record = Job(name=RECORDING_JOB, args=["page"], status="queued", progress=0, owner_id=owner.id)
    db.session.add(record)
    db.session.commit()
    url = f"/jobs/{record.id}"

    assert client.get(url).status_code == 302  # anonymous: to the login page

    for user, expected in ((owner, 200), (stranger, 404), (admin, 200)):
        login(user)
        response = client.get(url)
        assert response.status_code == expected, user.email
        if expected == 200:
            assert f"#{record.id}" in response.get_data(as_text=True)
        client.post("/logout")


def test_job_progress_fragment_polls_until_the_job_ends(app, client, login):
    owner = make_user("bureau")
    record = Job(
        name=RECORDING_JOB, args=["poll"], status="running", progress=40, owner_id=owner.id
    )
    db.session.add(record)
    db.session.commit()
    login(owner)

    running = client.get(f"/jobs/{record.id}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert f'id="job-{record.id}"' in running
    assert 'aria-valuenow="40"' in running
    assert 'hx-trigger="every 1s"' in running
    assert "<html" not in running

    record.status, record.progress = "finished", 100
    db.session.commit()
    finished = client.get(f"/jobs/{record.id}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert 'aria-valuenow="100"' in finished
    assert "hx-get" not in finished
