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
- applications: opened as drafts by an applicant account of their organisation while the
  call is open (``applications.operations.start_application``), filled section by section
  (``save_sections``: basic information, team, budget, milestones, KPI targets), submitted
  (``transition(..., "submit")``: the submission checks run and the reference number is
  taken from the call's counter, in the order of submission), withdrawn by the applicant, or
  formally checked by the bureau after the call closed (``pass_check``/``reject``); a
  return for revision comes while the call is open and is followed by the resubmission.
  Organisations without a demo login get one applicant account each
  (``applicant-org<index>@demo.example``, no usable password);
- public notices (公示): created and published by the bureau on their first day
  (``review.decisions.create_notice``/``publish_notice``, whose guard needs the call's
  approved applications), closed by the bureau the day after their last day.

Still written in bulk by ``History`` (see its module docstring): assignments, reviews and
decisions, projects and everything about money. An application past the formal check is
replayed up to ``under_review``; the states that rest on those bulk reviews and decisions
(reviewed, approved, declined, contracted) are then set in one UPDATE per state
(:meth:`Replay.settle_decided`) until the review step replays them.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from grants.accounts import operations as accounts
from grants.applications import operations as applications
from grants.applications.models import Application
from grants.core import audit
from grants.core.links import base_url_request_context
from grants.core.types import frozen_now
from grants.core.workflow import transition
from grants.demo.history import (
    ACCEPTANCE_CRITERIA,
    APPLICANT_HANDLES,
    AS_OF,
    HISTORY_ORGANISATIONS,
    MARKER_CALL,
    PROPOSAL_CRITERIA,
    AppPlan,
    CallPlan,
    History,
    happened,
    retire_qualifications,
    seed_year_figures,
    ts,
)
from grants.demo.roster import DEMO_DOMAIN, ORGANISATIONS, REGISTERED_AT, seed_organisations
from grants.extensions import db
from grants.funding.contracting import issue_task_book
from grants.notifications.operations import past_notifications
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
PAST_CHECK = ("under_review", "reviewed", "approved", "declined", "contracted")
WITHDRAWN_AFTER = timedelta(days=1)
FIRST_SUBMISSION_BEFORE = timedelta(days=5)
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
        self.users = users
        self.bureau = users.get("bureau")
        self.made: dict[int, Call] = {}
        self.counts: Counter[str] = Counter()
        self.applicants: dict[int, object] = {}
        self.applied: dict[str, list[AppPlan]] = {}
        self.replayed: dict[int, tuple[AppPlan, Application]] = {}

    def plans(self) -> list[CallPlan]:
        """The planned calls in the order they were created."""
        return sorted(self.history.calls.values(), key=lambda p: (p.dates.opens, p.code))

    # -- calls

    def calls(self) -> None:
        """Create, publish and close every planned call with its applications; the history's
        rows then refer to them."""
        for app in self.history.applications:
            self.applied.setdefault(app.call.code, []).append(app)
        self.applicant_accounts()
        # The applicants' notifications link to the application; they were read back then.
        with base_url_request_context(), past_notifications():
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
        self.counts["call.created"] += 1
        plan.row.id = call.id
        for (row, _criterion), made in zip(plan.criteria, call.criteria, strict=True):
            row.id = made.id
        if values["state"] in ("published", "closed"):
            with frozen_now(ts(plan.dates.opens - timedelta(days=7))):
                calls.fire(call, "publish", self.bureau)
            self.counts["call.publish"] += 1
            self.applications_while_open(call, self.applied.get(plan.code, []))
        if values["state"] == "closed":
            with frozen_now(ts(plan.dates.closes, 9)):
                calls.fire(call, "close", None)
            self.counts["call.close"] += 1
            self.formal_checks(call, plan)
        self.made[call.id] = call
        return call

    # -- applications

    def applicant_accounts(self) -> None:
        """The applicant account of every organisation that applies: the roster's demo login
        where it has one, else ``applicant-org<index>`` without a usable password."""
        for index in sorted({app.org for app in self.history.applications}):
            handle = APPLICANT_HANDLES.get(index, f"applicant-org{index}")
            user = self.users.get(handle) or accounts.find_user(f"{handle}@{DEMO_DOMAIN}")
            if user is None:
                org = self.history.orgs[index]
                with frozen_now(REGISTERED_AT):
                    user = accounts.create_user(
                        email=f"{handle}@{DEMO_DOMAIN}",
                        name=f"申报联系人（{org.name}）",
                        roles=["applicant"],
                        organisation_id=org.id,
                        password_hash="!" + secrets.token_hex(16),  # matches no password
                    )
                self.counts["applicant.created"] += 1
            self.applicants[index] = user

    def applications_while_open(self, call: Call, plans: list[AppPlan]) -> None:
        """Draft, fill, submit, return and resubmit, withdraw: in the order they happened."""
        steps = []
        for app in plans:
            steps.append((app.created, 0, app, self.draft))
            if app.submitted_at is None:
                continue
            returned = next((c for c in app.checks if c.decision == "return"), None)
            if returned is not None:
                first = app.submitted_at - FIRST_SUBMISSION_BEFORE
                steps.append((first, 1, app, self.submit))
                steps.append((returned.at, 2, app, self.check))
            steps.append((app.submitted_at, 1, app, self.submit))
            if app.state == "withdrawn":
                steps.append((app.submitted_at + WITHDRAWN_AFTER, 3, app, self.withdraw))
        # The operations flush what they write; a query need not flush the step before it.
        with db.session.no_autoflush:
            for at, _order, app, step in sorted(steps, key=lambda s: (s[0], s[1])):
                with frozen_now(at):
                    step(call, app, at)

    def draft(self, call: Call, app: AppPlan, at) -> None:
        actor = self.applicants[app.org]
        values = app.row.values
        made = applications.start_application(call, self.history.orgs[app.org], actor)
        sections = {
            "basic": {
                key: values[key]
                for key in (
                    "title",
                    "summary",
                    "objectives",
                    "technical_route",
                    "cluster_id",
                    "start_date",
                    "end_date",
                )
            },
            "team": app.team_rows,
            "budget": app.budget_rows,
            "milestones": app.milestone_rows,
            "kpis": {kind: (target, "") for kind, target in app.kpis.items()},
        }
        applications.save_sections(made, sections, actor)
        app.row.id = made.id
        self.replayed[made.id] = (app, made)
        self.counts["application.created"] += 1

    def submit(self, call: Call, app: AppPlan, at) -> None:
        transition(self.replayed[app.row.id][1], "submit", self.applicants[app.org])
        self.counts["application.submit"] += 1

    def withdraw(self, call: Call, app: AppPlan, at) -> None:
        transition(self.replayed[app.row.id][1], "withdraw", self.applicants[app.org])
        self.counts["application.withdraw"] += 1

    def check(self, call: Call, app: AppPlan, at) -> None:
        """The formal-check decision of the bureau at ``at``: pass, return or reject."""
        decision = next(c for c in app.checks if c.at == at)
        event = {"pass": "pass_check", "return": "return", "reject": "reject"}[decision.decision]
        transition(
            self.replayed[app.row.id][1],
            event,
            self.users.get(decision.bureau) or self.bureau,
            reasons=decision.reasons,
        )
        self.counts[f"application.{event}"] += 1

    def formal_checks(self, call: Call, plan: CallPlan) -> None:
        """The checks made once the call closed, in the order they were made."""
        due = [
            (check.at, app)
            for app in self.applied.get(plan.code, [])
            for check in app.checks
            if check.decision != "return"
        ]
        with db.session.no_autoflush:
            for at, app in sorted(due, key=lambda d: d[0]):
                with frozen_now(at):
                    self.check(call, app, at)

    def settle_decided(self) -> None:
        """Move the applications whose review and decision are still written in bulk to their
        historical state (one UPDATE per state; the review step will replay these events)."""
        missing = [
            app.row.values["title"] for app in self.history.applications if app.row.id is None
        ]
        if missing:
            raise RuntimeError(f"applications to calls never open: {missing[:3]}")
        by_state: dict[str, list[int]] = {}
        for application_id, (app, made) in self.replayed.items():
            if app.state != made.state:
                if made.state != "under_review" or app.state not in PAST_CHECK:
                    raise RuntimeError(
                        f"application {application_id}: {made.state}, planned {app.state}"
                    )
                by_state.setdefault(app.state, []).append(application_id)
        for state, ids in by_state.items():
            db.session.execute(
                sa.update(Application.__table__)
                .where(Application.__table__.c.id.in_(ids))
                .values(state=state, updated_at=Application.__table__.c.updated_at)
            )
        for application_id in (i for ids in by_state.values() for i in ids):
            db.session.expire(self.replayed[application_id][1])

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
        replay.settle_decided()
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
