"""Progress reports on milestones: the owner writes and submits them, the bureau approves or returns them.

A report stays a draft while the owner writes it. Submitting it moves its milestone to
``reported`` (the system fires the milestone's event); the bureau's approval makes the
milestone ``achieved`` and the tranche waiting for that milestone due; a return sends the
report and its milestone back to the owner with a note, and the owner submits it again.
The guards, effects and notifications named in ``workflow.py`` live here.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.accounts.models import User, UserRole
from grants.core import audit, storage
from grants.core.links import site_path
from grants.core.refusals import OperationError
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.notifications.operations import notify
from grants.projects import files
from grants.projects.models import (
    Milestone,
    ProgressReport,
    ProgressReportState,
    Project,
    ProjectFile,
)

EDITABLE_STATES = (ProgressReportState.DRAFT, ProgressReportState.RETURNED)


class ProgressError(OperationError):
    """A refused change to a progress report (``message`` is user-facing)."""


# --- people and links --------------------------------------------------------------------------


def owner_users(project: Project) -> list[User]:
    """The active applicant accounts of the project's organisation."""
    return db.session.scalars(
        sa.select(User)
        .where(
            User.organisation_id == project.organisation_id,
            User.active.is_(True),
            User.roles.any(UserRole.role == "applicant"),
        )
        .order_by(User.id)
    ).all()


def bureau_users() -> list[User]:
    """Active bureau officers."""
    return db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True), User.roles.any(UserRole.role == "bureau"))
        .order_by(User.id)
    ).all()


# --- reading -----------------------------------------------------------------------------------


def editable_report(milestone: Milestone) -> ProgressReport | None:
    """The milestone's report the owner may still change (a draft or a returned one), if any."""
    return next((r for r in reversed(milestone.reports) if r.state in EDITABLE_STATES), None)


def can_start_report(milestone: Milestone) -> bool:
    """Whether the owner may write (or go on writing) a report on the milestone now."""
    return milestone.project.state == "in_progress" and milestone.state == "open"


def evidence_of(report: ProgressReport) -> list[ProjectFile]:
    """The evidence files of a report, oldest first."""
    if report.id is None:
        return []
    return db.session.scalars(
        sa.select(ProjectFile)
        .where(ProjectFile.progress_report_id == report.id)
        .order_by(ProjectFile.id)
    ).all()


def evidence_by_report(report_ids) -> dict[int, list[ProjectFile]]:
    """Evidence files of several reports in one query, keyed by report id."""
    ids = list(report_ids)
    result: dict[int, list[ProjectFile]] = {i: [] for i in ids}
    if ids:
        for item in db.session.scalars(
            sa.select(ProjectFile)
            .where(ProjectFile.progress_report_id.in_(ids))
            .order_by(ProjectFile.id)
        ):
            result[item.progress_report_id].append(item)
    return result


def waiting_reports(limit: int | None = None) -> list[ProgressReport]:
    """Submitted reports waiting for the bureau, the oldest first, with project and milestone loaded."""
    stmt = (
        sa.select(ProgressReport)
        .where(ProgressReport.state == "submitted")
        .options(
            joinedload(ProgressReport.milestone),
            joinedload(ProgressReport.project).joinedload(Project.organisation),
        )
        .order_by(ProgressReport.submitted_at, ProgressReport.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return db.session.scalars(stmt).all()


def projects_with_unfinished_reports(project_ids) -> set[int]:
    """Which of the projects have a report the owner still has to finish (a draft or a returned one)."""
    ids = list(project_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(ProgressReport.project_id).where(
                ProgressReport.project_id.in_(ids), ProgressReport.state.in_(EDITABLE_STATES)
            )
        )
    )


def waiting_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(ProgressReport.id)).where(ProgressReport.state == "submitted")
        )
        or 0
    )


# --- the owner's side --------------------------------------------------------------------------


def _kpi_values(project: Project, values: dict) -> dict[str, str]:
    kinds = {k.kind for k in project.kpis}
    cleaned = {}
    for kind, value in (values or {}).items():
        if kind not in kinds or value is None or value == "":
            continue
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            raise ProgressError(_("KPI progress cannot be negative."))
        cleaned[kind] = str(amount)
    return cleaned


def save_report(
    milestone: Milestone, text: str, kpi_progress: dict, uploads, actor, *, submit: bool = False
) -> ProgressReport:
    """Write the owner's progress report on ``milestone`` and, with ``submit``, send it to the bureau.

    The milestone's draft (or returned) report is updated; a new draft is started when
    there is none and the milestone is still open. ``kpi_progress`` maps KPI kinds of the
    project to the figure reached so far (Decimals); ``uploads`` are evidence files stored
    as project files of this report. Every save is audited; submitting fires the report's
    ``submit`` event (see :func:`guard_submit_report`). Flushes.
    """
    db.session.refresh(milestone, with_for_update=True)  # colleagues writing at once queue here
    project = milestone.project
    if project.state != "in_progress":
        raise ProgressError(_("The project is not running: progress reports cannot be written."))
    report = editable_report(milestone)
    if report is None:
        if milestone.state != "open":
            raise ProgressError(
                _("The report on this milestone is already with the bureau or approved.")
            )
        report = ProgressReport(
            milestone=milestone, project_id=project.id, state="draft", kpi_progress={}, text=""
        )
        db.session.add(report)
        db.session.flush()
        audit.record(
            "progress_report.created",
            report,
            actor=actor,
            after={"project": project.code, "milestone_id": milestone.id},
        )
    before = {"text": report.text, "kpi_progress": dict(report.kpi_progress or {})}
    report.text = (text or "").strip()
    report.kpi_progress = _kpi_values(project, kpi_progress)
    db.session.flush()
    audit.record(
        "progress_report.saved",
        report,
        actor=actor,
        before=before,
        after={"text": report.text, "kpi_progress": report.kpi_progress},
    )
    for upload in storage.chosen_files(uploads):
        add_evidence(report, upload, actor)
    if submit:
        if not report.text:
            raise ProgressError(
                _("Describe the progress made on this milestone before submitting the report."),
                "text",
            )
        transition(report, "submit", actor)
    return report


def add_evidence(report: ProgressReport, upload, actor) -> ProjectFile:
    """Store one evidence file of a report; raises ``ProgressError`` for a wrong type or size."""
    if report.state not in EDITABLE_STATES:
        raise ProgressError(
            _("Evidence can only be added while the report is a draft or returned.")
        )
    return files.attach(
        report,
        upload,
        actor,
        purpose="progress_evidence",
        event="progress_report.evidence_added",
        refused=lambda message: ProgressError(message, "evidence"),
        progress_report_id=report.id,
    )


def remove_evidence(item: ProjectFile, actor) -> None:
    """Remove an evidence file from a report the owner may still change; the file goes after commit."""
    report = (
        db.session.get(ProgressReport, item.progress_report_id) if item.progress_report_id else None
    )
    if report is None or report.state not in EDITABLE_STATES:
        raise ProgressError(
            _("Evidence can only be removed while the report is a draft or returned.")
        )
    files.detach(item, report, actor, event="progress_report.evidence_removed")


# --- the bureau's side -------------------------------------------------------------------------


def approve_report(report: ProgressReport, actor, note: str = "") -> None:
    """Approve a submitted report: its milestone is achieved and the milestone's tranche becomes due."""
    db.session.refresh(
        report, with_for_update=True
    )  # a second reviewer waits, then finds it decided
    transition(report, "approve", actor, note=(note or "").strip())


def return_report(report: ProgressReport, actor, note: str) -> None:
    """Return a submitted report to the owner with a note saying what is missing."""
    db.session.refresh(report, with_for_update=True)
    transition(report, "return", actor, note=(note or "").strip())


# --- guards, effects and notifications of the workflows (see workflow.py) ----------------------


def guard_submit_report(report: ProgressReport, actor, data: dict) -> str | None:
    """A report goes to the bureau while the project runs, its milestone is open and it says something."""
    if report.project.state != "in_progress":
        return _("The project is not running: progress reports cannot be submitted.")
    if report.milestone.state != "open":
        return _("The report on this milestone is already with the bureau or approved.")
    if not (report.text or "").strip():
        return _("Describe the progress made on this milestone before submitting the report.")
    return None


def on_submit_report(report: ProgressReport, actor, data: dict) -> None:
    report.submitted_by_id = getattr(actor, "id", None)
    report.submitted_at = utcnow()
    report.reviewed_by_id = None
    report.reviewed_at = None
    report.review_note = ""
    transition(report.milestone, "report", None)


def on_approve_report(report: ProgressReport, actor, data: dict) -> None:
    report.reviewed_by_id = getattr(actor, "id", None)
    report.reviewed_at = utcnow()
    report.review_note = (data.get("note") or "").strip()
    transition(report.milestone, "approve", None)


def on_return_report(report: ProgressReport, actor, data: dict) -> None:
    report.review_note = data["note"].strip()
    report.reviewed_by_id = getattr(actor, "id", None)
    report.reviewed_at = utcnow()
    transition(report.milestone, "return", None)


def on_milestone_achieved(milestone: Milestone, actor, data: dict) -> None:
    """Record when the milestone was achieved; the funding domain makes its tranche due for
    release on the ``milestone.achieved`` event."""
    milestone.achieved_at = utcnow()


def _report_params(report: ProgressReport) -> dict:
    project = report.project
    return {
        "code": project.code,
        "title": project.title,
        "milestone": report.milestone.title,
        "org": project.organisation.name,
        "note": report.review_note or "",
    }


def notify_report_submitted(report: ProgressReport, actor, data: dict) -> None:
    notify(
        bureau_users(),
        "progress_report.submitted",
        _l("Progress report to review: %(code)s"),
        _l(
            "%(org)s has submitted the progress report on milestone “%(milestone)s” of project %(code)s "
            "“%(title)s”."
        ),
        link=site_path("projects.report", project_id=report.project_id, report_id=report.id),
        params=_report_params(report),
    )


def notify_report_reviewed(report: ProgressReport, actor, data: dict) -> None:
    if report.state == "approved":
        subject = _l("Progress report approved: %(code)s")
        body = _l(
            "The bureau has approved the progress report on milestone “%(milestone)s” of project "
            "%(code)s “%(title)s”."
        )
    else:
        subject = _l("Progress report returned: %(code)s")
        body = _l(
            "The bureau has returned the progress report on milestone “%(milestone)s” of project "
            "%(code)s “%(title)s”. Please revise it and submit it again.\n\n%(note)s"
        )
    notify(
        owner_users(report.project),
        f"progress_report.{report.state}",
        subject,
        body,
        link=site_path("projects.report", project_id=report.project_id, report_id=report.id),
        params=_report_params(report),
    )
