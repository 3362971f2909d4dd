"""Spending reports (支出报告), budget versus actual, and the recovery of unspent funds.

The project owner reports money spent in one budget category over a period, with the
invoices or vouchers as evidence files. Finance verifies the report, or returns it with
a note saying what is wrong; the owner corrects a returned report and submits it again.
Only verified spending counts as spent; submitted reports are shown as pending.

Budget versus actual compares, per category, the fiscal budget of the task book with
the verified spending. A category may run over its budget by the allowed adjustment
(config ``BUDGET_ADJUSTMENT_TOLERANCE``, 10 % by default) before the project page warns.

When a project is terminated, fails acceptance or is closed, finance records the
unspent money paid back to the bureau. The project's ``recovered_total`` grows by an
atomic conditional update that can never take it past the money disbursed (a database
CHECK constraint backs the same rule).

The workflow table (``grants.funding.workflow``) calls the effects and notification
below by name; everything else here is a verb that flushes and leaves the commit to the
caller, or a read-only figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from grants.accounts.models import User, UserRole
from grants.applications.models import BUDGET_CATEGORIES
from grants.core import audit, storage
from grants.core.money import MoneyError, format_yuan, to_money
from grants.core.permissions import can
from grants.core.refusals import OperationError
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.funding.live import live_project_problem
from grants.funding.models import Expenditure, FundRecovery
from grants.funding.queries import pending_by_category, spent_by_category
from grants.notifications.operations import notify
from grants.projects.models import Project, ProjectFile, ProjectState

EVIDENCE_KINDS = storage.DOCUMENTS_AND_IMAGES
MAX_AMOUNT = Decimal("999999999999.99")  # the yuan column holds 14 digits, two of them decimals
RECOVERY_STATES = (ProjectState.TERMINATED, ProjectState.ACCEPTANCE_FAILED, ProjectState.CLOSED)
SPENDING_STATES = (
    ProjectState.IN_PROGRESS,
    ProjectState.ACCEPTANCE_REVIEW,
)  # as the rule spending.report
HUNDRED = Decimal(100)


def category_label(category: str) -> str:
    """The translated name of a budget category."""
    return str(BUDGET_CATEGORIES.get(category, category))


def budget_categories(project) -> list[str]:
    """The categories of the project's budget, in the order of the budget table."""
    order = list(BUDGET_CATEGORIES)
    return sorted(
        (line.category for line in project.budget_lines),
        key=lambda c: order.index(c) if c in order else len(order),
    )


# --- reading --------------------------------------------------------------------------------


def tolerance() -> Decimal:
    """The share a category may run over its budget before a warning (config, Decimal)."""
    value = current_app.config.get("BUDGET_ADJUSTMENT_TOLERANCE", Decimal("0.10"))
    if isinstance(value, float):
        raise TypeError("BUDGET_ADJUSTMENT_TOLERANCE must be a Decimal, not a float")
    return Decimal(str(value))


@dataclass(frozen=True)
class BudgetRow:
    """Budget versus actual of one category (all amounts in yuan)."""

    category: str
    budget: Decimal
    spent: Decimal
    pending: Decimal
    limit: Decimal
    share: Decimal | None
    status: str  # 'ok', 'over' (over budget within the allowed adjustment) or 'warning'

    @property
    def label(self) -> str:
        return category_label(self.category)

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent

    @property
    def pending_breaks_limit(self) -> bool:
        """Whether verifying the pending reports would take the category past the allowed adjustment."""
        return (
            self.status != "warning" and self.pending > 0 and self.spent + self.pending > self.limit
        )

    @property
    def bar(self) -> int:
        """The share spent for a progress bar: whole percent, a multiple of 5, at most 100."""
        if self.share is None:
            return 100 if self.spent > 0 else 0
        value = int(min(self.share, HUNDRED))
        return value - value % 5


@dataclass(frozen=True)
class BudgetTable:
    """Every category of a project's budget with its totals."""

    rows: list[BudgetRow]
    tolerance: Decimal
    budget: Decimal = field(default=Decimal(0))
    spent: Decimal = field(default=Decimal(0))
    pending: Decimal = field(default=Decimal(0))

    @property
    def warnings(self) -> list[BudgetRow]:
        """The categories over budget beyond the allowed adjustment."""
        return [r for r in self.rows if r.status == "warning"]

    @property
    def share(self) -> Decimal | None:
        return _share(self.spent, self.budget)

    @property
    def tolerance_percent(self) -> str:
        """The allowed adjustment in percent as plain text ("10", "12.5")."""
        text = format((self.tolerance * HUNDRED).quantize(Decimal("0.01")), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text


def _share(spent: Decimal, budget: Decimal) -> Decimal | None:
    if budget <= 0:
        return None
    return (spent * HUNDRED / budget).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def category_status(budget: Decimal, spent: Decimal, allowed: Decimal | None = None) -> str:
    """'ok' within the budget, 'over' within the allowed adjustment, 'warning' beyond it."""
    allowed = tolerance() if allowed is None else allowed
    limit = budget * (1 + allowed)
    if spent > limit:
        return "warning"
    if spent > budget:
        return "over"
    return "ok"


def budget_vs_actual(project) -> BudgetTable:
    """Per category: fiscal budget, verified spending, pending reports, share spent and status."""
    allowed = tolerance()
    spent = spent_by_category([project.id])[project.id]
    pending = pending_by_category([project.id])[project.id]
    budgets = {line.category: to_money(line.fiscal or 0) for line in project.budget_lines}
    rows = []
    for category in budget_categories(project) + sorted(set(spent) - set(budgets)):
        budget = budgets.get(category, Decimal("0.00"))
        used = spent.get(category, Decimal("0.00"))
        rows.append(
            BudgetRow(
                category=category,
                budget=budget,
                spent=used,
                pending=pending.get(category, Decimal("0.00")),
                limit=budget * (1 + allowed),
                share=_share(used, budget),
                status=category_status(budget, used, allowed),
            )
        )
    return BudgetTable(
        rows=rows,
        tolerance=allowed,
        budget=sum((r.budget for r in rows), Decimal(0)),
        spent=sum((r.spent for r in rows), Decimal(0)),
        pending=sum((r.pending for r in rows), Decimal(0)),
    )


def project_expenditures(project) -> list[Expenditure]:
    """The project's spending reports, newest period first."""
    return db.session.scalars(
        sa.select(Expenditure)
        .where(Expenditure.project_id == project.id)
        .order_by(Expenditure.period_end.desc(), Expenditure.id.desc())
    ).all()


def evidence_files(expenditure_ids) -> dict[int, list[ProjectFile]]:
    """Evidence files keyed by spending report id (one query)."""
    ids = list(expenditure_ids)
    result: dict[int, list[ProjectFile]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = db.session.scalars(
        sa.select(ProjectFile)
        .where(ProjectFile.expenditure_id.in_(ids), ProjectFile.purpose == "spending_evidence")
        .order_by(ProjectFile.id)
    ).all()
    for row in rows:
        result[row.expenditure_id].append(row)
    return result


def verified_total(project) -> Decimal:
    """Verified spending of the project across categories."""
    return sum(spent_by_category([project.id])[project.id].values(), Decimal("0.00"))


@dataclass(frozen=True)
class RecoveryPosition:
    """What was paid out, spent (verified), recovered, and what is still expected back."""

    disbursed: Decimal
    spent: Decimal
    recovered: Decimal

    @property
    def unspent(self) -> Decimal:
        """Disbursed money without verified spending (never below zero)."""
        return max(self.disbursed - self.spent, Decimal("0.00"))

    @property
    def suggested(self) -> Decimal:
        """The unspent money not yet paid back (never below zero)."""
        return max(self.unspent - self.recovered, Decimal("0.00"))

    @property
    def recoverable(self) -> Decimal:
        """The most that can still be recorded: disbursed money not yet recovered."""
        return max(self.disbursed - self.recovered, Decimal("0.00"))


def recovery_position(project) -> RecoveryPosition:
    return RecoveryPosition(
        disbursed=to_money(project.disbursed_total or 0),
        spent=verified_total(project),
        recovered=to_money(project.recovered_total or 0),
    )


def project_recoveries(project) -> list[FundRecovery]:
    return db.session.scalars(
        sa.select(FundRecovery)
        .where(FundRecovery.project_id == project.id)
        .order_by(FundRecovery.received_on, FundRecovery.id)
    ).all()


def recovery_applies(project) -> bool:
    """Whether the project is in a state in which unspent money is recovered."""
    return project.state in RECOVERY_STATES


# --- checking the values of a report --------------------------------------------------------


def check_values(project, values: dict) -> list[tuple[str, str]]:
    """What is wrong with a spending report's values, as (field, message) pairs (empty: fine).

    ``values`` holds ``category``, ``period_start``, ``period_end`` (dates) and ``amount``
    (Decimal or text, yuan). The period lies within the project's period and ends on or
    after its start; the amount is positive; the category is one of the project's budget.
    """
    problems: list[tuple[str, str]] = []
    if values.get("category") not in budget_categories(project):
        problems.append(("category", _("Choose one of the categories of the project's budget.")))
    start, end = values.get("period_start"), values.get("period_end")
    if not isinstance(start, date):
        problems.append(("period_start", _("Enter the first day of the period.")))
    elif not project.start_date <= start <= project.end_date:
        problems.append(
            (
                "period_start",
                _(
                    "The period must lie within the project period, %(start)s to %(end)s.",
                    start=project.start_date.isoformat(),
                    end=project.end_date.isoformat(),
                ),
            )
        )
    if not isinstance(end, date):
        problems.append(("period_end", _("Enter the last day of the period.")))
    elif isinstance(start, date) and end < start:
        problems.append(("period_end", _("The period cannot end before it starts.")))
    elif not project.start_date <= end <= project.end_date:
        problems.append(
            (
                "period_end",
                _(
                    "The period must lie within the project period, %(start)s to %(end)s.",
                    start=project.start_date.isoformat(),
                    end=project.end_date.isoformat(),
                ),
            )
        )
    amount_problem = _amount_problem(values.get("amount"))
    if amount_problem:
        problems.append(("amount", amount_problem))
    return problems


def _amount_problem(value) -> str | None:
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    try:
        amount = (
            value
            if isinstance(value, Decimal)
            else Decimal(str(value or "").replace(",", "").strip())
        )
    except ArithmeticError:
        return _("Enter the amount in yuan, for example 12500.00.")
    if not amount.is_finite():
        return _("Enter the amount in yuan, for example 12500.00.")
    if amount.as_tuple().exponent < -2:
        return _("Use at most two decimal places: 0.01 is one fen.")
    if amount <= 0:
        return _("The amount must be more than zero.")
    if amount > MAX_AMOUNT:
        return _("This amount is too large.")
    return None


def _clean(project, values: dict) -> dict:
    """The checked values ready to store; raises OperationError naming the first wrong field."""
    problems = check_values(project, values)
    if problems:
        field_name, message = problems[0]
        raise OperationError(message, field=field_name)
    try:
        amount = to_money(values["amount"])
    except MoneyError as exc:  # pragma: no cover - check_values refused it already
        raise OperationError(
            _("Enter the amount in yuan, for example 12500.00."), field="amount"
        ) from exc
    return {
        "category": values["category"],
        "period_start": values["period_start"],
        "period_end": values["period_end"],
        "amount": amount,
        "note": (values.get("note") or "").strip(),
    }


def _store_evidence(expenditure: Expenditure, uploads, actor) -> list[ProjectFile]:
    stored = []
    for upload in storage.chosen_files(uploads):
        try:
            saved = storage.save_upload(upload, kinds=EVIDENCE_KINDS)
        except storage.UploadRefused as exc:
            raise OperationError(exc.message, field="evidence") from exc
        item = ProjectFile.from_stored(
            saved,
            project_id=expenditure.project_id,
            purpose="spending_evidence",
            actor=actor,
            expenditure_id=expenditure.id,
        )
        db.session.add(item)
        stored.append(item)
    db.session.flush()
    return stored


def _file_record(item: ProjectFile) -> dict:
    return {
        "file_id": item.id,
        "name": item.original_name,
        "size": item.size,
        "sha256": item.sha256,
    }


# --- reporting ------------------------------------------------------------------------------


def report_expenditure(
    project,
    actor,
    *,
    category: str,
    period_start: date,
    period_end: date,
    amount,
    note: str = "",
    evidence=(),
) -> Expenditure:
    """Report money spent in one budget category over a period, with at least one evidence file.

    The report is created in state 'submitted' and waits for finance. The values are
    checked by :func:`check_values`; each evidence upload must be a PDF, Word, Excel,
    PNG or JPEG file whose content matches its name (:func:`grants.core.storage.save_upload`).
    Raises :class:`OperationError` naming the field at fault; stored files go again if the
    transaction rolls back.
    """
    if not can(actor, "spending.report", project):
        raise OperationError(_("You cannot report spending for this project now."))
    problem = live_project_problem(project, SPENDING_STATES)
    if problem:
        raise OperationError(problem)
    clean = _clean(
        project,
        {
            "category": category,
            "period_start": period_start,
            "period_end": period_end,
            "amount": amount,
            "note": note,
        },
    )
    if not [u for u in evidence or [] if u and getattr(u, "filename", "")]:
        raise OperationError(
            _("Attach at least one invoice, voucher or other evidence."), field="evidence"
        )
    expenditure = Expenditure(
        project_id=project.id,
        state="submitted",
        submitted_by_id=getattr(actor, "id", None),
        submitted_at=utcnow(),
        **clean,
    )
    db.session.add(expenditure)
    db.session.flush()
    files = _store_evidence(expenditure, evidence, actor)
    audit.record(
        "expenditure.reported",
        expenditure,
        actor=actor,
        after={
            "project": project.code,
            "category": clean["category"],
            "amount": str(clean["amount"]),
            "period_start": clean["period_start"].isoformat(),
            "period_end": clean["period_end"].isoformat(),
            "note": clean["note"],
            "evidence": [_file_record(f) for f in files],
        },
    )
    db.session.flush()
    return expenditure


def resubmit_expenditure(
    expenditure: Expenditure,
    actor,
    *,
    category: str,
    period_start: date,
    period_end: date,
    amount,
    note: str = "",
    evidence=(),
) -> Expenditure:
    """Correct a returned spending report and submit it to finance again.

    The corrected values are checked like a new report's; further evidence files may be
    added (the earlier ones stay). The workflow event ``resubmit`` applies the values
    (:func:`on_resubmit`) and is audited with them.
    """
    problem = live_project_problem(expenditure.project, SPENDING_STATES)
    if problem:
        raise OperationError(problem)
    clean = _clean(
        expenditure.project,
        {
            "category": category,
            "period_start": period_start,
            "period_end": period_end,
            "amount": amount,
            "note": note,
        },
    )
    transition(expenditure, "resubmit", actor, **clean)
    files = _store_evidence(expenditure, evidence, actor)
    if files:
        audit.record(
            "expenditure.evidence_added",
            expenditure,
            actor=actor,
            after={"evidence": [_file_record(f) for f in files]},
        )
    db.session.flush()
    return expenditure


def verify_expenditure(expenditure: Expenditure, actor, note: str = "") -> Expenditure:
    """Finance confirms the report against its evidence: the money counts as spent."""
    transition(expenditure, "verify", actor, note=(note or "").strip())
    return expenditure


def return_expenditure(expenditure: Expenditure, actor, note: str) -> Expenditure:
    """Finance sends the report back to the owner with a note saying what is wrong."""
    transition(expenditure, "return", actor, note=(note or "").strip())
    return expenditure


# --- workflow guards and effects (called by grants.funding.workflow) -------------------------


def guard_verify(expenditure: Expenditure, actor, data: dict) -> str | None:
    """Spending is verified as the project's money only while the project is live (locked, re-read)."""
    return live_project_problem(expenditure.project)


def on_verify(expenditure: Expenditure, actor, data: dict) -> None:
    """Record who verified the report and when; an optional note replaces an earlier return note."""
    expenditure.verified_by_id = getattr(actor, "id", None)
    expenditure.verified_at = utcnow()
    expenditure.finance_note = (data.get("note") or "").strip()


def on_return(expenditure: Expenditure, actor, data: dict) -> None:
    """Keep finance's note; the checked time goes in ``verified_at`` (a CHECK requires it)."""
    expenditure.finance_note = data["note"].strip()
    expenditure.verified_by_id = getattr(actor, "id", None)
    expenditure.verified_at = utcnow()


def on_resubmit(expenditure: Expenditure, actor, data: dict) -> None:
    """Apply the corrected values passed in ``data`` and date the new submission.

    The return note stays so that finance sees what was asked for; the check of the
    earlier round is cleared.
    """
    changes = {
        k: data[k]
        for k in ("category", "period_start", "period_end", "amount", "note")
        if k in data
    }
    if changes:
        clean = _clean(expenditure.project, {**_values_of(expenditure), **changes})
        for key, value in clean.items():
            setattr(expenditure, key, value)
    expenditure.submitted_by_id = getattr(actor, "id", None)
    expenditure.submitted_at = utcnow()
    expenditure.verified_by_id = None
    expenditure.verified_at = None


def _values_of(expenditure: Expenditure) -> dict:
    return {
        "category": expenditure.category,
        "period_start": expenditure.period_start,
        "period_end": expenditure.period_end,
        "amount": expenditure.amount,
        "note": expenditure.note,
    }


def owner_users(project) -> list[User]:
    """The active applicant accounts of the project's organisation."""
    return db.session.scalars(
        sa.select(User).where(
            User.organisation_id == project.organisation_id,
            User.active.is_(True),
            User.roles.any(UserRole.role == "applicant"),
        )
    ).all()


def notify_returned(expenditure: Expenditure, actor, data: dict) -> None:
    """Tell the owner's organisation that finance returned a spending report, and why."""
    project = expenditure.project
    notify(
        owner_users(project),
        "expenditure.returned",
        _l("Spending report returned: %(code)s"),
        _l(
            "Finance returned your spending report of %(amount)s yuan for %(period)s. What to correct: %(note)s"
        ),
        link=url_for("funding.resubmit", expenditure_id=expenditure.id),
        params={
            "code": project.code,
            "amount": format(expenditure.amount, ",.2f"),
            "period": f"{expenditure.period_start.isoformat()} – {expenditure.period_end.isoformat()}",
            "note": expenditure.finance_note,
        },
    )


# --- recovery of unspent funds --------------------------------------------------------------


def record_recovery(
    project, actor, amount, voucher_no: str, received_on: date, note: str = ""
) -> FundRecovery:
    """Record money paid back to the bureau by a terminated, failed or closed project.

    The project's ``recovered_total`` grows by one conditional UPDATE that succeeds only
    while the recovered money stays within the money disbursed, so two finance officers
    recording at the same time can never recover more than was paid out (the row lock of
    the UPDATE serialises them; the CHECK constraint ``recovered_within_disbursed`` backs it).
    Raises :class:`OperationError` naming the field at fault. Audited.
    """
    if not can(actor, "recovery.record", project):
        raise OperationError(
            _("Recoveries are recorded by finance for terminated, failed or closed projects.")
        )
    if isinstance(amount, float):
        raise TypeError("money must not be a float")
    problem = _amount_problem(amount)
    if problem:
        raise OperationError(problem, field="amount")
    amount = to_money(amount)
    voucher_no = (voucher_no or "").strip()
    if not voucher_no:
        raise OperationError(_("Enter the number of the receipt voucher."), field="voucher_no")
    if not isinstance(received_on, date):
        raise OperationError(_("Enter the day the money was received."), field="received_on")
    if received_on > local_today():
        raise OperationError(_("The day of receipt cannot be in the future."), field="received_on")
    if received_on < project.start_date:
        raise OperationError(
            _("The money cannot have been received before the project started."),
            field="received_on",
        )
    result = db.session.execute(
        sa.update(Project)
        .where(
            Project.id == project.id, Project.recovered_total + amount <= Project.disbursed_total
        )
        .values(recovered_total=Project.recovered_total + amount, version=Project.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.expire(project, ["recovered_total", "disbursed_total", "version"])
        position = recovery_position(project)
        raise OperationError(
            _(
                "%(amount)s cannot be recovered: %(disbursed)s were disbursed and %(recovered)s "
                "recovered already, so at most %(left)s can still be recorded.",
                amount=format_yuan(amount),
                disbursed=format_yuan(position.disbursed),
                recovered=format_yuan(position.recovered),
                left=format_yuan(position.recoverable),
            ),
            field="amount",
        )
    db.session.expire(project, ["recovered_total", "version"])
    recovery = FundRecovery(
        project_id=project.id,
        amount=amount,
        voucher_no=voucher_no,
        received_on=received_on,
        note=(note or "").strip(),
        recorded_by_id=getattr(actor, "id", None),
        recorded_at=utcnow(),
    )
    db.session.add(recovery)
    db.session.flush()
    audit.record(
        "recovery.recorded",
        recovery,
        actor=actor,
        after={
            "project": project.code,
            "amount": str(amount),
            "voucher_no": voucher_no,
            "received_on": received_on.isoformat(),
            "note": recovery.note,
            "recovered_total": str(project.recovered_total),
            "disbursed_total": str(project.disbursed_total),
        },
    )
    return recovery
