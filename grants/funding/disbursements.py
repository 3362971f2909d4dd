"""Disbursements with maker-checker: the bureau requests the release of a due tranche,
a finance officer who did not request it checks the payee and voucher and approves,
then the payment is recorded.

Money is never counted twice or beyond the award. Requesting reserves the tranche's
amount on the project (``committed_total``) with one conditional UPDATE that the
database evaluates atomically; paying moves it into ``disbursed_total`` the same way,
and rejecting releases the reservation. The CHECK constraint ``disbursed_within_award``
and the partial unique index ``uq_disbursements_live_tranche`` (one live release per
tranche) back this up. Each request carries an idempotency key, so a double click or a
browser replay returns the disbursement already made instead of a second one.

The sums are rounded to the cent inside SQL: PostgreSQL computes in ``numeric`` (the
rounding changes nothing), SQLite in binary floating point, where ``round(x, 2)`` gives
back exactly the stored value of the decimal amount.
"""

from __future__ import annotations

import re
from decimal import Decimal

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from grants.accounts.models import User, UserRole
from grants.core import audit
from grants.core.money import format_yuan
from grants.core.permissions import can
from grants.core.refusals import OperationError
from grants.core.types import utcnow
from grants.core.workflow import GuardFailed, TransitionForbidden, transition
from grants.extensions import db
from grants.funding.live import LIVE_PROJECT_STATES, live_project_problem, locked_project_state
from grants.funding.models import ENDED_DISBURSEMENT_STATES, Disbursement, Tranche
from grants.funding.triggers import cancel_tranche, is_due
from grants.notifications.operations import notify
from grants.projects.models import Project

RELEASABLE_PROJECT_STATES = LIVE_PROJECT_STATES
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ACCOUNT_PATTERN = re.compile(r"^\d{8,30}$")


class DisbursementError(OperationError):
    """A refused disbursement request; ``message`` is user-facing."""


# --- atomic movements of the project's totals ----------------------------------------------------


def _cents(expression):
    return sa.func.round(expression, 2)


def _move(project: Project, column: str, new_value, condition) -> Decimal | None:
    """Set ``column`` of the project to ``new_value`` when ``condition`` holds, in one UPDATE.

    Returns the new value (and puts it into the loaded project without marking it
    changed), or None when the condition did not hold and nothing was written.
    """
    table = Project.__table__
    result = db.session.execute(
        sa.update(table)
        .where(table.c.id == project.id, condition)
        .values({column: new_value})
        .returning(table.c[column])
    )
    row = result.first()
    if row is None:
        return None
    value = Decimal(row[0]).quantize(Decimal("0.01"))
    set_committed_value(project, column, value)
    return value


def reserve(project: Project, amount: Decimal) -> Decimal | None:
    """Add ``amount`` to the committed total if it stays within the award; the new total or None."""
    t = Project.__table__.c
    return _move(
        project,
        "committed_total",
        _cents(t.committed_total + amount),
        _cents(t.committed_total + amount) <= t.award,
    )


def release_reservation(project: Project, amount: Decimal) -> Decimal | None:
    """Take ``amount`` off the committed total (never below what was paid); the new total or None."""
    t = Project.__table__.c
    return _move(
        project,
        "committed_total",
        _cents(t.committed_total - amount),
        _cents(t.committed_total - amount) >= t.disbursed_total,
    )


def record_payment(project: Project, amount: Decimal) -> Decimal | None:
    """Add ``amount`` to the disbursed total if it stays within the committed total; the new total or None."""
    t = Project.__table__.c
    return _move(
        project,
        "disbursed_total",
        _cents(t.disbursed_total + amount),
        _cents(t.disbursed_total + amount) <= t.committed_total,
    )


# --- requesting a release ------------------------------------------------------------------------


def live_disbursement(tranche: Tranche) -> Disbursement | None:
    """The tranche's disbursement that is not rejected (at most one, by the unique index)."""
    return db.session.scalar(
        sa.select(Disbursement).where(
            Disbursement.tranche_id == tranche.id,
            Disbursement.state.not_in(ENDED_DISBURSEMENT_STATES),
        )
    )


def _by_key(idempotency_key: str) -> Disbursement | None:
    return db.session.scalar(
        sa.select(Disbursement).where(Disbursement.idempotency_key == idempotency_key)
    )


def _replay(existing: Disbursement, tranche: Tranche) -> Disbursement:
    if existing.tranche_id != tranche.id:
        raise DisbursementError(
            _("This request was already used for another tranche. Reload the page and try again.")
        )
    existing.replayed = True  # not a column: tells the view that nothing new was made
    return existing


def request_disbursement(
    tranche: Tranche, actor: User, idempotency_key: str, note: str = ""
) -> Disbursement:
    """Request the release of a due tranche and reserve its amount on the project.

    The bureau (rule ``disbursement.request``) asks for a tranche whose trigger has been
    met and which is not cancelled, while the project runs. The key comes from the page
    that showed the button: a request replayed with the same key returns the same
    disbursement (a key used for another tranche is refused). The tranche's amount is
    added to the project's committed total by one conditional UPDATE, refused when it
    would exceed the award. A concurrent twin of the same request that loses the race
    on the unique key or on the one-live-release-per-tranche index is rolled back to a
    savepoint and answered with the winner's disbursement, or refused. Flushes; the
    caller commits, or rolls back after a refusal (the new row may already be flushed).
    """
    project = tranche.project
    if not can(actor, "disbursement.request", project):
        audit.record(
            "permission.denied", tranche, actor=actor, after={"action": "disbursement.request"}
        )
        raise TransitionForbidden(_("You are not allowed to do this."))
    key = (idempotency_key or "").strip()
    if not KEY_PATTERN.match(key):
        raise DisbursementError(
            _("The request carries no valid key. Reload the page and try again.")
        )
    existing = _by_key(key)
    if existing is not None:
        return _replay(existing, tranche)
    problem = live_project_problem(project)
    if problem:
        raise DisbursementError(problem)
    db.session.refresh(
        tranche
    )  # read after the lock: a termination committed meanwhile cancelled it
    if tranche.cancelled_at is not None:
        raise DisbursementError(_("This tranche has been cancelled and cannot be released."))
    if not is_due(tranche):
        raise DisbursementError(
            _(
                "This tranche is not due yet: its condition (%(trigger)s) has not been met.",
                trigger=tranche.trigger_label,
            )
        )
    live = live_disbursement(tranche)
    if live is not None:
        if live.idempotency_key == key:  # a twin of this request committed since the lookup above
            return _replay(live, tranche)
        raise DisbursementError(_("The release of this tranche has already been requested."))
    amount = tranche.amount
    disbursement = Disbursement(
        project_id=project.id,
        tranche_id=tranche.id,
        amount=amount,
        state="requested",
        idempotency_key=key,
        requested_by_id=actor.id,
        requested_at=utcnow(),
        request_note=(note or "").strip(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(disbursement)
            db.session.flush()
    except IntegrityError:
        existing = _by_key(key)
        if existing is not None:
            return _replay(existing, tranche)
        raise DisbursementError(
            _("The release of this tranche has already been requested.")
        ) from None
    committed = reserve(project, amount)
    if committed is None:
        raise DisbursementError(
            _("Releasing %(amount)s would exceed the award of the project.", amount=_yuan(amount))
        )
    audit.record(
        "disbursement.request",
        disbursement,
        actor=actor,
        after={
            "state": "requested",
            "project": project.code,
            "tranche": tranche.position,
            "amount": str(amount),
            "committed_total": str(committed),
            "award": str(project.award),
        },
    )
    notify(
        finance_users(),
        "disbursement.requested",
        _l("Disbursement to check: %(code)s"),
        _l(
            "The bureau asks to release %(amount)s of project %(code)s. Check the payee and the voucher, then "
            "approve or reject the release."
        ),
        link=url_for("funding.queue"),
        params={"code": project.code, "amount": _yuan(amount)},
    )
    db.session.flush()
    return disbursement


def _yuan(amount: Decimal) -> str:
    return format_yuan(amount)


# --- the workflow's guards, effects and notifications (grants/funding/workflow.py) ---------------


def approval_problem(data: dict) -> str | None:
    """What is missing or wrong in the payee and voucher details of an approval, or None."""
    if not (data.get("payee_name") or "").strip():
        return _("Give the name of the payee.")
    if not (data.get("payee_bank") or "").strip():
        return _("Give the payee's bank.")
    account = re.sub(r"\s+", "", data.get("payee_account") or "")
    if not ACCOUNT_PATTERN.match(account):
        return _("The account number must consist of 8 to 30 digits.")
    if not (data.get("voucher_no") or "").strip():
        return _("Give the voucher number.")
    if data.get("voucher_date") is None:
        return _("Give the voucher date.")
    return None


def requester_message() -> str:
    return _(
        "You requested this release yourself: another finance officer must check and approve it."
    )


def guard_approve(disbursement: Disbursement, actor, data: dict) -> str | None:
    """A finance officer other than the requester approves, with payee and voucher details."""
    if actor is not None and disbursement.requested_by_id == actor.id:
        return requester_message()
    return (
        live_project_problem(disbursement.project)
        or _tranche_problem(disbursement)
        or approval_problem(data)
    )


def _tranche_problem(disbursement: Disbursement) -> str | None:
    """Read after the project's lock: the tranche cancelled by a termination or a new plan."""
    db.session.refresh(disbursement.tranche)
    if disbursement.tranche.cancelled_at is not None:
        return _("This tranche has been cancelled: the disbursement cannot be paid.")
    return None


def on_approve(disbursement: Disbursement, actor, data: dict) -> None:
    """Record who approved and when, the payee's account and the voucher."""
    disbursement.approved_by_id = actor.id
    disbursement.approved_at = utcnow()
    disbursement.payee_name = data["payee_name"].strip()
    disbursement.payee_bank = data["payee_bank"].strip()
    disbursement.payee_account = re.sub(r"\s+", "", data["payee_account"])
    disbursement.voucher_no = data["voucher_no"].strip()
    disbursement.voucher_date = data["voucher_date"]
    data["amount"] = str(disbursement.amount)
    data["project"] = disbursement.project.code


def guard_pay(disbursement: Disbursement, actor, data: dict) -> str | None:
    """Only an approved, fully checked disbursement of a tranche still in force is paid."""
    if disbursement.approved_at is None or not disbursement.voucher_no:
        return _("The disbursement has not been checked and approved.")
    return live_project_problem(disbursement.project) or _tranche_problem(disbursement)


def on_pay(disbursement: Disbursement, actor, data: dict) -> None:
    """Record the payment and move its amount into the project's disbursed total (atomically)."""
    disbursement.paid_by_id = actor.id
    disbursement.paid_at = utcnow()
    db.session.flush()  # the version check stops a concurrent second payment before any money moves
    disbursed = record_payment(disbursement.project, disbursement.amount)
    if disbursed is None:
        raise GuardFailed(
            _(
                "Paying %(amount)s would exceed the money committed to the project.",
                amount=_yuan(disbursement.amount),
            )
        )
    data["amount"] = str(disbursement.amount)
    data["project"] = disbursement.project.code
    data["disbursed_total"] = str(disbursed)


def on_reject(disbursement: Disbursement, actor, data: dict) -> None:
    """Record the reason and release the reserved amount from the project's committed total."""
    disbursement.rejected_by_id = actor.id
    disbursement.rejection_reason = data["reason"].strip()
    db.session.flush()  # as in on_pay: a concurrent second decision fails here, before any money moves
    committed = release_reservation(disbursement.project, disbursement.amount)
    if committed is None:
        raise GuardFailed(_("The reservation of this disbursement cannot be released."))
    data["amount"] = str(disbursement.amount)
    data["project"] = disbursement.project.code
    data["committed_total"] = str(committed)


def guard_reject(disbursement: Disbursement, actor, data: dict) -> str | None:
    """The reason is given. The project is locked first, as by every step on its money, so that
    two decisions on its releases queue in one order and never deadlock."""
    locked_project_state(disbursement.project)
    if not (data.get("reason") or "").strip():
        return _("Give the reason for rejecting the disbursement.")
    return None


def guard_cancel(disbursement: Disbursement, actor, data: dict) -> str | None:
    """A pending release is cancelled only once its project no longer runs, with the reason."""
    if locked_project_state(disbursement.project) in LIVE_PROJECT_STATES:
        return _(
            "The release can only be cancelled once its project has stopped; reject it instead."
        )
    if not (data.get("reason") or "").strip():
        return _("Give the reason for cancelling the release.")
    return None


def on_cancel(disbursement: Disbursement, actor, data: dict) -> None:
    """Record the reason and give the reserved amount back to the award (the tranche goes too)."""
    disbursement.cancellation_reason = data["reason"].strip()
    db.session.flush()  # as in on_pay: a concurrent decision on the same release fails here first
    committed = release_reservation(disbursement.project, disbursement.amount)
    if committed is None:
        raise GuardFailed(_("The reservation of this disbursement cannot be released."))
    data["amount"] = str(disbursement.amount)
    data["project"] = disbursement.project.code
    data["committed_total"] = str(committed)


def cancel_pending_releases(project: Project, actor, reason: str) -> list[Disbursement]:
    """Cancel the project's requested and approved releases, and their tranches (a stopped project).

    Runs in the transaction that stops the project, after its row lock: a payment that
    committed first stays paid, one that comes later finds the project stopped. Each
    cancellation is a workflow event (audited, the reservation released).
    """
    locked_project_state(project)
    pending = db.session.scalars(
        sa.select(Disbursement)
        .where(
            Disbursement.project_id == project.id, Disbursement.state.in_(("requested", "approved"))
        )
        .order_by(Disbursement.id)
        .execution_options(populate_existing=True)
    ).all()
    now = utcnow()
    for disbursement in pending:
        transition(disbursement, "cancel", actor, reason=reason)
        tranche = disbursement.tranche
        if tranche.cancelled_at is None:
            cancel_tranche(
                tranche, actor, "project.terminate", at=now, disbursement_id=disbursement.id
            )
    db.session.flush()
    return list(pending)


def finance_users() -> list[User]:
    """Active finance officers."""
    return _users_with_role("finance")


def _users_with_role(role: str) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.active.is_(True), User.roles.any(UserRole.role == role))
            .order_by(User.id)
        )
    )


def _interested(disbursement: Disbursement) -> list[User]:
    """The bureau's officers and the applicant accounts of the project's organisation."""
    organisation_users = db.session.scalars(
        sa.select(User)
        .where(
            User.active.is_(True),
            User.organisation_id == disbursement.project.organisation_id,
            User.roles.any(UserRole.role == "applicant"),
        )
        .order_by(User.id)
    )
    return _users_with_role("bureau") + list(organisation_users)


def notify_paid(disbursement: Disbursement, actor, data: dict) -> None:
    project = disbursement.project
    notify(
        _interested(disbursement),
        "disbursement.paid",
        _l("Funds paid: %(code)s"),
        _l(
            "%(amount)s of project %(code)s “%(title)s” (tranche %(position)s) have been paid to %(payee)s."
        ),
        link=url_for("funding.money", project_id=project.id),
        params={
            "code": project.code,
            "title": project.title,
            "amount": _yuan(disbursement.amount),
            "position": disbursement.tranche.position,
            "payee": disbursement.payee_name,
        },
    )


def notify_rejected(disbursement: Disbursement, actor, data: dict) -> None:
    project = disbursement.project
    notify(
        _interested(disbursement),
        "disbursement.rejected",
        _l("Disbursement rejected: %(code)s"),
        _l(
            "Finance rejected the release of %(amount)s of project %(code)s (tranche %(position)s). "
            "Reason: %(reason)s"
        ),
        link=url_for("funding.money", project_id=project.id),
        params={
            "code": project.code,
            "amount": _yuan(disbursement.amount),
            "position": disbursement.tranche.position,
            "reason": disbursement.rejection_reason,
        },
    )


def on_project_stopped(project: Project, actor=None, data: dict | None = None) -> None:
    """A terminated project, or one that failed acceptance: its pending releases and their tranches
    are cancelled (receiver of the domain events project.terminated and project.acceptance_failed)."""
    if project.state == "terminated":
        reason = _(
            "The project has been terminated: %(reason)s", reason=project.termination_reason or "—"
        )
    else:
        reason = _("The project failed acceptance.")
    cancel_pending_releases(project, actor, reason)
