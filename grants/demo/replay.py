"""The demo history replayed through the operations users drive, at the historical time.

:class:`~grants.demo.history.History` plans the history 2016–2026 (which calls, which
applications, which projects and money). What is converted here is not written as rows:
it is done by the same operations the bureau's pages call, each under
:func:`~grants.core.types.frozen_now` at the moment it happened, so the workflow engine
checks every transition, stamps the historical dates and writes the audit events a user's
action writes.

Converted so far:

- calls: created as drafts with their rubric, target clusters and required attachments
  (``programmes.operations.create_call``), published by the bureau seven days before they
  open, closed by the system at their close time (``transition``, as the
  ``programmes.close_expired_calls`` job does);
- public notices (公示): created and published by the bureau on their first day
  (``review.decisions.create_notice``/``publish_notice``, whose guard needs the call's
  approved applications), closed by the bureau the day after their last day.

Still written in bulk by ``History`` (see its module docstring): applications and their
formal checks, assignments, reviews and decisions, projects and everything about money.
The calls' reference counters follow those bulk applications.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from grants.applications.models import Application
from grants.core import audit
from grants.core.types import frozen_now
from grants.demo.history import (
    ACCEPTANCE_CRITERIA,
    AS_OF,
    HISTORY_ORGANISATIONS,
    MARKER_CALL,
    PROPOSAL_CRITERIA,
    CallPlan,
    History,
    happened,
    retire_qualifications,
    seed_year_figures,
    ts,
)
from grants.demo.roster import ORGANISATIONS, seed_organisations
from grants.extensions import db
from grants.funding.contracting import issue_task_book
from grants.orgs.models import Organisation
from grants.programmes import operations as calls
from grants.programmes.models import Call, RubricCriterion
from grants.projects.models import Project
from grants.review import decisions

LICENCE = {
    "code": "licence",
    "name_zh": "营业执照",
    "name_en": "Business licence",
    "required": True,
}
NOTICE_BODY = (
    "现将拟立项项目予以公示。公示期内，任何单位和个人对公示项目有异议的，可向区科技局书面反映。"
)


def _rubric(rows) -> list[dict]:
    return [
        {
            "name_zh": zh,
            "name_en": en,
            "description": "",
            "weight": Decimal(weight),
            "min_score": Decimal(0),
            "max_score": Decimal(10),
        }
        for zh, en, weight in rows
    ]


class Replay:
    """Drives the converted parts of a planned :class:`History` through the operations."""

    def __init__(self, history: History, users: dict):
        self.history = history
        self.bureau = users.get("bureau")
        self.made: dict[int, Call] = {}
        self.counts: Counter[str] = Counter()

    def plans(self) -> list[CallPlan]:
        """The planned calls in the order they were created."""
        return sorted(self.history.calls.values(), key=lambda p: (p.dates.opens, p.code))

    # -- calls

    def calls(self) -> None:
        """Create, publish and close every planned call; the history's rows then refer to them."""
        for plan in self.plans():
            self.call(plan)

    def call(self, plan: CallPlan) -> Call:
        """One call: drafted ten days and published seven days before it opens, closed when due."""
        values = plan.row.values
        with frozen_now(ts(plan.dates.opens - timedelta(days=10))):
            call = calls.create_call(
                {key: values[key] for key in calls.SETTING_FIELDS},
                cluster_ids=plan.cluster_ids,
                criteria=_rubric(PROPOSAL_CRITERIA),
                attachments=[LICENCE] if values["state"] == "published" else [],
                actor=self.bureau,
            )
            call.acceptance_criteria = [
                RubricCriterion(position=position, purpose="acceptance", **row)
                for position, row in enumerate(_rubric(ACCEPTANCE_CRITERIA), start=1)
            ]
            call.last_reference_no = plan.numbered
        self.counts["call.created"] += 1
        plan.row.id = call.id
        for (row, _criterion), made in zip(plan.criteria, call.criteria, strict=True):
            row.id = made.id
        if values["state"] in ("published", "closed"):
            with frozen_now(ts(plan.dates.opens - timedelta(days=7))):
                calls.fire(call, "publish", self.bureau)
            self.counts["call.publish"] += 1
        if values["state"] == "closed":
            with frozen_now(ts(plan.dates.closes, 9)):
                calls.fire(call, "close", None)
            self.counts["call.close"] += 1
        self.made[call.id] = call
        return call

    # -- public notices

    def notices(self) -> None:
        """The 公示 of every call with approvals once its notice period has begun.

        Runs after the history's applications and decisions are written: publishing lists
        the call's approved applications and refuses a notice without any.
        """
        for plan in self.plans():
            if plan.approvals and happened(plan.dates.notice_from):
                self.notice(plan)

    def notice(self, plan: CallPlan) -> None:
        call = self.made[plan.row.id]
        with frozen_now(ts(plan.dates.notice_from, 1)):
            notice = decisions.create_notice(
                call,
                {
                    "title": f"{call.title}拟立项项目公示",
                    "body": NOTICE_BODY,
                    "starts_on": plan.dates.notice_from,
                    "ends_on": plan.dates.notice_to,
                },
                self.bureau,
            )
            decisions.publish_notice(notice, self.bureau)
        self.counts["notice.publish"] += 1
        if plan.dates.notice_to < AS_OF:
            with frozen_now(ts(plan.dates.notice_to + timedelta(days=1), 1)):
                decisions.close_notice(notice, self.bureau)
            self.counts["notice.close"] += 1


def history_loaded() -> bool:
    return db.session.scalar(sa.select(Call.id).where(Call.code == MARKER_CALL)) is not None


def issue_task_books(actor) -> int:
    """Render the task books of the demo projects waiting for their signature, as contracting does.

    Rendering takes seconds per PDF, so tests skip it unless ``DEMO_TASK_BOOKS`` is set.
    """
    waiting = db.session.scalars(
        sa.select(Project).where(Project.state == "contracting", Project.task_book_sha256.is_(None))
    ).all()
    for project in waiting:
        issue_task_book(project, actor)
    return len(waiting)


def seed_history(
    clusters: dict, orgs: dict[int, Organisation], users: dict, experts: list
) -> dict[str, int]:
    """Load the demo history (idempotent; flushes only).

    ``orgs`` maps the plan organisations' demo indexes to their rows and is completed with
    the history's other enterprises; ``users`` maps demo handles to accounts.
    """
    orgs.update(seed_organisations(clusters, HISTORY_ORGANISATIONS))
    retire_qualifications(orgs)
    figures = seed_year_figures(orgs, [*ORGANISATIONS, *HISTORY_ORGANISATIONS])
    if not history_loaded():
        history = History(clusters, orgs, users, experts)
        history.build()
        replay = Replay(history, users)
        replay.calls()
        history.write()
        replay.notices()
        audit.record(
            "demo.history_loaded",
            after={
                "projects": history.projects,
                "calls": len(history.calls),
                "as_of": AS_OF.isoformat(),
            },
        )
    if current_app.config.get("DEMO_TASK_BOOKS", not current_app.testing):
        issue_task_books(users.get("bureau"))
    counts = {"year figures": figures}
    for label, model in (("calls", Call), ("applications", Application), ("projects", Project)):
        counts[label] = db.session.scalar(sa.select(sa.func.count()).select_from(model))
    return counts
