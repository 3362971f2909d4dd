"""Money of a project: budget by category, tranche plan, disbursements (maker-checker),
spending reports and recoveries. Amounts are yuan in ``Numeric`` columns, Decimal in Python.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.states import StateSet, label_of, state_set
from grants.core.types import Money, UTCDateTime, utcnow
from grants.extensions import db


class ProjectCodeCounter(db.Model):
    """The last project sequence number handed out in a year (codes are atomic per year)."""

    __tablename__ = "project_code_counters"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(sa.Integer, default=0)


class ProjectBudgetLine(db.Model):
    """The approved budget of one category: fiscal money (sums to the award) and self-raised."""

    __tablename__ = "project_budget_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(sa.String(20))
    fiscal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    self_raised: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))

    project = relationship("Project", back_populates="budget_lines")

    __table_args__ = (
        sa.UniqueConstraint("project_id", "category", name="uq_project_budget_lines_category"),
        sa.CheckConstraint(
            "category in ('equipment','business','labour','indirect')", name="known_category"
        ),
        sa.CheckConstraint("fiscal >= 0 and self_raised >= 0", name="amounts_not_negative"),
    )


TRIGGERS = {
    "contract": _l("On signing the task book"),
    "milestone": _l("On approval of a milestone"),
    "acceptance": _l("On passing acceptance"),
}


@state_set("tranche")
class TrancheStatus(StateSet):
    """Where a tranche stands, derived from its trigger and its latest disbursement (not stored)."""

    PENDING = "pending", lazy_pgettext("tranche state", "Waiting for its trigger"), "secondary"
    DUE = "due", lazy_pgettext("tranche state", "Due for release"), "warning"
    REQUESTED = "requested", lazy_pgettext("tranche state", "Release requested"), "info"
    APPROVED = "approved", lazy_pgettext("tranche state", "Approved by finance"), "primary"
    PAID = "paid", lazy_pgettext("tranche state", "Paid"), "success"
    CANCELLED = "cancelled", lazy_pgettext("tranche state", "Cancelled"), "light"


class Tranche(db.Model):
    """One instalment of the award with the event that makes it due (``due_since``)."""

    __tablename__ = "tranches"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Money)
    trigger: Mapped[str] = mapped_column(sa.String(16))
    milestone_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("milestones.id", ondelete="RESTRICT"), index=True
    )
    due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project = relationship("Project", back_populates="tranches")
    milestone = relationship("Milestone")

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "trigger in ('contract','milestone','acceptance')", name="known_trigger"
        ),
        sa.CheckConstraint(
            "(trigger = 'milestone') = (milestone_id is not null)", name="milestone_trigger"
        ),
    )

    @property
    def trigger_label(self) -> str:
        return str(TRIGGERS.get(self.trigger, self.trigger))


@state_set("disbursement")
class DisbursementState(StateSet):
    """The states of a disbursement (资金拨付)."""

    REQUESTED = "requested", lazy_pgettext("disbursement state", "Requested"), "info"
    APPROVED = "approved", lazy_pgettext("disbursement state", "Approved by finance"), "primary"
    PAID = "paid", lazy_pgettext("disbursement state", "Paid"), "success"
    REJECTED = "rejected", lazy_pgettext("disbursement state", "Release rejected"), "danger"
    CANCELLED = "cancelled", lazy_pgettext("disbursement state", "Release cancelled"), "secondary"


# A rejected or cancelled release frees its tranche for a new request (or ends with it).
ENDED_DISBURSEMENT_STATES = (DisbursementState.REJECTED, DisbursementState.CANCELLED)
# The others hold their tranche: requested, approved by finance, paid.
LIVE_DISBURSEMENT_STATES = tuple(s for s in DisbursementState if s not in ENDED_DISBURSEMENT_STATES)


class Disbursement(db.Model):
    """A release of one tranche: requested by the bureau, checked and approved by finance
    (a different person), then paid. The idempotency key makes a replayed request harmless.
    """

    __tablename__ = "disbursements"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    tranche_id: Mapped[int] = mapped_column(
        sa.ForeignKey("tranches.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[str] = mapped_column(sa.String(16), default="requested", index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_note: Mapped[str] = mapped_column(sa.Text, default="")
    payee_name: Mapped[str] = mapped_column(sa.String(200), default="")
    payee_bank: Mapped[str] = mapped_column(sa.String(200), default="")
    payee_account: Mapped[str] = mapped_column(sa.String(40), default="")
    approved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voucher_no: Mapped[str] = mapped_column(sa.String(60), default="")
    voucher_date: Mapped[date | None] = mapped_column(sa.Date)
    paid_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT")
    )
    rejection_reason: Mapped[str] = mapped_column(sa.Text, default="")
    cancellation_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    project = relationship("Project")
    tranche = relationship("Tranche")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])
    paid_by = relationship("User", foreign_keys=[paid_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "state in ('requested','approved','paid','rejected','cancelled')", name="known_state"
        ),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "approved_by_id is null or approved_by_id != requested_by_id",
            name="approver_is_not_requester",
        ),
        sa.CheckConstraint(
            "state not in ('approved','paid') or (approved_by_id is not null "
            "and approved_at is not null and length(payee_account) > 0 "
            "and length(voucher_no) > 0 and voucher_date is not null)",
            name="approved_is_checked",
        ),
        sa.CheckConstraint("state != 'paid' or paid_at is not null", name="paid_has_date"),
        sa.CheckConstraint(
            "state != 'rejected' or length(rejection_reason) > 0", name="rejection_has_reason"
        ),
        sa.CheckConstraint(
            "state != 'cancelled' or length(cancellation_reason) > 0",
            name="cancellation_has_reason",
        ),
        # One live disbursement per tranche: a rejected one may be followed by a new request.
        sa.Index(
            "uq_disbursements_live_tranche",
            "tranche_id",
            unique=True,
            sqlite_where=sa.text("state not in ('rejected','cancelled')"),
            postgresql_where=sa.text("state not in ('rejected','cancelled')"),
        ),
    )

    @property
    def state_label(self) -> str:
        return label_of(DisbursementState, self.state)


@state_set("expenditure")
class ExpenditureState(StateSet):
    """The states of a spending report line."""

    SUBMITTED = "submitted", lazy_pgettext("expenditure state", "Waiting for verification"), "info"
    VERIFIED = "verified", lazy_pgettext("expenditure state", "Verified"), "success"
    RETURNED = "returned", lazy_pgettext("expenditure state", "Returned for correction"), "danger"


class Expenditure(db.Model):
    """A spending report line (支出): money spent in a budget category over a period."""

    __tablename__ = "expenditures"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(sa.String(20))
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[str] = mapped_column(sa.String(16), default="submitted", index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finance_note: Mapped[str] = mapped_column(sa.Text, default="")

    project = relationship("Project")

    __table_args__ = (
        sa.CheckConstraint(
            "category in ('equipment','business','labour','indirect')", name="known_category"
        ),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("period_end >= period_start", name="period_ordered"),
        sa.CheckConstraint("state in ('submitted','verified','returned')", name="known_state"),
        sa.CheckConstraint(
            "state = 'submitted' or verified_at is not null", name="checked_has_date"
        ),
        sa.CheckConstraint(
            "state != 'returned' or length(finance_note) > 0", name="return_has_note"
        ),
    )


class FundRecovery(db.Model):
    """Unspent money paid back to the bureau (a terminated or failed project)."""

    __tablename__ = "fund_recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    voucher_no: Mapped[str] = mapped_column(sa.String(60))
    received_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project = relationship("Project")

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("length(voucher_no) > 0", name="voucher_given"),
    )


@state_set("task_book_signature")
class TaskBookSignatureState(StateSet):
    """The states of an uploaded signed task book."""

    SIGNED_UPLOADED = (
        "signed_uploaded",
        lazy_pgettext("task book signature state", "Awaiting the bureau's confirmation"),
        "info",
    )
    CONFIRMED = (
        "confirmed",
        lazy_pgettext("task book signature state", "Confirmed by the bureau"),
        "success",
    )
    RETURNED = (
        "returned",
        lazy_pgettext("task book signature state", "Returned by the bureau"),
        "warning",
    )


class TaskBookSignature(db.Model):
    """One signed copy of the task book handed in for the bureau's check (签署确认).

    The applicant uploads the signed and sealed task book: the copy waits in
    ``signed_uploaded`` until the bureau compares it with the issued task book and either
    confirms it (the project starts and its first tranche becomes due) or returns it with
    a reason, after which the applicant uploads a new copy. At most one copy of a project
    waits at a time.
    """

    __tablename__ = "task_book_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[int] = mapped_column(
        sa.ForeignKey("project_files.id", ondelete="RESTRICT"), index=True
    )
    task_book_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default="signed_uploaded", index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    project = relationship("Project")
    file = relationship("ProjectFile")
    uploaded_by = relationship("User", foreign_keys=[uploaded_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "state in ('signed_uploaded','confirmed','returned')", name="known_state"
        ),
        sa.CheckConstraint(
            "state = 'signed_uploaded' or decided_at is not null", name="decided_has_date"
        ),
        sa.CheckConstraint(
            "state != 'returned' or length(return_reason) > 0", name="return_has_reason"
        ),
        # One copy at a time waits for the bureau.
        sa.Index(
            "uq_task_book_signatures_pending",
            "project_id",
            unique=True,
            sqlite_where=sa.text("state = 'signed_uploaded'"),
            postgresql_where=sa.text("state = 'signed_uploaded'"),
        ),
    )

    @property
    def state_label(self) -> str:
        return label_of(TaskBookSignatureState, self.state)
