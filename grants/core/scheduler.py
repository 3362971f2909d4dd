"""Periodic jobs: reminders, overdue checks, closing calls, expiring invitations.

A domain declares ``schedule("job.name", every=timedelta(...))`` for a job registered
with :func:`grants.core.jobs.job`. :func:`run_due` enqueues each job whose interval has
passed; the claim is one conditional UPDATE of ``scheduled_runs``, so several
schedulers (one per app server, or the CLI loop) never enqueue the same run twice.
Without Redis the app starts the loop in a background thread; with Redis run
``flask --app wsgi scheduler`` once beside the workers. Each round (:func:`tick`) also
dispatches the jobs waiting in the outbox and sweeps the dead ones; a round that fails
(Redis or the database away) is logged and the loop backs off up to
``SCHEDULER_MAX_BACKOFF`` seconds instead of dying.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from grants.core import jobs
from grants.core.jobs import JOB_FUNCTIONS, enqueue
from grants.core.models import ScheduledRun
from grants.core.sqlite import immediate_writes
from grants.core.types import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    job_name: str
    every: timedelta


SCHEDULES: dict[str, Schedule] = {}


def schedule(job_name: str, every: timedelta) -> Schedule:
    """Run the registered job ``job_name`` every ``every``."""
    entry = Schedule(job_name, every)
    SCHEDULES[job_name] = entry
    return entry


def _claim(entry: Schedule, now: datetime) -> bool:
    if db.session.get(ScheduledRun, entry.job_name) is None:
        try:
            with db.session.begin_nested():
                db.session.add(ScheduledRun(name=entry.job_name, last_enqueued_at=None))
        except sa.exc.IntegrityError:
            pass
    claimed = db.session.execute(
        sa.update(ScheduledRun)
        .where(
            ScheduledRun.name == entry.job_name,
            sa.or_(
                ScheduledRun.last_enqueued_at.is_(None),
                ScheduledRun.last_enqueued_at <= now - entry.every,
            ),
        )
        .values(last_enqueued_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1


def run_due(now: datetime | None = None) -> list[str]:
    """Enqueue every scheduled job that is due; commits; returns the names enqueued."""
    now = now or utcnow()
    started = []
    with immediate_writes():
        for entry in SCHEDULES.values():
            if entry.job_name not in JOB_FUNCTIONS:
                log.warning("scheduled job %s is not registered", entry.job_name)
                continue
            if _claim(entry, now):
                enqueue(entry.job_name)
                started.append(entry.job_name)
        db.session.commit()
    return started


def tick(app: Flask, now: datetime | None = None) -> bool:
    """One round: dispatch the outbox, sweep dead jobs, enqueue what is due; True if all went well.

    Each step is guarded on its own, so a failure in one (Redis or the database away)
    is logged and the others still run.
    """
    healthy = True
    for name, step in (
        ("dispatch", lambda: jobs.dispatch_pending(app, now)),
        ("sweep", lambda: _commit(jobs.sweep_dead_jobs, now)),
        ("schedule", lambda: run_due(now)),
    ):
        with app.app_context():
            try:
                step()
            except Exception as exc:
                healthy = False
                _log_failure(name, exc)
                with contextlib.suppress(Exception):
                    db.session.rollback()
            finally:
                db.session.remove()
    if app.config["JOBS_MODE"] == "rq" and jobs.breaker.is_open():
        healthy = False
    return healthy


def _commit(step, now):
    with immediate_writes():
        result = step(now)
        db.session.commit()
    return result


_failures_logged: set[str] = set()


def _log_failure(step: str, exc: Exception) -> None:
    """Log the first failure of a kind in full, the repeats briefly."""
    kind = f"{step}:{type(exc).__name__}"
    if kind in _failures_logged:
        log.warning("scheduler %s failed again: %s", step, type(exc).__name__)
        return
    _failures_logged.add(kind)
    log.exception("scheduler %s failed", step)


def next_wait(interval: float, failures: int, max_backoff: float) -> float:
    """Seconds to the next tick: the interval while healthy, else 1, 2, 4 … up to ``max_backoff``."""
    if failures <= 0:
        return interval
    return min(float(max_backoff), float(2 ** min(failures - 1, 16)))


def loop(app: Flask, interval: float = 30.0, stop: threading.Event | None = None) -> None:
    """Call :func:`tick` every ``interval`` seconds (backing off after failures) until ``stop`` is set."""
    stop = stop or threading.Event()
    failures = 0
    while not stop.is_set():
        try:
            healthy = tick(app)
        except Exception:
            log.exception("scheduler tick failed")
            healthy = False
        if healthy:
            if failures:
                log.warning("scheduler recovered after %d failed rounds", failures)
                _failures_logged.clear()
            failures = 0
        else:
            failures += 1
        stop.wait(next_wait(interval, failures, app.config.get("SCHEDULER_MAX_BACKOFF", 60)))


_started = False


def start_in_process(app: Flask) -> None:
    """Start the loop in a daemon thread once per process (jobs without Redis)."""
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=loop, args=(app,), name="grants-scheduler", daemon=True).start()
    time.sleep(0)
