"""Acceptance (结题验收): the final report and final financial statement, the acceptance panel,
the conclusion and the closure of a project.

**The final report.** The project owner writes one final report per acceptance round: a
summary, the figure achieved for each KPI of the task book (in the KPI's own unit) and
the final financial statement (决算) — the fiscal money spent per budget category, in
yuan, prefilled from the verified spending reports — with the report and statement
documents as uploads. Outcomes (patents, papers, standards, products, software, awards,
revenue, jobs) belong to the project, each with its evidence; they are linked to the
report that passes. Submitting the report (``final_report.submit``) requests acceptance:
its effect fires the project's ``request_acceptance``, which moves the project into
acceptance review and tells the bureau and finance.

**Finance** verifies the statement beside the budget and the verified spending
(``verify``) or returns it with a note (``return``); the owner corrects and resubmits it
while the project stays in acceptance review.

**The panel.** The bureau convenes an acceptance panel with the review engine: acceptance
assignments (``Assignment.purpose='acceptance'``) on the project's application for the
report's round, chosen by hand or suggested by the min-cost-flow solver; conflicts of
interest are judged exactly as for proposals. Experts score the report against the call's
acceptance rubric; a call without one gets the default rubric (:data:`DEFAULT_RUBRIC`) when
its first panel is convened.

**The conclusion** is the bureau's: pass, rectify (reasons and a deadline: the project goes
back to work and a new report round is opened, prefilled from the last) or fail (reasons).
Every conclusion needs a quorum of the panel: at least ``min(3, accepted experts)``
submitted acceptance reviews of the round, and never fewer than one — a panel of five may
conclude once three have scored, a panel of two needs both. Passing also needs the
statement verified by finance; it records the panel's mean weighted score, writes the
achieved figures onto the project's KPIs, links the outcomes to the report and makes the
acceptance tranche due. Open invitations of the round are withdrawn at any conclusion. A
failed project's acceptance tranches that never fell due are cancelled.

**Closure.** An accepted project closes once every tranche is paid or cancelled; a failed
one closes at once.

Operations flush and never commit. The workflow guards, effects and notifications named
by ``grants/projects/workflow.py`` are at the end of this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from grants.accounts.models import User, UserRole
from grants.applications.models import BUDGET_CATEGORIES, KPI_KINDS
from grants.core import audit, storage
from grants.core.money import format_wan, to_money
from grants.core.refusals import OperationError
from grants.core.states import label_of
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.notifications.operations import notify
from grants.programmes.models import Call, RubricCriterion
from grants.projects import hooks
from grants.projects.hooks import spent_by_category
from grants.projects.models import (
    OUTCOME_KINDS,
    AcceptanceDecision,
    ChangeRequest,
    FinalReport,
    FinalReportState,
    Outcome,
    Project,
    ProjectFile,
)
from grants.review import assignments as ops
from grants.review.aggregation import mean
from grants.review.models import Assignment, Review

MIN_PANEL_REVIEWS = 3
DEFAULT_PANEL_SIZE = 3
#: The acceptance rubric a call gets when its first panel is convened without one:
#: (Chinese name, English name, weight), each scored from 0 to 10.
DEFAULT_RUBRIC = (
    ("任务完成情况", "Completion of the tasks", Decimal("40")),
    ("绩效目标实现", "KPI targets achieved", Decimal("30")),
    ("经费使用", "Use of funds", Decimal("20")),
    ("成果水平", "Level of the outcomes", Decimal("10")),
)
RUBRIC_RANGE = (Decimal("0"), Decimal("10"))
REPORT_DOCUMENTS = {
    "final_report": _l("Final report"),
    "final_statement": _l("Final financial statement"),
}
EDITABLE_STATES = (FinalReportState.DRAFT, FinalReportState.RETURNED)
CONCLUDABLE = ("pass", "rectify", "fail")
TWO_PLACES = Decimal("0.01")


class AcceptanceError(OperationError):
    """A refused acceptance operation (message user-facing, ``field`` the form field at fault)."""


# --- reading ----------------------------------------------------------------------------------


def current_report(project: Project) -> FinalReport | None:
    """The project's final report of the latest round, or None before the first one."""
    return db.session.scalar(
        sa.select(FinalReport)
        .where(FinalReport.project_id == project.id)
        .order_by(FinalReport.round.desc())
        .limit(1)
    )


def report_for_round(project: Project, round: int) -> FinalReport | None:
    return db.session.scalar(
        sa.select(FinalReport).where(
            FinalReport.project_id == project.id, FinalReport.round == round
        )
    )


def previous_reports(project: Project) -> list[FinalReport]:
    """Every round but the latest, newest first."""
    reports = db.session.scalars(
        sa.select(FinalReport)
        .where(FinalReport.project_id == project.id)
        .order_by(FinalReport.round.desc())
    ).all()
    return list(reports[1:])


def decisions_of(project: Project) -> list[AcceptanceDecision]:
    return db.session.scalars(
        sa.select(AcceptanceDecision)
        .where(AcceptanceDecision.project_id == project.id)
        .order_by(AcceptanceDecision.decided_at.desc(), AcceptanceDecision.id.desc())
    ).all()


def kpi_label(kind: str) -> tuple[str, str]:
    """A KPI kind's name and unit in the user's language."""
    label, unit = KPI_KINDS.get(kind, (kind, ""))
    return str(label), str(unit)


def outcome_label(kind: str) -> tuple[str, str]:
    label, unit = OUTCOME_KINDS.get(kind, (kind, ""))
    return str(label), str(unit)


def _decimal(text) -> Decimal | None:
    if text is None or text == "":
        return None
    return Decimal(str(text))


@dataclass
class KpiRow:
    kind: str
    label: str
    unit: str
    target: Decimal
    achieved: Decimal | None

    @property
    def met(self) -> bool | None:
        return None if self.achieved is None else self.achieved >= self.target


@dataclass
class StatementRow:
    """One budget category of the final statement: budget beside verified spending and the statement."""

    category: str
    label: str
    budget: Decimal
    self_raised: Decimal
    verified: Decimal
    reported: Decimal | None

    @property
    def difference(self) -> Decimal | None:
        """The statement minus the verified spending (None while the statement is empty)."""
        return None if self.reported is None else self.reported - self.verified

    @property
    def over_budget(self) -> bool:
        return self.reported is not None and self.reported > self.budget


def kpi_rows(project: Project, report: FinalReport | None) -> list[KpiRow]:
    """The task book's KPIs with the figures of the report (or, once accepted, of the project)."""
    achieved = dict((report.kpi_achieved or {}) if report is not None else {})
    rows = []
    for kpi in project.kpis:
        label, unit = kpi_label(kpi.kind)
        value = _decimal(achieved.get(kpi.kind)) if kpi.kind in achieved else kpi.achieved
        rows.append(KpiRow(kpi.kind, label, unit, kpi.target, value))
    return rows


def statement_rows(project: Project, report: FinalReport | None) -> list[StatementRow]:
    """The statement by budget category: fiscal budget, verified spending and the reported figure."""
    spent = spent_by_category([project.id])[project.id]
    reported = dict((report.statement or {}) if report is not None else {})
    rows = []
    seen = set()
    for line in project.budget_lines:
        seen.add(line.category)
        rows.append(
            StatementRow(
                line.category,
                str(BUDGET_CATEGORIES.get(line.category, line.category)),
                line.fiscal,
                line.self_raised,
                spent.get(line.category, Decimal(0)),
                _decimal(reported.get(line.category)),
            )
        )
    for category in sorted(set(reported) - seen):
        rows.append(
            StatementRow(
                category,
                str(BUDGET_CATEGORIES.get(category, category)),
                Decimal(0),
                Decimal(0),
                spent.get(category, Decimal(0)),
                _decimal(reported[category]),
            )
        )
    return rows


def statement_prefill(project: Project) -> dict[str, Decimal]:
    """The verified spending per budget category: the statement's starting figures."""
    return {row.category: row.verified for row in statement_rows(project, None)}


def project_outcomes(project: Project) -> list[Outcome]:
    return db.session.scalars(
        sa.select(Outcome)
        .where(Outcome.project_id == project.id)
        .order_by(Outcome.kind, Outcome.achieved_on, Outcome.id)
    ).all()


def files_of(project: Project, **owner) -> list[ProjectFile]:
    stmt = sa.select(ProjectFile).where(ProjectFile.project_id == project.id)
    for column, value in owner.items():
        stmt = stmt.where(getattr(ProjectFile, column) == value)
    return db.session.scalars(stmt.order_by(ProjectFile.uploaded_at, ProjectFile.id)).all()


def outcome_files(project: Project) -> dict[int, list[ProjectFile]]:
    found: dict[int, list[ProjectFile]] = {}
    for f in db.session.scalars(
        sa.select(ProjectFile)
        .where(ProjectFile.project_id == project.id, ProjectFile.purpose == "outcome_evidence")
        .order_by(ProjectFile.id)
    ):
        found.setdefault(f.outcome_id, []).append(f)
    return found


@dataclass
class ReportView:
    """Everything a reader of one final report sees: the owner, finance, the bureau, the panel."""

    project: Project
    report: FinalReport | None
    kpis: list[KpiRow]
    statement: list[StatementRow]
    outcomes: list[Outcome]
    outcome_files: dict[int, list[ProjectFile]]
    documents: list[ProjectFile]

    @property
    def statement_total(self) -> Decimal | None:
        values = [r.reported for r in self.statement]
        return None if any(v is None for v in values) else sum(values, Decimal(0))

    @property
    def budget_total(self) -> Decimal:
        return sum((r.budget for r in self.statement), Decimal(0))

    @property
    def verified_total(self) -> Decimal:
        return sum((r.verified for r in self.statement), Decimal(0))

    @property
    def state_label(self) -> str:
        return label_of(FinalReportState, self.report.state) if self.report else ""


def report_view(project: Project, report: FinalReport | None) -> ReportView:
    documents = (
        files_of(project, final_report_id=report.id) if report is not None and report.id else []
    )
    return ReportView(
        project,
        report,
        kpi_rows(project, report),
        statement_rows(project, report),
        project_outcomes(project),
        outcome_files(project),
        documents,
    )


def assignment_report_view(assignment) -> ReportView | None:
    """The final report an acceptance assignment scores (its project's report of its round)."""
    project = db.session.scalar(
        sa.select(Project).where(Project.application_id == assignment.application_id)
    )
    if project is None:
        return None
    return report_view(project, report_for_round(project, assignment.round))


# --- the panel ---------------------------------------------------------------------------------


def panel_assignments(project: Project, round: int | None = None) -> list:
    """The acceptance assignments of the project for ``round`` (the latest round by default)."""

    if round is None:
        report = current_report(project)
        if report is None:
            return []
        round = report.round
    return db.session.scalars(
        sa.select(Assignment)
        .where(
            Assignment.application_id == project.application_id,
            Assignment.purpose == "acceptance",
            Assignment.round == round,
        )
        .options(
            selectinload(Assignment.expert),
            selectinload(Assignment.review).selectinload(Review.scores),
        )
        .order_by(Assignment.invited_at, Assignment.id)
    ).all()


@dataclass
class PanelState:
    """The acceptance panel of one round: its assignments, how many accepted and scored, the mean."""

    assignments: list
    round: int | None
    accepted: int = 0
    submitted: int = 0
    totals: list[Decimal] = field(default_factory=list)

    @property
    def needed(self) -> int:
        """Submitted reviews a conclusion needs: min(3, accepted experts), at least one."""
        return max(1, min(MIN_PANEL_REVIEWS, self.accepted))

    @property
    def quorate(self) -> bool:
        return self.submitted >= self.needed

    @property
    def mean(self) -> Decimal | None:
        return mean(self.totals) if self.totals else None

    @property
    def open_count(self) -> int:
        return sum(1 for a in self.assignments if a.state in ("invited", "accepted"))


def is_valid_review(assignment) -> bool:
    review = assignment.review
    return assignment.state == "accepted" and review is not None and review.state == "submitted"


def panel_state(project: Project, round: int | None = None) -> PanelState:
    if round is None:
        report = current_report(project)
        round = report.round if report is not None else None
    assignments = panel_assignments(project, round) if round is not None else []
    state = PanelState(assignments, round)
    for a in assignments:
        if a.state == "accepted":
            state.accepted += 1
        if is_valid_review(a):
            state.submitted += 1
            state.totals.append(a.review.total)
    return state


def ensure_acceptance_rubric(call: Call, actor) -> list[RubricCriterion]:
    """The call's acceptance rubric; a call without one gets :data:`DEFAULT_RUBRIC` (audited)."""
    if call.acceptance_criteria:
        return list(call.acceptance_criteria)
    low, high = RUBRIC_RANGE
    for position, (name_zh, name_en, weight) in enumerate(DEFAULT_RUBRIC, start=1):
        db.session.add(
            RubricCriterion(
                call_id=call.id,
                purpose="acceptance",
                position=position,
                name_zh=name_zh,
                name_en=name_en,
                weight=weight,
                min_score=low,
                max_score=high,
            )
        )
    db.session.flush()
    db.session.expire(call, ["acceptance_criteria"])
    audit.record(
        "call.acceptance_rubric_created",
        call,
        actor=actor,
        after={
            "criteria": [[n, str(w)] for n, _e, w in DEFAULT_RUBRIC],
            "range": [str(low), str(high)],
        },
    )
    return list(call.acceptance_criteria)


def _panel_round(project: Project) -> int:
    if project.state != "acceptance_review":
        raise AcceptanceError(
            _("A panel can be convened only while the project is in acceptance review.")
        )
    report = current_report(project)
    if report is None:
        raise AcceptanceError(_("The project has no final report."))
    return report.round


def invite_panel_expert(project: Project, expert, actor, due_at: datetime):
    """Invite one chosen expert to the project's acceptance panel (conflicts refused).

    Convening the first panel of a call without an acceptance rubric creates the default one.
    """
    round = _panel_round(project)
    ensure_acceptance_rubric(project.call, actor)
    try:
        return ops.assign_manually(
            project.application, expert, actor, due_at, purpose=ops.ACCEPTANCE, round=round
        )
    except ops.AssignmentError as exc:
        raise AcceptanceError(exc.message, "expert_id") from exc


def invite_suggested_panel(
    project: Project, actor, *, size: int, due_at: datetime, draw: bool = False
):
    """Invite the experts the solver suggests to bring the panel to ``size`` (see review.assignments)."""
    round = _panel_round(project)
    ensure_acceptance_rubric(project.call, actor)
    try:
        return ops.invite_panel(
            project.application,
            actor,
            size=size,
            due_at=due_at,
            purpose=ops.ACCEPTANCE,
            round=round,
            draw=draw,
        )
    except ops.AssignmentError as exc:
        raise AcceptanceError(exc.message, "size") from exc


def suggested_experts(project: Project, size: int = DEFAULT_PANEL_SIZE):
    """What the solver would invite now to bring the panel to ``size`` (nothing is written)."""
    report = current_report(project)
    if project.state != "acceptance_review" or report is None:
        return None
    return ops.suggest_panel(
        project.application, size=size, purpose=ops.ACCEPTANCE, round=report.round
    )


# --- the owner's final report --------------------------------------------------------------------


def _owner_report(project: Project, actor) -> FinalReport:
    """The report the owner may edit now, created as round 1 when there is none yet."""
    report = current_report(project)
    if report is None:
        if project.state != "in_progress":
            raise AcceptanceError(
                _("The final report can be written only while the project is in progress.")
            )
        report = FinalReport(
            project_id=project.id,
            round=1,
            state="draft",
            summary="",
            kpi_achieved={},
            statement={k: str(v) for k, v in statement_prefill(project).items()},
        )
        db.session.add(report)
        db.session.flush()
        audit.record(
            "final_report.created", report, actor=actor, after={"project": project.code, "round": 1}
        )
    if report.state not in EDITABLE_STATES:
        raise AcceptanceError(
            _(
                "The final report has been submitted: it can be changed only if finance "
                "returns the statement."
            )
        )
    return report


def _clean_figures(values: dict, allowed: set[str], *, money: bool) -> dict[str, str]:
    found = {}
    for key, value in values.items():
        if key not in allowed or value is None:
            continue
        amount = to_money(value) if money else Decimal(value).quantize(TWO_PLACES)
        if amount < 0:
            raise AcceptanceError(_("Figures cannot be negative."))
        found[key] = str(amount)
    return found


def save_final_report(
    project: Project,
    actor,
    *,
    summary: str | None = None,
    kpi_achieved: dict | None = None,
    statement: dict | None = None,
) -> FinalReport:
    """Save the owner's final report of the current round (created when missing) and audit the changes.

    ``kpi_achieved`` maps the task book's KPI kinds to Decimals (or None: not given yet);
    ``statement`` maps the budget categories to yuan. Other keys are ignored. A part given
    as None (the summary, the KPIs or the statement) is left as it is: each step of the
    acceptance pages saves its own part.
    """
    report = _owner_report(project, actor)
    before = {
        "summary_length": len(report.summary or ""),
        "kpi_achieved": dict(report.kpi_achieved or {}),
        "statement": dict(report.statement or {}),
    }
    if summary is not None:
        report.summary = summary.strip()
    if kpi_achieved is not None:
        report.kpi_achieved = _clean_figures(
            kpi_achieved, {k.kind for k in project.kpis}, money=False
        )
    if statement is not None:
        report.statement = _clean_figures(
            statement, {line.category for line in project.budget_lines}, money=True
        )
    after = {
        "summary_length": len(report.summary or ""),
        "kpi_achieved": report.kpi_achieved,
        "statement": report.statement,
    }
    db.session.flush()
    if before != after:
        audit.record("final_report.saved", report, actor=actor, before=before, after=after)
    return report


def submit_final_report(project: Project, actor, **values) -> FinalReport:
    """Save the final report and submit it: the project then requests acceptance (see the guard)."""
    report = save_final_report(project, actor, **values)
    transition(report, "submit", actor)
    return report


def _store(project: Project, actor, upload, purpose: str, **owner) -> ProjectFile:
    try:
        stored = storage.save_upload(upload)
    except storage.UploadRefused as exc:
        raise AcceptanceError(exc.message, "file") from exc
    item = ProjectFile.from_stored(
        stored, project_id=project.id, purpose=purpose, actor=actor, **owner
    )
    db.session.add(item)
    db.session.flush()
    audit.record(
        "project_file.added",
        item,
        actor=actor,
        after={
            "project": project.code,
            "purpose": purpose,
            "name": item.original_name,
            "size": item.size,
            "sha256": item.sha256,
            **dict(owner.items()),
        },
    )
    return item


def add_report_document(project: Project, actor, purpose: str, upload) -> ProjectFile:
    """Upload the final report or the final statement document to the editable report."""
    if purpose not in REPORT_DOCUMENTS:
        raise AcceptanceError(_("Choose which document this is."), "purpose")
    report = _owner_report(project, actor)
    return _store(project, actor, upload, purpose, final_report_id=report.id)


def remove_file(item: ProjectFile, actor) -> None:
    """Remove an uploaded document or evidence file; the file goes once the transaction commits."""
    audit.record(
        "project_file.removed",
        item,
        actor=actor,
        before={
            "project_id": item.project_id,
            "purpose": item.purpose,
            "name": item.original_name,
            "sha256": item.sha256,
        },
    )
    storage.delete_after_commit(item.stored_name)
    db.session.delete(item)
    db.session.flush()


def remove_report_document(item: ProjectFile, actor) -> None:
    """Remove a document of the editable report."""
    report = db.session.get(FinalReport, item.final_report_id) if item.final_report_id else None
    if (
        report is None
        or item.purpose not in REPORT_DOCUMENTS
        or report.state not in EDITABLE_STATES
    ):
        raise AcceptanceError(
            _("This document belongs to a submitted report and cannot be removed.")
        )
    remove_file(item, actor)


def add_outcome(
    project: Project,
    actor,
    *,
    kind: str,
    title: str,
    quantity: Decimal,
    reference: str = "",
    achieved_on: date | None = None,
    note: str = "",
    evidence=(),
) -> Outcome:
    """Record an outcome of the project with its evidence files (revenue in yuan, jobs in people)."""
    if kind not in OUTCOME_KINDS:
        raise AcceptanceError(_("Choose the kind of outcome."), "kind")
    if quantity is None or quantity < 0:
        raise AcceptanceError(_("The quantity cannot be negative."), "quantity")
    quantity = to_money(quantity) if kind == "revenue" else Decimal(quantity).quantize(TWO_PLACES)
    if achieved_on is not None and achieved_on > local_today():
        raise AcceptanceError(_("An outcome cannot be dated in the future."), "achieved_on")
    outcome = Outcome(
        project_id=project.id,
        kind=kind,
        title=(title or "").strip()[:300],
        quantity=quantity,
        reference=(reference or "").strip()[:120],
        achieved_on=achieved_on,
        note=(note or "").strip(),
    )
    db.session.add(outcome)
    db.session.flush()
    audit.record(
        "outcome.added",
        outcome,
        actor=actor,
        after={
            "project": project.code,
            "kind": kind,
            "title": outcome.title,
            "quantity": str(outcome.quantity),
            "reference": outcome.reference,
            "achieved_on": achieved_on.isoformat() if achieved_on else None,
        },
    )
    for upload in storage.chosen_files(evidence):
        try:
            _store(project, actor, upload, "outcome_evidence", outcome_id=outcome.id)
        except AcceptanceError as exc:
            raise AcceptanceError(exc.message, "evidence") from exc
    return outcome


def remove_outcome(outcome: Outcome, actor) -> None:
    """Remove an outcome not yet linked to a passed report, with its evidence files."""
    if outcome.final_report_id is not None:
        raise AcceptanceError(_("This outcome belongs to an accepted report and is kept."))
    for item in files_of(outcome.project, outcome_id=outcome.id):
        storage.delete_after_commit(item.stored_name)
    audit.record(
        "outcome.removed",
        outcome,
        actor=actor,
        before={
            "project_id": outcome.project_id,
            "kind": outcome.kind,
            "title": outcome.title,
            "quantity": str(outcome.quantity),
        },
    )
    db.session.delete(outcome)
    db.session.flush()


# --- finance and the bureau -------------------------------------------------------------------------


def verify_statement(report: FinalReport, actor) -> FinalReport:
    """Finance verifies the final statement (``final_report.verify``)."""
    transition(report, "verify", actor)
    return report


def return_statement(report: FinalReport, actor, note: str) -> FinalReport:
    """Finance returns the final statement to the owner with a note (``final_report.return``)."""
    transition(report, "return", actor, note=(note or "").strip())
    return report


def conclude(
    project: Project, actor, conclusion: str, *, reasons: str = "", rectify_by: date | None = None
) -> Project:
    """The bureau's conclusion: fire ``pass``, ``rectify`` or ``fail`` on the project."""
    if conclusion not in CONCLUDABLE:
        raise AcceptanceError(_("Choose a conclusion."), "conclusion")
    data = {"reasons": (reasons or "").strip()}
    if conclusion == "rectify":
        data["rectify_by"] = rectify_by
    transition(project, conclusion, actor, **data)
    return project


def close_project(project: Project, actor) -> Project:
    """Close an accepted or failed project (``close``)."""
    transition(project, "close", actor)
    return project


# --- people to tell ---------------------------------------------------------------------------------


def users_with_role(*roles: str) -> list[User]:
    return db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True), User.roles.any(UserRole.role.in_(roles)))
        .order_by(User.id)
    ).all()


def owners_of(project: Project) -> list[User]:
    """The applicant users of the project's organisation."""
    return db.session.scalars(
        sa.select(User)
        .where(
            User.active.is_(True),
            User.organisation_id == project.organisation_id,
            User.roles.any(UserRole.role == "applicant"),
        )
        .order_by(User.id)
    ).all()


def _link(project: Project) -> str:
    return url_for("projects.acceptance", project_id=project.id)


# --- the workflow's guards, effects and notifications (grants/projects/workflow.py) -----------------


def guard_submit_final(report: FinalReport, actor, data) -> str | None:
    """The report is complete, every milestone achieved and no change request awaits a decision."""
    project = report.project
    problems = []
    if not (report.summary or "").strip():
        problems.append(_("Write the summary of the final report."))
    achieved = report.kpi_achieved or {}
    missing = [kpi_label(k.kind)[0] for k in project.kpis if achieved.get(k.kind) in (None, "")]
    if missing:
        problems.append(_("Give the achieved figure of: %(kpis)s.", kpis="、".join(missing)))
    statement = report.statement or {}
    missing = [
        str(BUDGET_CATEGORIES.get(line.category, line.category))
        for line in project.budget_lines
        if statement.get(line.category) in (None, "")
    ]
    if missing:
        problems.append(
            _("Complete the final financial statement: %(lines)s.", lines="、".join(missing))
        )
    problems.extend(submission_blockers(project))
    return " ".join(problems) if problems else None


def submission_blockers(project: Project) -> list[str]:
    """What keeps any final report of the project from being submitted: open milestones, pending changes."""
    problems = []
    open_milestones = [m.title for m in project.milestones if m.state != "achieved"]
    if open_milestones:
        problems.append(
            ngettext(
                "A milestone is not achieved yet: %(names)s.",
                "%(num)d milestones are not achieved yet: %(names)s.",
                len(open_milestones),
                names="、".join(open_milestones),
            )
        )
    pending = (
        db.session.scalar(
            sa.select(sa.func.count(ChangeRequest.id)).where(
                ChangeRequest.project_id == project.id, ChangeRequest.state == "submitted"
            )
        )
        or 0
    )
    if pending:
        problems.append(
            _("A change request awaits the bureau's decision: wait for it, or cancel it.")
        )
    return problems


def on_submit_final(report: FinalReport, actor, data) -> None:
    """Stamp the submission; the first submission of a round requests acceptance for the project."""
    report.submitted_by_id = getattr(actor, "id", None)
    report.submitted_at = utcnow()
    db.session.flush()
    project = report.project
    if project.state == "in_progress":
        transition(project, "request_acceptance", actor)
        return
    notify(
        users_with_role("finance"),
        "acceptance.statement_resubmitted",
        _l("Final financial statement resubmitted: %(code)s"),
        _l(
            "The final report and statement of “%(title)s” (%(code)s) were corrected and submitted again: "
            "please verify the statement."
        ),
        link=_link(project),
        params={"code": project.code, "title": project.title},
    )


def guard_request_acceptance(project: Project, actor, data) -> str | None:
    report = current_report(project)
    if report is None or report.state not in ("submitted", "verified"):
        return _("Submit the final report first: submitting it requests acceptance.")
    return None


def on_request_acceptance(project: Project, actor, data) -> None:
    project.acceptance_requested_at = utcnow()


def notify_acceptance_requested(project: Project, actor, data) -> None:
    """Tell the bureau (to convene the panel) and finance (to verify the statement)."""
    notify(
        users_with_role("bureau", "finance"),
        "acceptance.requested",
        _l("Acceptance requested: %(code)s"),
        _l(
            "%(org)s has submitted the final report and the final financial statement of “%(title)s” "
            "(%(code)s) and requests acceptance. Finance verifies the statement; the bureau convenes "
            "the acceptance panel."
        ),
        link=_link(project),
        params={"code": project.code, "title": project.title, "org": project.organisation.name},
    )


def on_verify_statement(report: FinalReport, actor, data) -> None:
    report.statement_verified_by_id = getattr(actor, "id", None)
    report.statement_verified_at = utcnow()


def on_return_statement(report: FinalReport, actor, data) -> None:
    report.statement_note = (data.get("note") or "").strip()


def notify_statement_returned(report: FinalReport, actor, data) -> None:
    project = report.project
    notify(
        owners_of(project),
        "acceptance.statement_returned",
        _l("Final financial statement returned: %(code)s"),
        _l(
            "Finance has returned the final financial statement of “%(title)s” (%(code)s). Note: %(note)s\n"
            "Correct the statement and submit the final report again."
        ),
        link=_link(project),
        params={"code": project.code, "title": project.title, "note": report.statement_note},
    )


def _panel_problem(project: Project) -> str | None:
    state = panel_state(project)
    if state.quorate:
        return None
    missing = state.needed - state.submitted
    return ngettext(
        "%(num)d more submitted acceptance review is needed (%(have)d of %(need)d).",
        "%(num)d more submitted acceptance reviews are needed (%(have)d of %(need)d).",
        missing,
        have=state.submitted,
        need=state.needed,
    )


def guard_conclude(project: Project, actor, data) -> str | None:
    """Passing needs the statement verified by finance and the panel's quorum of reviews."""
    problems = []
    report = current_report(project)
    if report is None or report.state != "verified":
        problems.append(_("Finance has not verified the final financial statement yet."))
    panel = _panel_problem(project)
    if panel:
        problems.append(panel)
    return " ".join(problems) if problems else None


def guard_rectify(project: Project, actor, data) -> str | None:
    """Rectification needs reasons, a deadline after today and the panel's quorum."""
    problems = []
    if not (data.get("reasons") or "").strip():
        problems.append(_("Give the reasons: the project owner will read them."))
    deadline = data.get("rectify_by")
    if not isinstance(deadline, date):
        problems.append(_("Give the deadline for the rectification."))
    elif deadline <= local_today():
        problems.append(_("The deadline must lie after today."))
    panel = _panel_problem(project)
    if panel:
        problems.append(panel)
    return " ".join(problems) if problems else None


def guard_fail(project: Project, actor, data) -> str | None:
    """Failing needs reasons and the panel's quorum."""
    problems = []
    if not (data.get("reasons") or "").strip():
        problems.append(_("Give the reasons: the project owner will read them."))
    panel = _panel_problem(project)
    if panel:
        problems.append(panel)
    return " ".join(problems) if problems else None


def _decide(project: Project, actor, conclusion: str, data) -> AcceptanceDecision:
    report = current_report(project)
    state = panel_state(project)
    decision = AcceptanceDecision(
        project_id=project.id,
        final_report_id=report.id if report else None,
        conclusion=conclusion,
        panel_score=state.mean,
        reasons=(data.get("reasons") or "").strip(),
        rectify_by=data.get("rectify_by") if conclusion == "rectify" else None,
        decided_by_id=getattr(actor, "id", None),
        decided_at=utcnow(),
    )
    db.session.add(decision)
    project.conclusion = conclusion
    project.conclusion_reasons = decision.reasons
    _close_panel(project, actor, state)
    db.session.flush()
    audit.record(
        "acceptance.decided",
        decision,
        actor=actor,
        after={
            "project": project.code,
            "conclusion": conclusion,
            "round": report.round if report else None,
            "panel_score": str(state.mean) if state.mean is not None else None,
            "reviews": state.submitted,
        },
    )
    return decision


def _close_panel(project: Project, actor, state: PanelState) -> None:
    """Withdraw the round's invitations and accepted assignments that have no submitted review."""
    for assignment in state.assignments:
        if assignment.state in ("invited", "accepted") and not is_valid_review(assignment):
            transition(assignment, "withdraw", actor)


def on_pass(project: Project, actor, data) -> None:
    """Record the decision, write the KPIs achieved, link the outcomes.

    The funding domain makes the acceptance tranche due on the ``project.accepted`` event.
    """
    decision = _decide(project, actor, "pass", data)
    report = current_report(project)
    achieved = report.kpi_achieved or {}
    for kpi in project.kpis:
        if achieved.get(kpi.kind) not in (None, ""):
            kpi.achieved = Decimal(str(achieved[kpi.kind]))
    db.session.execute(
        sa.update(Outcome)
        .where(Outcome.project_id == project.id, Outcome.final_report_id.is_(None))
        .values(final_report_id=report.id)
    )
    project.concluded_at = decision.decided_at
    project.rectify_by = None
    db.session.flush()


def on_rectify(project: Project, actor, data) -> None:
    """Record the decision and the deadline; open the next report round, prefilled from this one."""
    _decide(project, actor, "rectify", data)
    project.rectify_by = data["rectify_by"]
    last = current_report(project)
    report = FinalReport(
        project_id=project.id,
        round=last.round + 1,
        state="draft",
        summary=last.summary,
        kpi_achieved=dict(last.kpi_achieved or {}),
        statement=dict(last.statement or {}),
    )
    db.session.add(report)
    db.session.flush()
    audit.record(
        "final_report.created",
        report,
        actor=actor,
        after={"project": project.code, "round": report.round, "after_rectify": True},
    )


def on_fail(project: Project, actor, data) -> None:
    """Record the decision; the funding domain cancels the acceptance tranches that never fell due
    (``project.acceptance_failed`` event)."""
    decision = _decide(project, actor, "fail", data)
    project.concluded_at = decision.decided_at


CONCLUSION_SUBJECTS = {
    "pass": _l("Acceptance passed: %(code)s"),
    "rectify": _l("Acceptance: rectification required for %(code)s"),
    "fail": _l("Acceptance failed: %(code)s"),
}
CONCLUSION_BODIES = {
    "pass": _l(
        "The project “%(title)s” (%(code)s) has passed acceptance. The acceptance tranche of the award "
        "is now due for release."
    ),
    "rectify": _l(
        "The project “%(title)s” (%(code)s) must be rectified by %(deadline)s before it can pass "
        "acceptance. Reasons: %(reasons)s\nA new round of the final report has been opened."
    ),
    "fail": _l("The project “%(title)s” (%(code)s) has failed acceptance. Reasons: %(reasons)s"),
}


def notify_concluded(project: Project, actor, data) -> None:
    """Tell the owner (and, on a pass, finance: a tranche fell due)."""
    conclusion = project.conclusion
    recipients = owners_of(project)
    if conclusion == "pass":
        recipients += users_with_role("finance")
    deadline = project.rectify_by.isoformat() if project.rectify_by else ""
    notify(
        recipients,
        f"acceptance.{conclusion}",
        CONCLUSION_SUBJECTS[conclusion],
        CONCLUSION_BODIES[conclusion],
        link=_link(project),
        params={
            "code": project.code,
            "title": project.title,
            "reasons": project.conclusion_reasons,
            "deadline": deadline,
        },
    )


def open_tranches(project: Project) -> list:
    """The project's tranches neither paid nor cancelled."""
    return hooks.unpaid_tranches.ask(project)


def guard_close(project: Project, actor, data) -> str | None:
    """An accepted project closes once every tranche is paid or cancelled; a failed one at once."""
    if project.state != "accepted":
        return None
    unpaid = open_tranches(project)
    if not unpaid:
        return None
    listed = "；".join(
        _(
            "no. %(position)d (%(trigger)s, %(amount)s)",
            position=t.position,
            trigger=t.trigger_label,
            amount=format_wan(t.amount),
        )
        for t in unpaid
    )
    return ngettext(
        "A tranche is neither paid nor cancelled: %(tranches)s.",
        "%(num)d tranches are neither paid nor cancelled: %(tranches)s.",
        len(unpaid),
        tranches=listed,
    )


def on_close(project: Project, actor, data) -> None:
    project.closed_at = utcnow()
