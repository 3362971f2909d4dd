"""Project tracking pages: the lists, the project page (overview), milestones and progress reports,
the bureau's review queue, the at-risk list and mid-term checks.

Other domains add their tabs to the project page (``grants.projects.tabs``); their pages
include ``projects/_header.html`` with ``active_tab`` set to their key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import contains_eager, selectinload
from werkzeug.routing import BuildError

from grants.accounts.models import User
from grants.core.actions import action, actionable, attempt, event_applies
from grants.core.models import AuditEvent
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.states import label_of
from grants.core.storage import download_response
from grants.core.timeutil import local_today
from grants.core.workflow import can_fire
from grants.extensions import db
from grants.orgs.models import IndustryCluster, Organisation
from grants.programmes.models import Call
from grants.projects import midterm as midterm_ops
from grants.projects import progress as ops
from grants.projects.forms.tracking import (
    ApproveReportForm,
    EvidenceRemoveForm,
    MidtermBatchForm,
    MidtermRectifiedForm,
    ReturnReportForm,
    kpi_label,
    progress_report_form,
)
from grants.projects.hooks import spent_total
from grants.projects.models import (
    MIDTERM_CONCLUSIONS,
    MidtermCheck,
    Milestone,
    ProgressReport,
    ProgressReportState,
    Project,
    ProjectFile,
    ProjectState,
)
from grants.projects.risk import percent, projects_at_risk
from grants.projects.rules import draftable_owner
from grants.projects.tabs import TABS, project_tab, tabs_for
from grants.projects.views import bp
from grants.projects.workflow import PROJECT_WORKFLOW

project_tab("overview", _l("Overview"), "projects.detail", order=10)
project_tab("milestones", _l("Milestones"), "projects.milestones", order=30)

# The project events whose forms live on another domain's tab (found by the tab's agreed order).
EVENT_TAB_ORDER = {
    "sign": 20,
    "terminate": 60,
    "request_acceptance": 70,
    "pass": 70,
    "rectify": 70,
    "fail": 70,
    "close": 70,
}


@bp.app_template_global("project_tabs")
def _project_tabs(project):
    """The tabs the signed-in user may open on ``project`` (for ``projects/_header.html``)."""
    return tabs_for(current_user, project)


@bp.app_template_filter("kpi_figure")
def _kpi_figure(value) -> str:
    """A KPI figure without needless zeros (``2.00`` → ``2``, ``3.50`` → ``3.5``); — when missing."""
    if value is None or value == "":
        return "—"
    return format(Decimal(str(value)).normalize(), "f")


def _project_or_404(project_id: int) -> Project:
    return db.session.get(Project, project_id) or abort(404)


# --- the lists ---------------------------------------------------------------------------------

SORTS = {
    "code": (Project.code.asc(),),
    "-code": (Project.code.desc(),),
    "title": (Project.title.asc(),),
    "organisation": (Organisation.name.asc(),),
    "award": (Project.award.asc(),),
    "-award": (Project.award.desc(),),
    "end": (Project.end_date.asc(),),
    "-end": (Project.end_date.desc(),),
}
DEFAULT_SORT = "-code"


def _int_arg(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@dataclass
class ProjectFilters:
    """The list's filters and sort order, read from the query string (bad values ignored)."""

    year: int | None = None
    call_id: int | None = None
    cluster_id: int | None = None
    state: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_args(cls, args) -> ProjectFilters:
        return cls(
            year=_int_arg(args.get("year")),
            call_id=_int_arg(args.get("call")),
            cluster_id=_int_arg(args.get("cluster")),
            state=args.get("state") if ProjectState.known(args.get("state")) else "",
            q=(args.get("q") or "").strip()[:100],
            sort=args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT,
        )

    def as_args(self, **changes) -> dict[str, str]:
        """The filters as query arguments (empty ones left out), with ``changes`` applied."""
        args = {
            "year": self.year,
            "call": self.call_id,
            "cluster": self.cluster_id,
            "state": self.state,
            "q": self.q,
            "sort": self.sort if self.sort != DEFAULT_SORT else None,
        }
        args.update(changes)
        return {k: str(v) for k, v in args.items() if v not in (None, "")}

    def statement(self, organisation_id: int | None = None) -> sa.Select:
        """One SELECT of the matching projects with organisation, call and cluster joined in."""
        stmt = (
            sa.select(Project)
            .join(Project.organisation)
            .join(Project.call)
            .outerjoin(Project.cluster)
            .options(
                contains_eager(Project.organisation),
                contains_eager(Project.call),
                contains_eager(Project.cluster),
            )
        )
        if organisation_id is not None:
            stmt = stmt.where(Project.organisation_id == organisation_id)
        if self.year:
            stmt = stmt.where(Project.year == self.year)
        if self.call_id:
            stmt = stmt.where(Project.call_id == self.call_id)
        if self.cluster_id:
            stmt = stmt.where(Project.cluster_id == self.cluster_id)
        if self.state:
            stmt = stmt.where(Project.state == self.state)
        if self.q:
            stmt = stmt.where(
                sa.or_(
                    Project.code.icontains(self.q, autoescape=True),
                    Project.title.icontains(self.q, autoescape=True),
                    Organisation.name.icontains(self.q, autoescape=True),
                )
            )
        return stmt.order_by(*SORTS[self.sort], Project.id)


@dataclass
class MilestoneSummary:
    """Per project: the next open milestone's due date and how many open ones are overdue."""

    next_due: date | None = None
    overdue: int = 0


def milestone_summaries(project_ids, today: date) -> dict[int, MilestoneSummary]:
    """Milestone summaries of several projects in one query."""
    ids = list(project_ids)
    result = {i: MilestoneSummary() for i in ids}
    if not ids:
        return result
    overdue = sa.func.sum(sa.case((Milestone.due_date < today, 1), else_=0))
    nearest = sa.func.min(sa.case((Milestone.due_date >= today, Milestone.due_date), else_=None))
    for project_id, count, next_due in db.session.execute(
        sa.select(Milestone.project_id, overdue, nearest)
        .where(Milestone.project_id.in_(ids), Milestone.state == "open")
        .group_by(Milestone.project_id)
    ):
        if isinstance(next_due, str):  # SQLite hands back the text of a computed date
            next_due = date.fromisoformat(next_due)
        result[project_id] = MilestoneSummary(next_due=next_due, overdue=int(count or 0))
    return result


def _filter_choices() -> dict:
    years = db.session.scalars(
        sa.select(Project.year).distinct().order_by(Project.year.desc())
    ).all()
    calls = db.session.scalars(
        sa.select(Call)
        .where(Call.id.in_(sa.select(Project.call_id)))
        .order_by(Call.year.desc(), Call.id.desc())
    ).all()
    clusters = db.session.scalars(
        sa.select(IndustryCluster).order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()
    return {
        "years": years,
        "calls": calls,
        "clusters": clusters,
        "states": ProjectState.choices(),
    }


@bp.get("/projects")
def index():
    """Every project, filtered, sorted and paginated (bureau and finance)."""
    require("project.list")
    filters = ProjectFilters.from_args(request.args)
    page = paginate(filters.statement())
    today = local_today()
    return render_template(
        "projects/list.html",
        page=page,
        filters=filters,
        today=today,
        summaries=milestone_summaries((p.id for p in page.items), today),
        **_filter_choices(),
    )


@bp.get("/my/projects")
def mine():
    """The projects of the applicant's organisation."""
    require("project.list_mine")
    filters = ProjectFilters.from_args(request.args)
    page = paginate(filters.statement(organisation_id=current_user.organisation_id))
    today = local_today()
    ids = [p.id for p in page.items]
    return render_template(
        "projects/mine.html",
        page=page,
        filters=filters,
        today=today,
        unfinished=ops.projects_with_unfinished_reports(ids),
        summaries=milestone_summaries(ids, today),
    )


# --- the project page ----------------------------------------------------------------------------


@dataclass
class HistoryEntry:
    at: object
    actor: str
    label: str
    before: str
    after: str
    details: list[str] = field(default_factory=list)


def _actor_names(events) -> dict[int, str]:
    ids = {e.actor_id for e in events if e.actor_id}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def state_history(project: Project) -> list[HistoryEntry]:
    """The project's state changes from the audit log, oldest first."""
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(
            AuditEvent.object_type == "Project",
            AuditEvent.object_id == str(project.id),
            AuditEvent.action.like("project.%"),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    labels = {t.event: t.label for t in PROJECT_WORKFLOW.transitions}
    names = _actor_names(events)
    history = []
    for event in events:
        before = (event.before or {}).get("state")
        after = (event.after or {}).get("state")
        name = event.action.partition(".")[2]
        if not after or name not in labels:
            continue
        details = [
            str(v)
            for k, v in (event.after or {}).items()
            if k in ("reason", "note", "reasons") and isinstance(v, str) and v.strip()
        ]
        history.append(
            HistoryEntry(
                at=event.at,
                actor=names.get(event.actor_id) or (_("System") if not event.actor_id else ""),
                label=str(labels[name]),
                before=label_of(ProjectState, before),
                after=label_of(ProjectState, after),
                details=details,
            )
        )
    return history


def project_actions(project: Project) -> list[tuple[str, str]]:
    """(label, link) for each project event the user may fire, pointing at the tab where its form lives."""
    actions = []
    by_order = {t.order: t for t in TABS.values()}
    for transition in PROJECT_WORKFLOW.events_from(project.state):
        tab = by_order.get(EVENT_TAB_ORDER.get(transition.event))
        if tab is None or not can_fire(current_user, project, transition.event):
            continue
        try:
            link = url_for(tab.endpoint, project_id=project.id)
        except BuildError:  # a tab registered without its view is not offered
            continue
        actions.append((str(transition.label), link))
    return actions


@bp.get("/projects/<int:project_id>")
def detail(project_id: int):
    """The project's overview: period, team, KPI targets, milestones, money, mid-term checks, history."""
    project = _project_or_404(project_id)
    require("project.view", project)
    today = local_today()
    return render_template(
        "projects/detail.html",
        project=project,
        active_tab="overview",
        today=today,
        kpi_label=kpi_label,
        spent=spent_total(project.id),
        history=state_history(project),
        actions=project_actions(project),
        checks=midterm_ops.checks_of(project),
        conclusions=MIDTERM_CONCLUSIONS,
    )


# --- milestones and progress reports -----------------------------------------------------------


def _report_events(report_ids) -> dict[int, list[HistoryEntry]]:
    """The workflow events of several reports from the audit log, keyed by report id."""
    ids = [str(i) for i in report_ids]
    result: dict[int, list[HistoryEntry]] = {int(i): [] for i in ids}
    if not ids:
        return result
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(
            AuditEvent.object_type == "ProgressReport",
            AuditEvent.object_id.in_(ids),
            AuditEvent.action.like("progress_report.%"),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    labels = {
        "submit": _l("Submitted"),
        "approve": _l("Passed review"),
        "return": _l("Returned"),
        "created": _l("Started"),
    }
    names = _actor_names(events)
    for event in events:
        key = event.action.partition(".")[2]
        if key not in labels:
            continue
        if key == "submit" and (event.before or {}).get("state") == "returned":
            label = _("Submitted again")
        else:
            label = str(labels[key])
        note = (event.after or {}).get("note")
        result[int(event.object_id)].append(
            HistoryEntry(
                at=event.at,
                actor=names.get(event.actor_id, ""),
                label=label,
                before="",
                after="",
                details=[note] if isinstance(note, str) and note.strip() else [],
            )
        )
    return result


@bp.get("/projects/<int:project_id>/milestones")
def milestones(project_id: int):
    """Each milestone with its due date, state, tranche and the history of its progress reports."""
    project = _project_or_404(project_id)
    require("project.view", project)
    milestones = db.session.scalars(
        sa.select(Milestone)
        .where(Milestone.project_id == project.id)
        .options(selectinload(Milestone.reports))
        .order_by(Milestone.position, Milestone.due_date)
    ).all()
    report_ids = [r.id for m in milestones for r in m.reports]
    tranches = {t.milestone_id: t for t in project.tranches if t.milestone_id}
    return render_template(
        "projects/milestones.html",
        project=project,
        active_tab="milestones",
        milestones=milestones,
        today=local_today(),
        events=_report_events(report_ids),
        evidence=ops.evidence_by_report(report_ids),
        tranches=tranches,
        can_start=ops.can_start_report,
        editable=ops.editable_report,
    )


def _milestone_of(project: Project, milestone_id: int) -> Milestone:
    milestone = db.session.get(Milestone, milestone_id)
    if milestone is None or milestone.project_id != project.id:
        abort(404)
    return milestone


def _report_of(project: Project, report_id: int) -> ProgressReport:
    report = db.session.get(ProgressReport, report_id)
    if report is None or report.project_id != project.id:
        abort(404)
    return report


def _kinds(project: Project) -> list[str]:
    return [k.kind for k in project.kpis]


def _render_report_form(project, milestone, form, report=None, error=None, status=200):
    return render_template(
        "projects/progress_report_form.html",
        project=project,
        milestone=milestone,
        form=form,
        report=report,
        evidence=ops.evidence_of(report) if report else [],
        error=error,
        targets={k.kind: k.target for k in project.kpis},
        active_tab="milestones",
    ), status


@bp.route(
    "/projects/<int:project_id>/milestones/<int:milestone_id>/report", methods=["GET", "POST"]
)
def write_report(project_id: int, milestone_id: int):
    """The owner writes the progress report on a milestone: save a draft or submit it."""
    project = _project_or_404(project_id)
    require("progress.write", project)
    milestone = _milestone_of(project, milestone_id)
    report = ops.editable_report(milestone)
    if report is None and not ops.can_start_report(milestone):
        flash(_("The report on this milestone is already with the bureau or approved."), "warning")
        return redirect(url_for("projects.milestones", project_id=project.id))
    if request.method == "GET":
        return _render_report_form(
            project, milestone, progress_report_form(_kinds(project), report), report
        )
    form = progress_report_form(_kinds(project))
    submit = request.form.get("action") == "submit"
    if form.validate_on_submit():
        with action(show=False, denied="progress_report.submit", denied_obj=milestone) as done:
            saved = ops.save_report(
                milestone,
                form.text.data,
                form.kpi_values(),
                form.evidence.data,
                current_user,
                submit=submit,
            )
        if not done:
            project = _project_or_404(project_id)
            milestone = _milestone_of(project, milestone_id)
            target = done.field
            if target in ("text", "evidence"):
                form[target].errors = [*form[target].errors, done.message]
                return _render_report_form(
                    project, milestone, form, ops.editable_report(milestone), status=422
                )
            return _render_report_form(
                project,
                milestone,
                form,
                ops.editable_report(milestone),
                error=done.message,
                status=422,
            )
        if submit:
            flash(_("The progress report has been submitted to the bureau."), "success")
            return redirect(url_for("projects.report", project_id=project.id, report_id=saved.id))
        flash(_("The draft has been saved."), "success")
        return redirect(
            url_for("projects.write_report", project_id=project.id, milestone_id=milestone.id)
        )
    return _render_report_form(project, milestone, form, report, status=422)


@bp.get("/projects/<int:project_id>/reports/<int:report_id>", endpoint="report")
def show_report(project_id: int, report_id: int):
    """One progress report: text, KPI progress beside the targets, evidence, history, and the review forms."""
    project = _project_or_404(project_id)
    require("project.view", project)
    item = _report_of(project, report_id)
    require("progress_report.read", item, not_found=True)
    return _render_report(project, item)


def _render_report(project, item, approve_form=None, return_form=None, error=None, status=200):
    return render_template(
        "projects/progress_report.html",
        project=project,
        report=item,
        milestone=item.milestone,
        active_tab="milestones",
        evidence=ops.evidence_of(item),
        events=_report_events([item.id])[item.id],
        targets=[
            (k.kind, kpi_label(k.kind), k.target, (item.kpi_progress or {}).get(k.kind))
            for k in project.kpis
        ],
        approve_form=approve_form or ApproveReportForm(formdata=None, prefix="approve"),
        return_form=return_form or ReturnReportForm(formdata=None, prefix="return"),
        error=error,
        today=local_today(),
    ), status


@bp.post("/projects/<int:project_id>/reports/<int:report_id>/approve")
def approve_report(project_id: int, report_id: int):
    """The bureau approves a submitted report; the milestone is achieved and its tranche becomes due."""
    project = _project_or_404(project_id)
    require("project.view", project)
    item = _report_of(project, report_id)
    require("progress_report.read", item, not_found=True)
    form = ApproveReportForm(prefix="approve")
    if form.validate_on_submit():
        _result, problem = attempt(
            ops.approve_report, item, current_user, form.note.data or "", denied_obj=item
        )
        if problem is None:
            flash(
                _("The progress report has been approved and the milestone is achieved."), "success"
            )
            return redirect(url_for("projects.report", project_id=project.id, report_id=item.id))
        project = _project_or_404(project_id)
        return _render_report(
            project, _report_of(project, report_id), approve_form=form, error=problem, status=422
        )
    return _render_report(project, item, approve_form=form, status=422)


@bp.post("/projects/<int:project_id>/reports/<int:report_id>/return")
def return_report(project_id: int, report_id: int):
    """The bureau returns a submitted report to the owner with a note."""
    project = _project_or_404(project_id)
    require("project.view", project)
    item = _report_of(project, report_id)
    require("progress_report.read", item, not_found=True)
    if not actionable(item, "return", action="progress_report.return"):
        return _report_not_returnable(project, item)
    form = ReturnReportForm(prefix="return")
    if form.validate_on_submit():
        _result, problem = attempt(
            ops.return_report, item, current_user, form.note.data, denied_obj=item
        )
        if problem is None:
            flash(_("The progress report has been returned to the project owner."), "success")
            return redirect(url_for("projects.report", project_id=project.id, report_id=item.id))
        project = _project_or_404(project_id)
        item = _report_of(project, report_id)
        if not event_applies(item, "return"):  # decided by a colleague meanwhile
            return _report_not_returnable(project, item)
        form.note.errors = [*form.note.errors, problem]
    return _render_report(project, item, return_form=form, status=422)


def _report_not_returnable(project: Project, item: ProgressReport):
    """The report is not awaiting review (any more): say so on its page, where the review forms are gone."""
    flash(
        _(
            "This progress report can no longer be returned: it is now “%(state)s”.",
            state=label_of(ProgressReportState, item.state),
        ),
        "warning",
    )
    return redirect(url_for("projects.report", project_id=project.id, report_id=item.id))


def require_file_readable(item: ProjectFile) -> None:
    """Not found unless the user may read the report or request the file belongs to (drafts are the owner's)."""
    owner = draftable_owner(item)
    if owner is not None:
        require(owner[0], owner[1], not_found=True)


def _evidence_of(project: Project, file_id: int, purposes=("progress_evidence",)) -> ProjectFile:
    item = db.session.get(ProjectFile, file_id)
    if item is None or item.project_id != project.id or item.purpose not in purposes:
        abort(404)
    return item


@bp.get("/projects/<int:project_id>/evidence/<int:file_id>")
def evidence(project_id: int, file_id: int):
    """Download a progress evidence file or a change request's supporting document under its original name."""
    project = _project_or_404(project_id)
    require("project.download", project)
    item = _evidence_of(project, file_id, ("progress_evidence", "change_evidence"))
    require_file_readable(item)
    return download_response(
        item.stored_name, item.original_name, item.content_type, etag=item.sha256
    )


@bp.post("/projects/<int:project_id>/evidence/<int:file_id>/delete")
def remove_evidence(project_id: int, file_id: int):
    """Remove an evidence file from a report that is still a draft or returned."""
    project = _project_or_404(project_id)
    require("progress.write", project)
    item = _evidence_of(project, file_id)
    form = EvidenceRemoveForm()
    if not form.validate_on_submit():
        abort(400)
    report = db.session.get(ProgressReport, item.progress_report_id)
    name = item.original_name
    _result, problem = attempt(ops.remove_evidence, item, current_user)
    if problem is None:
        flash(_("“%(name)s” has been removed.", name=name), "success")
    else:
        flash(problem, "warning")
    return redirect(
        url_for("projects.write_report", project_id=project.id, milestone_id=report.milestone_id)
    )


@bp.get("/projects/progress-reports")
def waiting_reports():
    """The bureau's queue of submitted progress reports, the oldest first."""
    require("progress.review")
    return render_template("projects/progress_reports_waiting.html", reports=ops.waiting_reports())


# --- projects at risk ----------------------------------------------------------------------------


@bp.get("/projects/at-risk")
def at_risk():
    """Running projects with overdue milestones, long silence or spending far behind time."""
    require("project.at_risk")
    return render_template(
        "projects/at_risk.html",
        risks=projects_at_risk(),
        percent=percent,
        today=local_today(),
        silence_days=current_app.config["PROJECT_SILENCE_DAYS"],
        lag=percent(current_app.config["PROJECT_SPENDING_LAG"]),
    )


# --- mid-term checks -----------------------------------------------------------------------------


@bp.get("/projects/midterm")
def midterm():
    """Choose running projects for a mid-term batch; open conditions and past batches."""
    require("midterm.record")
    return render_template(
        "projects/midterm.html",
        projects=midterm_ops.running_projects(),
        conditions=midterm_ops.open_conditions(),
        batches=midterm_ops.batch_summaries(),
        conclusions=MIDTERM_CONCLUSIONS,
        today=local_today(),
        rectified_form=MidtermRectifiedForm(),
    )


def _render_midterm_batch(form: MidtermBatchForm, error: str | None = None, status: int = 200):
    ids = [entry.form.project_id.data for entry in form.entries]
    projects = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Project)
            .where(Project.id.in_([i for i in ids if i and 0 < i < 2**31]))
            .options(selectinload(Project.organisation))
        )
    }
    return render_template(
        "projects/midterm_record.html", form=form, projects=projects, error=error
    ), status


@bp.route("/projects/midterm/record", methods=["GET", "POST"])
def record_midterm():
    """The conclusion on each chosen project of a batch: pass, conditional pass or fail."""
    require("midterm.record")
    if request.method == "GET":
        chosen = []
        for value in request.args.getlist("project"):
            project_id = _int_arg(value)
            if project_id and project_id not in chosen:
                chosen.append(project_id)
        running = {p.id for p in midterm_ops.running_projects()}
        chosen = [i for i in chosen if i in running]
        if not chosen:
            flash(_("Choose at least one running project."), "warning")
            return redirect(url_for("projects.midterm"))
        form = MidtermBatchForm(formdata=None, batch=(request.args.get("batch") or "").strip()[:40])
        for project_id in chosen:
            form.entries.append_entry({"project_id": project_id, "conclusion": "pass"})
        return _render_midterm_batch(form)
    form = MidtermBatchForm()
    if form.validate_on_submit():
        entries = [entry.form.entry() for entry in form.entries]
        _result, problem = attempt(
            midterm_ops.record_midterm_checks, form.batch.data, entries, current_user
        )
        if problem is None:
            flash(
                ngettext(
                    "The mid-term conclusion on %(num)d project has been recorded.",
                    "The mid-term conclusions on %(num)d projects have been recorded.",
                    len(entries),
                ),
                "success",
            )
            return redirect(url_for("projects.midterm"))
        return _render_midterm_batch(form, error=problem, status=422)
    return _render_midterm_batch(form, status=422)


@bp.post("/projects/midterm/<int:check_id>/rectified")
def midterm_rectified(check_id: int):
    """Record that a project has rectified what its conditional pass asked for."""
    require("midterm.record")
    check = db.session.get(MidtermCheck, check_id) or abort(404)
    form = MidtermRectifiedForm()
    if not form.validate_on_submit():
        abort(400)
    _result, problem = attempt(midterm_ops.mark_rectified, check, current_user)
    if problem is None:
        flash(
            _("The rectification of %(code)s has been recorded.", code=check.project.code),
            "success",
        )
    else:
        flash(problem, "warning")
    return redirect(url_for("projects.midterm", _anchor="conditions"))
