"""The jobs table as an outbox: dispatch after commit never fails the request, waiting rows are
dispatched later, a claimed job runs once, dead jobs are swept, retried with back-off and failed
at the limit. Redis is made unreachable by pointing the app at a closed port."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from grants.core import jobs as jobs_module
from grants.core.jobs import (
    Heartbeat,
    breaker,
    dispatch_pending,
    enqueue,
    execute,
    job_failed,
    job_requeued,
    sweep_dead_jobs,
)
from grants.core.models import Job
from grants.core.scheduler import next_wait, tick
from grants.core.types import utcnow
from grants.extensions import db
from tests.core.test_jobs import RECORDING_JOB, markers_recorded, reload_job
from tests.factories import make_user

CLOSED_PORT_REDIS = "redis://127.0.0.1:9/0"


def _forget_redis_client(app):
    app.extensions.pop("grants_redis", None)
    breaker.close()


@pytest.fixture
def redis_down(app):
    """The app believes it has Redis (RQ mode) but Redis does not answer."""
    saved = {
        key: app.config.get(key)
        for key in ("JOBS_MODE", "REDIS_URL", "REDIS_TIMEOUT", "JOBS_FALLBACK")
    }
    app.config.update(
        JOBS_MODE="rq", REDIS_URL=CLOSED_PORT_REDIS, REDIS_TIMEOUT=1, JOBS_FALLBACK="wait"
    )
    _forget_redis_client(app)
    try:
        yield saved
    finally:
        app.config.update(saved)
        _forget_redis_client(app)


def _commit_job_in_request(app, marker: str) -> int:
    with app.test_request_context("/reports", method="POST"):
        job_id = enqueue(RECORDING_JOB, marker).id
        db.session.commit()
    return job_id


def _join_job_thread(job_id: int) -> None:
    for thread in threading.enumerate():
        if thread.name == f"grants-job-{job_id}":
            thread.join()


def test_commit_without_redis_keeps_the_job_in_the_outbox(app, redis_down, run_jobs):
    job_id = _commit_job_in_request(app, "outbox")
    record = reload_job(job_id)
    assert (record.status, record.dispatched_at, record.queue_ref) == ("queued", None, None)
    assert breaker.is_open()

    app.config.update(redis_down)  # Redis is back (or the app runs its jobs in-process)
    _forget_redis_client(app)
    assert dispatch_pending(app) == 1
    run_jobs()
    record = reload_job(job_id)
    assert (record.status, record.attempts) == ("finished", 1)
    assert record.dispatched_at is not None and record.queue_ref
    assert markers_recorded() == ["outbox"]


def test_commit_without_redis_runs_the_job_here_when_the_fallback_is_thread(app, redis_down):
    app.config["JOBS_FALLBACK"] = "thread"
    job_id = _commit_job_in_request(app, "in-process")
    _join_job_thread(job_id)
    record = reload_job(job_id)
    assert (record.status, record.queue_ref) == ("finished", "thread")
    assert markers_recorded() == ["in-process"]


def test_breaker_asks_redis_once_and_logs_one_warning(app, redis_down, monkeypatch, caplog):
    calls = []

    def unreachable(_app=None):
        calls.append(1)
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(jobs_module, "rq_queue", unreachable)
    with caplog.at_level(logging.WARNING, logger="grants.core.jobs"):
        first = _commit_job_in_request(app, "one")
        second = _commit_job_in_request(app, "two")
    assert len(calls) == 1
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "Redis is unreachable" in caplog.records[0].message
    assert {reload_job(first).status, reload_job(second).status} == {"queued"}


def test_a_job_is_claimed_once_even_if_dispatched_twice(app):
    record = Job(name=RECORDING_JOB, args=["once"], status="queued")
    db.session.add(record)
    db.session.commit()
    execute(record.id)
    execute(record.id)
    record = reload_job(record.id)
    assert (record.status, record.attempts) == ("finished", 1)
    assert markers_recorded() == ["once"]
    assert dispatch_pending(app) == 0


def _dead_job(attempts: int, minutes_silent: int = 10) -> Job:
    now = utcnow()
    record = Job(
        name=RECORDING_JOB,
        args=["after-death"],
        status="running",
        attempts=attempts,
        started_at=now - timedelta(minutes=minutes_silent + 1),
        heartbeat_at=now - timedelta(minutes=minutes_silent),
        dispatched_at=now,
        queue_ref="gone",
    )
    db.session.add(record)
    db.session.commit()
    return record


def test_sweeper_queues_a_dead_job_again_after_its_back_off(app, run_jobs):
    record = _dead_job(attempts=1)
    heard = []
    now = utcnow()

    def on_requeue(sender, job, **extra):
        heard.append(job.id)

    with job_requeued.connected_to(on_requeue):
        swept = sweep_dead_jobs(now)
        db.session.commit()
    assert [job.id for job in swept] == [record.id] and heard == [record.id]
    record = reload_job(record.id)
    assert record.status == "queued" and record.progress == 0
    assert record.run_after == now + timedelta(seconds=app.config["JOB_RETRY_BACKOFF_SECONDS"])
    assert "stopped responding" in record.error

    assert dispatch_pending(app, now) == 0  # still inside its back-off
    assert reload_job(record.id).dispatched_at is None
    assert dispatch_pending(app, record.run_after + timedelta(seconds=1)) == 1
    run_jobs()
    record = reload_job(record.id)
    assert (record.status, record.attempts) == ("finished", 2)
    assert markers_recorded() == ["after-death"]


def test_back_off_doubles_with_each_attempt(app):
    record = _dead_job(attempts=2)
    now = utcnow()
    sweep_dead_jobs(now)
    db.session.commit()
    assert reload_job(record.id).run_after == now + timedelta(
        seconds=2 * app.config["JOB_RETRY_BACKOFF_SECONDS"]
    )


def test_sweeper_fails_a_dead_job_at_the_attempt_limit_and_the_jobs_page_says_why(
    app, client, login
):
    record = _dead_job(attempts=app.config["JOB_MAX_ATTEMPTS"])
    heard = []
    with job_failed.connected_to(lambda sender, job, reason, **extra: heard.append(reason)):
        sweep_dead_jobs()
        db.session.commit()
    record = reload_job(record.id)
    assert record.status == "failed" and record.finished_at is not None
    assert "Gave up after 3 attempts" in record.error and heard == [record.error]
    login(make_user("bureau"))
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "Gave up after 3 attempts" in page
    assert f"/jobs/{record.id}/retry" in page


def test_sweeper_leaves_a_job_with_a_fresh_heartbeat(app):
    record = _dead_job(attempts=1, minutes_silent=0)
    assert sweep_dead_jobs() == []
    assert reload_job(record.id).status == "running"


def test_the_late_outcome_of_a_swept_attempt_is_ignored(app):
    record = _dead_job(attempts=1)
    sweep_dead_jobs()
    db.session.commit()
    jobs_module._finish(record.id, 1, status="finished", progress=100)
    assert reload_job(record.id).status == "queued"


def test_heartbeat_writes_the_time_of_life(app):
    record = _dead_job(attempts=1)
    before = record.heartbeat_at
    app.config["JOB_HEARTBEAT_SECONDS"] = 1
    try:
        beat = Heartbeat(app, record.id, attempt=1)
    finally:
        app.config["JOB_HEARTBEAT_SECONDS"] = 0
    rounds = []
    beat.stop.wait = lambda seconds: rounds.append(seconds) or len(rounds) > 1
    beat._beat()
    assert rounds == [1.0, 1.0]
    assert reload_job(record.id).heartbeat_at > before
    assert sweep_dead_jobs() == []


def test_scheduler_tick_goes_on_when_a_step_fails(app, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(jobs_module, "dispatch_pending", broken)
    assert tick(app) is False
    ran = db.session.scalars(sa.select(Job.name)).all()
    assert "orgs.expire_invitations" in ran  # the schedule step still ran


def test_scheduler_backs_off_up_to_its_limit():
    assert next_wait(30, 0, 60) == 30
    assert [next_wait(30, n, 60) for n in (1, 2, 3, 7, 20)] == [1, 2, 4, 60, 60]


LIMITS_JOB = "tests.core.show_time_limits"


@jobs_module.job(LIMITS_JOB)
def show_time_limits(ctx) -> dict:
    """What PostgreSQL says the statement and lock limits of this job's transaction are."""
    return {
        "statement": db.session.execute(sa.text("SHOW statement_timeout")).scalar(),
        "lock": db.session.execute(sa.text("SHOW lock_timeout")).scalar(),
    }


def test_requests_and_jobs_get_their_database_limits_on_postgresql(app, run_jobs):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("statement and lock limits are PostgreSQL settings")
    assert db.session.execute(sa.text("SHOW statement_timeout")).scalar() == "10s"
    assert db.session.execute(sa.text("SHOW lock_timeout")).scalar() == "3s"
    with app.test_request_context("/reports", method="POST"):
        job_id = enqueue(LIMITS_JOB).id
        db.session.commit()
    run_jobs()
    assert reload_job(job_id).result == {"statement": "10min", "lock": "30s"}


def test_engine_options_carry_the_database_limits():
    from grants.config import Config, engine_options

    config = vars(Config(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://db/grants"))
    options = engine_options(config)
    assert options["pool_pre_ping"] is True and options["pool_timeout"] == 5
    assert options["connect_args"]["connect_timeout"] == 5
    assert options["connect_args"]["options"] == (
        "-c statement_timeout=10000 -c lock_timeout=3000 "
        "-c idle_in_transaction_session_timeout=60000"
    )
    assert "connect_args" not in engine_options(vars(Config(SQLALCHEMY_DATABASE_URI="sqlite://")))


def test_releasing_a_savepoint_does_not_hand_over_jobs_before_the_commit(app, monkeypatch):
    """SQLAlchemy fires after_commit for a SAVEPOINT too: a job enqueued before one is handed
    over only when the outermost transaction commits (on SQLite, handing it over early waited
    on the request's own write lock for the whole busy timeout)."""
    handed = []
    monkeypatch.setattr(jobs_module, "dispatch", lambda app, job_id: handed.append(job_id))
    record = enqueue(RECORDING_JOB, "savepoint")
    with db.session.begin_nested():
        db.session.flush()
    assert handed == []
    with db.session.begin_nested() as nested:
        nested.rollback()
    assert handed == []
    db.session.commit()
    assert handed == [record.id]


def test_every_job_of_the_application_has_a_chinese_label(app):
    """The jobs page names jobs for people: every job registered by ``grants`` has a translated label."""
    from flask_babel import force_locale

    names = [
        name
        for name, fn in jobs_module.JOB_FUNCTIONS.items()
        if fn.__module__.startswith("grants.")
    ]
    assert names
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        unlabelled = [name for name in names if jobs_module.label_of(name) == name]
        untranslated = [name for name in names if jobs_module.label_of(name).isascii()]
    assert unlabelled == [] and untranslated == []
