"""Change requests (项目变更) on the project's "Changes" tab, their decision, and termination."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from grants.applications.models import BUDGET_CATEGORIES, KPI_KINDS
from grants.core.actions import action, attempt
from grants.core.permissions import can, require
from grants.core.workflow import can_fire
from grants.extensions import db
from grants.projects import changes as ops
from grants.projects.forms.changes import (
    KIND_FORMS,
    ApproveChangeForm,
    RejectChangeForm,
    RemoveEvidenceForm,
    TerminateForm,
)
from grants.projects.hooks import spent_by_category
from grants.projects.models import CHANGE_KINDS, ChangeRequest, Project, ProjectFile
from grants.projects.tabs import project_tab
from grants.projects.views import bp

project_tab("changes", _l("Changes"), "projects.changes", order=60)

KIND_HELP = {
    "extension": _l(
        "A later end date, and new due dates for milestones not yet achieved (at most %(months)d "
        "months per request)."
    ),
    "budget": _l(
        "Move fiscal funds between budget categories; the total stays equal to the award."
    ),
    "principal": _l("Another person leads the project."),
    "team": _l("Add, remove or change team members."),
    "content": _l("Change the objectives or the KPI targets."),
    "withdrawal": _l("Stop the project; unspent fiscal funds are paid back."),
}


def _project_or_404(project_id: int) -> Project:
    return db.session.get(Project, project_id) or abort(404)


def _change_or_404(project_id: int, change_id: int) -> ChangeRequest:
    change = db.session.get(ChangeRequest, change_id)
    if change is None or change.project_id != project_id:
        abort(404)
    return change


def _page(template: str, project: Project, status: int = 200, **context):
    return render_template(template, project=project, active_tab="changes", **context), status


# --- the tab ----------------------------------------------------------------------------------


@bp.get("/projects/<int:project_id>/changes")
def changes(project_id: int):
    """The project's change requests, the kinds the owner may request, and termination for the bureau."""
    project = _project_or_404(project_id)
    require("project.view", project)
    requests = [r for r in ops.requests_of(project) if can(current_user, "change.read", r)]
    open_kinds = {r.kind: r for r in requests if r.state in ops.OPEN_STATES}
    kind_help = {
        k: str(v) % {"months": ops.MAX_EXTENSION_MONTHS} if k == "extension" else v
        for k, v in KIND_HELP.items()
    }
    return _page(
        "projects/changes/list.html",
        project,
        requests=requests,
        open_kinds=open_kinds,
        kinds=CHANGE_KINDS,
        kind_help=kind_help,
    )


# --- drafting ---------------------------------------------------------------------------------


def _form_context(project: Project, kind: str, form, change: ChangeRequest | None = None) -> dict:
    context = {
        "kind": kind,
        "kind_label": CHANGE_KINDS[kind],
        "form": form,
        "change": change,
        "evidence": ops.evidence_of(change) if change is not None else [],
    }
    if kind == "extension":
        context["milestones_by_id"] = {m.id: m for m in project.milestones}
        context["latest_end"] = ops.latest_extension(project)
        context["max_months"] = ops.MAX_EXTENSION_MONTHS
    elif kind == "budget":
        context["current"] = ops.current_values(project, "budget")["lines"]
        context["spent"] = spent_by_category([project.id])[project.id]
        context["totals"] = {
            part: sum((Decimal(row[part]) for row in context["current"].values()), Decimal(0))
            for part in ("fiscal", "self_raised")
        }
        context["totals"]["spent"] = sum(context["spent"].values(), Decimal(0))
        context["categories"] = BUDGET_CATEGORIES
    elif kind == "principal":
        context["principal"] = ops.active_principal(project)
    elif kind == "content":
        context["kpi_kinds"] = KPI_KINDS
        context["current"] = {
            kind: format(Decimal(row["target"]).normalize(), "f")
            for kind, row in ops.current_values(project, "content")["kpis"].items()
        }
    elif kind == "withdrawal":
        context["to_cancel"] = ops.tranches_to_cancel(project)
    return context


def _save(project: Project, kind: str, form, change: ChangeRequest | None):
    """Run the draft operation for a validated form; the response, or None when the form shows problems."""
    submit = request.form.get("action") == "submit"
    with action(show=False) as done:
        if change is None:
            change = ops.draft_change(
                project,
                kind,
                current_user,
                reason=form.reason.data,
                proposed=form.proposal(),
                uploads=form.evidence.data,
                submit=submit,
            )
        else:
            change = ops.update_change(
                change,
                current_user,
                reason=form.reason.data,
                proposed=form.proposal(),
                uploads=form.evidence.data,
                submit=submit,
            )
    if isinstance(done.error, ops.ChangeProblems):
        form.attach_problems(done.error.problems)
        return None
    if not done:
        form.general_errors.append(done.message)
        return None
    if submit:
        flash(_("Your change request has been sent to the bureau."), "success")
    else:
        flash(_("Draft saved. Submit it when it is ready."), "success")
    return redirect(url_for("projects.change_detail", project_id=project.id, change_id=change.id))


@bp.route("/projects/<int:project_id>/changes/new/<kind>", methods=["GET", "POST"])
def new_change(project_id: int, kind: str):
    """A new request of ``kind``, starting from the project's current values."""
    project = _project_or_404(project_id)
    require("change.create", project)
    if kind not in CHANGE_KINDS:
        abort(404)
    existing = ops.open_request(project, kind)
    if existing is not None:
        flash(
            _(
                "A request of this kind is already open: finish or cancel it before starting another."
            ),
            "info",
        )
        return redirect(
            url_for("projects.change_detail", project_id=project.id, change_id=existing.id)
        )
    form_class = KIND_FORMS[kind]
    if request.method == "GET":
        form = form_class.from_proposal(project, ops.starting_values(project, kind))
        return _page("projects/changes/edit.html", project, **_form_context(project, kind, form))
    form = form_class(project=project)
    if form.validate_on_submit():
        response = _save(project, kind, form, None)
        if response is not None:
            return response
    return _page("projects/changes/edit.html", project, 422, **_form_context(project, kind, form))


@bp.route("/projects/<int:project_id>/changes/<int:change_id>/edit", methods=["GET", "POST"])
def edit_change(project_id: int, change_id: int):
    """Edit a draft request (the owner, while the project runs)."""
    project = _project_or_404(project_id)
    change = _change_or_404(project_id, change_id)
    require("change.edit", change)
    form_class = KIND_FORMS[change.kind]
    if request.method == "GET":
        form = form_class.from_proposal(project, change.proposed or {}, change.reason)
        return _page(
            "projects/changes/edit.html",
            project,
            **_form_context(project, change.kind, form, change),
        )
    form = form_class(project=project)
    if form.validate_on_submit():
        response = _save(project, change.kind, form, change)
        if response is not None:
            return response
    return _page(
        "projects/changes/edit.html",
        project,
        422,
        **_form_context(project, change.kind, form, change),
    )


# --- one request: old beside new, and what can be done with it ----------------------------------


def _render_detail(
    project: Project,
    change: ChangeRequest,
    *,
    status: int = 200,
    problems=None,
    approve_form=None,
    reject_form=None,
):
    stale = change.state == "submitted" and ops.is_stale(change)
    return _page(
        "projects/changes/detail.html",
        project,
        status,
        change=change,
        rows=ops.diff_rows(change),
        stale=stale,
        problems=problems or [],
        evidence=ops.evidence_of(change),
        approve_form=approve_form or ApproveChangeForm(formdata=None),
        reject_form=reject_form or RejectChangeForm(formdata=None),
    )


@bp.get("/projects/<int:project_id>/changes/<int:change_id>")
def change_detail(project_id: int, change_id: int):
    """A request: its reason, old beside new, the decision, and the buttons the user may press."""
    project = _project_or_404(project_id)
    change = _change_or_404(project_id, change_id)
    require("project.view", change)
    require("change.read", change, not_found=True)
    problems = []
    if change.state == "draft" and can_fire(current_user, change, "submit"):
        problems = [
            message
            for _key, message in ops.proposal_problems(
                project, change.kind, change.reason, change.proposed
            )
        ]
    return _render_detail(project, change, problems=problems)


def _after(change: ChangeRequest):
    return redirect(
        url_for("projects.change_detail", project_id=change.project_id, change_id=change.id)
    )


DECISION_FORMS = {"approve_form": ApproveChangeForm, "reject_form": RejectChangeForm}


def _act(project_id: int, change_id: int, operation, done: str, form_key: str | None = None):
    """Submit, cancel, approve or reject a request: ``operation`` on it as the signed-in user (with
    the note of the decision form ``form_key``), then commit, flash ``done`` and show the request.
    Otherwise the request again (422) with the problem: on the form's note, or above the buttons."""
    project = _project_or_404(project_id)
    change = _change_or_404(project_id, change_id)
    require("project.view", change)
    require("change.read", change, not_found=True)
    form = DECISION_FORMS[form_key]() if form_key else None
    problem = None
    if form is None or form.validate_on_submit():
        notes = (form.note.data,) if form is not None else ()
        _result, problem = attempt(operation, change, current_user, *notes, denied_obj=change)
        if not problem:
            flash(done, "success")
            return _after(change)
    if form is None:
        return _render_detail(project, change, status=422, problems=[problem])
    if problem:
        form.note.errors = [problem]
    return _render_detail(project, change, status=422, **{form_key: form})


@bp.post("/projects/<int:project_id>/changes/<int:change_id>/submit")
def submit_change(project_id: int, change_id: int):
    return _act(
        project_id,
        change_id,
        ops.submit_change,
        _("Your change request has been sent to the bureau."),
    )


@bp.post("/projects/<int:project_id>/changes/<int:change_id>/cancel")
def cancel_change(project_id: int, change_id: int):
    return _act(
        project_id, change_id, ops.cancel_change, _("The change request has been cancelled.")
    )


@bp.post("/projects/<int:project_id>/changes/<int:change_id>/approve")
def approve_change(project_id: int, change_id: int):
    return _act(
        project_id,
        change_id,
        ops.approve_change,
        _("The change has been approved and applied to the project."),
        "approve_form",
    )


@bp.post("/projects/<int:project_id>/changes/<int:change_id>/reject")
def reject_change(project_id: int, change_id: int):
    return _act(
        project_id,
        change_id,
        ops.reject_change,
        _("The change request has been rejected."),
        "reject_form",
    )


@bp.post("/projects/<int:project_id>/changes/<int:change_id>/documents/<int:file_id>/delete")
def remove_change_evidence(project_id: int, change_id: int, file_id: int):
    """Remove a supporting document from a request that is still a draft."""
    project = _project_or_404(project_id)
    change = _change_or_404(project_id, change_id)
    require(
        "change.create", project
    )  # the owner of a running project; the draft state is the operation's
    item = db.session.get(ProjectFile, file_id)
    if item is None or item.change_request_id != change.id:
        abort(404)
    if not RemoveEvidenceForm().validate_on_submit():
        abort(400)
    name = item.original_name
    _result, problem = attempt(ops.remove_evidence, item, current_user, denied_obj=change)
    if problem is not None:
        flash(problem, "warning")
        return _after(change)
    flash(_("“%(name)s” has been removed.", name=name), "success")
    return redirect(url_for("projects.edit_change", project_id=project.id, change_id=change.id))


# --- termination ------------------------------------------------------------------------------


@bp.route("/projects/<int:project_id>/terminate", methods=["GET", "POST"])
def terminate(project_id: int):
    """The bureau terminates a project with a reason; tranches not yet released are cancelled."""
    project = _project_or_404(project_id)
    require("project.terminate", project)
    form = TerminateForm()
    status = 200
    if form.validate_on_submit():
        _result, problem = attempt(
            ops.terminate_project, project, current_user, form.reason.data, denied_obj=project
        )
        if not problem:
            flash(
                _(
                    "The project has been terminated. Finance has been told to recover the unspent funds."
                ),
                "success",
            )
            return redirect(url_for("projects.changes", project_id=project.id))
        form.reason.errors = [problem]
    if request.method == "POST":
        status = 422
    return _page(
        "projects/changes/terminate.html",
        project,
        status,
        form=form,
        to_cancel=ops.tranches_to_cancel(project),
    )
