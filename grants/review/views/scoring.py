"""Review pages: the expert's proposal and scoring form, the bureau's review page and reopening,
the call's review matrix (panel), ranking, xlsx export and closing an application's review.

Experts reach only their own assignments (404 otherwise) and only once they accepted and
declared no conflict; in a blind call the proposal shows no organisation, people or file
names. The bureau sees everything, by name.

For an acceptance assignment the same pages show the project's final report (KPIs achieved
beside their targets, outcomes, the final financial statement and its documents) instead
of the proposal, and score it against the call's acceptance rubric.
"""

from __future__ import annotations

import io
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import BuildError

from grants.applications.export import content_disposition
from grants.applications.models import KPI_KINDS, TEAM_ROLES, Application
from grants.applications.pdf import budget_rows, render_application_pdf
from grants.core.actions import action, actionable, event_applies
from grants.core.audit import record_denial
from grants.core.numbers import format_score
from grants.core.permissions import can, require
from grants.core.timeutil import local_today
from grants.core.workflow import GuardFailed, TransitionForbidden, WorkflowError
from grants.core.xlsx import XLSX_MIMETYPE
from grants.extensions import db
from grants.programmes.models import Call
from grants.review import scoring
from grants.review.assignments import OPEN_STATES, current_conflicts
from grants.review.forms.assign import RecuseForm
from grants.review.forms.scoring import ACTIONS, ReopenForm, review_form
from grants.review.hooks import assignment_report_view
from grants.review.models import Assignment, Review
from grants.review.rules import is_expert_of
from grants.review.views import bp
from grants.review.views.conflicted import render_conflicted, withdrawn_for_conflict

# --- shared helpers ------------------------------------------------------------------------


def _z_score(value) -> str:
    """A z-score with its sign and one decimal (``+1.2``, ``-0.5``); '—' for None."""
    text = format_score(value)
    return text if text in ("—", "0") or text.startswith("-") else "+" + text


def _formatters(purpose: str = "proposal") -> dict:
    return {
        "score": format_score,
        "zscore": _z_score,
        "plain": scoring.plain_number,
        "criterion_name": scoring.criterion_name,
        "recommendation_label": lambda code: scoring.recommendation_label(code, purpose),
        "status_label": scoring.status_label,
        "recommendations": scoring.recommendations_for(purpose),
    }


def _proposal_context(application: Application, blind: bool) -> dict:
    return {
        "application": application,
        "blind": blind,
        "budget": budget_rows(application),
        "team_roles": TEAM_ROLES,
        "kpi_kinds": KPI_KINDS,
    }


def _reviewed_context(assignment: Assignment, blind: bool) -> dict:
    """What the reviewer reads: the proposal, or for an acceptance review the project's final report."""
    context = _proposal_context(assignment.application, blind and assignment.purpose == "proposal")
    context["criteria"] = scoring.criteria_for(assignment)
    if assignment.purpose == "acceptance":
        context["acceptance"] = assignment_report_view(assignment) or abort(404)
    return context


def _assignment_or_404(assignment_id: int) -> Assignment:
    """The assignment if the user may see it (its expert or the bureau), 404 otherwise."""
    assignment = db.session.get(
        Assignment,
        assignment_id,
        options=[joinedload(Assignment.expert), joinedload(Assignment.application)],
    )
    if assignment is None:
        abort(404)
    require("assignment.view", assignment, not_found=True)
    return assignment


def _readable_assignment(assignment_id: int):
    """(assignment, None) when the user may read the proposal, else (assignment, refusal response)."""
    assignment = _assignment_or_404(assignment_id)
    if can(current_user, "assignment.read_proposal", assignment):
        return assignment, None
    if current_user.has_role("expert") and is_expert_of(current_user, assignment):
        record_denial("assignment.read_proposal", assignment, path=request.path)
        conflicts = current_conflicts(assignment) if assignment.state in OPEN_STATES else []
        if conflicts:
            return assignment, render_conflicted(assignment, conflicts, status=403)
        return assignment, (
            render_template(
                "review/scoring/not_ready.html",
                assignment=assignment,
                invitation_url=_invitation_url(assignment),
            ),
            403,
        )
    require("assignment.read_proposal", assignment)
    abort(403)  # pragma: no cover - require() has aborted already


def _invitation_url(assignment: Assignment) -> str | None:
    """The invitation page (accept, decline, declare no conflict) of the assignment, if there is one."""
    try:
        return url_for("review.invitation", assignment_id=assignment.id)
    except BuildError:
        return None


def _render_expert_page(
    assignment: Assignment, form=None, *, status: int = 200, submit_problems=None
):
    application = assignment.application
    call = application.call
    review = assignment.review
    locked = review is not None and review.state == "submitted"
    if review is not None:
        editable = can(current_user, "review.edit", review) and scoring.review_open(assignment)
    else:
        editable = scoring.review_open(assignment)
    if form is None and editable:
        form = review_form(
            scoring.criteria_for(assignment), review=review, purpose=assignment.purpose
        )
    scores = {s.criterion_id: s for s in review.scores} if review is not None else {}
    recuse_form = RecuseForm(formdata=None) if assignment.state in OPEN_STATES else None
    return render_template(
        "review/scoring/expert_review.html",
        assignment=assignment,
        call=call,
        review=review,
        form=form,
        recuse_form=recuse_form,
        locked=locked,
        editable=editable,
        scores=scores,
        submit_problems=submit_problems or [],
        comment_min=scoring.COMMENT_MIN_LENGTH,
        closed_message=scoring.closed_message(assignment),
        **_reviewed_context(assignment, call.blind_review),
        **_formatters(assignment.purpose),
    ), status


# --- the expert ----------------------------------------------------------------------------


@bp.get("/expert/assignments/<int:assignment_id>/review")
def expert_review(assignment_id: int):
    """The proposal (blind in a blind call) and the expert's scoring form, or their locked review."""
    assignment, refusal = _readable_assignment(assignment_id)
    if refusal is not None:
        return refusal
    return _render_expert_page(assignment)


@bp.post("/expert/assignments/<int:assignment_id>/review")
def save_review(assignment_id: int):
    """Save the draft (``action=save``) or save and submit it (``action=submit``).

    A conflict of interest found now withdraws the assignment (the bureau is told) and
    nothing is saved.
    """
    assignment = _assignment_or_404(assignment_id)
    if (
        is_expert_of(current_user, assignment)
        and assignment.state in OPEN_STATES
        and scoring.review_open(assignment)
    ):
        conflicts = current_conflicts(assignment)
        if conflicts:
            return withdrawn_for_conflict(assignment, conflicts)
    assignment, refusal = _readable_assignment(assignment_id)
    if refusal is not None:
        return refusal
    review = assignment.review
    if review is not None and review.state != "draft":
        flash(_("This review has been submitted and is locked."), "warning")
        return _render_expert_page(assignment, status=409)
    if review is not None:
        require("review.edit", review)
    choice = request.form.get("action", "save")
    if choice not in ACTIONS:
        abort(400)
    form = review_form(
        scoring.criteria_for(assignment), formdata=request.form, purpose=assignment.purpose
    )
    if not form.validate():
        return _render_expert_page(assignment, form, status=422)
    complete, submit_problem = False, None
    with action(show=False, denied="review.submit") as done:
        review = scoring.save_draft(
            assignment,
            current_user,
            scores=form.scores(),
            comment=form.comment.data,
            recommendation=form.recommendation.data,
        )
        complete = choice == "submit" and form.check_complete()
        if complete:
            try:
                scoring.submit_review(review, current_user)
            except TransitionForbidden:
                raise
            except WorkflowError as exc:  # the draft is kept; nothing of the submission applied
                submit_problem = exc.message
    if isinstance(done.error, (StaleDataError, IntegrityError)):
        flash(
            _(
                "The review was changed in another window meanwhile. Your input is below: check it "
                "and save again."
            ),
            "warning",
        )
        return _render_expert_page(db.session.get(Assignment, assignment_id), form, status=409)
    if not done:
        if done.field and done.field in form:
            form[done.field].errors = [*form[done.field].errors, done.message]
            return _render_expert_page(assignment, form, status=422)
        flash(done.message, "warning")
        return _render_expert_page(assignment, status=409)
    if choice == "save":
        flash(_("Your draft has been saved."), "success")
        return redirect(url_for("review.expert_review", assignment_id=assignment.id))
    if not complete:
        flash(
            _(
                "Your draft has been saved, but it cannot be submitted yet: complete the fields marked below."
            ),
            "warning",
        )
        return _render_expert_page(assignment, form, status=422)
    if submit_problem is not None:
        flash(_("Your draft has been saved, but it cannot be submitted yet."), "warning")
        return _render_expert_page(assignment, form, status=422, submit_problems=[submit_problem])
    flash(_("Your review has been submitted. Thank you."), "success")
    return redirect(url_for("review.expert_review", assignment_id=assignment.id))


@bp.get("/expert/assignments/<int:assignment_id>/proposal.pdf")
def proposal_pdf(assignment_id: int):
    """The proposal as a PDF; in a blind call without organisation and people."""
    assignment, refusal = _readable_assignment(assignment_id)
    if refusal is not None:
        return refusal

    application = assignment.application
    data = render_application_pdf(
        application, blind=application.call.blind_review and assignment.purpose == "proposal"
    )
    name = f"{application.reference_no or application.id}.pdf"
    response = send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=name,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- the bureau: one review and reopening --------------------------------------------------


def _review_or_404(review_id: int) -> Review:
    review = db.session.get(
        Review,
        review_id,
        options=[
            joinedload(Review.assignment).joinedload(Assignment.application),
            selectinload(Review.scores),
        ],
    )
    return review or abort(404)


def _render_review_detail(review: Review, form: ReopenForm | None = None, status: int = 200):
    application = review.assignment.application
    return render_template(
        "review/scoring/review_detail.html",
        review=review,
        assignment=review.assignment,
        call=application.call,
        scores={s.criterion_id: s for s in review.scores},
        reopen_form=form or ReopenForm(formdata=None),
        review_open=scoring.review_open(review.assignment),
        **_reviewed_context(review.assignment, blind=False),
        **_formatters(review.assignment.purpose),
    ), status


@bp.get("/reviews/<int:review_id>")
def review_detail(review_id: int):
    """One review for the bureau: the expert by name, scores, comment, the proposal, reopening."""
    review = _review_or_404(review_id)
    require("review.panel", review, not_found=True)
    return _render_review_detail(review)


@bp.post("/reviews/<int:review_id>/reopen")
def reopen_review(review_id: int):
    """The bureau sends a submitted review back to its expert, with a reason (audited, notified)."""
    review = _review_or_404(review_id)
    require("review.panel", review)
    back = url_for("review.review_detail", review_id=review.id)
    problem = _not_reopenable(review)
    if problem or not actionable(review, "reopen", action="review.reopen"):
        flash(problem or _("This action is not possible in the current state."), "warning")
        return redirect(back)
    form = ReopenForm()
    if not form.validate():
        return _render_review_detail(review, form, status=422)
    with action(show=False, denied="review.reopen", denied_obj=review) as done:
        scoring.reopen_review(review, current_user, form.reason.data)
    if isinstance(done.error, GuardFailed):
        review = _review_or_404(review_id)
        problem = _not_reopenable(review)
        if problem:  # reopened or closed meanwhile: the form is no longer shown
            flash(problem, "warning")
            return redirect(back)
        form.reason.errors = [*form.reason.errors, done.message]
        return _render_review_detail(review, form, status=422)
    if not done:
        flash(_not_reopenable(_review_or_404(review_id)) or done.message, "warning")
        return redirect(back)
    flash(
        _(
            "The review has been reopened and %(expert)s has been notified.",
            expert=review.assignment.expert.name,
        ),
        "success",
    )
    return redirect(back)


def _not_reopenable(review: Review) -> str | None:
    """Why ``review`` cannot be reopened now whoever asks (not submitted, or its application's review closed)."""
    if not event_applies(review, "reopen"):
        return _("This review is not submitted (any more): there is nothing to reopen.")
    if not scoring.review_open(review.assignment):
        return _("The review of this application is closed: its reviews can no longer be reopened.")
    return None


# --- the bureau: the call's matrix, ranking and export --------------------------------------

SORTS = {  # key function and whether to reverse; unranked rows always come last
    "rank": (
        lambda row: (row.rank is None, row.rank or 0, row.application.reference_no or ""),
        False,
    ),
    "-rank": (
        lambda row: (row.rank is None, -(row.rank or 0), row.application.reference_no or ""),
        False,
    ),
    "reference": (lambda row: row.application.reference_no or "", False),
    "-reference": (lambda row: row.application.reference_no or "", True),
    "stdev": (lambda row: (row.stats.stdev is None, -(row.stats.stdev or Decimal(0))), False),
}


def _call_or_404(call_id: int) -> Call:
    call = db.session.get(Call, call_id) or abort(404)
    require("review.panel", call)
    return call


@bp.get("/calls/<int:call_id>/panel")
def panel(call_id: int):
    """The call's review matrix: applications × experts, totals, z-scores, statistics, ranks."""
    call = _call_or_404(call_id)
    matrix = scoring.review_matrix(call)
    sort = request.args.get("sort", "rank")
    if sort not in SORTS:
        sort = "rank"
    key, reverse = SORTS[sort]
    rows = sorted(matrix.rows, key=key, reverse=reverse)
    return render_template(
        "review/scoring/panel.html",
        call=call,
        matrix=matrix,
        rows=rows,
        sort=sort,
        thresholds=scoring.disagreement_thresholds(),
        **_formatters(),
    )


@bp.get("/calls/<int:call_id>/ranking")
def ranking(call_id: int):
    """The call's ranking, ties shown, with each application's review progress and closing button."""
    call = _call_or_404(call_id)
    matrix = scoring.review_matrix(call)
    return render_template("review/scoring/ranking.html", call=call, matrix=matrix, **_formatters())


@bp.get("/calls/<int:call_id>/panel.xlsx")
def panel_xlsx(call_id: int):
    """The matrix, every review with its comment, and the ranking as an xlsx workbook."""
    call = _call_or_404(call_id)
    data = scoring.matrix_workbook(scoring.review_matrix(call))
    today = local_today().isoformat()
    response = send_file(io.BytesIO(data), mimetype=XLSX_MIMETYPE, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(
        f"review-{call.code}-{today}.xlsx", f"{_('Review')}-{call.code}-{today}.xlsx"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/applications/<int:application_id>/finish-review")
def finish_review(application_id: int):
    """Close the expert review of one application (``finish_review``: enough valid reviews needed)."""
    application = db.session.get(Application, application_id) or abort(404)
    require("review.panel", application.call)
    with action(show=False, denied="review.finish", denied_obj=application) as done:
        scoring.finish_review(application, current_user)
    if not done:
        flash(done.message, "warning")
    else:
        flash(_("The review of %(ref)s is closed.", ref=application.reference_no), "success")
    return redirect(url_for("review.ranking", call_id=application.call_id))
