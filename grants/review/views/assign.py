"""Review pages: assigning experts (bureau) and answering invitations (experts)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.routing import BuildError
from wtforms.fields.choices import SelectChoice

from grants.applications.models import Application
from grants.core.actions import action, actionable
from grants.core.models import AuditEvent
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.templating import local_datetime
from grants.core.timeutil import local_naive, local_to_utc, local_today, utc_to_local
from grants.core.types import utcnow
from grants.core.workflow import GuardFailed, transition
from grants.extensions import db
from grants.programmes.models import Call
from grants.review import assignments as ops
from grants.review.experts import expert_for_user
from grants.review.forms.assign import (
    AcceptForm,
    AutoAssignForm,
    DeclineForm,
    ManualAssignForm,
    RecuseForm,
    ReplacementForm,
)
from grants.review.models import Assignment, Expert
from grants.review.views import bp
from grants.review.views.conflicted import render_conflicted, withdrawn_for_conflict

REVIEW_ENDPOINT = "review.expert_review"  # the scoring page of an accepted assignment (scoring.py)
DUE_SOON_DAYS = 3


# --- helpers shared by the pages -----------------------------------------------------------------


def due_status(due_at: datetime, now: datetime | None = None) -> tuple[str, int]:
    """("overdue" | "today" | "left", days) counted in Beijing calendar days."""
    now = now or utcnow()
    days = (utc_to_local(due_at).date() - utc_to_local(now).date()).days
    if due_at <= now:
        return "overdue", max(0, -days)
    if days <= 0:
        return "today", 0
    return "left", days


def due_text(due_at: datetime, now: datetime | None = None) -> str:
    return due_note(*due_status(due_at, now))


def due_note(kind: str, days: int) -> str:
    """The text of a due status: "Overdue by 2 days", "Due today", "5 days left"."""
    if kind == "overdue":
        return (
            ngettext("Overdue by %(num)d day", "Overdue by %(num)d days", days)
            if days
            else _("Overdue since today")
        )
    if kind == "today":
        return _("Due today")
    return ngettext("%(num)d day left", "%(num)d days left", days)


def review_url(assignment: Assignment) -> str | None:
    """The scoring page of an accepted assignment, when the scoring pages provide one."""
    try:
        return url_for(REVIEW_ENDPOINT, assignment_id=assignment.id)
    except BuildError:
        return None


@bp.app_context_processor
def _assignment_helpers():
    return {
        "due_text": due_text,
        "due_status": due_status,
        "assignment_review_url": review_url,
        "assignment_source_labels": ops.SOURCE_LABELS,
    }


def _default_due() -> datetime:
    """Fourteen days from today, 18:00 Beijing time, as a naive local value for the form."""
    return datetime.combine(local_today() + timedelta(days=ops.DEFAULT_DUE_DAYS), time(18, 0))


def _call_or_404(call_id: int) -> Call:
    return db.session.get(Call, call_id) or abort(404)


def _application_or_404(application_id: int) -> Application:
    """The application if the user may see it (an organisation's draft is not found)."""
    application = db.session.get(
        Application,
        application_id,
        options=[
            joinedload(Application.call),
            joinedload(Application.organisation),
            joinedload(Application.cluster),
        ],
    ) or abort(404)
    require("application.view", application, not_found=True)
    return application


def _assignment_or_404(assignment_id: int) -> Assignment:
    return db.session.get(
        Assignment,
        assignment_id,
        options=[joinedload(Assignment.expert), joinedload(Assignment.application)],
    ) or abort(404)


# --- the bureau: a call's assignments ------------------------------------------------------------


def _last_run(call: Call) -> AuditEvent | None:
    return db.session.scalar(
        sa.select(AuditEvent)
        .where(
            AuditEvent.action == "assignment.auto_assign",
            AuditEvent.object_type == "Call",
            AuditEvent.object_id == str(call.id),
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1)
    )


def _render_call(
    call: Call, form: AutoAssignForm | None = None, infeasible=None, status: int = 200
):
    experts = ops.invitable_experts()
    under_review = ops.applications_under_review(call)
    if form is None:
        form = AutoAssignForm(
            formdata=None,
            cap=ops.suggested_cap(call, len(under_review), len(experts)),
            due_at=_default_due(),
        )
    stmt = (
        sa.select(Application)
        .where(Application.call_id == call.id, Application.state == "under_review")
        .options(selectinload(Application.cluster))
        .order_by(Application.reference_no, Application.id)
    )
    page = paginate(stmt)
    page_ids = [a.id for a in page.items]
    rows = (
        db.session.scalars(
            sa.select(Assignment)
            .where(Assignment.application_id.in_(page_ids), Assignment.purpose == ops.PURPOSE)
            .options(selectinload(Assignment.expert), selectinload(Assignment.review))
            .order_by(Assignment.invited_at, Assignment.id)
        ).all()
        if page_ids
        else []
    )
    by_application: dict[int, list[Assignment]] = {i: [] for i in page_ids}
    for a in rows:
        by_application[a.application_id].append(a)
    everything = ops.call_assignments(call)
    states = Counter(a.state for a in everything)
    per_expert: dict[int, Counter] = {}
    for a in everything:
        per_expert.setdefault(a.expert_id, Counter())[a.state] += 1
    pool_ids = {e.id for e in experts}
    outside = db.session.scalars(
        sa.select(Expert).where(Expert.id.in_(set(per_expert) - pool_ids))
    ).all()
    loads = sorted(
        ((e, per_expert.get(e.id, Counter())) for e in list(experts) + list(outside)),
        key=lambda item: (-(item[1]["invited"] + item[1]["accepted"]), item[0].name, item[0].id),
    )
    declined = [(a, ops.propose_replacement(a)) for a in ops.declined_awaiting_replacement(call)]
    explanation, room = None, 0
    if infeasible is not None:
        explanation = ops.explain(infeasible, {a.id: a for a in under_review})
        room = sum(max(0, cap - infeasible.loads.get(e, 0)) for e, cap in infeasible.caps.items())
    return render_template(
        "review/assign/call.html",
        call=call,
        form=form,
        page=page,
        by_application=by_application,
        states=states,
        loads=loads,
        pool_size=len(experts),
        under_review=len(under_review),
        declined=declined,
        last_run=_last_run(call),
        infeasible=infeasible,
        explanation=explanation,
        room=room,
        replacement_form=ReplacementForm(formdata=None),
        now=utcnow(),
    ), status


@bp.get("/calls/<int:call_id>/assignments")
def call_assignments(call_id: int):
    """The call's applications under review with their experts, the loads, and the automatic run."""
    call = _call_or_404(call_id)
    require("assignment.manage", call)
    return _render_call(call)


@bp.post("/calls/<int:call_id>/assignments/auto")
def auto_assign(call_id: int):
    """Run the optimal automatic assignment for the whole call."""
    call = _call_or_404(call_id)
    require("assignment.manage", call)
    form = AutoAssignForm()
    if not form.validate():
        return _render_call(call, form, status=422)
    with action(denied_obj=call) as done:
        run = ops.auto_assign(
            call,
            current_user,
            cap=form.cap.data,
            due_at=local_to_utc(form.due_at.data),
            draw=form.draw.data,
            seed=form.seed.data,
        )
    if isinstance(done.error, ops.AutoAssignInfeasible):
        return _render_call(call, form, infeasible=done.error.result, status=422)
    if not done:
        return _render_call(call, form, status=422)
    message = ngettext("%(num)d invitation sent", "%(num)d invitations sent", len(run.created))
    message += " · " + _("%(kept)d kept", kept=run.kept)
    if run.seed is not None:
        message += " · " + _("seed of the draw: %(seed)d", seed=run.seed)
    flash(message, "success")
    return redirect(url_for("review.call_assignments", call_id=call.id))


# --- the bureau: one application's experts ------------------------------------------------------


def _expert_choices(application: Application):
    """Select options: allowed experts best first, then the forbidden ones disabled with their reason."""
    taken = set(
        db.session.scalars(
            sa.select(Assignment.expert_id).where(
                Assignment.application_id == application.id, Assignment.purpose == ops.PURPOSE
            )
        )
    )
    experts = [e for e in ops.invitable_experts() if e.id not in taken]
    forbidden = ops.forbidden_reasons([application], experts)
    scores = ops.suitability_matrix([application], experts)
    loads = ops.call_loads(application.call)
    allowed, blocked, conflicted = [], [], []
    for e in experts:
        score = scores.get((application.id, e.id), 0)
        load = loads.get(e.id, 0)
        reasons = forbidden.get((application.id, e.id))
        if reasons:
            label = _(
                "%(name)s — conflict of interest: %(reasons)s",
                name=e.name,
                reasons="; ".join(reasons),
            )
            blocked.append(SelectChoice(e.id, label, {"disabled": True}))
            conflicted.append((e, reasons))
        else:
            label = _(
                "%(name)s (%(employer)s) — suitability %(score)d, %(load)d in this call",
                name=e.name,
                employer=e.employer_name or "—",
                score=score,
                load=load,
            )
            allowed.append((score, -load, e.id, label))
    allowed.sort(key=lambda c: (-c[0], -c[1], c[2]))
    choices = (
        [SelectChoice(0, _("— choose —"))] + [SelectChoice(c[2], c[3]) for c in allowed] + blocked
    )
    return choices, len(allowed), conflicted


def _render_application(
    application: Application, form: ManualAssignForm | None = None, status: int = 200
):
    if form is None:
        form = ManualAssignForm(formdata=None, due_at=_default_due())
    form.expert_id.choices, allowed_count, conflicted = _expert_choices(application)
    assignments = db.session.scalars(
        sa.select(Assignment)
        .where(Assignment.application_id == application.id, Assignment.purpose == ops.PURPOSE)
        .options(selectinload(Assignment.expert), selectinload(Assignment.review))
        .order_by(Assignment.invited_at, Assignment.id)
    ).all()
    replaced = {a.replaces_id for a in assignments if a.replaces_id}
    proposals = {
        a.id: ops.propose_replacement(a)
        for a in assignments
        if a.state == "declined" and a.id not in replaced
    }
    open_count = sum(1 for a in assignments if a.state in ops.OPEN_STATES)
    return render_template(
        "review/assign/application.html",
        application=application,
        call=application.call,
        form=form,
        assignments=assignments,
        proposals=proposals,
        open_count=open_count,
        allowed_count=allowed_count,
        conflicted=conflicted,
        replacement_form=ReplacementForm(formdata=None),
        now=utcnow(),
    ), status


@bp.get("/applications/<int:application_id>/assignments")
def application_assignments(application_id: int):
    """One application's experts: states, withdrawals, replacements, and a manual invitation."""
    application = _application_or_404(application_id)
    require("assignment.manage", application)
    return _render_application(application)


@bp.post("/applications/<int:application_id>/assignments")
def add_assignment(application_id: int):
    """Invite one chosen expert by hand."""
    application = _application_or_404(application_id)
    require("assignment.manage", application)
    back = url_for("review.application_assignments", application_id=application.id)
    if ops.closed_problem(
        application
    ):  # the form is only shown while the application is under review
        flash(_("Experts can be invited only while the application is under review."), "warning")
        return redirect(back)
    form = ManualAssignForm()
    form.expert_id.choices = []
    if not form.validate():
        return _render_application(application, form, status=422)
    expert = db.session.get(Expert, form.expert_id.data)
    if expert is None:
        form.expert_id.errors.append(_("Choose an expert."))
        return _render_application(application, form, status=422)
    with action(show=False, denied_obj=application) as done:
        ops.assign_manually(application, expert, current_user, local_to_utc(form.due_at.data))
    if not done:
        application = _application_or_404(application_id)
        if ops.closed_problem(application):  # closed meanwhile: the form is no longer shown
            flash(done.message, "warning")
            return redirect(back)
        form.expert_id.errors.append(done.message)
        return _render_application(application, form, status=422)
    flash(_("%(name)s has been invited.", name=expert.name), "success")
    return redirect(back)


def _back_to(assignment: Assignment) -> str:
    if assignment.purpose == ops.ACCEPTANCE:
        project = ops.acceptance_project(assignment.application_id)
        if project is not None:
            return url_for("projects.acceptance_panel", project_id=project.id)
    target = request.form.get("next", "")
    if target == "call":
        return url_for("review.call_assignments", call_id=assignment.application.call_id)
    return url_for("review.application_assignments", application_id=assignment.application_id)


@bp.post("/assignments/<int:assignment_id>/withdraw")
def withdraw_assignment(assignment_id: int):
    """Withdraw an open invitation or an accepted assignment."""
    assignment = _assignment_or_404(assignment_id)
    require("assignment.manage", assignment)
    with action(show=False, denied="assignment.withdraw", denied_obj=assignment) as done:
        transition(assignment, "withdraw", current_user)
    if not done:
        flash(done.message, "warning")
        return redirect(_back_to(assignment))
    flash(
        _("The invitation of %(name)s has been withdrawn.", name=assignment.expert.name), "success"
    )
    return redirect(_back_to(assignment))


@bp.post("/assignments/<int:assignment_id>/replacement")
def invite_replacement(assignment_id: int):
    """One click: invite the proposed expert in place of a declined one."""
    assignment = _assignment_or_404(assignment_id)
    require("assignment.manage", assignment)
    form = ReplacementForm()
    expert = db.session.get(Expert, form.expert_id.data) if form.validate() else None
    if expert is None:
        flash(_("Choose an expert."), "danger")
        return redirect(_back_to(assignment))
    with action(denied_obj=assignment) as done:
        ops.invite_replacement(assignment, expert, current_user)
    if not done:
        return redirect(_back_to(assignment))
    flash(
        _(
            "%(name)s has been invited in place of %(declined)s.",
            name=expert.name,
            declined=assignment.expert.name,
        ),
        "success",
    )
    return redirect(_back_to(assignment))


# --- experts: invitations and assignments ---------------------------------------------------------


@bp.get("/expert/reviews")
def my_reviews():
    """The expert's invitations and accepted assignments with due dates and progress."""
    require("expert.own_profile")
    expert = expert_for_user(current_user) or abort(404)
    items = (
        db.session.scalars(
            sa.select(Assignment)
            .where(Assignment.expert_id == expert.id)
            .options(
                joinedload(Assignment.application).joinedload(Application.call),
                joinedload(Assignment.application).joinedload(Application.cluster),
                selectinload(Assignment.review),
            )
            .order_by(Assignment.due_at, Assignment.id)
        )
        .unique()
        .all()
    )
    invitations = [a for a in items if a.state == "invited"]
    accepted = [a for a in items if a.state == "accepted"]
    # what is still to write comes first, most urgent first; submitted reviews follow, newest first
    submitted = [a for a in accepted if a.review is not None and a.review.state == "submitted"][
        ::-1
    ]
    to_write = [a for a in accepted if a.review is None or a.review.state != "submitted"]
    closed = [a for a in items if a.state in ("declined", "withdrawn")]
    return render_template(
        "review/expert/my_reviews.html",
        expert=expert,
        invitations=invitations,
        to_write=to_write,
        submitted=submitted,
        closed=closed,
        dues=_queue_dues(invitations + accepted, utcnow()),
        invitation_url=_id_url("review.invitation"),
        review_url=_id_url(REVIEW_ENDPOINT),
    )


def _queue_dues(items: list[Assignment], now: datetime) -> dict[int, tuple[str, str | None, bool]]:
    """Per assignment of the queue: its due time in Beijing time, the note beside it (days left
    or overdue; none once the review is submitted) and whether it is overdue. A queue of
    hundreds holds a few dozen distinct notes: each is translated once."""
    notes: dict[tuple[str, int], str] = {}
    dues = {}
    for a in items:
        kind, days = due_status(a.due_at, now)
        note = None
        if not (a.review is not None and a.review.state == "submitted"):
            note = notes.get((kind, days)) or notes.setdefault((kind, days), due_note(kind, days))
        dues[a.id] = (local_datetime(a.due_at), note, kind == "overdue")
    return dues


def _id_url(endpoint: str):
    """``url(assignment_id)`` for an endpoint taking only the assignment's id, built once per
    page instead of once per row (None when the endpoint does not exist)."""
    marker = 7_700_000_000_077
    try:
        pattern = url_for(endpoint, assignment_id=marker)
    except BuildError:
        return None
    head, tail = pattern.split(str(marker), 1)
    return lambda assignment_id: f"{head}{assignment_id}{tail}"


def _render_invitation(
    assignment: Assignment, accept_form=None, decline_form=None, status: int = 200
):
    application = assignment.application
    project = (
        ops.acceptance_project(application.id) if assignment.purpose == ops.ACCEPTANCE else None
    )
    return render_template(
        "review/expert/invitation.html",
        assignment=assignment,
        application=application,
        call=application.call,
        blind=application.call.blind_review and project is None,
        project=project,
        accept_form=accept_form or AcceptForm(formdata=None),
        decline_form=decline_form or DeclineForm(formdata=None),
        now=utcnow(),
        due_local=local_naive(assignment.due_at),
    ), status


@bp.get("/expert/assignments/<int:assignment_id>")
def invitation(assignment_id: int):
    """One invitation as the expert sees it: only what the call's blindness allows."""
    assignment = _assignment_or_404(assignment_id)
    require("assignment.view", assignment, not_found=True)
    return _render_invitation(assignment)


def _answered_problem(assignment: Assignment, event: str) -> str | None:
    """Why the invitation can no longer be answered with ``event`` (already answered, withdrawn, closed)."""
    if assignment.state == "accepted":
        return _("This invitation has already been accepted.")
    if assignment.state == "declined":
        return _("This invitation has already been declined.")
    if assignment.state == "withdrawn":
        return _("The bureau has withdrawn this invitation.")
    if event == "accept":
        return ops.closed_problem(assignment.application, assignment.purpose, assignment.round)
    return None


def _answer(assignment_id: int, event: str):
    assignment = _assignment_or_404(assignment_id)
    require("assignment.view", assignment, not_found=True)
    back = url_for("review.invitation", assignment_id=assignment.id)
    problem = _answered_problem(assignment, event)
    if problem or not actionable(assignment, event, action=f"assignment.{event}"):
        flash(problem or _("This action is not possible in the current state."), "warning")
        return redirect(back)
    form = AcceptForm() if event == "accept" else DeclineForm()
    forms = {"accept_form": form} if event == "accept" else {"decline_form": form}
    if not form.validate():
        return _render_invitation(assignment, status=422, **forms)
    if event == "accept":
        conflicts = ops.current_conflicts(assignment)
        if conflicts:
            return withdrawn_for_conflict(assignment, conflicts)
    data = {"no_conflict": True} if event == "accept" else {"reason": form.reason.data.strip()}
    with action(show=False, denied=f"assignment.{event}", denied_obj=assignment) as done:
        transition(assignment, event, current_user, **data)
    if isinstance(done.error, GuardFailed):
        assignment = _assignment_or_404(assignment_id)
        problem = _answered_problem(assignment, event)
        if problem:  # answered or closed meanwhile: the forms are no longer shown
            flash(problem, "warning")
            return redirect(back)
        target = form.no_conflict if event == "accept" else form.reason
        target.errors = [*target.errors, done.message]
        return _render_invitation(assignment, status=422, **forms)
    if not done:
        flash(
            _answered_problem(_assignment_or_404(assignment_id), event) or done.message, "warning"
        )
        return redirect(back)
    if event == "accept":
        flash(
            _(
                "Thank you: you have accepted to review “%(title)s”.",
                title=assignment.application.title,
            ),
            "success",
        )
    else:
        flash(_("You have declined the invitation. The bureau has been told."), "success")
    return redirect(url_for("review.my_reviews"))


@bp.post("/expert/assignments/<int:assignment_id>/accept")
def accept_invitation(assignment_id: int):
    return _answer(assignment_id, "accept")


@bp.post("/expert/assignments/<int:assignment_id>/decline")
def decline_invitation(assignment_id: int):
    return _answer(assignment_id, "decline")


@bp.post("/expert/assignments/<int:assignment_id>/recuse")
def recuse(assignment_id: int):
    """The expert declares a conflict of interest: the assignment is withdrawn and the bureau told."""
    assignment = _assignment_or_404(assignment_id)
    require("assignment.recuse", assignment, not_found=True)
    if assignment.state not in ops.OPEN_STATES:
        flash(
            _answered_problem(assignment, "recuse")
            or _("This action is not possible in the current state."),
            "warning",
        )
        return redirect(url_for("review.my_reviews"))
    form = RecuseForm()
    if not form.validate():
        return render_conflicted(assignment, ops.current_conflicts(assignment), form, status=422)
    with action(show=False, denied="assignment.recuse", denied_obj=assignment) as done:
        transition(assignment, "recuse", current_user, reason=form.reason.data.strip())
    if not done:
        flash(done.message, "warning")
        return redirect(url_for("review.my_reviews"))
    flash(
        _(
            "You have withdrawn from this review because of a conflict of interest. The bureau has been told."
        ),
        "success",
    )
    return redirect(url_for("review.my_reviews"))
