"""Contracting pages: the bureau's list of approved applications, the contract form, the
project's "contract and tranches" tab (task book, signed copy, signing, tranche plan)."""

from __future__ import annotations

from itertools import groupby

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2 import TemplateNotFound
from sqlalchemy.orm import joinedload

from grants.applications.models import BUDGET_CATEGORIES, Application
from grants.core.actions import action, actionable
from grants.core.money import MoneyError
from grants.core.permissions import can, require
from grants.core.storage import download_response
from grants.core.workflow import transition
from grants.extensions import db
from grants.funding import contracting as ops
from grants.funding.forms.contracts import (
    ContractForm,
    ReturnSignedCopyForm,
    SignedCopyForm,
    SignForm,
    TranchePlanForm,
    TrancheRowForm,
    milestone_choices,
    wan_text,
)
from grants.funding.views import bp
from grants.projects.models import Project, ProjectFile
from grants.projects.tabs import project_tab
from grants.review.decisions import contract_blockers, decisions_by_application

project_tab("contract", _l("Contract and tranches"), "funding.contract", order=20)


def _project_or_404(project_id: int) -> Project:
    return db.session.get(Project, project_id) or abort(404)


def _application_or_404(application_id: int) -> Application:
    return db.session.get(Application, application_id) or abort(404)


# --- the bureau's contracting list ----------------------------------------------------------


@bp.get("/contracting")
def contracting():
    """Approved applications by call, each with what still blocks its contract, and the
    projects whose task book waits for the signed copy."""
    require("project.contract")

    applications = db.session.scalars(
        sa.select(Application)
        .where(Application.state == "approved")
        .options(joinedload(Application.organisation), joinedload(Application.call))
        .order_by(Application.call_id.desc(), Application.reference_no, Application.id)
    ).all()
    decisions = decisions_by_application(a.id for a in applications)
    groups = [
        (call, [(a, decisions.get(a.id), contract_blockers(a)) for a in rows])
        for call, rows in groupby(applications, key=lambda a: a.call)
    ]
    waiting = db.session.scalars(
        sa.select(Project)
        .where(Project.state == "contracting")
        .options(joinedload(Project.organisation))
        .order_by(Project.created_at, Project.id)
    ).all()
    copies = _signed_copies([p.id for p in waiting])
    signatures = {p.id: ops.latest_signature(p) for p in waiting}
    return render_template(
        "funding/contracts/list.html",
        groups=groups,
        waiting=waiting,
        copies=copies,
        signatures=signatures,
    )


def _signed_copies(project_ids: list[int]) -> dict[int, ProjectFile]:
    if not project_ids:
        return {}
    rows = db.session.scalars(
        sa.select(ProjectFile)
        .where(ProjectFile.project_id.in_(project_ids), ProjectFile.purpose == "signed_task_book")
        .order_by(ProjectFile.uploaded_at, ProjectFile.id)
    ).all()
    return {f.project_id: f for f in rows}


# --- the contract form ----------------------------------------------------------------------


def _planned_milestone_choices(application: Application) -> list[tuple[str, str]]:
    return [
        (str(number), f"{number}. {m.title} ({m.due_date.isoformat()})")
        for number, m in enumerate(application.milestones, start=1)
    ]


def _contract_defaults(application: Application, award) -> dict:
    data = {"start_date": application.start_date, "end_date": application.end_date}
    for row in ops.default_budget(application, award):
        data[row.category] = {
            "fiscal": wan_text(row.fiscal),
            "self_raised": wan_text(row.self_raised),
        }
    data["tranches"] = [
        {
            "amount": wan_text(r.amount),
            "trigger": r.trigger,
            "milestone": str(r.milestone) if r.milestone else "",
        }
        for r in ops.default_plan(application, award)
    ]
    return data


def _row_template(choices) -> TrancheRowForm:
    """An empty plan row with ``__index__`` in its names, cloned by app.js to add a row."""
    row = TrancheRowForm(formdata=None, prefix="tranches-__index__-")
    row.milestone.choices = milestone_choices(choices)
    return row


@bp.route("/applications/<int:application_id>/contract", methods=["GET", "POST"])
def new_contract(application_id: int):
    """Create the project of an approved application: period, budget, tranche plan."""
    application = _application_or_404(application_id)
    require("project.contract", application)
    existing = ops.project_for(application)
    if existing is not None:
        flash(
            _("The application has already been contracted as %(code)s.", code=existing.code),
            "info",
        )
        return redirect(url_for("funding.contract", project_id=existing.id))
    award = ops.decision_amount(application)
    if application.state != "approved" or award is None:
        flash(_("Only approved applications can be contracted."), "warning")
        return redirect(url_for("funding.contracting"))
    choices = _planned_milestone_choices(application)
    form = (
        ContractForm(data=_contract_defaults(application, award))
        if request.method == "GET"
        else ContractForm()
    )
    form.set_milestones(choices)
    problem = budget_error = plan_error = None
    if form.validate_on_submit():
        with action(show=False, denied="application.contract", denied_obj=application) as done:
            project = ops.create_project(
                application,
                current_user,
                budget=form.budget_rows(),
                tranches=form.plan_rows(),
                start_date=form.start_date.data,
                end_date=form.end_date.data,
            )
        exc = done.error
        if isinstance(exc, ops.PlanError):
            form.show_plan_errors(exc.rows)
            plan_error = exc.total or (None if exc.rows else exc.message)
            budget_error = exc.budget
        elif isinstance(exc, ops.ContractingError) and exc.field in ("start_date", "end_date"):
            getattr(form, exc.field).errors.append(exc.message)
        elif isinstance(exc, ops.ContractingError) and exc.field == "budget":
            budget_error = exc.message
        elif not done:
            problem = done.message
        else:
            flash(
                _("Project %(code)s has been created and its task book issued.", code=project.code),
                "success",
            )
            return redirect(url_for("funding.contract", project_id=project.id))
    form.add_blank_row()
    form.set_milestones(choices)
    submitted = request.method == "POST"
    return render_template(
        "funding/contracts/new.html",
        application=application,
        award=award,
        form=form,
        category_labels=BUDGET_CATEGORIES,
        blockers=contract_blockers(application),
        problem=problem,
        budget_error=budget_error,
        plan_error=plan_error,
        row_template=_row_template(choices),
        typed_total=_typed_total(form),
        **_typed_budget(form),
    ), (422 if submitted else 200)


def _typed_budget(form: ContractForm) -> dict:
    """The budget's fiscal and self-raised totals as typed (None when an amount is not valid)."""
    if not form.budget_is_valid():
        return {"typed_fiscal": None, "typed_self_raised": None}
    rows = form.budget_rows()
    return {
        "typed_fiscal": sum((r.fiscal for r in rows), ops.ZERO),
        "typed_self_raised": sum((r.self_raised for r in rows), ops.ZERO),
    }


def _typed_total(form):
    """The sum of the plan rows as typed, or None when a row is not a number."""
    try:
        return sum((r.amount for r in form.plan_rows()), ops.ZERO)
    except (MoneyError, ArithmeticError):
        return None


# --- the project's contract tab -------------------------------------------------------------


def _has_header() -> bool:
    try:
        current_app.jinja_env.get_template("projects/_header.html")
    except TemplateNotFound:
        return False
    return True


def _render_contract(
    project: Project, *, upload_form=None, sign_problem=None, return_form=None, status: int = 200
):
    tranches = list(project.tranches)
    latest = ops.latest_disbursements(t.id for t in tranches)
    statuses = {t.id: ops.tranche_status(t, latest.get(t.id)) for t in tranches}
    copy = ops.signed_copy(project)
    if (
        upload_form is None
        and can(current_user, "taskbook.upload_signed", project)
        and ops.pending_signature(project) is None
    ):
        upload_form = SignedCopyForm()
    return render_template(
        "funding/contracts/contract.html",
        project=project,
        tab="contract",
        active_tab="contract",
        has_header=_has_header(),
        task_book=ops.task_book_file(project),
        copy=copy,
        copy_is_current=ops.signed_copy_is_current(project, copy),
        signature=ops.latest_signature(project),
        tranches=tranches,
        statuses=statuses,
        plan_total=ops.plan_total(project),
        plan_editable=ops.plan_is_editable(project),
        upload_form=upload_form,
        sign_form=SignForm(),
        return_form=return_form or ReturnSignedCopyForm(formdata=None),
        sign_problem=sign_problem,
    ), status


@bp.get("/projects/<int:project_id>/contract")
def contract(project_id: int):
    """The task book, its signed copy and the tranche plan with each tranche's status."""
    project = _project_or_404(project_id)
    require("project.view", project)
    return _render_contract(project)


@bp.get("/projects/<int:project_id>/task-book")
def task_book(project_id: int):
    """The task book as issued (PDF)."""
    project = _project_or_404(project_id)
    require("taskbook.download", project)
    issued = ops.task_book_file(project) or abort(404)
    return _send(issued, f"{project.code} {_('Task book')}.pdf")


@bp.get("/projects/<int:project_id>/task-book/signed/<int:file_id>")
def signed_task_book(project_id: int, file_id: int):
    """A signed copy of the task book as uploaded."""
    project = _project_or_404(project_id)
    require("taskbook.download", project)
    record = db.session.get(ProjectFile, file_id)
    if record is None or record.project_id != project.id or record.purpose != "signed_task_book":
        abort(404)
    return _send(record, record.original_name)


def _send(record: ProjectFile, name: str):
    return download_response(record.stored_name, name, record.content_type)


@bp.post("/projects/<int:project_id>/task-book/signed")
def upload_signed(project_id: int):
    """The applicant (or the bureau for them) uploads the signed and sealed task book."""
    project = _project_or_404(project_id)
    require("taskbook.upload_signed", project)
    form = SignedCopyForm()
    if form.validate_on_submit():
        with action(form=form, field="file") as done:
            ops.upload_signed_task_book(project, form.file.data, current_user)
        if done:
            flash(
                _(
                    "The signed copy has been uploaded. The bureau checks it and confirms it to start the "
                    "project, or returns it with the reason."
                ),
                "success",
            )
            return redirect(url_for("funding.contract", project_id=project.id, _anchor="task-book"))
    return _render_contract(project, upload_form=form, status=422)


@bp.post("/projects/<int:project_id>/sign")
def sign(project_id: int):
    """The bureau confirms the signed copy: the project starts and the tranche on signing is due."""
    project = _project_or_404(project_id)
    require("taskbook.confirm", project)
    signature = ops.pending_signature(project)
    if signature is None or not actionable(signature, "confirm", action="project.sign"):
        return _already_signed(project)
    form = SignForm()
    if not form.validate_on_submit():
        abort(400)
    with action(show=False, denied="project.sign", denied_obj=project) as done:
        transition(signature, "confirm", current_user)
    if not done:
        project = _project_or_404(project_id)
        if ops.pending_signature(project) is None:  # decided by someone else meanwhile
            return _already_signed(project)
        return _render_contract(project, sign_problem=done.message, status=422)
    flash(
        _("The signed task book is confirmed: project %(code)s is in progress.", code=project.code),
        "success",
    )
    return redirect(url_for("funding.contract", project_id=project.id))


@bp.post("/projects/<int:project_id>/task-book/signed/return")
def return_signed(project_id: int):
    """The bureau returns the signed copy with the reason; the applicant uploads a new one."""
    project = _project_or_404(project_id)
    require("taskbook.confirm", project)
    signature = ops.pending_signature(project)
    if signature is None or not actionable(signature, "return", action="taskbook.return_signed"):
        return _already_signed(project)
    form = ReturnSignedCopyForm()
    if form.validate_on_submit():
        with action(show=False, denied="taskbook.return_signed", denied_obj=project) as done:
            transition(signature, "return", current_user, reason=form.reason.data)
        if not done:
            project = _project_or_404(project_id)
            if ops.pending_signature(project) is None:
                return _already_signed(project)
            form.reason.errors.append(done.message)
        else:
            flash(
                _("The signed copy has been returned to the applicant with your reason."), "success"
            )
            return redirect(url_for("funding.contract", project_id=project.id, _anchor="task-book"))
    return _render_contract(project, return_form=form, status=422)


def _already_signed(project: Project):
    """No signed copy waits for the bureau: say why on the contract page, where the buttons are gone."""
    if project.signed_at is not None:
        flash(
            _(
                "The signed task book has already been confirmed: the project is now “%(state)s”.",
                state=project.state_label,
            ),
            "warning",
        )
    elif project.state == "contracting":
        flash(
            _(
                "No signed copy is waiting for confirmation: it has been returned, or not uploaded yet."
            ),
            "warning",
        )
    else:
        flash(
            _(
                "The signed task book can no longer be confirmed: the project is now “%(state)s”.",
                state=project.state_label,
            ),
            "warning",
        )
    return redirect(url_for("funding.contract", project_id=project.id, _anchor="task-book"))


# --- changing the tranche plan --------------------------------------------------------------


def _milestone_choices(project: Project) -> list[tuple[str, str]]:
    return [
        (str(m.id), f"{m.position}. {m.title} ({m.due_date.isoformat()})")
        for m in project.milestones
    ]


@bp.route("/projects/<int:project_id>/tranches", methods=["GET", "POST"])
def edit_plan(project_id: int):
    """The bureau changes the tranche plan while no tranche has a live disbursement."""
    project = _project_or_404(project_id)
    require("tranche.plan", project)
    if not ops.plan_is_editable(project):
        flash(
            _(
                "Money of this project has been requested or paid out: the tranche plan can no longer change."
            ),
            "warning",
        )
        return redirect(url_for("funding.contract", project_id=project.id))
    choices = _milestone_choices(project)
    if request.method == "GET":
        form = TranchePlanForm(
            data={
                "tranches": [
                    {
                        "id": str(t.id),
                        "amount": wan_text(t.amount),
                        "trigger": t.trigger,
                        "milestone": str(t.milestone_id) if t.milestone_id else "",
                    }
                    for t in ops.live_tranches(project)
                ]
            }
        )
    else:
        form = TranchePlanForm()
    form.set_milestones(choices)
    problem = plan_error = None
    if form.validate_on_submit():
        with action(show=False) as done:
            ops.replan_tranches(project, form.plan_rows(), current_user)
        if isinstance(done.error, ops.PlanError):
            form.show_plan_errors(done.error.rows)
            plan_error = done.error.total or (None if done.error.rows else done.message)
        elif not done:
            problem = done.message
        else:
            flash(_("The tranche plan of %(code)s has been saved.", code=project.code), "success")
            return redirect(url_for("funding.contract", project_id=project.id, _anchor="tranches"))
    form.add_blank_row()
    form.set_milestones(choices)
    return render_template(
        "funding/contracts/plan.html",
        project=project,
        form=form,
        problem=problem,
        plan_error=plan_error,
        row_template=_row_template(choices),
        typed_total=_typed_total(form),
        has_header=_has_header(),
        tab="contract",
        active_tab="contract",
    ), (422 if request.method == "POST" else 200)
