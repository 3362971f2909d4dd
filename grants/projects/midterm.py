"""Mid-term checks (中期检查): the bureau's conclusion on a batch of running projects.

Each project of a batch gets a pass, a conditional pass with a rectification deadline,
or a fail with comments. Every conclusion is a :class:`MidtermCheck` row, audited, and
the project's organisation is told. A conditional pass stays listed until the bureau
marks the rectification done.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.core import audit
from grants.core.links import site_path
from grants.core.refusals import OperationError
from grants.core.timeutil import local_today, utc_to_local
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.operations import notify
from grants.projects.models import MIDTERM_CONCLUSIONS, MidtermCheck, Project
from grants.projects.progress import owner_users

BATCH_MAX = 40


class MidtermError(OperationError):
    """A refused mid-term record; ``index`` names the entry (row) at fault, if any."""

    def __init__(self, message: str, field: str | None = None, index: int | None = None):
        super().__init__(message, field)
        self.index = index


@dataclass
class MidtermEntry:
    """The conclusion on one project of a batch, as the bureau typed it."""

    project_id: int
    conclusion: str
    comments: str = ""
    rectify_by: date | None = None


def running_projects() -> list[Project]:
    """Projects that may be checked: the running ones, by code, with their organisation."""
    return db.session.scalars(
        sa.select(Project)
        .where(Project.state == "in_progress")
        .options(joinedload(Project.organisation))
        .order_by(Project.code)
    ).all()


def entry_problem(entry: MidtermEntry, today: date) -> tuple[str, str] | None:
    """What is wrong with one entry as (field, message), or None."""
    if entry.conclusion not in MIDTERM_CONCLUSIONS:
        return "conclusion", _("Choose a conclusion.")
    if entry.conclusion == "conditional":
        if entry.rectify_by is None:
            return "rectify_by", _("A conditional pass needs a rectification deadline.")
        if entry.rectify_by <= today:
            return "rectify_by", _("The rectification deadline must lie in the future.")
    if entry.conclusion != "pass" and not (entry.comments or "").strip():
        return "comments", _("Say what has to change: the project owner will read these comments.")
    return None


def record_midterm_checks(batch: str, entries: list[MidtermEntry], actor) -> list[MidtermCheck]:
    """Record the mid-term conclusions of a batch of running projects.

    ``batch`` labels the round (for example “2026 mid-term check”). Each entry must name a
    different running project; a conditional pass needs a future rectification deadline
    and every conclusion but a pass needs comments. One audited :class:`MidtermCheck` per
    project is written and the project's organisation is notified. Flushes.
    """
    batch = (batch or "").strip()
    if not batch:
        raise MidtermError(_("Name the batch, for example “2026 mid-term check”."), "batch")
    if len(batch) > BATCH_MAX:
        raise MidtermError(_("The batch name is too long."), "batch")
    if not entries:
        raise MidtermError(_("Choose at least one running project."), "batch")
    ids = [e.project_id for e in entries]
    if len(set(ids)) != len(ids):
        raise MidtermError(_("A project is listed twice."), "batch")
    known = [i for i in ids if 0 < i < 2**31]  # a larger id names no project (nor fits the column)
    projects = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Project)
            .where(Project.id.in_(known))
            .options(joinedload(Project.organisation))
        )
    }
    today = local_today()
    for index, entry in enumerate(entries):
        project = projects.get(entry.project_id)
        if project is None or project.state != "in_progress":
            raise MidtermError(_("Only running projects can be checked."), "conclusion", index)
        problem = entry_problem(entry, today)
        if problem:
            raise MidtermError(problem[1], problem[0], index)
    checks = []
    now = utcnow()
    for entry in entries:
        project = projects[entry.project_id]
        check = MidtermCheck(
            project_id=project.id,
            batch=batch,
            conclusion=entry.conclusion,
            comments=(entry.comments or "").strip(),
            rectify_by=entry.rectify_by if entry.conclusion == "conditional" else None,
            checked_by_id=getattr(actor, "id", None),
            checked_at=now,
        )
        db.session.add(check)
        db.session.flush()
        audit.record(
            "midterm.recorded",
            check,
            actor=actor,
            after={
                "project": project.code,
                "batch": batch,
                "conclusion": check.conclusion,
                "comments": check.comments,
                "rectify_by": check.rectify_by.isoformat() if check.rectify_by else None,
            },
        )
        _notify_owner(project, check)
        checks.append(check)
    return checks


def _notify_owner(project: Project, check: MidtermCheck) -> None:
    subjects = {
        "pass": _l("Mid-term check passed: %(code)s"),
        "conditional": _l("Mid-term check passed on conditions: %(code)s"),
        "fail": _l("Mid-term check failed: %(code)s"),
    }
    bodies = {
        "pass": _l(
            "Project %(code)s “%(title)s” has passed the mid-term check (%(batch)s).\n\n%(comments)s"
        ),
        "conditional": _l(
            "Project %(code)s “%(title)s” has passed the mid-term check (%(batch)s) on conditions. "
            "Rectify the points below by %(deadline)s.\n\n%(comments)s"
        ),
        "fail": _l(
            "Project %(code)s “%(title)s” has failed the mid-term check (%(batch)s).\n\n%(comments)s"
        ),
    }
    notify(
        owner_users(project),
        f"midterm.{check.conclusion}",
        subjects[check.conclusion],
        bodies[check.conclusion],
        link=site_path("projects.detail", project_id=project.id, _anchor="midterm"),
        params={
            "code": project.code,
            "title": project.title,
            "batch": check.batch,
            "comments": check.comments,
            "deadline": check.rectify_by.isoformat() if check.rectify_by else "",
        },
    )


def mark_rectified(check: MidtermCheck, actor) -> None:
    """Record that the project has rectified what a conditional pass asked for (audited)."""
    if check.conclusion != "conditional":
        raise MidtermError(_("Only a conditional pass waits for rectification."))
    if check.rectified_at is not None:
        raise MidtermError(_("The rectification has already been recorded."))
    check.rectified_at = utcnow()
    db.session.flush()
    audit.record(
        "midterm.rectified",
        check,
        actor=actor,
        after={"project_id": check.project_id, "rectified_at": check.rectified_at.isoformat()},
    )


def checks_of(project: Project) -> list[MidtermCheck]:
    """The project's mid-term checks, the latest first."""
    return db.session.scalars(
        sa.select(MidtermCheck)
        .where(MidtermCheck.project_id == project.id)
        .order_by(MidtermCheck.checked_at.desc(), MidtermCheck.id.desc())
    ).all()


def open_conditions() -> list[MidtermCheck]:
    """Conditional passes not yet rectified, the nearest deadline first, with their project."""
    return db.session.scalars(
        sa.select(MidtermCheck)
        .where(MidtermCheck.conclusion == "conditional", MidtermCheck.rectified_at.is_(None))
        .options(joinedload(MidtermCheck.project).joinedload(Project.organisation))
        .order_by(MidtermCheck.rectify_by, MidtermCheck.id)
    ).all()


@dataclass
class BatchSummary:
    batch: str
    checked_on: date
    counts: Counter


def batch_summaries(limit: int = 20) -> list[BatchSummary]:
    """The recorded batches, the latest first, with the number of each conclusion."""
    rows = db.session.execute(
        sa.select(
            MidtermCheck.batch,
            MidtermCheck.conclusion,
            sa.func.count(MidtermCheck.id),
            sa.func.max(MidtermCheck.checked_at),
        ).group_by(MidtermCheck.batch, MidtermCheck.conclusion)
    ).all()
    summaries: dict[str, BatchSummary] = {}
    for batch, conclusion, count, latest in rows:
        day = utc_to_local(latest).date() if latest else local_today()
        summary = summaries.setdefault(batch, BatchSummary(batch, day, Counter()))
        summary.counts[conclusion] += count
        summary.checked_on = max(summary.checked_on, day)
    return sorted(summaries.values(), key=lambda s: (s.checked_on, s.batch), reverse=True)[:limit]
