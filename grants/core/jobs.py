"""Background jobs: one way to enqueue, run in-process without Redis and on RQ with it.

:func:`enqueue` adds a :class:`~grants.core.models.Job` row and dispatches it only after
the surrounding transaction commits (a rolled-back request queues nothing). Job
functions take ids, never ORM objects. The ``jobs`` table is the record of truth: its
status and progress are what pages poll, whatever the queue keeps.

Modes (``JOBS_MODE``): ``rq`` (needs ``REDIS_URL``), ``thread`` (in-process, the
default without Redis) and ``sync`` (in-process, waits for the job: used by tests).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from grants.core.links import base_url_request_context
from grants.core.models import Job
from grants.core.sqlite import immediate_writes
from grants.core.types import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)

JOB_FUNCTIONS: dict[str, Callable] = {}
# Jobs that manage SQLite's write lock themselves (long reads, short write transactions).
SELF_LOCKING: set[str] = set()
_PENDING_KEY = "grants_pending_jobs"


def job(name: str, *, immediate: bool = True):
    """Register ``fn(ctx, *args)`` as the job called ``name``.

    On SQLite a job's transactions take the write lock when they begin (``immediate``), so
    a job that reads and then writes cannot fail on a snapshot another writer moved on.
    A long job that reads much and writes little passes ``immediate=False`` and opens its
    own short write transactions with :func:`grants.core.sqlite.immediate_writes`.
    """

    def register(fn):
        if name in JOB_FUNCTIONS and JOB_FUNCTIONS[name] is not fn:
            raise ValueError(f"job {name!r} is already registered")
        JOB_FUNCTIONS[name] = fn
        if not immediate:
            SELF_LOCKING.add(name)
        return fn

    return register


@dataclass
class JobContext:
    """Handed to a job function: its job id and a way to report progress."""

    job_id: int

    def progress(self, percent: int, message: str = "") -> None:
        """Record progress in its own short transaction so pollers see it at once."""
        percent = max(0, min(100, int(percent)))
        with Session(db.engine, join_transaction_mode="create_savepoint") as side:
            side.execute(
                sa.update(Job).where(Job.id == self.job_id)
                .values(progress=percent, message=message[:500])
            )
            side.commit()


def enqueue(name: str, *args, owner=None) -> Job:
    """Create the job row (flushed) and dispatch it once the transaction commits."""
    if name not in JOB_FUNCTIONS:
        raise LookupError(f"no job called {name!r}")
    record = Job(name=name, args=list(args), status="queued", progress=0,
                 owner_id=getattr(owner, "id", owner))
    db.session.add(record)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append(record.id)
    return record


def retry(job_id: int) -> Job:
    """Queue a failed job again (its record keeps the attempt count)."""
    record = db.session.get(Job, job_id)
    if record is None or record.status != "failed":
        raise ValueError("only a failed job can be retried")
    record.status = "queued"
    record.progress = 0
    record.error = None
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append(record.id)
    return record


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session):
    pending = session.info.pop(_PENDING_KEY, None)
    if pending and has_app_context():
        app = current_app._get_current_object()
        for job_id in pending:
            dispatch(app, job_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_PENDING_KEY, None)


def dispatch(app, job_id: int) -> None:
    """Hand a committed job to the queue of the configured mode."""
    mode = app.config["JOBS_MODE"]
    if mode == "rq":
        rq_queue(app).enqueue("grants.core.jobs.execute", job_id,
                              job_timeout=app.config.get("JOB_TIMEOUT", 1800))
        return
    worker = threading.Thread(target=_run_in_app, args=(app, job_id),
                              name=f"grants-job-{job_id}", daemon=False)
    worker.start()
    if mode == "sync":
        worker.join()


def _run_in_app(app, job_id: int) -> None:
    with app.app_context():
        try:
            execute(job_id)
        finally:
            db.session.remove()


def rq_queue(app=None):
    """The RQ queue on ``REDIS_URL``."""
    from redis import Redis
    from rq import Queue

    app = app or current_app
    connection = Redis.from_url(app.config["REDIS_URL"])
    return Queue(app.config["RQ_QUEUE"], connection=connection)


def execute(job_id: int) -> None:
    """Run one job by id inside the current app context; the job commits its own work."""
    if not has_app_context():
        from grants import create_app

        with create_app().app_context():
            return execute(job_id)
    with immediate_writes():
        record = db.session.get(Job, job_id)
        if record is None or record.status in ("running", "finished"):
            db.session.rollback()
            return None
        name = record.name
        fn = JOB_FUNCTIONS.get(name)
        record.status = "running"
        record.attempts += 1
        record.started_at = utcnow()
        args = list(record.args or [])
        db.session.commit()
    try:
        if fn is None:
            raise LookupError(f"no job called {name!r}")
        body = contextlib.nullcontext() if name in SELF_LOCKING else immediate_writes()
        with base_url_request_context(), body:
            result = fn(JobContext(job_id), *args)
        with immediate_writes():
            db.session.commit()
            record = db.session.get(Job, job_id)
            record.status = "finished"
            record.progress = 100
            record.result = result if isinstance(result, dict) else None
            record.finished_at = utcnow()
            db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, name)
        with immediate_writes():
            record = db.session.get(Job, job_id)
            record.status = "failed"
            record.error = traceback.format_exc(limit=8)[-4000:]
            record.finished_at = utcnow()
            db.session.commit()
    return None
