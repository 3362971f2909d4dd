"""Spending pages: the project's spending tab (budget versus actual, the owner's reports, recoveries),
correcting a returned report, finance's queue of reports to verify, and evidence downloads."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from grants.core.actions import action, attempt
from grants.core.audit import record_denial
from grants.core.pagination import paginate
from grants.core.permissions import can, require
from grants.core.storage import download_response
from grants.core.timeutil import local_today
from grants.core.workflow import can_fire, workflow_for
from grants.extensions import db
from grants.funding import spending as ops
from grants.funding.forms.spending import ExpenditureForm, RecoveryForm, ReturnForm, VerifyForm
from grants.funding.models import Expenditure, ProjectBudgetLine
from grants.funding.queries import spent_by_category
from grants.funding.views import bp
from grants.projects.models import Project, ProjectFile
from grants.projects.tabs import project_tab

project_tab("spending", _l("Spending"), "funding.spending", action="project.view", order=50)

ORIGINS = ("project", "queue")


@bp.app_template_global("spending_category_label")
def _category_label(category: str) -> str:
    return ops.category_label(category)


def _project_or_404(project_id: int) -> Project:
    return db.session.get(Project, project_id) or abort(404)


def _expenditure_or_404(expenditure_id: int) -> Expenditure:
    return db.session.get(Expenditure, expenditure_id) or abort(404)


def _check_forms(
    expenditures, given: dict | None = None
) -> dict[int, tuple[VerifyForm, ReturnForm]]:
    """A verify and a return form per submitted report (``given`` keeps the one that failed)."""
    given = given or {}
    forms = {}
    for e in expenditures:
        if e.state != "submitted":
            continue
        verify_form, return_form = given.get(e.id, (None, None))
        forms[e.id] = (
            verify_form or VerifyForm(formdata=None, prefix=f"verify-{e.id}"),
            return_form or ReturnForm(formdata=None, prefix=f"return-{e.id}"),
        )
    return forms


# --- the project's spending tab -------------------------------------------------------------


def _render_tab(
    project: Project,
    *,
    report_form: ExpenditureForm | None = None,
    recovery_form: RecoveryForm | None = None,
    check_forms: dict | None = None,
    status: int = 200,
):
    expenditures = ops.project_expenditures(project)
    if report_form is None and can(current_user, "spending.report", project):
        report_form = ExpenditureForm(formdata=None, project=project)
    show_recovery = ops.recovery_applies(project) or project.recovered_total > 0
    if recovery_form is None and can(current_user, "recovery.record", project):
        position = ops.recovery_position(project)
        recovery_form = RecoveryForm(
            formdata=None,
            prefix="recovery",
            received_on=local_today(),
            amount=format(position.suggested, "f") if position.suggested else "",
        )
    return render_template(
        "funding/spending/tab.html",
        project=project,
        active_tab="spending",
        table=ops.budget_vs_actual(project),
        expenditures=expenditures,
        files=ops.evidence_files(e.id for e in expenditures),
        report_form=report_form,
        check_forms=_check_forms(expenditures, check_forms),
        show_recovery=show_recovery,
        position=ops.recovery_position(project) if show_recovery else None,
        recoveries=ops.project_recoveries(project) if show_recovery else [],
        recovery_form=recovery_form,
    ), status


@bp.get("/projects/<int:project_id>/spending")
def spending(project_id: int):
    """Budget versus actual per category, the spending reports, and recoveries of unspent funds."""
    project = _project_or_404(project_id)
    require("project.view", project)
    return _render_tab(project)


@bp.post("/projects/<int:project_id>/spending")
def report(project_id: int):
    """The owner reports spending in one budget category, with evidence files."""
    project = _project_or_404(project_id)
    require("spending.report", project)
    form = ExpenditureForm(project=project)
    if form.validate_on_submit():
        with action(form=form, field="note") as done:
            ops.report_expenditure(
                project, current_user, evidence=form.evidence.data, **form.values()
            )
        if done:
            flash(_("Your spending report has been submitted to finance."), "success")
            return redirect(url_for("funding.spending", project_id=project.id, _anchor="reports"))
    return _render_tab(_project_or_404(project_id), report_form=form, status=422)


# --- correcting a returned report -----------------------------------------------------------


def _render_resubmit(expenditure: Expenditure, form: ExpenditureForm, status: int = 200):
    return render_template(
        "funding/spending/resubmit.html",
        expenditure=expenditure,
        project=expenditure.project,
        form=form,
        files=ops.evidence_files([expenditure.id])[expenditure.id],
    ), status


@bp.route("/spending/<int:expenditure_id>/resubmit", methods=["GET", "POST"])
def resubmit(expenditure_id: int):
    """Correct a report finance returned and submit it again."""
    expenditure = _expenditure_or_404(expenditure_id)
    project = expenditure.project
    require("project.view", project)
    if expenditure.state != "returned":
        flash(_("This spending report is not waiting for a correction."), "info")
        return redirect(
            url_for(
                "funding.spending", project_id=project.id, _anchor=f"expenditure-{expenditure.id}"
            )
        )
    if not (
        can_fire(current_user, expenditure, "resubmit")
        and can(current_user, "spending.report", project)
    ):
        record_denial("expenditure.resubmit", expenditure, path=request.path)
        abort(403)
    if request.method == "GET":
        form = ExpenditureForm(
            formdata=None, project=project, evidence_required=False, obj=expenditure
        )
        form.amount.data = format(expenditure.amount, "f")
        return _render_resubmit(expenditure, form)
    form = ExpenditureForm(project=project, evidence_required=False)
    if form.validate_on_submit():
        with action(form=form, field="note") as done:
            ops.resubmit_expenditure(
                expenditure, current_user, evidence=form.evidence.data, **form.values()
            )
        if done:
            flash(
                _("The corrected spending report has been submitted to finance again."), "success"
            )
            return redirect(
                url_for(
                    "funding.spending",
                    project_id=project.id,
                    _anchor=f"expenditure-{expenditure.id}",
                )
            )
    return _render_resubmit(_expenditure_or_404(expenditure_id), form, status=422)


# --- finance: verify or return --------------------------------------------------------------


def _origin() -> str:
    origin = request.form.get("origin", "project")
    if origin == "queue" and can(current_user, "spending.queue"):
        return origin
    return "project"


def _back(expenditure: Expenditure, origin: str):
    if origin == "queue":
        return redirect(url_for("funding.spending_queue", _anchor=f"expenditure-{expenditure.id}"))
    return redirect(
        url_for(
            "funding.spending",
            project_id=expenditure.project_id,
            _anchor=f"expenditure-{expenditure.id}",
        )
    )


def _checkable(expenditure: Expenditure, event: str) -> bool:
    """403 (audited) for someone who may not check reports; False when the report is no longer waiting."""
    t = workflow_for(expenditure).find(expenditure.state, event)
    if t is None:
        return False
    if not t.allowed(current_user, expenditure):
        record_denial(f"expenditure.{event}", expenditure, path=request.path)
        abort(403)
    return True


@bp.post("/spending/<int:expenditure_id>/verify")
def verify(expenditure_id: int):
    """Finance verifies a submitted report against its evidence."""
    expenditure = _expenditure_or_404(expenditure_id)
    require("project.view", expenditure.project)
    origin = _origin()
    if not _checkable(expenditure, "verify"):
        flash(_("This spending report is no longer waiting for verification."), "info")
        return _back(expenditure, origin)
    form = VerifyForm(prefix=f"verify-{expenditure.id}")
    if not form.validate_on_submit():
        return _rerender(expenditure, origin, (form, None))
    _result, problem = attempt(
        ops.verify_expenditure,
        expenditure,
        current_user,
        form.note.data or "",
        denied_obj=expenditure,
    )
    if problem:
        form.note.errors.append(problem)
        return _rerender(_expenditure_or_404(expenditure_id), origin, (form, None))
    flash(_("The spending report has been verified."), "success")
    return _back(expenditure, origin)


@bp.post("/spending/<int:expenditure_id>/return")
def return_report(expenditure_id: int):
    """Finance returns a submitted report to the owner with a note."""
    expenditure = _expenditure_or_404(expenditure_id)
    require("project.view", expenditure.project)
    origin = _origin()
    if not _checkable(expenditure, "return"):
        flash(_("This spending report is no longer waiting for verification."), "info")
        return _back(expenditure, origin)
    form = ReturnForm(prefix=f"return-{expenditure.id}")
    if form.validate_on_submit():
        _result, problem = attempt(
            ops.return_expenditure,
            expenditure,
            current_user,
            form.note.data,
            denied_obj=expenditure,
        )
        if problem is None:
            flash(_("The spending report has been returned to the project owner."), "success")
            return _back(expenditure, origin)
        form.note.errors.append(problem)
        expenditure = _expenditure_or_404(expenditure_id)
    return _rerender(expenditure, origin, (None, form))


def _rerender(expenditure: Expenditure, origin: str, forms: tuple):
    if origin == "queue":
        return _render_queue({expenditure.id: forms}, status=422)
    return _render_tab(expenditure.project, check_forms={expenditure.id: forms}, status=422)


# --- finance: the queue of reports to verify ------------------------------------------------


def _render_queue(check_forms: dict | None = None, status: int = 200):
    page = paginate(
        sa.select(Expenditure)
        .where(Expenditure.state == "submitted")
        .options(selectinload(Expenditure.project).selectinload(Project.organisation))
        .order_by(Expenditure.submitted_at, Expenditure.id)
    )
    items = list(page.items)
    project_ids = {e.project_id for e in items}
    spent = spent_by_category(project_ids)
    budgets = {}
    if project_ids:
        for line in db.session.scalars(
            sa.select(ProjectBudgetLine).where(ProjectBudgetLine.project_id.in_(project_ids))
        ):
            budgets[(line.project_id, line.category)] = line.fiscal
    rows = []
    for e in items:
        budget = budgets.get((e.project_id, e.category))
        used = spent[e.project_id].get(e.category, 0)
        after = used + e.amount
        status_after = ops.category_status(budget or 0, after)
        rows.append(
            {"e": e, "budget": budget, "spent": used, "after": after, "status_after": status_after}
        )
    return render_template(
        "funding/spending/queue.html",
        page=page,
        rows=rows,
        files=ops.evidence_files(e.id for e in items),
        check_forms=_check_forms(items, check_forms),
    ), status


@bp.get("/finance/spending")
def spending_queue():
    """Finance's queue: submitted spending reports, oldest first, with their evidence."""
    require("spending.queue")
    return _render_queue()


# --- evidence downloads ---------------------------------------------------------------------


@bp.get("/spending/files/<int:file_id>")
def evidence(file_id: int):
    """Download an evidence file under its original name (whoever may see the project's files)."""
    item = db.session.get(ProjectFile, file_id)
    if item is None or item.purpose != "spending_evidence":
        abort(404)
    require("project.download", item.project, not_found=True)
    return download_response(
        item.stored_name, item.original_name, item.content_type, etag=item.sha256
    )


# --- recovery of unspent funds --------------------------------------------------------------


@bp.post("/projects/<int:project_id>/recoveries")
def record_recovery(project_id: int):
    """Finance records money paid back by a terminated, failed or closed project."""
    project = _project_or_404(project_id)
    require("recovery.record", project)
    form = RecoveryForm(prefix="recovery")
    if form.validate_on_submit():
        with action(form=form, field="note") as done:
            ops.record_recovery(
                project,
                current_user,
                form.amount.data,
                form.voucher_no.data,
                form.received_on.data,
                form.note.data or "",
            )
        if done:
            flash(_("The recovery has been recorded."), "success")
            return redirect(url_for("funding.spending", project_id=project.id, _anchor="recovery"))
    return _render_tab(_project_or_404(project_id), recovery_form=form, status=422)
