"""Applicant pages: starting an application, the sectioned form with autosave, attachments, submission.

Each section of the form is its own form, saved on its own (htmx autosave or the Save
button). A section saves only when all of it is valid; otherwise it comes back with
the user's input and the errors beside the fields. htmx requests of a signed-out user
get 401 (not a redirect to the login page) so that the page can say the input is kept.
"""

from __future__ import annotations

import io
from decimal import Decimal

import sqlalchemy as sa
from babel.numbers import format_decimal
from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import MANYTOONE, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from grants.applications import operations as ops
from grants.applications import visibility
from grants.applications.checks import (
    BUDGET_ROWS,
    SECTIONS,
    BudgetSummary,
    budget_problems,
    eligibility_problems,
    percent,
    requirement_name,
    section_problems,
    submission_problems,
)
from grants.applications.forms import (
    SECTION_FORMS,
    AttachmentForm,
    MilestoneRowForm,
    TeamMemberForm,
)
from grants.applications.models import (
    BUSINESS_SUB_ITEMS,
    KPI_KINDS,
    TEAM_ROLES,
    Application,
    Attachment,
    FormalCheck,
)
from grants.applications.pdf import render_application_pdf
from grants.applications.rules import is_member
from grants.applications.views import bp
from grants.core.actions import action
from grants.core.money import format_wan_number, yuan_to_wan
from grants.core.pagination import paginate
from grants.core.pdf import PdfError
from grants.core.permissions import can, require
from grants.core.storage import UploadRefused, download_response
from grants.core.types import utcnow
from grants.core.workflow import (
    GuardFailed,
    InvalidTransition,
    transition,
)
from grants.extensions import db
from grants.orgs.models import IndustryCluster
from grants.programmes.models import Call

NEXT_ACTIONS = {
    "draft": _l("Complete and submit"),
    "returned": _l("Revise and resubmit"),
    "submitted": _l("Waiting for the formal check"),
    "under_review": _l("Under expert review"),
    "reviewed": _l("Waiting for the bureau's decision"),
    "approved": _l("Approved: wait for the task book"),
    "declined": _l("No action"),
    "contracted": _l("Carry out the project"),
    "withdrawn": _l("No action"),
    "rejected": _l("No action"),
}


# --- what the signed-in user may see of the state (decisions hidden until released) ------


@bp.app_template_global("visible_state")
def _visible_state(application) -> str:
    """The application's state label as the signed-in user may see it."""
    return visibility.shown_state_label(application, current_user)


@bp.app_template_global("shown_state")
def _shown_state(application) -> str:
    """The application's state key as the signed-in user may see it."""
    return visibility.shown_state(application, current_user)


@bp.app_template_global("shown_last_change")
def _shown_last_change(application):
    """The application's "last change" time as the signed-in user may see it."""
    return visibility.shown_last_change(application, current_user)


# --- loading and permissions -------------------------------------------------------------


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _application_or_404(application_id: int, action: str = "application.view") -> Application:
    """The application if the user may see it (404 otherwise), then ``require(action)``.

    An htmx request from a signed-out user (an expired session) gets 401, so that the
    page can tell the user that what they typed is kept in the browser.
    """
    if is_htmx() and not current_user.is_authenticated:
        abort(401)
    application = db.session.get(Application, application_id) or abort(404)
    require("application.view", application, not_found=True)
    if action != "application.view":
        require(action, application)
    return application


def _editable_or_refusal(application_id: int):
    """The application, and None if the user may edit it, else the response that says why.

    The organisation's applicants are told the state (409 for htmx, else a redirect to
    the read-only page); everyone else gets 403 (or 404 if they may not even see it).
    """
    application = _application_or_404(application_id)
    if can(current_user, "application.edit", application):
        return application, None
    if current_user.has_role("applicant") and is_member(current_user, application):
        message = _(
            "This application is %(state)s and can no longer be edited.",
            state=visibility.shown_state_label(application, current_user),
        )
        if is_htmx():
            response = make_response(message, 409)
            response.mimetype = "text/plain"
            return application, response
        flash(message, "warning")
        return application, redirect(url_for("applications.detail", application_id=application.id))
    require("application.edit", application)
    abort(403)  # pragma: no cover - require() has aborted already


# --- form construction -------------------------------------------------------------------


def _number_text(value) -> str:
    """A Decimal without needless zeros; zero and None as empty text."""
    if not value:
        return ""
    return f"{value.normalize():f}"


def cluster_choices(application: Application) -> list[tuple[int, str]]:
    """The call's target clusters (all active clusters if it has none), keeping the current one."""
    clusters = list(application.call.clusters)
    if not clusters:
        clusters = list(
            db.session.scalars(
                sa.select(IndustryCluster)
                .where(IndustryCluster.active.is_(True))
                .order_by(IndustryCluster.sort_order, IndustryCluster.id)
            )
        )
    if application.cluster is not None and application.cluster not in clusters:
        clusters.append(application.cluster)
    return [(0, str(_l("— choose —")))] + [(c.id, c.display_name()) for c in clusters]


def initial_data(section: str, application: Application) -> dict:
    """The stored content of a section in the shape of its form (money in 万元, shares in %)."""
    if section == "basic":
        return {
            "title": application.title,
            "cluster_id": application.cluster_id or 0,
            "start_date": application.start_date,
            "end_date": application.end_date,
            "summary": application.summary,
            "objectives": application.objectives,
            "technical_route": application.technical_route,
        }
    if section == "team":
        return {
            "members": [
                {
                    "name": m.name,
                    "role": m.role,
                    "title": m.title,
                    "organisation_name": m.organisation_name,
                    "expertise": m.expertise,
                    "workload_months": m.workload_months,
                }
                for m in application.team
            ]
        }
    if section == "milestones":
        return {
            "milestones": [
                {
                    "title": m.title,
                    "due_date": m.due_date,
                    "deliverable": m.deliverable,
                    "share": _number_text(m.funding_share * 100),
                }
                for m in application.milestones
            ]
        }
    if section == "budget":
        lines = {(line.category, line.sub_item or ""): line for line in application.budget_lines}
        data = {}
        for row in BUDGET_ROWS:
            line = lines.get((row.category, row.sub_item))
            data[row.key] = (
                {
                    "fiscal": _number_text(yuan_to_wan(line.fiscal)),
                    "self_raised": _number_text(yuan_to_wan(line.self_raised)),
                    "note": line.note,
                }
                if line
                else {}
            )
        return data
    if section == "kpis":
        targets = {k.kind: k for k in application.kpis}
        return {
            kind: (
                {"target": _number_text(targets[kind].target), "note": targets[kind].note}
                if kind in targets
                else {}
            )
            for kind in KPI_KINDS
        }
    raise ValueError(section)


def section_form(section: str, application: Application, posted: bool = False, choices=None):
    """A section's form: from the request when ``posted``, else from the stored application
    (``choices``: the clusters to offer, when they are known already)."""
    form_class = SECTION_FORMS[section]
    if posted:
        form = form_class(prefix=section)
    else:
        form = form_class(formdata=None, prefix=section, data=initial_data(section, application))
    if section == "basic":
        form.cluster_id.choices = choices or cluster_choices(application)
    if not posted and section in ("team", "milestones"):
        rows = getattr(form, "members" if section == "team" else "milestones")
        if any(not entry.form.is_blank() for entry in rows):
            rows.append_entry()  # an empty row to add one more, also without JavaScript
    return form


def row_template(section: str):
    """An empty row with ``__index__`` in its names, cloned by app.js to add a row."""
    if section == "team":
        return TeamMemberForm(formdata=None, prefix="team-members-__index__-")
    return MilestoneRowForm(formdata=None, prefix="milestones-milestones-__index__-")


def plain_number(value) -> str:
    """A number without needless zeros, grouped (1,234.5)."""
    return format_decimal(value, format="#,##0.##", locale=str(get_locale()))


def wan_number(amount) -> str:
    """An amount of yuan as a number of 万元 with two decimals (the unit is in the heading)."""
    return format_wan_number(amount)


def budget_cells(summary: BudgetSummary, invalid: set[str]) -> dict[str, str]:
    """The computed cells of the budget table by element id: row, subtotal and grand totals."""
    cells = {
        f"budget-total-{r.key}": "—" if r.key in invalid else wan_number(summary.row_total(r.key))
        for r in BUDGET_ROWS
    }
    groups = {
        "business": ("business",),
        "direct": ("equipment", "business", "labour"),
        "all": ("equipment", "business", "labour", "indirect"),
    }
    for name, categories in groups.items():
        fiscal = sum((summary.category_fiscal(c) for c in categories), Decimal(0))
        self_raised = sum((summary.category_self_raised(c) for c in categories), Decimal(0))
        cells[f"budget-fiscal-{name}"] = wan_number(fiscal)
        cells[f"budget-self-{name}"] = wan_number(self_raised)
        cells[f"budget-total-{name}"] = wan_number(fiscal + self_raised)
    return cells


def budget_view(form, call: Call) -> dict:
    """Totals and rule checks of the budget as typed; rows with an error count as zero."""
    amounts = form.valid_amounts()
    summary = BudgetSummary({k: v for k, v in amounts.items() if v is not None})
    invalid = {k for k, v in amounts.items() if v is None}
    share = (summary.self_raised_total / summary.grand_total) if summary.grand_total else None
    return {
        "summary": summary,
        "invalid": invalid,
        "cells": budget_cells(summary, invalid),
        "problems": budget_problems(call, summary),
        "self_share": share,
        "indirect_limit": summary.indirect_limit(call.indirect_cost_ratio),
    }


def requirement_choices(application: Application) -> list[tuple[str, str]]:
    return [("", str(_l("Other document")))] + [
        (r.code, requirement_name(r)) for r in application.call.attachment_requirements
    ]


def _saved_time() -> str:
    return format_datetime(utcnow(), "HH:mm")


def _updated_ms(application: Application) -> int:
    return int(application.updated_at.timestamp() * 1000) if application.updated_at else 0


def _common_context(application: Application) -> dict:
    return {
        "application": application,
        "problems": section_problems(application),
        "eligibility": eligibility_problems(application),
        "sections": SECTIONS,
        "budget_rows": BUDGET_ROWS,
        "business_sub_items": BUSINESS_SUB_ITEMS,
        "kpi_kinds": KPI_KINDS,
        "team_roles": TEAM_ROLES,
        "requirement_name": requirement_name,
        "percent": percent,
        "number": plain_number,
        "wan_number": wan_number,
        "updated_ms": _updated_ms(application),
    }


def _render_edit(
    application: Application,
    forms: dict | None = None,
    *,
    submit_problems=None,
    attachment_error: tuple[str | None, str] | None = None,
    status: int = 200,
):
    forms = dict(forms or {})
    for section in SECTION_FORMS:
        forms.setdefault(section, section_form(section, application))
    context = _common_context(application)
    return render_template(
        "applications/drafting/edit.html",
        forms=forms,
        row_templates={s: row_template(s) for s in ("team", "milestones")},
        budget=budget_view(forms["budget"], application.call),
        submit_problems=submit_problems,
        attachment_error=attachment_error,
        saved={},
        **context,
    ), status


def _render_section(
    application: Application, section: str, form, *, saved: bool, error: str | None = None
):
    """The htmx answer to a section save: the section's form, and the checklist out of band."""
    context = _common_context(application)
    extra = {"row_template": row_template(section)} if section in ("team", "milestones") else {}
    if section == "budget":
        extra["budget"] = budget_view(form, application.call)
    html = render_template(
        f"applications/drafting/_section_{section}.html",
        form=form,
        saved={section: _saved_time()} if saved else {},
        oob=True,
        section_error=error,
        **extra,
        **context,
    )
    response = make_response(html)
    if saved:
        response.headers["X-Section-Saved"] = section
    return response


def _render_attachments(application: Application, *, saved: bool = False, error=None):
    context = _common_context(application)
    html = render_template(
        "applications/drafting/_section_attachments.html",
        oob=True,
        saved={"attachments": _saved_time()} if saved else {},
        attachment_error=error,
        **context,
    )
    return make_response(html)


# --- starting and listing ----------------------------------------------------------------


@bp.route("/calls/<int:call_id>/apply", methods=["GET", "POST"])
def new(call_id: int):
    """Start an application to an open call for the signed-in applicant's organisation."""
    call = db.session.get(Call, call_id) or abort(404)
    require("call.view", call, not_found=True)
    require("application.create")
    organisation = current_user.organisation
    if request.method == "POST":
        with action() as done:
            application = ops.start_application(call, organisation, current_user)
        if not done:
            return redirect(url_for("applications.new", call_id=call.id))
        flash(_("Your draft application has been created. It is saved as you type."), "success")
        return redirect(url_for("applications.edit", application_id=application.id))
    existing = db.session.scalars(
        sa.select(Application)
        .where(Application.call_id == call.id, Application.organisation_id == organisation.id)
        .order_by(Application.updated_at.desc())
    ).all()
    warnings = eligibility_problems(Application(call=call, organisation=organisation))
    return render_template(
        "applications/drafting/new.html",
        call=call,
        existing=existing,
        is_open=call.is_open(),
        warnings=warnings,
    )


@bp.get("/applications")
def mine():
    """The applications of the signed-in applicant's organisation, returned ones first."""
    require("application.list_mine")
    returned_first = sa.case(
        (Application.state == "returned", 0), (Application.state == "draft", 1), else_=2
    )
    # Drafts move with the applicant's own edits; a submitted application keeps its place
    # (updated_at would move it when the bureau closes the review or decides).
    applicant_time = sa.case(
        (Application.state.in_(("draft", "returned")), Application.updated_at),
        else_=Application.submitted_at,
    )
    stmt = (
        sa.select(Application)
        .where(Application.organisation_id == current_user.organisation_id)
        .options(joinedload(Application.call), selectinload(Application.checks))
        .order_by(returned_first, applicant_time.desc(), Application.id.desc())
    )
    page = paginate(stmt)
    missing = {
        a.id: sum(len(v) for v in section_problems(a).values())
        for a in page.items
        if a.state in ("draft", "returned")
    }
    return render_template(
        "applications/drafting/mine.html",
        page=page,
        missing=missing,
        next_actions=NEXT_ACTIONS,
        last_return=_last_return,
    )


def _last_return(application: Application) -> FormalCheck | None:
    returns = [c for c in application.checks if c.decision == "return"]
    return returns[-1] if returns else None


# --- the form ----------------------------------------------------------------------------


@bp.get("/applications/<int:application_id>/edit")
def edit(application_id: int):
    """The sectioned application form with its completeness checklist."""
    application, refusal = _editable_or_refusal(application_id)
    if refusal is not None:
        return refusal
    return _render_edit(application)


@bp.post(
    "/applications/<int:application_id>/sections/<any(basic, team, budget, milestones, kpis):section>"
)
def save_section(application_id: int, section: str):
    """Save one section when it is valid; otherwise return it with the input and the errors."""
    application, refusal = _editable_or_refusal(application_id)
    if refusal is not None:
        return refusal
    form = section_form(section, application, posted=True)
    saved = False
    error = None
    if form.validate():
        with action(show=False, keep_loaded=True) as done:
            ops.save_section(application, section, form.section_data(), current_user)
            kept = _loaded_relations(application)  # noqa: F841 - held while the answer renders
        if isinstance(done.error, StaleDataError):
            error = _(
                "The application was changed elsewhere at the same moment. Your input is kept here: "
                "save again."
            )
        elif not done:
            error = done.message
        else:
            db.session.expire(application)  # read afresh for the answer
            saved = True
            # the posted form was offered (and validated against) the same clusters
            form = section_form(
                section,
                application,
                choices=form.cluster_id.choices if section == "basic" else None,
            )
    if is_htmx():
        return _render_section(application, section, form, saved=saved, error=error)
    if saved:
        flash(_("%(section)s saved.", section=SECTIONS[section]), "success")
        return redirect(
            url_for("applications.edit", application_id=application.id) + f"#section-{section}"
        )
    if error:
        form.section_errors.append(error)
    return _render_edit(application, {section: form})


def _loaded_relations(application: Application) -> list:
    """What the application refers to, for a save that commits without expiring the session.

    After the commit only the application (its columns and rows) is read afresh from the
    database for the answer. Everything else the request holds (the user, the call and its
    clusters) was not changed by the save and stays loaded, instead of being expired and
    fetched again.

    Returns the objects the application referred to (its call, organisation, cluster): the
    caller keeps them while it renders, so that the session (which holds its objects only
    weakly) still has them when the reloaded application asks for them again.
    """
    state = sa.inspect(application)
    return [
        state.dict[r.key]
        for r in state.mapper.relationships
        if r.direction is MANYTOONE and state.dict.get(r.key) is not None
    ]


@bp.post("/applications/<int:application_id>/sections/budget/preview")
def budget_preview(application_id: int):
    """Totals and rule checks of the budget as typed, without saving (htmx, out of band)."""
    application, refusal = _editable_or_refusal(application_id)
    if refusal is not None:
        return refusal
    form = section_form("budget", application, posted=True)
    return render_template(
        "applications/drafting/_budget_totals.html",
        budget=budget_view(form, application.call),
        application=application,
        percent=percent,
        oob=True,
    )


# --- attachments -------------------------------------------------------------------------


@bp.post("/applications/<int:application_id>/attachments")
def upload_attachment(application_id: int):
    """Upload a file for one of the call's attachments (or another document)."""
    application, refusal = _editable_or_refusal(application_id)
    if refusal is not None:
        return refusal
    form = AttachmentForm()
    form.requirement.choices = requirement_choices(application)
    code = request.form.get("requirement") or ""
    error = None
    if form.validate():
        with action(show=False, also=(UploadRefused,)) as done:
            attachment = ops.add_attachment(
                application, form.file.data, form.requirement.data or None, current_user
            )
        if not done:
            error = (code, done.message)
        else:
            if is_htmx():
                return _render_attachments(application, saved=True)
            flash(_("“%(name)s” has been uploaded.", name=attachment.original_name), "success")
            return redirect(
                url_for("applications.edit", application_id=application.id) + "#section-attachments"
            )
    else:
        error = (code, " ".join(str(e) for errors in form.errors.values() for e in errors))
    if is_htmx():
        return _render_attachments(application, error=error)
    return _render_edit(application, attachment_error=error)


def _attachment_or_404(application: Application, attachment_id: int) -> Attachment:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.application_id != application.id:
        abort(404)
    return attachment


@bp.get("/applications/<int:application_id>/attachments/<int:attachment_id>")
def attachment(application_id: int, attachment_id: int):
    """Download an attachment under its original name, for those who may see the application."""
    application = _application_or_404(application_id)
    item = _attachment_or_404(application, attachment_id)
    return download_response(
        item.stored_name, item.original_name, item.content_type, etag=item.sha256
    )


@bp.post("/applications/<int:application_id>/attachments/<int:attachment_id>/delete")
def delete_attachment(application_id: int, attachment_id: int):
    """Remove an attachment while the application can be edited."""
    application, refusal = _editable_or_refusal(application_id)
    if refusal is not None:
        return refusal
    item = _attachment_or_404(application, attachment_id)
    name = item.original_name
    with action() as done:
        ops.remove_attachment(item, current_user)
    if is_htmx():
        return _render_attachments(application, saved=bool(done))
    if done:
        flash(_("“%(name)s” has been removed.", name=name), "success")
    return redirect(
        url_for("applications.edit", application_id=application.id) + "#section-attachments"
    )


# --- submission --------------------------------------------------------------------------


def _already_submitted(application: Application):
    """The answer to a repeated submission: the reference number, no error page."""
    if application.reference_no and application.state not in ("draft", "returned", "withdrawn"):
        flash(
            _(
                "This application has already been submitted. Its reference number is %(ref)s.",
                ref=application.reference_no,
            ),
            "info",
        )
    else:
        flash(_("This action is not possible in the current state."), "warning")
    return redirect(url_for("applications.detail", application_id=application.id))


@bp.post("/applications/<int:application_id>/submit")
def submit(application_id: int):
    """Submit (or resubmit) the application; a repeated click shows the reference number again."""
    application = _application_or_404(application_id)
    with action(show=False, denied="application.submit", denied_obj=application) as done:
        transition(application, "submit", current_user)
        reference = application.reference_no  # read before the commit expires it
    if isinstance(done.error, InvalidTransition):
        return _already_submitted(application)
    if isinstance(done.error, StaleDataError):
        db.session.expire_all()
        application = db.session.get(Application, application_id) or abort(404)
        return _already_submitted(application)
    if isinstance(done.error, GuardFailed):
        return _render_edit(
            application, submit_problems=submission_problems(application), status=422
        )
    if not done:
        flash(done.message, "warning")
        return redirect(url_for("applications.detail", application_id=application_id))
    flash(
        _("Your application has been submitted. Its reference number is %(ref)s.", ref=reference),
        "success",
    )
    return redirect(url_for("applications.detail", application_id=application_id))


@bp.post("/applications/<int:application_id>/withdraw")
def withdraw(application_id: int):
    """Withdraw the application before the formal check."""
    application = _application_or_404(application_id)
    with action(show=False, denied="application.withdraw", denied_obj=application) as done:
        transition(application, "withdraw", current_user)
    if not done:
        stale = isinstance(done.error, StaleDataError)
        flash(
            _("This action is not possible in the current state.") if stale else done.message,
            "warning",
        )
        return redirect(url_for("applications.detail", application_id=application_id))
    flash(_("The application %(ref)s has been withdrawn.", ref=application.reference_no), "success")
    return redirect(url_for("applications.detail", application_id=application.id))


@bp.post("/applications/<int:application_id>/delete")
def delete_draft(application_id: int):
    """Delete a draft that was never submitted."""
    application = _application_or_404(application_id, "application.delete_draft")
    with action() as done:
        ops.delete_draft(application, current_user)
    if not done:
        return redirect(url_for("applications.detail", application_id=application_id))
    flash(_("The draft has been deleted."), "success")
    return redirect(url_for("applications.mine"))


# --- reading -----------------------------------------------------------------------------


@bp.get("/applications/<int:application_id>")
def detail(application_id: int):
    """The whole application, read-only, with its history of formal checks and the actions allowed."""
    application = _application_or_404(application_id)
    context = _common_context(application)
    summary = BudgetSummary.from_lines(application.budget_lines)
    return render_template("applications/detail.html", summary=summary, **context)


@bp.get("/applications/<int:application_id>/pdf")
def pdf(application_id: int):
    """The application as a PDF (申报书) with Chinese fonts."""
    application = _application_or_404(application_id)

    try:
        data = render_application_pdf(application)
    except PdfError:
        flash(_("The PDF could not be produced just now. Please try again in a minute."), "danger")
        return redirect(url_for("applications.detail", application_id=application.id))
    name = f"{application.reference_no or _('draft') + '-' + str(application.id)}.pdf"
    response = send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=name,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
