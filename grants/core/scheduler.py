"""Periodic jobs: reminders, overdue checks, closing calls, expiring invitations.

A domain declares ``schedule("job.name", every=timedelta(...))`` for a job registered
with :func:`grants.core.jobs.job`. :func:`run_due` enqueues each job whose interval has
passed; the claim is one conditional UPDATE of ``scheduled_runs``, so several
schedulers (one per app server, or the CLI loop) never enqueue the same run twice.
Without Redis the app starts the loop in a background thread; with Redis run
``flask --app wsgi scheduler`` once beside the workers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

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
        .where(ScheduledRun.name == entry.job_name,
               sa.or_(ScheduledRun.last_enqueued_at.is_(None),
                      ScheduledRun.last_enqueued_at <= now - entry.every))
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


def loop(app: Flask, interval: float = 30.0, stop: threading.Event | None = None) -> None:
    """Call :func:`run_due` every ``interval`` seconds until ``stop`` is set."""
    stop = stop or threading.Event()
    while not stop.is_set():
        with app.app_context():
            try:
                run_due()
            except Exception:  # noqa: BLE001 - keep the loop alive; the error is logged
                log.exception("scheduler run failed")
                db.session.rollback()
            finally:
                db.session.remove()
        stop.wait(interval)


_started = False


def start_in_process(app: Flask) -> None:
    """Start the loop in a daemon thread once per process (jobs without Redis)."""
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=loop, args=(app,), name="grants-scheduler", daemon=True).start()
    time.sleep(0)
