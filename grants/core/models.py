"""Tables of the cores: the audit log and the job records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column

from grants.core.states import StateSet, state_set
from grants.core.types import UTCDateTime, utcnow
from grants.extensions import db


class AuditEvent(db.Model):
    """One append-only line of the audit log."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor_label: Mapped[str] = mapped_column(sa.String(255), default="")
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(60))
    object_id: Mapped[str | None] = mapped_column(sa.String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    ip: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id"),)


@state_set("job")
class JobState(StateSet):
    """The status of a background job (stored in ``Job.status``; the jobs table has no workflow)."""

    QUEUED = "queued", lazy_pgettext("job state", "Queued"), "secondary"
    RUNNING = "running", lazy_pgettext("job state", "Running"), "primary"
    FINISHED = "finished", lazy_pgettext("job state", "Finished"), "success"
    FAILED = "failed", lazy_pgettext("job state", "Failed"), "danger"


class Job(db.Model):
    """A background job's record of truth: status, progress and outcome."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), index=True)
    args: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(sa.Integer, default=0)
    message: Mapped[str] = mapped_column(sa.String(500), default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The outbox: when the dispatcher handed the row to a queue (None = still waiting), the
    # queue's reference ("thread" for in-process runs), the earliest time of the next
    # attempt (back-off after a dead worker) and the running worker's last sign of life.
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queue_ref: Mapped[str | None] = mapped_column(sa.String(64))
    run_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (
        sa.CheckConstraint("status in ('queued','running','finished','failed')", name="status"),
        sa.CheckConstraint("progress >= 0 and progress <= 100", name="progress_range"),
    )


class ScheduledRun(db.Model):
    """When a periodic job was last put on the queue; claimed atomically by one scheduler."""

    __tablename__ = "scheduled_runs"

    name: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    last_enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
