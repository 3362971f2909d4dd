"""Reminders to experts (scheduled hourly): unanswered invitations, reviews due soon, overdue reviews.

An assignment is reminded at most once every 24 hours (``last_reminded_at``). Each expert
gets one message per run listing what waits; the bureau gets one message per run listing
the overdue reviews.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.applications.models import Application
from grants.core import audit
from grants.core.jobs import job
from grants.core.links import site_path
from grants.core.scheduler import schedule
from grants.core.timeutil import utc_to_local
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.operations import notify
from grants.review.assignments import bureau_users
from grants.review.models import Assignment, Expert, Review

ANSWER_WITHIN = timedelta(days=3)
DUE_SOON = timedelta(days=3)
REMIND_EVERY = timedelta(hours=24)
KINDS = ("unanswered", "due_soon", "overdue")


def reminders_due(now: datetime) -> dict[str, list[Assignment]]:
    """The assignments to remind now, by kind; none reminded within the last 24 hours."""
    submitted = sa.exists().where(
        Review.assignment_id == Assignment.id, Review.state == "submitted"
    )
    base = (
        sa.select(Assignment)
        .join(Assignment.application)
        .where(
            sa.or_(Assignment.purpose != "proposal", Application.state == "under_review"),
            sa.or_(
                Assignment.last_reminded_at.is_(None),
                Assignment.last_reminded_at <= now - REMIND_EVERY,
            ),
        )
        .options(
            joinedload(Assignment.application),
            joinedload(Assignment.expert).joinedload(Expert.user),
        )
        .order_by(Assignment.due_at, Assignment.id)
    )
    return {
        "unanswered": db.session.scalars(
            base.where(Assignment.state == "invited", Assignment.invited_at <= now - ANSWER_WITHIN)
        ).all(),
        "due_soon": db.session.scalars(
            base.where(
                Assignment.state == "accepted",
                ~submitted,
                Assignment.due_at > now,
                Assignment.due_at <= now + DUE_SOON,
            )
        ).all(),
        "overdue": db.session.scalars(
            base.where(Assignment.state == "accepted", ~submitted, Assignment.due_at <= now)
        ).all(),
    }


def _when(value: datetime) -> str:
    return utc_to_local(value).strftime("%Y-%m-%d %H:%M")


def _line(kind: str, assignment: Assignment) -> str:
    title = assignment.application.title
    if kind == "unanswered":
        return _(
            "Please accept or decline the invitation to review “%(title)s” (invited on %(date)s).",
            title=title,
            date=_when(assignment.invited_at),
        )
    if kind == "due_soon":
        return _(
            "Your review of “%(title)s” is due on %(date)s.",
            title=title,
            date=_when(assignment.due_at),
        )
    return _(
        "Your review of “%(title)s” was due on %(date)s and is overdue.",
        title=title,
        date=_when(assignment.due_at),
    )


def send_reminders(now: datetime | None = None) -> dict[str, int]:
    """Remind experts (and the bureau of overdue reviews); flushes; returns counts per kind."""
    now = now or utcnow()
    due = reminders_due(now)
    default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    per_expert: dict[int, list[tuple[str, Assignment]]] = defaultdict(list)
    for kind in KINDS:
        for assignment in due[kind]:
            per_expert[assignment.expert_id].append((kind, assignment))
            assignment.last_reminded_at = now
    link = site_path("review.my_reviews")
    for items in per_expert.values():
        user = items[0][1].expert.user
        if user is None:
            continue
        with force_locale(user.locale or default_locale):
            subject = _("Reminder: reviews waiting for you")
            body = "\n".join(f"– {_line(kind, a)}" for kind, a in items)
        notify([user], "assignment.reminder", subject, body, link=link)
    if due["overdue"]:
        calls = {a.application.call_id for a in due["overdue"]}
        overdue_link = (
            site_path("review.call_assignments", call_id=calls.pop())
            if len(calls) == 1
            else site_path("core.index")
        )
        for user in bureau_users():
            with force_locale(user.locale or default_locale):
                subject = _("Overdue reviews: %(count)d", count=len(due["overdue"]))
                body = "\n".join(
                    "– "
                    + _(
                        "%(expert)s: “%(title)s” (%(ref)s), due %(date)s",
                        expert=a.expert.name,
                        title=a.application.title,
                        ref=a.application.reference_no or "",
                        date=_when(a.due_at),
                    )
                    for a in due["overdue"]
                )
            notify([user], "assignment.overdue", subject, body, link=overdue_link)
    counts = {kind: len(due[kind]) for kind in KINDS}
    if any(counts.values()):
        audit.record(
            "assignment.reminders_sent",
            None,
            label="system",
            after={**counts, "assignments": sorted(a.id for kind in KINDS for a in due[kind])},
        )
    db.session.flush()
    return counts


@job("review.send_reminders", label=_l("Review reminders"))
def send_reminders_job(ctx) -> dict:
    """The hourly job: send the reminders that are due and commit."""
    counts = send_reminders()
    db.session.commit()
    return counts


schedule("review.send_reminders", every=timedelta(hours=1))
