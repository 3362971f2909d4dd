"""Background jobs as an outbox: the ``jobs`` table is the truth, the queue only a courier.

:func:`enqueue` adds a :class:`~grants.core.models.Job` row in the transaction that needs
it and dispatches it once that transaction commits (a rolled-back request queues
nothing). :func:`dispatch` never raises: when Redis is unreachable the row stays in the
outbox (``JOBS_FALLBACK=wait``) or runs in this process (``JOBS_FALLBACK=thread``), and a
breaker keeps the app from asking Redis again for ``REDIS_PAUSE`` seconds.
:func:`dispatch_pending` (the scheduler's tick) hands over the rows still waiting and the
ones whose queue entry was lost. A job is claimed by one conditional UPDATE, so a row
dispatched twice still runs once. While it runs, the worker writes a heartbeat;
:func:`sweep_dead_jobs` queues again, with back-off, the running jobs whose heartbeat
stopped (worker killed) and fails them, with the reason, after ``JOB_MAX_ATTEMPTS``.

Modes (``JOBS_MODE``): ``rq`` (needs ``REDIS_URL``), ``thread`` (in-process, the
default without Redis) and ``sync`` (in-process, waits for the job: used by tests).
Job functions take ids, never ORM objects.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from grants.core.links import base_url_request_context
from grants.core.models import Job
from grants.core.sqlite import immediate_writes
from grants.core.transactions import is_outermost
from grants.core.types import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)

JOB_FUNCTIONS: dict[str, Callable] = {}
JOB_LABELS: dict[str, object] = {}
# Jobs that manage SQLite's write lock themselves (long reads, short write transactions).
SELF_LOCKING: set[str] = set()
_PENDING_KEY = "grants_pending_jobs"
THREAD_REF = "thread"
# An in-process job that has not started this long after its dispatch was lost (restart).
THREAD_LOST_AFTER = timedelta(minutes=2)

signals = Namespace()
#: Sent with ``job`` (the Job row, in the caller's session) when a dead job is queued again.
job_requeued = signals.signal("job-requeued")
#: Sent with ``job`` and ``reason`` when a job is given up for good.
job_failed = signals.signal("job-failed")


def job(name: str, *, immediate: bool = True, label=None):
    """Register ``fn(ctx, *args)`` as the job called ``name`` (``label`` names it on the jobs page).

    On SQLite a job's transactions take the write lock when they begin (``immediate``), so
    a job that reads and then writes cannot fail on a snapshot another writer moved on.
    A long job that reads much and writes little passes ``immediate=False`` and opens its
    own short write transactions with :func:`grants.core.sqlite.immediate_writes`.
    """

    def register(fn):
        if name in JOB_FUNCTIONS and JOB_FUNCTIONS[name] is not fn:
            raise ValueError(f"job {name!r} is already registered")
        JOB_FUNCTIONS[name] = fn
        if label is not None:
            JOB_LABELS[name] = label
        if not immediate:
            SELF_LOCKING.add(name)
        return fn

    return register


def label_of(name: str) -> str:
    """The job's name for people (its registered label), else its technical name."""
    label = JOB_LABELS.get(name)
    return str(label) if label is not None else name


@dataclass
class JobContext:
    """Handed to a job function: its job id and a way to report progress."""

    job_id: int

    def progress(self, percent: int, message: str = "") -> None:
        """Record progress (and a heartbeat) in its own short transaction so pollers see it at once."""
        percent = max(0, min(100, int(percent)))
        with Session(db.engine, join_transaction_mode="create_savepoint") as side:
            side.execute(
                sa.update(Job)
                .where(Job.id == self.job_id)
                .values(progress=percent, message=message[:500], heartbeat_at=utcnow())
            )
            side.commit()


def enqueue(name: str, *args, owner=None) -> Job:
    """Create the job row (flushed) and dispatch it once the transaction commits."""
    if name not in JOB_FUNCTIONS:
        raise LookupError(f"no job called {name!r}")
    record = Job(
        name=name,
        args=list(args),
        status="queued",
        progress=0,
        owner_id=getattr(owner, "id", owner),
    )
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
    record.message = ""
    record.error = None
    record.dispatched_at = None
    record.queue_ref = None
    record.run_after = None
    record.heartbeat_at = None
    record.finished_at = None
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append(record.id)
    return record


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session):
    if not is_outermost(session):
        return  # a savepoint released: nothing is committed yet
    pending = session.info.pop(_PENDING_KEY, None)
    if pending and has_app_context():
        app = current_app._get_current_object()
        for job_id in pending:
            dispatch(app, job_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    if not is_outermost(session):
        return  # a savepoint rolled back: jobs enqueued before it still stand
    session.info.pop(_PENDING_KEY, None)


# --- Redis, behind a breaker --------------------------------------------------------------------


class RedisBreaker:
    """Remembers a Redis failure for ``REDIS_PAUSE`` seconds so callers skip Redis meanwhile."""

    def __init__(self):
        self.open_until = 0.0
        self.warned = False
        self.lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self, pause: float, error: Exception) -> None:
        with self.lock:
            self.open_until = time.monotonic() + pause
            if not self.warned:
                self.warned = True
                log.warning(
                    "Redis is unreachable (%s: %s); jobs wait in the outbox and are "
                    "dispatched when it returns",
                    type(error).__name__,
                    error,
                )

    def close(self) -> None:
        with self.lock:
            if self.warned:
                log.warning("Redis is reachable again; dispatching the jobs that waited")
            self.open_until = 0.0
            self.warned = False


breaker = RedisBreaker()


def redis_connection(app=None):
    """The app's Redis client, with ``REDIS_TIMEOUT`` on connecting and on every reply."""
    from redis import Redis

    app = app or current_app
    url = app.config["REDIS_URL"]
    url_and_client = app.extensions.get("grants_redis")
    if url_and_client is None or url_and_client[0] != url:
        timeout = app.config.get("REDIS_TIMEOUT", 3)
        client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        url_and_client = app.extensions["grants_redis"] = (url, client)
    return url_and_client[1]


def rq_queue(app=None):
    """The RQ queue on ``REDIS_URL``."""
    from rq import Queue

    app = app or current_app
    return Queue(app.config["RQ_QUEUE"], connection=redis_connection(app))


# --- dispatching ----------------------------------------------------------------------------------


def _mark_dispatched(job_id: int, ref: str | None) -> None:
    with Session(db.engine, join_transaction_mode="create_savepoint") as side:
        side.execute(
            sa.update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(dispatched_at=utcnow() if ref else None, queue_ref=ref)
        )
        side.commit()


def dispatch(app, job_id: int) -> bool:
    """Hand a committed job to the configured queue; True if handed over. Never raises.

    On a Redis failure the row stays in the outbox for :func:`dispatch_pending`, or runs
    in this process when ``JOBS_FALLBACK`` is ``thread``.
    """
    mode = app.config["JOBS_MODE"]
    try:
        if mode != "rq":
            _mark_dispatched(job_id, THREAD_REF)
            _start_thread(app, job_id, wait=mode == "sync")
            return True
        if not breaker.is_open():
            try:
                entry = rq_queue(app).enqueue(
                    "grants.core.jobs.execute",
                    job_id,
                    job_timeout=app.config.get("JOB_TIMEOUT", 1800),
                )
            except Exception as exc:
                breaker.trip(app.config.get("REDIS_PAUSE", 30), exc)
            else:
                breaker.close()
                _mark_dispatched(job_id, entry.id)
                return True
        if app.config.get("JOBS_FALLBACK", "wait") == "thread":
            _mark_dispatched(job_id, THREAD_REF)
            _start_thread(app, job_id, wait=False)
            return True
        return False
    except Exception:
        log.exception("job %s could not be dispatched; it stays in the outbox", job_id)
        return False


def _start_thread(app, job_id: int, wait: bool) -> None:
    worker = threading.Thread(
        target=_run_in_app, args=(app, job_id), name=f"grants-job-{job_id}", daemon=False
    )
    worker.start()
    if wait:
        worker.join()


def _run_in_app(app, job_id: int) -> None:
    with app.app_context():
        try:
            execute(job_id)
        finally:
            db.session.remove()


def _queue_entry_lost(app, ref: str) -> bool:
    from rq.job import Job as RQJob

    return not RQJob.exists(ref, connection=redis_connection(app))


def dispatch_pending(app=None, now: datetime | None = None) -> int:
    """Dispatch the queued rows that wait in the outbox or whose queue entry was lost.

    Rows never handed over (or waiting for their back-off to pass), rows whose RQ entry
    no longer exists (Redis restarted empty) and in-process rows that never started are
    dispatched again; the claim in :func:`execute` keeps a row from running twice.
    Returns the number handed over.
    """
    app = app or current_app._get_current_object()
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(Job.id, Job.queue_ref, Job.dispatched_at)
        .where(Job.status == "queued", sa.or_(Job.run_after.is_(None), Job.run_after <= now))
        .order_by(Job.id)
    ).all()
    db.session.rollback()
    due = []
    for job_id, ref, dispatched_at in rows:
        if dispatched_at is None or ref is None:
            due.append(job_id)
        elif ref == THREAD_REF:
            if dispatched_at < now - THREAD_LOST_AFTER:
                due.append(job_id)
        elif app.config["JOBS_MODE"] == "rq" and not breaker.is_open():
            try:
                if _queue_entry_lost(app, ref):
                    due.append(job_id)
            except Exception as exc:
                breaker.trip(app.config.get("REDIS_PAUSE", 30), exc)
    return sum(1 for job_id in due if dispatch(app, job_id))


# --- running ----------------------------------------------------------------------------------------


def _claim(job_id: int) -> tuple[str, list, int] | None:
    """Take a queued job for this worker: one conditional UPDATE; None if another took it."""
    now = utcnow()
    with immediate_writes():
        claimed = db.session.execute(
            sa.update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(
                status="running",
                attempts=Job.attempts + 1,
                started_at=now,
                heartbeat_at=now,
                run_after=None,
                finished_at=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            db.session.rollback()
            return None
        record = db.session.get(Job, job_id, populate_existing=True)
        claim = (record.name, list(record.args or []), record.attempts)
        db.session.commit()
    return claim


class Heartbeat:
    """Writes ``heartbeat_at`` of a running job every ``JOB_HEARTBEAT_SECONDS`` from a thread."""

    def __init__(self, app, job_id: int, attempt: int):
        self.app, self.job_id, self.attempt = app, job_id, attempt
        self.every = float(app.config.get("JOB_HEARTBEAT_SECONDS", 15) or 0)
        self.stop = threading.Event()
        self.thread = None

    def __enter__(self):
        if self.every > 0:
            self.thread = threading.Thread(
                target=self._beat, name=f"grants-heartbeat-{self.job_id}", daemon=True
            )
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _beat(self):
        while not self.stop.wait(self.every):
            try:
                with self.app.app_context(), Session(db.engine) as side:
                    side.execute(
                        sa.update(Job)
                        .where(
                            Job.id == self.job_id,
                            Job.status == "running",
                            Job.attempts == self.attempt,
                        )
                        .values(heartbeat_at=utcnow())
                    )
                    side.commit()
            except Exception:
                log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)


def _finish(job_id: int, attempt: int, **values) -> None:
    """Write the outcome of this attempt, unless the sweeper already gave the job to another."""
    with immediate_writes():
        db.session.execute(
            sa.update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.attempts == attempt)
            .values(finished_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def execute(job_id: int) -> None:
    """Run one job by id inside the current app context; the job commits its own work."""
    if not has_app_context():
        from grants import create_app

        with create_app().app_context():
            return execute(job_id)
    outer = g.get("grants_in_job", False)
    g.grants_in_job = True
    try:
        return _execute(job_id)
    finally:
        g.grants_in_job = outer


def _execute(job_id: int) -> None:
    claim = _claim(job_id)
    if claim is None:
        return None
    name, args, attempt = claim
    fn = JOB_FUNCTIONS.get(name)
    app = current_app._get_current_object()
    try:
        if fn is None:
            raise LookupError(f"no job called {name!r}")
        body = contextlib.nullcontext() if name in SELF_LOCKING else immediate_writes()
        with Heartbeat(app, job_id, attempt), base_url_request_context(), body:
            result = fn(JobContext(job_id), *args)
            db.session.commit()
        _finish(
            job_id,
            attempt,
            status="finished",
            progress=100,
            result=result if isinstance(result, dict) else None,
        )
    except Exception:
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, name)
        _finish(job_id, attempt, status="failed", error=traceback.format_exc(limit=8)[-4000:])
        record = db.session.get(Job, job_id, populate_existing=True)
        if record is not None and record.status == "failed":
            with immediate_writes():
                job_failed.send(current_app._get_current_object(), job=record, reason=record.error)
                db.session.commit()
    return None


# --- sweeping dead jobs --------------------------------------------------------------------------------


def backoff_for(app, attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: ``JOB_RETRY_BACKOFF_SECONDS``, doubling."""
    base = float(app.config.get("JOB_RETRY_BACKOFF_SECONDS", 30))
    return timedelta(seconds=base * (2 ** max(0, attempts - 1)))


def sweep_dead_jobs(now: datetime | None = None) -> list[Job]:
    """Queue again (with back-off) or fail the running jobs whose heartbeat stopped; flushes.

    A job counts as dead when its last heartbeat is older than ``JOB_DEAD_AFTER`` seconds.
    Below ``JOB_MAX_ATTEMPTS`` it goes back to the outbox to run after its back-off
    (:data:`job_requeued` is sent); at the limit it fails with the reason
    (:data:`job_failed`). Returns the jobs swept.
    """
    app = current_app._get_current_object()
    now = now or utcnow()
    limit = now - timedelta(seconds=float(app.config.get("JOB_DEAD_AFTER", 120)))
    last_sign = sa.func.coalesce(Job.heartbeat_at, Job.started_at)
    candidates = db.session.scalars(
        sa.select(Job).where(Job.status == "running", last_sign < limit).order_by(Job.id)
    ).all()
    swept = []
    max_attempts = int(app.config.get("JOB_MAX_ATTEMPTS", 3))
    for record in candidates:
        seen = record.heartbeat_at or record.started_at
        reason = (
            f"The worker stopped responding during attempt {record.attempts} "
            f"(no heartbeat since {seen:%Y-%m-%d %H:%M:%S} UTC)."
        )
        retrying = record.attempts < max_attempts
        values = (
            {
                "status": "queued",
                "progress": 0,
                "message": "",
                "error": reason,
                "run_after": now + backoff_for(app, record.attempts),
                "dispatched_at": None,
                "queue_ref": None,
                "heartbeat_at": None,
            }
            if retrying
            else {
                "status": "failed",
                "error": reason + f" Gave up after {record.attempts} attempts.",
                "finished_at": now,
            }
        )
        taken = db.session.execute(
            sa.update(Job)
            .where(Job.id == record.id, Job.status == "running", Job.attempts == record.attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            continue
        db.session.refresh(record)
        log.warning(
            "job %s (%s) lost its worker: %s",
            record.id,
            record.name,
            "queued again" if retrying else "failed",
        )
        if retrying:
            job_requeued.send(app, job=record)
        else:
            job_failed.send(app, job=record, reason=record.error)
        swept.append(record)
    db.session.flush()
    return swept


# --- database limits of job transactions ---------------------------------------------------------------


@event.listens_for(Session, "after_begin")
def _job_time_limits(session, transaction, connection):
    """Jobs may run longer statements than requests: ``SET LOCAL`` their own limits (PostgreSQL)."""
    if (
        connection.dialect.name != "postgresql"
        or not has_app_context()
        or not g.get("grants_in_job")
    ):
        return
    if transaction.nested or transaction.parent is not None:
        return
    config = current_app.config
    connection.exec_driver_sql(
        f"SET LOCAL statement_timeout = {int(config.get('DB_JOB_STATEMENT_TIMEOUT_MS', 600000))}"
    )
    connection.exec_driver_sql(
        f"SET LOCAL lock_timeout = {int(config.get('DB_JOB_LOCK_TIMEOUT_MS', 30000))}"
    )
