"""The daily overdue check of milestones.

A milestone is overdue once its due date (Beijing) has passed while it is still open (no
progress report in) and its project runs. Each overdue milestone is announced once
(``overdue_notified_at``): the project's organisation gets one message per project, the
bureau one message per run listing them all. Running the job again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager

from grants.core import audit
from grants.core.jobs import job
from grants.core.links import site_path
from grants.core.scheduler import schedule
from grants.core.timeutil import utc_to_local
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.operations import notify
from grants.projects.models import Milestone, Project
from grants.projects.progress import bureau_users, owner_users


def overdue_unannounced(today: date) -> list[Milestone]:
    """Open milestones of running projects due before ``today`` and not yet announced."""
    return db.session.scalars(
        sa.select(Milestone)
        .join(Milestone.project)
        .where(
            Project.state == "in_progress",
            Milestone.state == "open",
            Milestone.due_date < today,
            Milestone.overdue_notified_at.is_(None),
        )
        .options(contains_eager(Milestone.project).joinedload(Project.organisation))
        .order_by(Project.code, Milestone.due_date, Milestone.position)
        .with_for_update(of=Milestone, skip_locked=True)
    ).all()


def _line(milestone: Milestone, today: date) -> str:
    return _(
        "%(code)s “%(milestone)s”: due %(due)s, %(days)d days overdue",
        code=milestone.project.code,
        milestone=milestone.title,
        due=milestone.due_date.isoformat(),
        days=(today - milestone.due_date).days,
    )


def notify_overdue_milestones(now: datetime | None = None) -> dict:
    """Announce newly overdue milestones to their organisations and the bureau; flushes; returns counts."""
    now = now or utcnow()
    today = utc_to_local(now).date()
    due = overdue_unannounced(today)
    if not due:
        return {"milestones": 0, "projects": 0}
    default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    by_project: dict[int, list[Milestone]] = defaultdict(list)
    for milestone in due:
        milestone.overdue_notified_at = now
        by_project[milestone.project_id].append(milestone)
    for milestones in by_project.values():
        project = milestones[0].project
        for user in owner_users(project):
            with force_locale(user.locale or default_locale):
                subject = _("Milestone overdue: %(code)s", code=project.code)
                body = "\n".join(
                    [
                        _(
                            "These milestones of project %(code)s “%(title)s” are past their due date "
                            "and no progress report has been submitted. Please submit the report or "
                            "request an extension.",
                            code=project.code,
                            title=project.title,
                        )
                    ]
                    + [f"– {_line(m, today)}" for m in milestones]
                )
            notify(
                [user],
                "milestone.overdue",
                subject,
                body,
                link=site_path("projects.milestones", project_id=project.id),
            )
    for user in bureau_users():
        with force_locale(user.locale or default_locale):
            subject = _("Overdue milestones: %(count)d", count=len(due))
            body = "\n".join(f"– {_line(m, today)} · {m.project.organisation.name}" for m in due)
        notify([user], "milestone.overdue", subject, body, link=site_path("projects.at_risk"))
    audit.record(
        "milestone.overdue_notified",
        None,
        label="system",
        after={
            "milestones": [m.id for m in due],
            "projects": sorted(by_project),
            "date": today.isoformat(),
        },
    )
    db.session.flush()
    return {"milestones": len(due), "projects": len(by_project)}


@job("projects.notify_overdue_milestones", label=_l("Overdue milestone reminders"))
def notify_overdue_milestones_job(ctx) -> dict:
    """The daily job: announce the milestones that became overdue and commit."""
    counts = notify_overdue_milestones()
    db.session.commit()
    return counts


schedule("projects.notify_overdue_milestones", every=timedelta(days=1))
