"""Acceptance pages: the project's acceptance tab, an overview of its steps
(grants/projects/acceptance_steps.py) and one page per step: the owner's final report with
its KPIs, documents and outcomes; the final statement the owner enters and finance verifies;
the bureau's panel; the conclusion and closure. Also the final report's files and the
bureau's list of projects in acceptance review.

Every form posts to its own endpoint and, when refused, its step's page is rendered again
with status 422, the message beside the form and what was typed kept.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from grants.core.actions import actionable, attempt, event_applies
from grants.core.permissions import can, require
from grants.core.states import label_of
from grants.core.storage import download_response
from grants.core.timeutil import local_to_utc, local_today
from grants.core.workflow import can_fire
from grants.extensions import db
from grants.projects import acceptance as ops
from grants.projects import acceptance_steps
from grants.projects.forms.acceptance import (
    ConclusionForm,
    ConfirmForm,
    DocumentForm,
    InviteExpertForm,
    OutcomeForm,
    ReturnStatementForm,
    SuggestPanelForm,
    final_report_form,
    parse_figure,
)
from grants.projects.models import (
    ACCEPTANCE_CONCLUSIONS,
    FinalReportState,
    Outcome,
    Project,
    ProjectFile,
    ProjectState,
)
from grants.projects.tabs import project_tab
from grants.projects.views import bp
from grants.projects.views.tracking import require_file_readable
from grants.review import assignments as review_ops
from grants.review.assignments import propose_replacement, replacement_of
from grants.review.models import Expert

TAB_STATES = (
    ProjectState.IN_PROGRESS,
    ProjectState.ACCEPTANCE_REVIEW,
    ProjectState.ACCEPTED,
    ProjectState.ACCEPTANCE_FAILED,
    ProjectState.CLOSED,
)
FILE_PURPOSES = ("final_report", "final_statement", "outcome_evidence")
DUE_DAYS = 14

project_tab(
    "acceptance",
    _l("Acceptance"),
    "projects.acceptance",
    order=70,
    shown=lambda project: project.state in TAB_STATES,
)


def _project_or_404(project_id: int) -> Project:
    return db.session.get(
        Project, project_id, options=[joinedload(Project.organisation), joinedload(Project.call)]
    ) or abort(404)


def _writing_action(project: Project) -> str:
    """The rule for editing the report: writing it while the project runs, revising it in review."""
    return "acceptance.write" if project.state == "in_progress" else "acceptance.revise"


def _can_edit_report(project: Project, report) -> bool:
    if not can(current_user, _writing_action(project), project):
        return False
    if report is None:
        return project.state == "in_progress"
    return report.state in ops.EDITABLE_STATES


def _default_due() -> datetime:
    return datetime.combine(local_today() + timedelta(days=DUE_DAYS), time(18, 0))


def _figure(value) -> str:
    """A figure without needless zeros; — when missing."""
    if value is None or value == "":
        return "—"
    return format(Decimal(str(value)).normalize(), "f")


def _expert_choices(project: Project, round: int):
    """Allowed experts best suited first, then the conflicted ones disabled with their reasons."""
    application = project.application
    taken = review_ops.taken_experts(application, review_ops.ACCEPTANCE, round)
    experts = [e for e in review_ops.invitable_experts() if e.id not in taken]
    forbidden = review_ops.forbidden_reasons([application], experts)
    scores = review_ops.suitability_matrix([application], experts)
    loads = review_ops.acceptance_loads()
    allowed, blocked = [], []
    for e in experts:
        reasons = forbidden.get((application.id, e.id))
        if reasons:
            blocked.append(
                SelectChoice(
                    e.id,
                    _(
                        "%(name)s — conflict of interest: %(reasons)s",
                        name=e.name,
                        reasons="; ".join(reasons),
                    ),
                    {"disabled": True},
                )
            )
        else:
            score, load = scores.get((application.id, e.id), 0), loads.get(e.id, 0)
            allowed.append(
                (
                    score,
                    load,
                    e.id,
                    _(
                        "%(name)s (%(employer)s) — suitability %(score)d, %(load)d open "
                        "acceptance reviews",
                        name=e.name,
                        employer=e.employer_name or "—",
                        score=score,
                        load=load,
                    ),
                )
            )
    allowed.sort(key=lambda c: (-c[0], c[1], c[2]))
    return (
        [SelectChoice(0, _("— choose —"))] + [SelectChoice(c[2], c[3]) for c in allowed] + blocked
    )


def _readable_rounds(project: Project):
    """The latest round of the final report the user may read, and the rounds before it.

    The owner's draft is theirs until submitted: others see the last submitted round
    (or none) as if the draft did not exist.
    """
    report, previous = ops.current_report(project), ops.previous_reports(project)
    if report is not None and not can(current_user, "final_report.read", report):
        report, previous = (previous[0], previous[1:]) if previous else (None, [])
    return report, previous


def _abilities(project: Project, report, editable: bool) -> dict:
    convene = can(current_user, "acceptance.convene", project)
    return {
        "may_write": editable,
        "may_verify": report is not None
        and any(can_fire(current_user, report, e) for e in ("verify", "return")),
        "may_view_panel": can(current_user, "acceptance.view_panel", project),
        "may_convene": convene,
        "may_conclude": convene
        and any(can_fire(current_user, project, event) for event in ops.CONCLUDABLE),
        "may_close": can_fire(current_user, project, "close"),
    }


def _render(project: Project, step: str | None, *, status: int = 200, **forms):
    """The overview (``step`` None) or one step's page, with the stepper and only that step's forms."""
    report, previous = _readable_rounds(project)
    editable = _can_edit_report(project, report)
    abilities = _abilities(project, report, editable)
    panel = None
    if abilities["may_view_panel"] and report is not None:
        panel = ops.panel_state(project)
    facts = acceptance_steps.facts_from(project, report, panel, **abilities)
    found = acceptance_steps.steps(
        facts, str(ACCEPTANCE_CONCLUSIONS.get(project.conclusion, "")) if facts.concluded else ""
    )
    context = {
        "project": project,
        "active_tab": "acceptance",
        "report": report,
        "previous": previous,
        "steps": found,
        "next_step": acceptance_steps.next_step(found),
        "current_step": step,
        "conclusions": ACCEPTANCE_CONCLUSIONS,
        "confirm_form": ConfirmForm(formdata=None),
    }
    builders = {
        None: _overview_context,
        acceptance_steps.REPORT: _report_context,
        acceptance_steps.STATEMENT: _statement_context,
        acceptance_steps.PANEL: _panel_context,
        acceptance_steps.CONCLUSION: _conclusion_context,
    }
    context.update(builders[step](project, report, editable, abilities, panel, **forms))
    template = f"projects/acceptance/{step or 'overview'}.html"
    return render_template(template, **context), status


def _blockers(project, editable) -> list:
    """What still keeps the owner from submitting the final report (only while they may write)."""
    if editable and project.state == ProjectState.IN_PROGRESS:
        return ops.submission_blockers(project)
    return []


def _overview_context(project, report, editable, abilities, panel):
    return {
        "panel": panel,
        "blockers": _blockers(project, editable),
    }


def _report_form(project, report, editable, report_form):
    if editable and report_form is None:
        return final_report_form(project, report, prefill=ops.statement_prefill(project))
    return report_form


def _report_context(
    project,
    report,
    editable,
    abilities,
    panel,
    report_form=None,
    report_error=None,
    document_form=None,
    outcome_form=None,
):
    return {
        "view": ops.report_view(project, report),
        "editable": editable,
        "report_form": _report_form(project, report, editable, report_form),
        "report_error": report_error,
        "document_form": document_form or DocumentForm(formdata=None),
        "outcome_form": outcome_form or OutcomeForm(formdata=None),
        "can_outcomes": can(current_user, "acceptance.outcomes", project),
        "blockers": _blockers(project, editable),
    }


def _statement_context(
    project,
    report,
    editable,
    abilities,
    panel,
    report_form=None,
    report_error=None,
    return_form=None,
):
    return {
        "view": ops.report_view(project, report),
        "editable": editable,
        "report_form": _report_form(project, report, editable, report_form),
        "report_error": report_error,
        "may_verify": abilities["may_verify"],
        "return_form": return_form or ReturnStatementForm(formdata=None),
    }


def _panel_context(
    project, report, editable, abilities, panel, invite_form=None, suggest_form=None
):
    convene, suggestion, proposals = abilities["may_convene"], None, {}
    if convene and report is not None:
        invite_form = invite_form or InviteExpertForm(formdata=None, due_at=_default_due())
        invite_form.expert_id.choices = _expert_choices(project, report.round)
        suggest_form = suggest_form or SuggestPanelForm(formdata=None, due_at=_default_due())
        size, flags = suggest_form.size.data, suggest_form.size.flags
        if (
            not isinstance(size, int) or not flags.min <= size <= flags.max
        ):  # a rejected size: suggest the default
            size = ops.DEFAULT_PANEL_SIZE
        suggestion = ops.suggested_experts(project, size)
        proposals = {
            a.id: propose_replacement(a)
            for a in panel.assignments
            if a.state == "declined" and replacement_of(a) is None
        }
    return {
        "panel": panel,
        "convene": convene,
        "invite_form": invite_form,
        "suggest_form": suggest_form,
        "suggestion": suggestion,
        "proposals": proposals,
        "rubric": list(project.call.acceptance_criteria),
        "default_rubric": ops.DEFAULT_RUBRIC,
    }


def _conclusion_context(
    project, report, editable, abilities, panel, conclusion_form=None, conclusion_error=None
):
    return {
        "panel": panel,
        "concluding": abilities["may_conclude"],
        "conclusion_form": conclusion_form or ConclusionForm(formdata=None),
        "conclusion_error": conclusion_error,
        "open_tranches": ops.open_tranches(project) if project.state == "accepted" else [],
        "decisions": ops.decisions_of(project),
    }


def _tab_project(project_id: int, action: str = "project.view") -> Project:
    project = _project_or_404(project_id)
    require(action, project)
    if project.state not in TAB_STATES:
        abort(404)
    return project


@bp.get("/projects/<int:project_id>/acceptance")
def acceptance(project_id: int):
    """The overview of acceptance: the steps, their status and what the user does next."""
    return _render(_tab_project(project_id), None)


@bp.get("/projects/<int:project_id>/acceptance/report")
def acceptance_report(project_id: int):
    """Step 1: the final report's summary, the KPIs achieved, its documents and the outcomes."""
    return _render(_tab_project(project_id), acceptance_steps.REPORT)


@bp.get("/projects/<int:project_id>/acceptance/statement")
def acceptance_statement(project_id: int):
    """Step 2: the final financial statement, entered by the owner and verified by finance."""
    return _render(_tab_project(project_id), acceptance_steps.STATEMENT)


@bp.get("/projects/<int:project_id>/acceptance/panel")
def acceptance_panel(project_id: int):
    """Step 3: the acceptance panel's experts, their reviews and the invitations."""
    return _render(_tab_project(project_id, "acceptance.view_panel"), acceptance_steps.PANEL)


@bp.get("/projects/<int:project_id>/acceptance/conclusion")
def acceptance_conclusion(project_id: int):
    """Step 4: the conclusion, the closure and the history of acceptance."""
    return _render(_tab_project(project_id), acceptance_steps.CONCLUSION)


def _back(project: Project, step: str | None = None, anchor: str = "") -> str:
    endpoint = acceptance_steps.ENDPOINTS[step] if step else "projects.acceptance"
    return url_for(endpoint, project_id=project.id) + (f"#{anchor}" if anchor else "")


# --- the owner -----------------------------------------------------------------------------------


def _save_or_submit(project: Project, step: str, *, statement: bool, report_part: bool):
    """Save the owner's part of the final report shown on ``step``, or save it and submit the report.

    Parts not posted are left as they are; on refusal ``step`` is shown again with what was typed.
    """
    require(_writing_action(project), project)
    action = request.form.get("action", "save")
    if action not in ("save", "submit"):
        abort(400)
    form = final_report_form(project, formdata=request.form)
    if not form.validate():
        return _render(project, step, report_form=form, status=422)
    values = {
        "summary": form.summary.data if report_part else None,
        "kpi_achieved": form.kpi_values() if report_part else None,
        "statement": form.statement_values() if statement else None,
    }
    if action == "save":
        _result, problem = attempt(ops.save_final_report, project, current_user, **values)
        if problem:
            return _render(project, step, report_form=form, report_error=problem, status=422)
        flash(_("The final report has been saved."), "success")
        return redirect(_back(project, step))
    _result, problem = attempt(ops.submit_final_report, project, current_user, **values)
    if problem:
        _result, save_problem = attempt(ops.save_final_report, project, current_user, **values)
        if save_problem is None:
            problem = _(
                "Your draft has been saved, but it cannot be submitted yet: %(problem)s",
                problem=problem,
            )
        return _render(project, step, report_form=form, report_error=problem, status=422)
    flash(_("The final report has been submitted and acceptance requested."), "success")
    return redirect(_back(project))


@bp.post("/projects/<int:project_id>/acceptance/report")
def save_report(project_id: int):
    """Save the summary and KPIs (``action=save``) or save and submit, which requests acceptance.

    Statement figures posted with them (``spent_*``) are saved too.
    """
    project = _project_or_404(project_id)
    posted_statement = any(key.startswith("spent_") for key in request.form)
    return _save_or_submit(
        project, acceptance_steps.REPORT, statement=posted_statement, report_part=True
    )


@bp.post("/projects/<int:project_id>/acceptance/statement")
def save_statement(project_id: int):
    """Save the final financial statement (``action=save``) or save it and submit the report."""
    project = _project_or_404(project_id)
    return _save_or_submit(project, acceptance_steps.STATEMENT, statement=True, report_part=False)


@bp.post("/projects/<int:project_id>/acceptance/documents")
def add_document(project_id: int):
    """Upload the final report or final statement document."""
    project = _project_or_404(project_id)
    require(_writing_action(project), project)
    form = DocumentForm()
    if not form.validate():
        return _render(project, acceptance_steps.REPORT, document_form=form, status=422)
    _result, problem = attempt(
        ops.add_report_document, project, current_user, form.purpose.data, form.file.data
    )
    if problem:
        form.file.errors = [*form.file.errors, problem]
        return _render(project, acceptance_steps.REPORT, document_form=form, status=422)
    flash(_("“%(name)s” has been uploaded.", name=form.file.data.filename), "success")
    return redirect(_back(project, acceptance_steps.REPORT, "documents"))


def _file_of(project: Project, file_id: int, purposes=FILE_PURPOSES) -> ProjectFile:
    item = db.session.get(ProjectFile, file_id)
    if item is None or item.project_id != project.id or item.purpose not in purposes:
        abort(404)
    return item


@bp.post("/projects/<int:project_id>/acceptance/documents/<int:file_id>/delete")
def remove_document(project_id: int, file_id: int):
    project = _project_or_404(project_id)
    require(_writing_action(project), project)
    item = _file_of(project, file_id, tuple(ops.REPORT_DOCUMENTS))
    if not ConfirmForm().validate():
        abort(400)
    name = item.original_name
    _result, problem = attempt(ops.remove_report_document, item, current_user)
    if problem:
        flash(problem, "warning")
    else:
        flash(_("“%(name)s” has been removed.", name=name), "success")
    return redirect(_back(project, acceptance_steps.REPORT, "documents"))


@bp.get("/projects/<int:project_id>/acceptance/files/<int:file_id>")
def acceptance_file(project_id: int, file_id: int):
    """Download a final report document or an outcome's evidence under its original name."""
    project = _project_or_404(project_id)
    require("acceptance.read_report", project, not_found=True)
    item = _file_of(project, file_id)
    require_file_readable(item)
    return download_response(
        item.stored_name, item.original_name, item.content_type, etag=item.sha256
    )


@bp.post("/projects/<int:project_id>/acceptance/outcomes")
def add_outcome(project_id: int):
    """Record an outcome with its evidence."""
    project = _project_or_404(project_id)
    require("acceptance.outcomes", project)
    form = OutcomeForm()
    if not form.validate():
        return _render(project, acceptance_steps.REPORT, outcome_form=form, status=422)
    _result, problem = attempt(
        ops.add_outcome,
        project,
        current_user,
        kind=form.kind.data,
        title=form.title.data,
        quantity=parse_figure(form.quantity.data),
        reference=form.reference.data,
        achieved_on=form.achieved_on.data,
        note=form.note.data,
        evidence=form.evidence.data or [],
    )
    if problem:
        form.evidence.errors = [*form.evidence.errors, problem]
        return _render(project, acceptance_steps.REPORT, outcome_form=form, status=422)
    flash(_("The outcome has been recorded."), "success")
    return redirect(_back(project, acceptance_steps.REPORT, "outcomes"))


@bp.post("/projects/<int:project_id>/acceptance/outcomes/<int:outcome_id>/delete")
def remove_outcome(project_id: int, outcome_id: int):
    project = _project_or_404(project_id)
    require("acceptance.outcomes", project)
    outcome = db.session.get(Outcome, outcome_id)
    if outcome is None or outcome.project_id != project.id:
        abort(404)
    if not ConfirmForm().validate():
        abort(400)
    _result, problem = attempt(ops.remove_outcome, outcome, current_user)
    if problem:
        flash(problem, "warning")
    else:
        flash(_("The outcome has been removed."), "success")
    return redirect(_back(project, acceptance_steps.REPORT, "outcomes"))


# --- finance -------------------------------------------------------------------------------------


def _submitted_report(project: Project):
    report = ops.current_report(project)
    if report is None:
        abort(404)
    return report


@bp.post("/projects/<int:project_id>/acceptance/statement/verify")
def verify_statement(project_id: int):
    """Finance verifies the final financial statement."""
    project = _project_or_404(project_id)
    require("project.view", project)
    report = _submitted_report(project)
    if not ConfirmForm().validate():
        abort(400)
    _result, problem = attempt(ops.verify_statement, report, current_user, denied_obj=report)
    if problem:
        flash(problem, "warning")
        return redirect(_back(project, acceptance_steps.STATEMENT))
    flash(_("The final financial statement has been verified."), "success")
    return redirect(_back(project, acceptance_steps.STATEMENT))


@bp.post("/projects/<int:project_id>/acceptance/statement/return")
def return_statement(project_id: int):
    """Finance returns the final statement to the owner with a note."""
    project = _project_or_404(project_id)
    require("project.view", project)
    report = _submitted_report(project)
    if not actionable(report, "return", action="final_report.return"):
        return _statement_not_returnable(project, report)
    form = ReturnStatementForm()
    if not form.validate():
        return _render(project, acceptance_steps.STATEMENT, return_form=form, status=422)
    _result, problem = attempt(
        ops.return_statement, report, current_user, form.note.data, denied_obj=report
    )
    if problem:
        project = _project_or_404(project_id)
        report = _submitted_report(project)
        if not event_applies(report, "return"):  # verified or returned by a colleague meanwhile
            return _statement_not_returnable(project, report)
        form.note.errors = [*form.note.errors, problem]
        return _render(project, acceptance_steps.STATEMENT, return_form=form, status=422)
    flash(_("The final financial statement has been returned to the project owner."), "success")
    return redirect(_back(project, acceptance_steps.STATEMENT))


def _statement_not_returnable(project: Project, report):
    """The statement is not awaiting finance (any more): say so beside it, where the forms are gone."""
    flash(
        _(
            "The final financial statement can no longer be returned: it is now “%(state)s”.",
            state=label_of(FinalReportState, report.state),
        ),
        "warning",
    )
    return redirect(_back(project, acceptance_steps.STATEMENT))


# --- the bureau ----------------------------------------------------------------------------------


@bp.post("/projects/<int:project_id>/acceptance/panel/invite")
def invite_expert(project_id: int):
    """Invite one chosen expert to the acceptance panel."""
    project = _project_or_404(project_id)
    require("acceptance.convene", project)
    form = InviteExpertForm()
    form.expert_id.choices = []
    if not form.validate():
        return _render(project, acceptance_steps.PANEL, invite_form=form, status=422)
    expert = db.session.get(Expert, form.expert_id.data)
    if expert is None:
        form.expert_id.errors = [*form.expert_id.errors, _("Choose an expert.")]
        return _render(project, acceptance_steps.PANEL, invite_form=form, status=422)
    _result, problem = attempt(
        ops.invite_panel_expert, project, expert, current_user, local_to_utc(form.due_at.data)
    )
    if problem:
        form.expert_id.errors = [*form.expert_id.errors, problem]
        return _render(project, acceptance_steps.PANEL, invite_form=form, status=422)
    flash(_("%(name)s has been invited.", name=expert.name), "success")
    return redirect(_back(project, acceptance_steps.PANEL))


@bp.post("/projects/<int:project_id>/acceptance/panel/suggested")
def invite_suggested(project_id: int):
    """Invite the experts the solver suggests, up to the panel size."""
    project = _project_or_404(project_id)
    require("acceptance.convene", project)
    form = SuggestPanelForm()
    if not form.validate():
        return _render(project, acceptance_steps.PANEL, suggest_form=form, status=422)
    suggestion, problem = attempt(
        ops.invite_suggested_panel,
        project,
        current_user,
        size=form.size.data,
        due_at=local_to_utc(form.due_at.data),
        draw=form.draw.data,
    )
    if problem:
        form.size.errors = [*form.size.errors, problem]
        return _render(project, acceptance_steps.PANEL, suggest_form=form, status=422)
    message = ngettext("%(num)d expert invited", "%(num)d experts invited", len(suggestion.experts))
    if suggestion.short:
        message += " · " + ngettext(
            "%(num)d place could not be filled: no allowed expert is left",
            "%(num)d places could not be filled: no allowed expert is left",
            suggestion.short,
        )
    flash(message, "success" if not suggestion.short else "warning")
    return redirect(_back(project, acceptance_steps.PANEL))


@bp.post("/projects/<int:project_id>/acceptance/conclude")
def conclude(project_id: int):
    """The bureau's conclusion: pass, rectify (with reasons and a deadline) or fail (with reasons)."""
    project = _project_or_404(project_id)
    require("acceptance.convene", project)
    form = ConclusionForm()
    if not form.validate():
        return _render(project, acceptance_steps.CONCLUSION, conclusion_form=form, status=422)
    _result, problem = attempt(
        ops.conclude,
        project,
        current_user,
        form.conclusion.data,
        reasons=form.reasons.data,
        rectify_by=form.rectify_by.data,
        denied_obj=project,
    )
    if problem:
        return _render(
            project,
            acceptance_steps.CONCLUSION,
            conclusion_form=form,
            conclusion_error=problem,
            status=422,
        )
    flash(
        _(
            "The conclusion has been recorded: %(conclusion)s.",
            conclusion=ACCEPTANCE_CONCLUSIONS[form.conclusion.data],
        ),
        "success",
    )
    return redirect(_back(project, acceptance_steps.CONCLUSION))


@bp.post("/projects/<int:project_id>/acceptance/close")
def close(project_id: int):
    """Close an accepted or failed project."""
    project = _project_or_404(project_id)
    require("project.view", project)
    if not ConfirmForm().validate():
        abort(400)
    _result, problem = attempt(ops.close_project, project, current_user, denied_obj=project)
    if problem:
        flash(problem, "warning")
        return redirect(_back(project, acceptance_steps.CONCLUSION, "closure"))
    flash(_("The project has been closed."), "success")
    return redirect(_back(project, acceptance_steps.CONCLUSION, "closure"))


@bp.get("/projects/acceptance-review")
def acceptance_list():
    """The bureau's projects in acceptance review with their statement and panel, and those to close."""
    require("acceptance.view_panel")
    in_review = db.session.scalars(
        sa.select(Project)
        .where(Project.state == "acceptance_review")
        .options(joinedload(Project.organisation))
        .order_by(Project.acceptance_requested_at, Project.id)
    ).all()
    rows = [
        {"project": p, "report": ops.current_report(p), "panel": ops.panel_state(p)}
        for p in in_review
    ]
    to_close = db.session.scalars(
        sa.select(Project)
        .where(Project.state.in_(("accepted", "acceptance_failed")))
        .options(joinedload(Project.organisation))
        .order_by(Project.concluded_at, Project.id)
    ).all()
    return render_template(
        "projects/acceptance/list.html",
        rows=rows,
        to_close=to_close,
        conclusions=ACCEPTANCE_CONCLUSIONS,
    )


@bp.app_template_global("outcome_kind_label")
def _outcome_kind_label(kind: str) -> tuple[str, str]:
    return ops.outcome_label(kind)


@bp.app_template_global("report_document_label")
def _report_document_label(purpose: str) -> str:
    return str(ops.REPORT_DOCUMENTS.get(purpose, purpose))
