"""Review pages: decisions, public notices (公示) and objections, the batch release, the public pages."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from grants.applications.models import Application, ApplicationState
from grants.core.actions import action, actionable, event_applies
from grants.core.money import format_wan, wan_text, wan_to_yuan
from grants.core.permissions import require
from grants.core.timeutil import local_today
from grants.core.workflow import GuardFailed
from grants.extensions import db
from grants.programmes.models import Call
from grants.review import decisions as ops
from grants.review.forms.decisions import (
    ApproveForm,
    CloseNoticeForm,
    DeclineForm,
    NoticeForm,
    ObjectionForm,
    OverturnForm,
    ReleasedCommentForm,
    ReleaseForm,
    ResolveObjectionForm,
)
from grants.review.models import Assignment, Objection, PublicNotice, Review
from grants.review.views import bp

try:  # written alongside this module; the page falls back to the review count without it
    from grants.review.aggregation import review_stats
except ImportError:  # pragma: no cover
    review_stats = None

DECISION_STATES = (
    ApplicationState.REVIEWED,
    ApplicationState.APPROVED,
    ApplicationState.DECLINED,
    ApplicationState.CONTRACTED,
)


@bp.app_template_global("applicant_outcome")
def _applicant_outcome(application):
    """The released decision for ``review/decisions/_applicant_outcome.html`` (None before release)."""
    return ops.applicant_outcome(application)


def _call_or_404(call_id: int) -> Call:
    return db.session.get(Call, call_id) or abort(404)


# --- decisions ------------------------------------------------------------------------------


def review_summaries(applications: list[Application], call: Call) -> dict[int, dict]:
    """Per application the number of valid reviews and, with the aggregation module, mean and trimmed mean."""
    ids = [a.id for a in applications]
    totals: dict[int, list[Decimal]] = {i: [] for i in ids}
    if ids:
        rows = db.session.execute(
            sa.select(Assignment.application_id, Review.total)
            .join(Review, Review.assignment_id == Assignment.id)
            .where(
                Assignment.application_id.in_(ids),
                Assignment.purpose == "proposal",
                Assignment.state == "accepted",
                Review.state == "submitted",
            )
        ).all()
        for application_id, total in rows:
            totals[application_id].append(Decimal(total))
    summaries = {}
    for application_id, values in totals.items():
        stats = review_stats(values, call.trimmed_mean_min_reviews) if review_stats else None
        summaries[application_id] = {"count": len(values), "stats": stats}
    return summaries


def _decision_order(application: Application, stats) -> tuple:
    """Undecided first, then by score (best first, unscored last), then by reference number."""
    score = getattr(stats, "score", None)
    return (
        application.state != "reviewed",
        score is None,
        -(score or 0),
        application.reference_no or "",
    )


def _render_decisions(call: Call, *, forms: dict | None = None, status: int = 200):
    applications = ops.call_applications(call, DECISION_STATES)
    decided = ops.decisions_by_application(a.id for a in applications)
    summaries = review_summaries(applications, call)
    applications.sort(key=lambda a: _decision_order(a, summaries[a.id]["stats"]))
    forms = forms or {}
    row_forms = {}
    for a in applications:
        if a.state != "reviewed":
            continue
        approve_form, decline_form = forms.get(a.id, (None, None))
        row_forms[a.id] = (
            approve_form
            or ApproveForm(
                formdata=None, prefix=f"approve-{a.id}", amount=wan_text(a.fiscal_total)
            ),
            decline_form or DeclineForm(formdata=None, prefix=f"decline-{a.id}"),
        )
    notices = db.session.scalars(
        sa.select(PublicNotice).where(PublicNotice.call_id == call.id).order_by(PublicNotice.id)
    ).all()
    still_in_review = len(ops.call_applications(call, ("submitted", "under_review")))
    return render_template(
        "review/decisions/decisions.html",
        call=call,
        position=ops.budget_position(call),
        applications=applications,
        decided=decided,
        summaries=summaries,
        row_forms=row_forms,
        notices=notices,
        still_in_review=still_in_review,
        has_stats=review_stats is not None,
        has_errors=any(f is not None and f.errors for pair in forms.values() for f in pair),
    ), status


@bp.get("/calls/<int:call_id>/decisions")
def decisions(call_id: int):
    """The call's reviewed applications with their scores, the running total and a decision form each."""
    call = _call_or_404(call_id)
    require("decision.manage", call)
    return _render_decisions(call)


def _application_of_call(call: Call, application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or application.call_id != call.id:
        abort(404)
    return application


def _after_decision(call: Call, application: Application):
    return redirect(
        url_for("review.decisions", call_id=call.id, _anchor=f"application-{application.id}")
    )


@bp.post("/calls/<int:call_id>/decisions/<int:application_id>/approve")
def approve(call_id: int, application_id: int):
    call = _call_or_404(call_id)
    require("decision.manage", call)
    application = _application_of_call(call, application_id)
    form = ApproveForm(prefix=f"approve-{application.id}")
    if form.validate_on_submit():
        with action(show=False, denied="application.approve", denied_obj=application) as done:
            decision = ops.approve(application, wan_to_yuan(form.amount.data), current_user)
        if isinstance(done.error, GuardFailed):
            form.amount.errors.append(done.message)
        elif not done:
            flash(done.message, "warning")
            return _after_decision(call, application)
        else:
            flash(
                _(
                    "%(ref)s approved with %(amount)s.",
                    ref=application.reference_no,
                    amount=format_wan(decision.amount),
                ),
                "success",
            )
            return _after_decision(call, application)
    return _render_decisions(call, forms={application.id: (form, None)}, status=422)


@bp.post("/calls/<int:call_id>/decisions/<int:application_id>/decline")
def decline(call_id: int, application_id: int):
    call = _call_or_404(call_id)
    require("decision.manage", call)
    application = _application_of_call(call, application_id)
    form = DeclineForm(prefix=f"decline-{application.id}")
    if form.validate_on_submit():
        with action(show=False, denied="application.decline", denied_obj=application) as done:
            ops.decline(application, form.reasons.data, current_user)
        if isinstance(done.error, GuardFailed):
            form.reasons.errors.append(done.message)
        elif not done:
            flash(done.message, "warning")
            return _after_decision(call, application)
        else:
            flash(_("%(ref)s declined.", ref=application.reference_no), "success")
            return _after_decision(call, application)
    return _render_decisions(call, forms={application.id: (None, form)}, status=422)


# --- public notices: the bureau's side ------------------------------------------------------


def _notice_or_404(notice_id: int) -> PublicNotice:
    return db.session.get(PublicNotice, notice_id) or abort(404)


def _notice_data(form: NoticeForm) -> dict:
    return {
        "title": form.title.data.strip(),
        "body": (form.body.data or "").strip(),
        "starts_on": form.starts_on.data,
        "ends_on": form.ends_on.data,
    }


def _flash_period_warning(data: dict) -> None:
    warning = ops.period_warning(data["starts_on"], data["ends_on"])
    if warning:
        flash(warning, "warning")


@bp.route("/calls/<int:call_id>/notices/new", methods=["GET", "POST"])
def new_notice(call_id: int):
    """A draft public notice of the call's approved applications."""
    call = _call_or_404(call_id)
    require("notice.manage", call)
    today = local_today()
    form = NoticeForm()
    if request.method == "GET":
        form.title.data = _("Public notice of the projects approved in “%(call)s”", call=call.title)
        form.body.data = _(
            "The projects below are proposed for funding. Anyone who objects to a project may "
            "write to the Erdaojiang District Science and Technology Bureau during the notice "
            "period, giving their name and contact details and the facts of the objection."
        )
        form.starts_on.data = today
        form.ends_on.data = ops.default_end(today)
    if form.validate_on_submit():
        data = _notice_data(form)
        with action(form=form, field="title") as done:
            notice = ops.create_notice(call, data, current_user)
        if done:
            flash(_("The notice has been saved as a draft."), "success")
            _flash_period_warning(data)
            return redirect(url_for("review.manage_notice", notice_id=notice.id))
    return render_template(
        "review/decisions/notice_form.html",
        call=call,
        form=form,
        notice=None,
        approved=_approved_preview(call),
        warning=ops.period_warning(form.starts_on.data, form.ends_on.data),
    ), (422 if form.errors else 200)


def _approved_preview(call: Call):
    return ops.noticed_applications(PublicNotice(call_id=call.id))


@bp.route("/notices/<int:notice_id>/edit", methods=["GET", "POST"])
def edit_notice(notice_id: int):
    notice = _notice_or_404(notice_id)
    require("notice.manage", notice)
    if notice.state != "draft":
        flash(_("A published notice can no longer be changed."), "warning")
        return redirect(url_for("review.manage_notice", notice_id=notice.id))
    form = NoticeForm(obj=notice)
    if form.validate_on_submit():
        data = _notice_data(form)
        with action(form=form, field="title") as done:
            ops.update_notice(notice, data, current_user)
        if done:
            flash(_("The notice has been saved."), "success")
            _flash_period_warning(data)
            return redirect(url_for("review.manage_notice", notice_id=notice.id))
    return render_template(
        "review/decisions/notice_form.html",
        call=notice.call,
        form=form,
        notice=notice,
        approved=ops.noticed_applications(notice),
        warning=ops.period_warning(form.starts_on.data, form.ends_on.data),
    ), (422 if form.errors else 200)


def _render_notice(
    notice: PublicNotice,
    *,
    objection_form=None,
    close_form=None,
    resolve_forms=None,
    error: str | None = None,
    status: int = 200,
):
    listed = ops.noticed_applications(notice)
    if objection_form is None:
        objection_form = ObjectionForm(formdata=None, prefix="objection", received_on=local_today())
    objection_form.application_id.choices = [(0, _("— choose —"))] + [
        (a.id, f"{a.reference_no} · {a.organisation.name} · {a.title}") for a, _d in listed
    ]
    resolve_forms = resolve_forms or {}
    for objection in notice.objections:
        if objection.state == "open" and objection.id not in resolve_forms:
            resolve_forms[objection.id] = ResolveObjectionForm(
                formdata=None, prefix=f"resolve-{objection.id}"
            )
    unreleased = any(d.released_at is None for _a, d in listed)
    return render_template(
        "review/decisions/notice.html",
        notice=notice,
        call=notice.call,
        listed=listed,
        today=local_today(),
        days_left=ops.days_left(notice),
        working_days=ops.working_days(notice.starts_on, notice.ends_on),
        warning=ops.period_warning(notice.starts_on, notice.ends_on),
        objection_form=objection_form,
        close_form=close_form or CloseNoticeForm(formdata=None, prefix="close"),
        resolve_forms=resolve_forms,
        overturn_form=OverturnForm(formdata=None, prefix="overturn"),
        error=error,
        unreleased=unreleased,
    ), status


@bp.get("/notices/<int:notice_id>/manage")
def manage_notice(notice_id: int):
    """The bureau's page of one notice: its state, the listed projects, objections and actions."""
    notice = _notice_or_404(notice_id)
    require("notice.manage", notice)
    return _render_notice(notice)


@bp.post("/notices/<int:notice_id>/publish")
def publish_notice(notice_id: int):
    notice = _notice_or_404(notice_id)
    require("notice.manage", notice)
    with action(show=False, denied="notice.publish", denied_obj=notice) as done:
        ops.publish_notice(notice, current_user)
    if not done:
        return _render_notice(_notice_or_404(notice_id), error=done.message, status=422)
    flash(
        _(
            "The notice is published: it is on the public page until %(date)s.",
            date=notice.ends_on.isoformat(),
        ),
        "success",
    )
    return redirect(url_for("review.manage_notice", notice_id=notice.id))


@bp.post("/notices/<int:notice_id>/close")
def close_notice(notice_id: int):
    notice = _notice_or_404(notice_id)
    require("notice.manage", notice)
    if not actionable(notice, "close", action="notice.close"):
        return _notice_not_published(notice)
    form = CloseNoticeForm(prefix="close")
    if form.validate_on_submit():
        with action(show=False, denied="notice.close", denied_obj=notice) as done:
            ops.close_notice(
                notice, current_user, force=form.force.data, reason=form.reason.data or ""
            )
        if not done:
            notice = _notice_or_404(notice_id)
            if not event_applies(notice, "close"):  # closed meanwhile
                return _notice_not_published(notice)
            target = form.reason if form.force.data else form.force
            target.errors.append(done.message)
        else:
            flash(_("The notice is closed."), "success")
            return redirect(url_for("review.manage_notice", notice_id=notice.id))
    return _render_notice(notice, close_form=form, status=422)


def _notice_not_published(notice: PublicNotice):
    """The notice is a draft or already closed: say so on its page (whose close and objection forms are gone)."""
    if notice.state == "draft":
        flash(
            _(
                "This notice is not published yet: it can be closed, and objections recorded, only while it "
                "is published."
            ),
            "warning",
        )
    else:
        flash(
            _("This notice is already closed: it can no longer be closed or receive objections."),
            "warning",
        )
    return redirect(url_for("review.manage_notice", notice_id=notice.id))


@bp.post("/notices/<int:notice_id>/objections")
def record_objection(notice_id: int):
    """Record an objection received during the notice period."""
    notice = _notice_or_404(notice_id)
    require("objection.manage", notice)
    if notice.state != "published":
        return _notice_not_published(notice)
    if not ops.noticed_applications(notice):
        flash(
            _("No application is listed on this notice: there is nothing to object to."), "warning"
        )
        return redirect(url_for("review.manage_notice", notice_id=notice.id))
    form = ObjectionForm(prefix="objection")
    form.application_id.choices = [(a.id, "") for a, _d in ops.noticed_applications(notice)] + [
        (0, "")
    ]
    if form.validate_on_submit():
        data = {k: getattr(form, k).data for k in ("raised_by", "contact", "text", "received_on")}
        with action(show=False, denied_obj=notice) as done:
            ops.record_objection(notice, form.application_id.data, data, current_user)
        if not done:
            if _notice_or_404(notice_id).state != "published":  # closed meanwhile
                return _notice_not_published(_notice_or_404(notice_id))
            getattr(form, done.field or "text").errors.append(done.message)
        else:
            flash(_("The objection has been recorded."), "success")
            return redirect(
                url_for("review.manage_notice", notice_id=notice.id, _anchor="objections")
            )
    return _render_notice(_notice_or_404(notice_id), objection_form=form, status=422)


def _objection_or_404(objection_id: int) -> Objection:
    return db.session.get(Objection, objection_id) or abort(404)


@bp.post("/objections/<int:objection_id>/resolve")
def resolve_objection(objection_id: int):
    """Uphold (optionally overturning the approval) or dismiss an objection, with the resolution."""
    objection = _objection_or_404(objection_id)
    require("objection.manage", objection)
    event = request.form.get("event")
    if event not in ("uphold", "dismiss"):
        abort(400)
    form = ResolveObjectionForm(prefix=f"resolve-{objection.id}")
    if form.validate_on_submit():
        with action(
            form=form, field="resolution", denied=f"objection.{event}", denied_obj=objection
        ) as done:
            ops.resolve_objection(
                objection,
                event,
                form.resolution.data,
                current_user,
                overturn_approval=form.overturn.data,
            )
        if done:
            if event == "dismiss":
                flash(_("The objection has been dismissed."), "success")
            elif objection.application.state == "declined":
                flash(_("The objection has been upheld and the approval overturned."), "success")
            else:
                flash(_("The objection has been upheld."), "success")
            return redirect(
                url_for("review.manage_notice", notice_id=objection.notice_id, _anchor="objections")
            )
    notice = _notice_or_404(objection.notice_id)
    return _render_notice(notice, resolve_forms={objection.id: form}, status=422)


@bp.post("/applications/<int:application_id>/overturn")
def overturn(application_id: int):
    """Overturn an approval after an objection against it was upheld."""
    application = db.session.get(Application, application_id) or abort(404)
    require("decision.manage", application)
    form = OverturnForm(prefix="overturn")
    notice_id = request.form.get("notice_id", type=int)
    if form.validate_on_submit():
        with action(show=False, denied="application.overturn", denied_obj=application) as done:
            ops.overturn(application, form.reasons.data or "", current_user)
        if not done:
            flash(done.message, "warning")
        else:
            flash(
                _("The approval of %(ref)s has been overturned.", ref=application.reference_no),
                "success",
            )
    if notice_id and 0 < notice_id < 2**31 and db.session.get(PublicNotice, notice_id) is not None:
        return redirect(url_for("review.manage_notice", notice_id=notice_id, _anchor="objections"))
    return redirect(url_for("review.decisions", call_id=application.call_id))


# --- the release in one batch ---------------------------------------------------------------


def _render_release(call: Call, *, comment_forms: dict | None = None, status: int = 200):
    comment_forms = comment_forms or {}
    rows = []
    for application, decision in _decided(call):
        reviews = []
        for review in ops.submitted_reviews(application):
            form = comment_forms.get(review.id)
            if form is None:
                text = (
                    review.released_comment
                    if review.released_comment is not None
                    else ops.anonymise(review.comment, review.assignment.expert)
                )
                form = ReleasedCommentForm(formdata=None, prefix=f"comment-{review.id}", text=text)
            reviews.append((review, form, ops.comment_approved(review)))
        rows.append((application, decision, reviews))
    return render_template(
        "review/decisions/release.html",
        call=call,
        rows=rows,
        blockers=ops.release_blockers(call),
        release_form=ReleaseForm(),
    ), status


def _decided(call: Call):
    return [
        (a, d)
        for a, d in db.session.execute(
            sa.select(Application, ops.Decision)
            .join(ops.Decision, ops.Decision.application_id == Application.id)
            .where(Application.call_id == call.id)
            .options(selectinload(Application.organisation))
            .order_by(Application.reference_no, Application.id)
        ).all()
    ]


@bp.get("/calls/<int:call_id>/release")
def release(call_id: int):
    """Every decided application with its experts' comments, each anonymised and approved for release."""
    call = _call_or_404(call_id)
    require("decision.manage", call)
    return _render_release(call)


@bp.post("/reviews/<int:review_id>/released-comment")
def approve_comment(review_id: int):
    review = db.session.get(Review, review_id) or abort(404)
    application = review.assignment.application
    require("decision.manage", application)
    form = ReleasedCommentForm(prefix=f"comment-{review.id}")
    if form.validate_on_submit():
        with action(show=False, denied_obj=review) as done:
            ops.approve_released_comment(review, form.text.data or "", current_user)
        if not done:
            form.text.errors.append(done.message)
        else:
            flash(_("The comment is approved for release."), "success")
            return redirect(
                url_for(
                    "review.release", call_id=application.call_id, _anchor=f"review-{review.id}"
                )
            )
    return _render_release(application.call, comment_forms={review.id: form}, status=422)


@bp.post("/calls/<int:call_id>/release")
def release_all(call_id: int):
    """Release every decision of the call at once and notify the applicants."""
    call = _call_or_404(call_id)
    require("decision.manage", call)
    form = ReleaseForm()
    if not form.validate_on_submit():
        abort(400)
    with action(show=False, denied_obj=call) as done:
        count = ops.release_decisions(call, current_user)
    if not done:
        flash(_("The decisions cannot be released yet: see the list below."), "danger")
        return _render_release(call, status=422)
    flash(
        _("%(num)d decisions have been released and the applicants notified.", num=count), "success"
    )
    return redirect(url_for("review.release", call_id=call.id))


# --- public pages (no sign-in) --------------------------------------------------------------


@bp.get("/notices")
def public_notices():
    """Published public notices, the running ones first."""
    notices = db.session.scalars(
        sa.select(PublicNotice)
        .where(PublicNotice.state.in_(("published", "closed")))
        .options(selectinload(PublicNotice.call))
        .order_by(
            (PublicNotice.state == "published").desc(),
            PublicNotice.starts_on.desc(),
            PublicNotice.id.desc(),
        )
    ).all()
    return render_template("review/public/notices.html", notices=notices, today=local_today())


@bp.get("/notices/<int:notice_id>")
def public_notice(notice_id: int):
    """A published notice: its text and the approved projects (organisation, title, amount) only."""
    notice = db.session.get(PublicNotice, notice_id)
    if notice is None or notice.state == "draft":
        abort(404)
    listed = [(a.organisation.name, a.title, d.amount) for a, d in ops.noticed_applications(notice)]
    total = sum((amount for _o, _t, amount in listed), Decimal(0))
    return render_template(
        "review/public/notice.html",
        notice=notice,
        call_title=notice.call.title,
        listed=listed,
        total=total,
        today=local_today(),
    )
