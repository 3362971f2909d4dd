"""Finance pages: a project's money (reconciliation, tranches, the release request), the
finance queue (check and approve, reject, mark paid) and the ledger with its totals and
xlsx export. Finance sees the money of every project but edits no scientific content.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from grants.applications.export import content_disposition
from grants.applications.models import BUDGET_CATEGORIES
from grants.core.actions import action, actionable, attempt, event_applies
from grants.core.money import format_yuan
from grants.core.pagination import paginate
from grants.core.permissions import can, require
from grants.core.workflow import GuardFailed, transition
from grants.core.xlsx import XLSX_MIMETYPE
from grants.extensions import db
from grants.funding import ledger as ledger_ops
from grants.funding.disbursements import request_disbursement, requester_message
from grants.funding.forms.finance import (
    ApproveDisbursementForm,
    PayDisbursementForm,
    RejectDisbursementForm,
    RequestReleaseForm,
)
from grants.funding.models import (
    ENDED_DISBURSEMENT_STATES,
    Disbursement,
    DisbursementState,
    Tranche,
    TrancheStatus,
)
from grants.funding.queries import spent_by_category
from grants.funding.triggers import is_due
from grants.funding.views import bp
from grants.orgs.models import IndustryCluster
from grants.programmes.models import Call
from grants.projects.models import Project
from grants.projects.tabs import project_tab

project_tab("money", _l("Money"), "funding.money", action="finance.reconciliation", order=40)


# --- a project's money -------------------------------------------------------------------------


def _project_or_404(project_id: int) -> Project:
    project = db.session.get(
        Project,
        project_id,
        options=[
            joinedload(Project.organisation),
            joinedload(Project.call),
            joinedload(Project.cluster),
            selectinload(Project.tranches).joinedload(Tranche.milestone),
            selectinload(Project.budget_lines),
        ],
    )
    return project or abort(404)


def reconciliation(project: Project) -> dict:
    """The project's money at a glance: awarded, committed, paid, left to release, spent, recovered."""
    spent = spent_by_category([project.id])[project.id]
    spent_total = sum(spent.values(), Decimal("0.00"))
    return {
        "award": project.award,
        "committed": project.committed_total,
        "pending": project.committed_total - project.disbursed_total,
        "disbursed": project.disbursed_total,
        "remaining": project.award - project.committed_total,
        "unpaid": project.award - project.disbursed_total,
        "spent": spent_total,
        "recovered": project.recovered_total,
        "held": project.disbursed_total - spent_total - project.recovered_total,
        "categories": [
            (
                key,
                label,
                next(
                    (b.fiscal for b in project.budget_lines if b.category == key), Decimal("0.00")
                ),
                spent.get(key, Decimal("0.00")),
            )
            for key, label in BUDGET_CATEGORIES.items()
        ],
    }


def tranche_status(tranche: Tranche, live: Disbursement | None) -> TrancheStatus:
    """Where the tranche stands: cancelled, waiting for its condition, due, or its release's state."""
    if tranche.cancelled_at is not None:
        return TrancheStatus.CANCELLED
    if live is not None:
        return TrancheStatus(live.state)
    if is_due(tranche):
        return TrancheStatus.DUE
    return TrancheStatus.PENDING


def _render_money(project: Project, *, forms: dict | None = None, status: int = 200):
    disbursements = db.session.scalars(
        sa.select(Disbursement)
        .where(Disbursement.project_id == project.id)
        .options(
            joinedload(Disbursement.requested_by),
            joinedload(Disbursement.approved_by),
            joinedload(Disbursement.paid_by),
            joinedload(Disbursement.tranche),
        )
        .order_by(Disbursement.requested_at.desc(), Disbursement.id.desc())
    ).all()
    live = {d.tranche_id: d for d in disbursements if d.state not in ENDED_DISBURSEMENT_STATES}
    may_request = can(current_user, "disbursement.request", project)
    forms = forms or {}
    release_forms = {}
    if may_request:
        for t in project.tranches:
            if t.id in forms:
                release_forms[t.id] = forms[t.id]
            elif t.id not in live and is_due(t):
                release_forms[t.id] = RequestReleaseForm.fresh(prefix=f"release-{t.id}")
    rows = [(t, live.get(t.id), tranche_status(t, live.get(t.id))) for t in project.tranches]
    return render_template(
        "funding/finance/money.html",
        project=project,
        figures=reconciliation(project),
        tranche_rows=rows,
        disbursements=disbursements,
        release_forms=release_forms,
        active_tab="money",
    ), status


@bp.get("/projects/<int:project_id>/money")
def money(project_id: int):
    """The project's reconciliation, its tranches and the history of its disbursements."""
    project = _project_or_404(project_id)
    require("finance.reconciliation", project, not_found=True)
    return _render_money(project)


@bp.post("/projects/<int:project_id>/tranches/<int:tranche_id>/release")
def request_release(project_id: int, tranche_id: int):
    """The bureau asks finance to release a due tranche (once, whatever the number of clicks)."""
    project = _project_or_404(project_id)
    require("finance.reconciliation", project, not_found=True)
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is None or tranche.project_id != project.id:
        abort(404)
    require("disbursement.request", project)
    form = RequestReleaseForm(prefix=f"release-{tranche.id}")
    if form.validate_on_submit():
        disbursement, problem = attempt(
            request_disbursement,
            tranche,
            current_user,
            form.idempotency_key.data,
            form.note.data or "",
            denied_obj=tranche,
        )
        if problem is None:
            if getattr(disbursement, "replayed", False):
                flash(_("This release had already been requested: nothing more was done."), "info")
            else:
                flash(
                    _(
                        "The release of tranche %(position)s (%(amount)s) has been requested. Finance will check "
                        "and pay it.",
                        position=tranche.position,
                        amount=format_yuan(tranche.amount),
                    ),
                    "success",
                )
            return redirect(url_for("funding.money", project_id=project.id, _anchor="tranches"))
        project = _project_or_404(project_id)
        form.form_errors.append(problem)
    return _render_money(project, forms={tranche.id: form}, status=422)


# --- the finance queue ---------------------------------------------------------------------------


def _queue_rows(state: str) -> list[Disbursement]:
    return db.session.scalars(
        sa.select(Disbursement)
        .where(Disbursement.state == state)
        .options(
            joinedload(Disbursement.project).joinedload(Project.organisation),
            joinedload(Disbursement.tranche),
            joinedload(Disbursement.requested_by),
            joinedload(Disbursement.approved_by),
        )
        .order_by(Disbursement.requested_at.asc(), Disbursement.id.asc())
    ).all()


def _approve_form(d: Disbursement) -> ApproveDisbursementForm:
    return ApproveDisbursementForm(
        formdata=None, prefix=f"approve-{d.id}", payee_name=d.project.organisation.name
    )


def _render_queue(*, forms: dict | None = None, status: int = 200):
    forms = forms or {}
    requested = _queue_rows("requested")
    approved = _queue_rows("approved")
    row_forms = {}
    for d in requested:
        given = forms.get(d.id, {})
        row_forms[d.id] = {
            "approve": given.get("approve") or _approve_form(d),
            "reject": given.get("reject")
            or RejectDisbursementForm(formdata=None, prefix=f"reject-{d.id}"),
        }
    for d in approved:
        row_forms[d.id] = {
            "pay": forms.get(d.id, {}).get("pay")
            or PayDisbursementForm(formdata=None, prefix=f"pay-{d.id}")
        }
    return render_template(
        "funding/finance/queue.html",
        requested=requested,
        approved=approved,
        row_forms=row_forms,
        requester_message=requester_message(),
    ), status


@bp.get("/finance/queue")
def queue():
    """Requested disbursements to check and approve, approved ones to mark paid."""
    require("finance.queue")
    return _render_queue()


def _disbursement_or_404(disbursement_id: int) -> Disbursement:
    return db.session.get(
        Disbursement,
        disbursement_id,
        options=[
            joinedload(Disbursement.project).joinedload(Project.organisation),
            joinedload(Disbursement.tranche),
        ],
    ) or abort(404)


def _fire(disbursement: Disbursement, event: str, **data) -> str | None:
    """Fire ``event`` and commit; None when done, else the guard's message for the form.

    An event that cannot happen any more (a colleague acted first) is flashed and
    answered with a redirect to the queue; a forbidden one with 403 (audited).
    """
    with action(show=False, denied=f"disbursement.{event}", denied_obj=disbursement) as done:
        transition(disbursement, event, current_user, **data)
    if done:
        return None
    if isinstance(done.error, GuardFailed):
        return done.message
    if isinstance(done.error, StaleDataError):
        flash(_("Another officer has just acted on this disbursement. Check it again."), "warning")
    else:
        flash(done.message, "warning")
    abort(redirect(url_for("funding.queue")))


def _no_longer_requested(disbursement: Disbursement, event: str):
    """A colleague acted first: say what the release is now and show it (the queue lists it only while approved)."""
    if event == "approve":
        flash(
            _(
                "This release can no longer be approved: it is now “%(state)s”.",
                state=disbursement.state_label,
            ),
            "warning",
        )
    else:
        flash(
            _(
                "This release can no longer be rejected: it is now “%(state)s”.",
                state=disbursement.state_label,
            ),
            "warning",
        )
    if disbursement.state == "approved":
        return redirect(url_for("funding.queue"))
    return redirect(
        url_for(
            "funding.money",
            project_id=disbursement.project_id,
            _anchor=f"disbursement-{disbursement.id}",
        )
    )


@bp.post("/disbursements/<int:disbursement_id>/approve")
def approve(disbursement_id: int):
    """Finance checks the payee's account and the voucher and approves (not the requester)."""
    disbursement = _disbursement_or_404(disbursement_id)
    require("finance.queue")
    if not event_applies(disbursement, "approve"):
        return _no_longer_requested(disbursement, "approve")
    if disbursement.requested_by_id == current_user.id:  # the queue shows the form with the reason
        form = ApproveDisbursementForm(prefix=f"approve-{disbursement.id}")
        form.validate_on_submit()
        form.form_errors.append(requester_message())
        return _render_queue(forms={disbursement_id: {"approve": form}}, status=422)
    actionable(disbursement, "approve", action="disbursement.approve")
    form = ApproveDisbursementForm(prefix=f"approve-{disbursement.id}")
    if form.validate_on_submit():
        problem = _fire(
            disbursement,
            "approve",
            **{
                name: getattr(form, name).data
                for name in (
                    "payee_name",
                    "payee_bank",
                    "payee_account",
                    "voucher_no",
                    "voucher_date",
                )
            },
        )
        if problem is None:
            flash(
                _(
                    "The disbursement of %(amount)s to %(code)s is approved and can now be paid.",
                    amount=format_yuan(disbursement.amount),
                    code=disbursement.project.code,
                ),
                "success",
            )
            return redirect(url_for("funding.queue", _anchor="approved"))
        form.form_errors.append(problem)
    return _render_queue(forms={disbursement_id: {"approve": form}}, status=422)


@bp.post("/disbursements/<int:disbursement_id>/pay")
def pay(disbursement_id: int):
    """Finance records that an approved disbursement has been paid."""
    disbursement = _disbursement_or_404(disbursement_id)
    require("finance.queue")
    form = PayDisbursementForm(prefix=f"pay-{disbursement.id}")
    if form.validate_on_submit():
        problem = _fire(disbursement, "pay")
        if problem is None:
            flash(
                _(
                    "%(amount)s to %(code)s recorded as paid.",
                    amount=format_yuan(disbursement.amount),
                    code=disbursement.project.code,
                ),
                "success",
            )
            return redirect(url_for("funding.queue"))
        form.form_errors.append(problem)
    return _render_queue(forms={disbursement_id: {"pay": form}}, status=422)


@bp.post("/disbursements/<int:disbursement_id>/reject")
def reject(disbursement_id: int):
    """Finance rejects a requested disbursement with a reason; its reservation is released."""
    disbursement = _disbursement_or_404(disbursement_id)
    require("finance.queue")
    if not actionable(disbursement, "reject", action="disbursement.reject"):
        return _no_longer_requested(disbursement, "reject")
    form = RejectDisbursementForm(prefix=f"reject-{disbursement.id}")
    if form.validate_on_submit():
        problem = _fire(disbursement, "reject", reason=form.reason.data)
        if problem is None:
            flash(
                _(
                    "The disbursement of %(amount)s to %(code)s has been rejected.",
                    amount=format_yuan(disbursement.amount),
                    code=disbursement.project.code,
                ),
                "success",
            )
            return redirect(url_for("funding.queue"))
        form.reason.errors.append(problem)
    return _render_queue(forms={disbursement_id: {"reject": form}}, status=422)


# --- the ledger ----------------------------------------------------------------------------------


def _filter_choices() -> dict:
    calls = db.session.scalars(
        sa.select(Call)
        .where(Call.id.in_(sa.select(Project.call_id)))
        .order_by(Call.year.desc(), Call.id.desc())
    ).all()
    clusters = db.session.scalars(
        sa.select(IndustryCluster).order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()
    return {
        "calls": calls,
        "clusters": clusters,
        "years": ledger_ops.filter_years(),
        "states": DisbursementState.choices(),
    }


@bp.get("/finance/ledger")
def ledger():
    """Every disbursement, filtered, sorted and paginated, with totals by call, cluster, year and state."""
    require("finance.ledger")
    filters = ledger_ops.LedgerFilters.from_args(request.args)
    choices = _filter_choices()  # loads the calls and clusters the totals refer to
    return render_template(
        "funding/finance/ledger.html",
        page=paginate(filters.statement()),
        filters=filters,
        totals=filters.totals(),
        grand_total=ledger_ops.grand_total,
        **choices,
    )


@bp.get("/finance/ledger.xlsx")
def ledger_export():
    """The filtered ledger as an xlsx workbook (amounts in yuan)."""
    require("finance.export")
    filters = ledger_ops.LedgerFilters.from_args(request.args)
    rows = db.session.scalars(filters.statement().execution_options(yield_per=500))
    response = make_response(ledger_ops.ledger_xlsx(rows))
    response.mimetype = XLSX_MIMETYPE
    response.headers["Content-Disposition"] = content_disposition(*ledger_ops.export_filename())
    response.headers["Cache-Control"] = "no-store"
    return response
