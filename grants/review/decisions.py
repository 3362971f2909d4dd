"""Decisions, the public notice (公示), objections and the release of decisions in one batch.

The bureau approves a reviewed application with an amount no higher than the fiscal
request, and never beyond the call's budget counted over every approval of the call, or
declines it with reasons. Decisions stay invisible to the applicant (who still reads
"Under expert review") until the bureau releases all decisions of a call at once, each
with the experts' comments anonymised and approved one by one.

Approved applications are put on a public notice with a period (five working days is
the usual rule: a shorter period is allowed with a warning). Objections received within
the period are recorded and resolved; an upheld objection lets the bureau overturn the
approval. A notice closes once its end date has passed and no objection is open; the
bureau may close it earlier only by forcing it with a reason, which is audited.

The workflow table (``grants.review.workflow``) calls the guards and effects below by
name; everything else here is a verb that flushes and leaves the commit to the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from grants.applications import visibility
from grants.applications.models import Application, ApplicationState
from grants.applications.operations import notify_applicants
from grants.core import audit
from grants.core.money import MoneyError, format_yuan, to_money
from grants.core.permissions import can
from grants.core.refusals import OperationError
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.programmes.models import Call
from grants.review.models import Assignment, Decision, Expert, Objection, PublicNotice, Review

MIN_NOTICE_WORKING_DAYS = 5
# Applications still on their way to a decision: a release waits for them, so that every
# applicant of a call learns the outcome on the same day.
IN_PROCESS_STATES = (
    ApplicationState.SUBMITTED,
    ApplicationState.UNDER_REVIEW,
    ApplicationState.REVIEWED,
)


class DecisionError(OperationError):
    """A refused decision, notice, objection or release; ``message`` is user-facing."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# --- reading --------------------------------------------------------------------------------


def decision_for(application: Application) -> Decision | None:
    """The application's decision, if the bureau has taken one."""
    return db.session.scalar(sa.select(Decision).where(Decision.application_id == application.id))


def decisions_by_application(application_ids) -> dict[int, Decision]:
    """Decisions keyed by application id (one query)."""
    ids = list(application_ids)
    if not ids:
        return {}
    rows = db.session.scalars(sa.select(Decision).where(Decision.application_id.in_(ids))).all()
    return {d.application_id: d for d in rows}


def approved_total(call: Call) -> Decimal:
    """The sum of the amounts approved so far in the call (overturned approvals excluded)."""
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Decision.amount), 0))
        .join(Application, Application.id == Decision.application_id)
        .where(Application.call_id == call.id, Decision.outcome == "approve")
    )
    return to_money(Decimal(str(total or 0)))


@dataclass(frozen=True)
class BudgetPosition:
    """The call's budget, what its approvals commit and what is left."""

    budget: Decimal
    approved: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.approved

    @property
    def percent_used(self) -> int:
        """Share of the budget committed, in whole percent rounded down to a multiple of 5 (for bars)."""
        if not self.budget:
            return 100
        share = int(self.approved * 100 / self.budget)
        return max(0, min(100, share - share % 5))


def budget_position(call: Call) -> BudgetPosition:
    return BudgetPosition(budget=to_money(call.total_budget), approved=approved_total(call))


def call_applications(call: Call, states) -> list[Application]:
    """The call's applications in ``states``, by reference number."""
    return db.session.scalars(
        sa.select(Application)
        .where(Application.call_id == call.id, Application.state.in_(states))
        .options(selectinload(Application.organisation))
        .order_by(Application.reference_no, Application.id)
    ).all()


def is_released(application: Application, decision: Decision | None = None) -> bool:
    decision = decision if decision is not None else decision_for(application)
    return decision is not None and decision.released_at is not None


def sees_internal_state(viewer, application: Application) -> bool:
    """Whether ``viewer`` may see the internal state: who may manage decisions (the bureau)."""
    return can(viewer, "decision.manage", application)


visibility.register_release_lookup(is_released, sees_internal_state)


def visible_state(application: Application, viewer=None) -> str:
    """The state label ``viewer`` should see: "Under expert review" until the decision is released.

    ``viewer`` who may manage decisions (the bureau) sees the real label.
    """
    return visibility.shown_state_label(application, viewer)


def submitted_reviews(application: Application) -> list[Review]:
    """The valid proposal reviews of the application, in the order the experts were invited."""
    return db.session.scalars(
        sa.select(Review)
        .join(Assignment, Assignment.id == Review.assignment_id)
        .where(
            Assignment.application_id == application.id,
            Assignment.purpose == "proposal",
            Assignment.state == "accepted",
            Review.state == "submitted",
        )
        .order_by(Assignment.id)
    ).all()


def comment_approved(review: Review) -> bool:
    """Whether the bureau approved the released version after the review's last submission."""
    approved_at = review.released_comment_approved_at
    if approved_at is None or review.released_comment is None:
        return False
    return review.submitted_at is None or approved_at >= review.submitted_at


def applicant_outcome(application: Application) -> dict | None:
    """What the applicant may read of the decision: nothing before release.

    After release: the outcome, the amount (approved) or the reasons (declined), and the
    approved anonymised comments numbered "Expert 1", "Expert 2"… in invitation order.
    """
    decision = decision_for(application)
    if decision is None or decision.released_at is None:
        return None
    texts = [
        r.released_comment.strip()
        for r in submitted_reviews(application)
        if r.released_comment_approved_at is not None and (r.released_comment or "").strip()
    ]
    return {
        "outcome": decision.outcome,
        "amount": decision.amount if decision.outcome == "approve" else None,
        "reasons": decision.reasons if decision.outcome == "decline" else "",
        "released_at": decision.released_at,
        "comments": [(number, text) for number, text in enumerate(texts, start=1)],
    }


# --- deciding -------------------------------------------------------------------------------


def _lock_call(call_id: int) -> None:
    """Serialise approvals of one call (PostgreSQL row lock; SQLite writes are serial anyway)."""
    db.session.execute(sa.select(Call.id).where(Call.id == call_id).with_for_update())


def amount_problem(application: Application, amount) -> str | None:
    """Why ``amount`` (yuan) cannot be approved for the application now, or None."""
    try:
        amount = to_money(amount)
    except (MoneyError, TypeError):
        return _("Enter the amount to approve.")
    if amount <= 0:
        return _("The approved amount must be more than zero.")
    requested = to_money(application.fiscal_total or 0)
    if amount > requested:
        return _(
            "The approved amount (%(amount)s) cannot exceed the fiscal funds requested (%(requested)s).",
            amount=format_yuan(amount),
            requested=format_yuan(requested),
        )
    position = budget_position(application.call)
    if position.approved + amount > position.budget:
        return _(
            "Approving %(amount)s would exceed the call's budget: %(approved)s of %(budget)s are "
            "approved already, %(remaining)s remain.",
            amount=format_yuan(amount),
            approved=format_yuan(position.approved),
            budget=format_yuan(position.budget),
            remaining=format_yuan(position.remaining),
        )
    return None


def guard_approve(application: Application, actor, data: dict) -> str | None:
    """The amount is positive, within the request, and the call's approvals stay within its budget."""
    _lock_call(application.call_id)
    return amount_problem(application, data.get("amount"))


def _write_decision(application: Application, actor, **values) -> Decision:
    decision = decision_for(application)
    if decision is None:
        decision = Decision(application_id=application.id)
        db.session.add(decision)
    decision.requested = to_money(application.fiscal_total or 0)
    decision.decided_by_id = getattr(actor, "id", None)
    decision.decided_at = utcnow()
    for key, value in values.items():
        setattr(decision, key, value)
    db.session.flush()
    return decision


def on_approve(application: Application, actor, data: dict) -> None:
    """Write the approval; the database CHECK keeps the amount within the request."""
    amount = to_money(data["amount"])
    decision = _write_decision(application, actor, outcome="approve", amount=amount, reasons="")
    audit.record(
        "decision.approve",
        decision,
        actor=actor,
        after={
            "application_id": application.id,
            "amount": str(amount),
            "requested": str(decision.requested),
            "call_approved_total": str(approved_total(application.call)),
        },
    )


def on_decline(application: Application, actor, data: dict) -> None:
    """Write the decline with its reasons (the guard of the table requires them)."""
    reasons = data["reasons"].strip()
    decision = _write_decision(application, actor, outcome="decline", amount=None, reasons=reasons)
    audit.record(
        "decision.decline",
        decision,
        actor=actor,
        after={
            "application_id": application.id,
            "reasons": reasons,
            "requested": str(decision.requested),
        },
    )


def approve(application: Application, amount: Decimal, actor) -> Decision:
    """Approve ``amount`` yuan for a reviewed application (see :func:`guard_approve`)."""
    transition(application, "approve", actor, amount=to_money(amount))
    return decision_for(application)


def decline(application: Application, reasons: str, actor) -> Decision:
    """Decline a reviewed application with reasons the applicant will read after release."""
    transition(application, "decline", actor, reasons=(reasons or "").strip())
    return decision_for(application)


def upheld_objections(application: Application) -> list[Objection]:
    return db.session.scalars(
        sa.select(Objection)
        .where(Objection.application_id == application.id, Objection.state == "upheld")
        .order_by(Objection.id)
    ).all()


def guard_overturn(application: Application, actor, data: dict) -> str | None:
    """Only an upheld objection can overturn an approval."""
    if not upheld_objections(application):
        return _(
            "An approval can only be overturned after an objection against it has been upheld."
        )
    return None


def on_overturn(application: Application, actor, data: dict) -> None:
    """The decision becomes a decline: the amount is cleared and the reasons say why.

    Without reasons typed by the bureau, the resolutions of the upheld objections are used.
    An applicant who was already told of the approval is told of the change at once.
    """
    decision = decision_for(application)
    before = (
        {
            "outcome": decision.outcome,
            "amount": str(decision.amount) if decision.amount is not None else None,
            "reasons": decision.reasons,
        }
        if decision
        else None
    )
    reasons = (data.get("reasons") or "").strip()
    if not reasons:
        reasons = "\n".join(o.resolution for o in upheld_objections(application))
    decision = _write_decision(application, actor, outcome="decline", amount=None, reasons=reasons)
    audit.record(
        "decision.overturn",
        decision,
        actor=actor,
        before=before,
        after={
            "application_id": application.id,
            "outcome": "decline",
            "amount": None,
            "reasons": reasons,
        },
    )
    if decision.released_at is not None:
        notify_applicants(
            application,
            "decision.overturned",
            _l("Application %(ref)s: the approval has been withdrawn"),
            _l(
                "After an objection during the public notice, the bureau has withdrawn the approval. "
                "Open the application to read the reasons."
            ),
        )


def overturn(application: Application, reasons: str, actor) -> Decision:
    """Turn an approval into a decline after an upheld objection."""
    transition(application, "overturn", actor, reasons=(reasons or "").strip())
    return decision_for(application)


# --- the public notice (公示) ---------------------------------------------------------------


def working_days(starts_on: date, ends_on: date) -> int:
    """Monday-to-Friday days from ``starts_on`` to ``ends_on``, both included.

    Public holidays and the weekends turned into working days (调休) are not known here;
    the warning built on this count is advice, not a rule.
    """
    if ends_on < starts_on:
        return 0
    days = (ends_on - starts_on).days + 1
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    for offset in range(rest):
        if (starts_on + timedelta(days=full_weeks * 7 + offset)).weekday() < 5:
            count += 1
    return count


def default_end(starts_on: date, minimum: int = MIN_NOTICE_WORKING_DAYS) -> date:
    """The first end date that gives the notice ``minimum`` working days."""
    end = starts_on
    while working_days(starts_on, end) < minimum:
        end += timedelta(days=1)
    return end


def period_warning(starts_on: date | None, ends_on: date | None) -> str | None:
    """A warning when the period is shorter than the usual five working days (allowed nonetheless)."""
    if starts_on is None or ends_on is None or ends_on < starts_on:
        return None
    days = working_days(starts_on, ends_on)
    if days >= MIN_NOTICE_WORKING_DAYS:
        return None
    return ngettext(
        "The notice period has only %(num)d working day; the usual rule is at least %(min)d.",
        "The notice period has only %(num)d working days; the usual rule is at least %(min)d.",
        days,
        min=MIN_NOTICE_WORKING_DAYS,
    )


def noticed_applications(notice: PublicNotice) -> list[tuple[Application, Decision]]:
    """The applications a notice lists: approved in its call (and, once published, before that moment)."""
    stmt = (
        sa.select(Application, Decision)
        .join(Decision, Decision.application_id == Application.id)
        .where(Application.call_id == notice.call_id, Decision.outcome == "approve")
    )
    if notice.published_at is not None:
        stmt = stmt.where(Decision.decided_at <= notice.published_at)
    return [
        (a, d)
        for a, d in db.session.execute(
            stmt.order_by(Application.reference_no, Application.id)
        ).all()
    ]


NOTICE_FIELDS = ("title", "body", "starts_on", "ends_on")


def _notice_snapshot(notice: PublicNotice) -> dict:
    return {
        "title": notice.title,
        "body": notice.body,
        "starts_on": notice.starts_on.isoformat(),
        "ends_on": notice.ends_on.isoformat(),
    }


def _check_period(data: dict) -> None:
    if data["ends_on"] < data["starts_on"]:
        raise DecisionError(_("The notice cannot end before it starts."), field="ends_on")


def create_notice(call: Call, data: dict, actor) -> PublicNotice:
    """A draft notice for the call's approved applications (title, body text, period)."""
    _check_period(data)
    notice = PublicNotice(call_id=call.id, state="draft", **{k: data[k] for k in NOTICE_FIELDS})
    db.session.add(notice)
    db.session.flush()
    audit.record(
        "notice.created",
        notice,
        actor=actor,
        after={"call_id": call.id, **_notice_snapshot(notice)},
    )
    return notice


def update_notice(notice: PublicNotice, data: dict, actor) -> None:
    """Change a draft notice; a published notice is a public record and stays as it is."""
    if notice.state != "draft":
        raise DecisionError(_("A published notice can no longer be changed."))
    _check_period(data)
    before = _notice_snapshot(notice)
    for key in NOTICE_FIELDS:
        setattr(notice, key, data[key])
    db.session.flush()
    after = _notice_snapshot(notice)
    if after != before:
        audit.record("notice.updated", notice, actor=actor, before=before, after=after)


def guard_publish_notice(notice: PublicNotice, actor, data: dict) -> str | None:
    """At least one approved application, and a period that has not ended."""
    if notice.ends_on < notice.starts_on:
        return _("The notice cannot end before it starts.")
    if notice.ends_on < local_today():
        return _(
            "The notice period ended on %(date)s: choose dates that are still to come.",
            date=notice.ends_on.isoformat(),
        )
    if not noticed_applications(notice):
        return _("The call has no approved application to put on the notice.")
    return None


def on_publish_notice(notice: PublicNotice, actor, data: dict) -> None:
    notice.published_at = utcnow()
    listed = noticed_applications(notice)
    audit.record(
        "notice.listed",
        notice,
        actor=actor,
        after={"applications": [{"id": a.id, "amount": str(d.amount)} for a, d in listed]},
    )


def open_objections(notice: PublicNotice) -> list[Objection]:
    return [o for o in notice.objections if o.state == "open"]


def guard_close_notice(notice: PublicNotice, actor, data: dict) -> str | None:
    """Closes once the end date (Beijing) has passed and no objection is open.

    The bureau may close earlier with ``force`` and a reason (both audited); the system
    never forces.
    """
    if open_objections(notice):
        return _("Resolve the open objections before closing the notice.")
    if local_today() > notice.ends_on:
        return None
    if actor is None or not data.get("force"):
        return _(
            "The notice runs until %(date)s. To close it earlier, tick “close before the end date” "
            "and give the reason.",
            date=notice.ends_on.isoformat(),
        )
    if not (data.get("reason") or "").strip():
        return _(
            "Give the reason for closing the notice before its end date: it is kept in the audit log."
        )
    return None


def publish_notice(notice: PublicNotice, actor) -> None:
    transition(notice, "publish", actor)


def close_notice(notice: PublicNotice, actor, force: bool = False, reason: str = "") -> None:
    data = {"force": True, "reason": reason.strip()} if force else {}
    transition(notice, "close", actor, **data)


def days_left(notice: PublicNotice, today: date | None = None) -> int:
    """Days from today to the end date (0 on the last day, negative once it has passed)."""
    return (notice.ends_on - (today or local_today())).days


# --- objections -----------------------------------------------------------------------------


def record_objection(
    notice: PublicNotice, application_id: int | None, data: dict, actor
) -> Objection:
    """Record an objection received during the notice period (Beijing dates, both ends included)."""
    if notice.state != "published":
        raise DecisionError(_("Objections are recorded while the notice is published."))
    listed = {a.id: a for a, _d in noticed_applications(notice)}
    application = listed.get(application_id or 0)
    if application is None:
        raise DecisionError(
            _("Choose one of the applications on this notice."), field="application_id"
        )
    received_on = data["received_on"]
    if received_on > local_today():
        raise DecisionError(_("The date of receipt cannot be in the future."), field="received_on")
    if not notice.starts_on <= received_on <= notice.ends_on:
        raise DecisionError(
            _(
                "The objection was received outside the notice period (%(start)s to %(end)s).",
                start=notice.starts_on.isoformat(),
                end=notice.ends_on.isoformat(),
            ),
            field="received_on",
        )
    objection = Objection(
        notice=notice,
        application_id=application.id,
        raised_by=data["raised_by"].strip(),
        contact=(data.get("contact") or "").strip(),
        text=data["text"].strip(),
        received_on=received_on,
        state="open",
    )
    db.session.add(objection)
    db.session.flush()
    audit.record(
        "objection.recorded",
        objection,
        actor=actor,
        after={
            "notice_id": notice.id,
            "application_id": application.id,
            "raised_by": objection.raised_by,
            "received_on": received_on.isoformat(),
        },
    )
    return objection


def on_resolve_objection(objection: Objection, actor, data: dict) -> None:
    objection.resolution = data["resolution"].strip()
    objection.resolved_by_id = getattr(actor, "id", None)
    objection.resolved_at = utcnow()


def resolve_objection(
    objection: Objection, event: str, resolution: str, actor, overturn_approval: bool = False
):
    """Uphold or dismiss an objection; an upheld one may overturn the approval at once."""
    transition(objection, event, actor, resolution=(resolution or "").strip())
    application = objection.application
    if event == "uphold" and overturn_approval and application.state == "approved":
        overturn(application, objection.resolution, actor)


# --- what stands between an approval and its contract ---------------------------------------


def contract_blockers(application: Application) -> list[str]:
    """Why the task book cannot be signed yet (empty when nothing stands in the way).

    The approval must stand and be released, must have been on a public notice that is
    closed, and no objection against the application may be open.
    """
    blockers: list[str] = []
    decision = decision_for(application)
    if decision is None or decision.outcome != "approve":
        blockers.append(_("The application is not approved."))
    else:
        if decision.released_at is None:
            blockers.append(_("The decision has not been released to the applicant yet."))
        notices = db.session.scalars(
            sa.select(PublicNotice)
            .where(
                PublicNotice.call_id == application.call_id,
                PublicNotice.state.in_(("published", "closed")),
                PublicNotice.published_at >= decision.decided_at,
            )
            .order_by(PublicNotice.ends_on)
        ).all()
        if not notices:
            blockers.append(_("The approval has not been on a public notice yet."))
        elif not any(n.state == "closed" for n in notices):
            blockers.append(
                _(
                    "The public notice (until %(date)s) has not been closed yet.",
                    date=notices[-1].ends_on.isoformat(),
                )
            )
    count = (
        db.session.scalar(
            sa.select(sa.func.count(Objection.id)).where(
                Objection.application_id == application.id, Objection.state == "open"
            )
        )
        or 0
    )
    if count:
        blockers.append(
            ngettext(
                "%(num)d objection against the application is still open.",
                "%(num)d objections against the application are still open.",
                count,
            )
        )
    return blockers


# --- anonymised comments and the release ----------------------------------------------------

REDACTED = "***"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
LANDLINE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?\(?0\d{2,3}\)?[\s-]?\d{7,8}(?:[-转]\d{1,5})?(?!\d)")
LABELLED_NUMBER = re.compile(
    r"((?:电话|手机|联系方式|联系电话|微信|QQ|tel|phone|mobile)\s*(?:[:：]|号码|号)?\s*)"
    r"[+\d][\d\s()-]{4,}\d",
    re.IGNORECASE,
)
ORG_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "研究院", "研究所")


def _name_pattern(name: str) -> re.Pattern | None:
    """A pattern for a name, tolerating spaces between Chinese characters."""
    name = name.strip()
    if len(name) < 2:
        return None
    if re.search(r"[\u4e00-\u9fff]", name):
        return re.compile(r"\s*".join(re.escape(ch) for ch in name if not ch.isspace()))
    return re.compile(
        r"\b" + r"\s+".join(re.escape(p) for p in name.split()) + r"\b", re.IGNORECASE
    )


def _identity_strings(expert: Expert) -> list[str]:
    names = {expert.name or ""}
    if expert.user is not None:
        names.add(expert.user.name or "")
    employers = {expert.employer_name or ""}
    if expert.employer is not None:
        employers.add(expert.employer.name or "")
    for employer in list(employers):
        for suffix in ORG_SUFFIXES:
            if employer.endswith(suffix) and len(employer) - len(suffix) >= 4:
                employers.add(employer[: -len(suffix)])
    contacts = {expert.email or "", expert.phone or ""}
    if expert.user is not None:
        contacts.add(expert.user.email or "")
    # Longest first, so that an employer's full name goes before its shortened form.
    return sorted(
        (s for s in names | employers | contacts if s and len(s.strip()) >= 2),
        key=len,
        reverse=True,
    )


def anonymise(comment: str, expert: Expert | None) -> str:
    """The comment without the expert's name, employer, e-mail addresses or phone numbers.

    A proposal for the bureau, who reads and edits it before approving its release.
    """
    text = comment or ""
    text = EMAIL.sub(REDACTED, text)
    text = LABELLED_NUMBER.sub(lambda m: m.group(1) + REDACTED, text)
    text = MOBILE.sub(REDACTED, text)
    text = LANDLINE.sub(REDACTED, text)
    if expert is not None:
        for value in _identity_strings(expert):
            pattern = _name_pattern(value)
            if pattern is not None:
                text = pattern.sub(REDACTED, text)
    return text


def approve_released_comment(review: Review, text: str, actor) -> None:
    """Approve the version of a review's comment that the applicant will read (audited)."""
    if review.state != "submitted":
        raise DecisionError(_("Only the comments of submitted reviews are released."))
    decision = decision_for(review.assignment.application)
    if decision is not None and decision.released_at is not None:
        raise DecisionError(_("The decision has been released: its comments can no longer change."))
    before = {
        "released_comment": review.released_comment,
        "approved_at": review.released_comment_approved_at.isoformat()
        if review.released_comment_approved_at
        else None,
    }
    review.released_comment = (text or "").strip()
    review.released_comment_approved_at = utcnow()
    db.session.flush()
    audit.record(
        "review.comment_approved",
        review,
        actor=actor,
        before=before,
        after={
            "released_comment": review.released_comment,
            "application_id": review.assignment.application_id,
        },
    )


def release_blockers(call: Call) -> list[str]:
    """Why the call's decisions cannot be released yet (empty when they can)."""
    blockers: list[str] = []
    waiting = call_applications(call, IN_PROCESS_STATES)
    if waiting:
        blockers.append(
            ngettext(
                "%(num)d application still awaits a decision: %(refs)s.",
                "%(num)d applications still await a decision: %(refs)s.",
                len(waiting),
                refs=", ".join(a.reference_no or str(a.id) for a in waiting),
            )
        )
    pending = unreleased_decisions(call)
    if not pending:
        blockers.append(_("There is no decision left to release in this call."))
    for application, _decision in pending:
        missing = [r for r in submitted_reviews(application) if not comment_approved(r)]
        if missing:
            blockers.append(
                ngettext(
                    "%(ref)s: %(num)d expert comment is not approved for release yet.",
                    "%(ref)s: %(num)d expert comments are not approved for release yet.",
                    len(missing),
                    ref=application.reference_no or application.id,
                )
            )
    return blockers


def unreleased_decisions(call: Call) -> list[tuple[Application, Decision]]:
    rows = db.session.execute(
        sa.select(Application, Decision)
        .join(Decision, Decision.application_id == Application.id)
        .where(Application.call_id == call.id, Decision.released_at.is_(None))
        .order_by(Application.reference_no, Application.id)
    ).all()
    return [(a, d) for a, d in rows]


RELEASE_MESSAGES = {
    "approve": (
        "decision.approved",
        _l("Application %(ref)s has been approved"),
        _l(
            "The bureau has approved your application %(ref)s. Open it to read the amount and the "
            "experts' comments."
        ),
    ),
    "decline": (
        "decision.declined",
        _l("Application %(ref)s has not been approved"),
        _l(
            "The bureau has decided not to fund your application %(ref)s. Open it to read the reasons "
            "and the experts' comments."
        ),
    ),
}


def release_decisions(call: Call, actor) -> int:
    """Release every unreleased decision of the call at once and tell each applicant organisation.

    Refused (with the list of reasons) while an application awaits a decision or an
    expert comment is not approved for release.
    """
    blockers = release_blockers(call)
    if blockers:
        raise DecisionError(" ".join(blockers))
    now = utcnow()
    pending = unreleased_decisions(call)
    for application, decision in pending:
        decision.released_at = now
        audit.record(
            "decision.released",
            decision,
            actor=actor,
            after={
                "application_id": application.id,
                "outcome": decision.outcome,
                "amount": str(decision.amount) if decision.amount is not None else None,
            },
        )
        kind, subject, body = RELEASE_MESSAGES[decision.outcome]
        notify_applicants(application, kind, subject, body)
    audit.record("call.decisions_released", call, actor=actor, after={"count": len(pending)})
    db.session.flush()
    return len(pending)
