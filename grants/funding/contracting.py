"""Contracting (立项签约): from an approved application to a running project.

The bureau contracts an approved application once nothing stands in its way (the
decision is released, its public notice closed, no objection open: see
``grants.review.decisions.contract_blockers``). :func:`create_project` fires the
application's ``contract`` event and creates the project in state ``contracting`` with

- a code from the ``PROJECT_CODE_FORMAT`` setting and a number taken atomically per year;
- the award (the decision's amount) and a budget by category whose fiscal money adds up to
  the award exactly: by default the application's fiscal lines scaled to the award, the
  rounding remainder on the largest line, the self-raised money copied;
- the team, the KPI targets and the milestones copied from the application;
- a tranche plan adding up to the award exactly: by default a first tranche on signing, one
  tranche per planned milestone in proportion to its share of funding, the rest on acceptance;
- the task book (任务书), rendered to PDF in Chinese, kept as a file with its SHA-256.

The applicant downloads the task book, signs and seals it and uploads the signed copy,
which waits for the bureau (a :class:`TaskBookSignature` in ``signed_uploaded``). A bureau
officer compares it with the issued task book and confirms it — the project's ``sign``
event (guarded by :func:`guard_sign`) then moves it into progress and makes the tranche on
signing due — or returns it with a reason, and the applicant uploads a new copy. Nothing
becomes due on an upload alone. Until a tranche has a live disbursement the bureau
may change the plan (:func:`replan_tranches`); every change is audited.

Every verb here flushes and leaves the commit to the request.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa
from babel.numbers import format_decimal, format_percent
from flask import current_app, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.datastructures import FileStorage

from grants.applications.models import BUDGET_CATEGORIES, KPI_KINDS, TEAM_ROLES, Application
from grants.applications.operations import applicant_users
from grants.config import validate_project_code_format
from grants.core import audit, storage
from grants.core.i18n import html_lang
from grants.core.money import (
    CENT,
    format_wan_number,
    format_yuan,
    format_yuan_number,
    to_money,
)
from grants.core.pdf import PdfError, pdf_static_url, render_pdf
from grants.core.refusals import OperationError
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.funding.models import (
    LIVE_DISBURSEMENT_STATES,
    TRIGGERS,
    Disbursement,
    ProjectBudgetLine,
    ProjectCodeCounter,
    TaskBookSignature,
    Tranche,
)
from grants.funding.triggers import mark_due
from grants.notifications.operations import notify
from grants.programmes.models import CATEGORIES as CALL_CATEGORIES
from grants.programmes.models import FUNDING_LEVELS
from grants.projects.models import Milestone, Project, ProjectFile, ProjectKpi, ProjectMember
from grants.review.assignments import bureau_users
from grants.review.decisions import contract_blockers, decision_for

ZERO = Decimal(0)
CATEGORIES = tuple(BUDGET_CATEGORIES)
# The default plan: this share of the award on signing, this share over the milestones
# (in proportion to their shares of funding), the rest on acceptance.
DEFAULT_CONTRACT_SHARE = Decimal("0.30")
DEFAULT_MILESTONES_SHARE = Decimal("0.50")
SIGNED_COPY_KINDS = ("pdf", "png", "jpg")


class ContractingError(OperationError):
    """A refused contracting step; ``message`` is user-facing, ``field`` names the form field."""


class PlanError(ContractingError):
    """A tranche plan that cannot stand: a message per offending row and/or one for the total."""

    def __init__(
        self,
        rows: dict[int, str] | None = None,
        total: str | None = None,
        budget: str | None = None,
    ):
        self.rows = dict(rows or {})
        self.total = total
        self.budget = (
            budget  # what is wrong with the budget checked along with the plan, if anything
        )
        message = total or next(iter(self.rows.values()), "") or _("Correct the tranche plan.")
        super().__init__(message, field="tranches")


@dataclass
class BudgetRow:
    """The approved budget of one category, in yuan."""

    category: str
    fiscal: Decimal
    self_raised: Decimal = ZERO


@dataclass
class TrancheRow:
    """One tranche of a plan being written, in yuan.

    ``milestone`` names the milestone of a 'milestone' tranche: the planned milestone's
    number (1, 2 …) while contracting, the milestone's id when the plan of a project changes.
    ``id`` is the tranche being changed (None for a new one).
    """

    amount: Decimal
    trigger: str
    milestone: int | None = None
    id: int | None = None


# --- reading --------------------------------------------------------------------------------


def decision_amount(application: Application) -> Decimal | None:
    """The amount the bureau approved for the application, or None without an approval."""
    decision = decision_for(application)
    if decision is None or decision.outcome != "approve" or decision.amount is None:
        return None
    return to_money(decision.amount)


def project_for(application: Application) -> Project | None:
    return db.session.scalar(sa.select(Project).where(Project.application_id == application.id))


def exact_yuan(amount) -> str:
    """An amount in 元 to the cent, for the messages that say two amounts must agree exactly
    (万元 to two decimals would hide a difference of a few yuan)."""
    return format_yuan(amount)


def task_book_file(project: Project) -> ProjectFile | None:
    """The task book as issued last."""
    return _latest_file(project, "task_book")


def signed_copy(project: Project) -> ProjectFile | None:
    """The signed copy of the task book uploaded last."""
    return _latest_file(project, "signed_task_book")


def _latest_file(project: Project, purpose: str) -> ProjectFile | None:
    return db.session.scalar(
        sa.select(ProjectFile)
        .where(ProjectFile.project_id == project.id, ProjectFile.purpose == purpose)
        .order_by(ProjectFile.uploaded_at.desc(), ProjectFile.id.desc())
        .limit(1)
    )


def signed_copy_is_current(project: Project, copy: ProjectFile | None = None) -> bool:
    """Whether a signed copy was uploaded after the current task book was issued."""
    copy = copy if copy is not None else signed_copy(project)
    if copy is None:
        return False
    issued = project.task_book_issued_at
    return issued is None or copy.uploaded_at >= issued


def live_tranches(project: Project) -> list[Tranche]:
    """The tranches of the plan (cancelled ones left out), in order."""
    return [t for t in project.tranches if t.cancelled_at is None]


def plan_total(project: Project) -> Decimal:
    return sum((t.amount for t in live_tranches(project)), ZERO)


def latest_disbursements(tranche_ids: Iterable[int]) -> dict[int, Disbursement]:
    """The latest disbursement of each tranche, keyed by tranche id (one query)."""
    ids = list(tranche_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(Disbursement).where(Disbursement.tranche_id.in_(ids)).order_by(Disbursement.id)
    ).all()
    return {d.tranche_id: d for d in rows}


def tranche_status(tranche: Tranche, disbursement: Disbursement | None) -> str:
    """pending, due, requested, approved, paid or cancelled (a rejected request leaves it due)."""
    if tranche.cancelled_at is not None:
        return "cancelled"
    if disbursement is not None and disbursement.state in LIVE_DISBURSEMENT_STATES:
        return disbursement.state
    if tranche.due_since is not None:
        return "due"
    return "pending"


def has_live_disbursement(project: Project) -> bool:
    """Whether a disbursement of the project is requested, approved or paid."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(Disbursement.id)).where(
                Disbursement.project_id == project.id,
                Disbursement.state.in_(LIVE_DISBURSEMENT_STATES),
            )
        )
        > 0
    )


def plan_is_editable(project: Project) -> bool:
    """The plan may change while contracting or running and no money is on its way."""
    return project.state in ("contracting", "in_progress") and not has_live_disbursement(project)


# --- project codes --------------------------------------------------------------------------


def project_code(year: int, number: int, pattern: str | None = None) -> str:
    """The code of the ``number``-th project of ``year`` (``PROJECT_CODE_FORMAT``)."""
    pattern = validate_project_code_format(pattern or current_app.config["PROJECT_CODE_FORMAT"])
    return pattern.format(year=year, seq=number)


def next_number_statement(year: int, dialect: str):
    """INSERT the year's counter at 1 or, when it exists, increment it; RETURNING the number."""
    table = ProjectCodeCounter.__table__
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - the app runs on these two
        raise RuntimeError(f"project codes need SQLite or PostgreSQL, not {dialect}")
    return (
        insert(table)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=[table.c.year], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )


def next_project_number(year: int) -> int:
    """The next number of ``year``, taken atomically.

    One statement inserts the year's counter at 1 or, when the row exists, increments it
    and returns the new value (INSERT … ON CONFLICT DO UPDATE … RETURNING, on SQLite and
    PostgreSQL alike), so two contracts never get the same number and a missing counter
    row is created safely under concurrency.
    """
    stmt = next_number_statement(year, db.session.get_bind().dialect.name)
    return db.session.execute(stmt).scalar_one()


def next_project_code(year: int) -> str:
    """Take the next number of ``year`` and format it as a project code."""
    pattern = validate_project_code_format(current_app.config["PROJECT_CODE_FORMAT"])
    return project_code(year, next_project_number(year), pattern)


# --- defaults -------------------------------------------------------------------------------


def scale_exactly(weights: dict, total: Decimal) -> dict:
    """Split ``total`` yuan in proportion to ``weights``, to the cent, adding up to ``total``.

    Every part is rounded down; the remainder goes to the part with the largest weight
    (the first of equals). Weights must add up to more than zero.
    """
    total = to_money(total)
    base = sum(weights.values(), ZERO)
    if base <= 0:
        raise ValueError("weights must add up to more than zero")
    parts = {
        key: (total * weight / base).quantize(CENT, rounding=ROUND_DOWN)
        for key, weight in weights.items()
    }
    largest = max(weights, key=lambda key: weights[key])
    parts[largest] += total - sum(parts.values(), ZERO)
    return parts


def default_budget(application: Application, award: Decimal) -> list[BudgetRow]:
    """The application's budget by category, its fiscal money scaled to ``award`` exactly."""
    fiscal = dict.fromkeys(CATEGORIES, ZERO)
    self_raised = dict.fromkeys(CATEGORIES, ZERO)
    for line in application.budget_lines:
        if line.category in fiscal:
            fiscal[line.category] += line.fiscal or ZERO
            self_raised[line.category] += line.self_raised or ZERO
    if sum(fiscal.values(), ZERO) <= 0:
        fiscal = {c: (Decimal(1) if c == "business" else ZERO) for c in CATEGORIES}
    scaled = scale_exactly(fiscal, award)
    return [BudgetRow(c, scaled[c], to_money(self_raised[c])) for c in CATEGORIES]


def default_plan(application: Application, award: Decimal) -> list[TrancheRow]:
    """A first tranche on signing, one per planned milestone, the rest on acceptance.

    The milestones share ``DEFAULT_MILESTONES_SHARE`` of the award in proportion to their
    shares of funding; the tranche on acceptance takes what is left, so that the plan adds
    up to the award to the cent. Tranches that would be zero are left out.
    """
    award = to_money(award)
    rows: list[TrancheRow] = []
    first = (award * DEFAULT_CONTRACT_SHARE).quantize(CENT, rounding=ROUND_DOWN)
    if first > 0:
        rows.append(TrancheRow(first, "contract"))
    shares = {
        number: Decimal(m.funding_share or 0)
        for number, m in enumerate(application.milestones, start=1)
    }
    if sum(shares.values(), ZERO) > 0:
        pot = (award * DEFAULT_MILESTONES_SHARE).quantize(CENT, rounding=ROUND_DOWN)
        for number, amount in scale_exactly(shares, pot).items():
            if amount > 0:
                rows.append(TrancheRow(amount, "milestone", milestone=number))
    rest = award - sum((r.amount for r in rows), ZERO)
    if rest > 0:
        rows.append(TrancheRow(rest, "acceptance"))
    return rows


# --- checking what the bureau wrote ---------------------------------------------------------


def plan_problems(
    rows: Sequence[TrancheRow], award: Decimal, milestones: Iterable[int]
) -> tuple[dict, str | None]:
    """The messages for a plan: one per offending row (by index) and one for its total."""
    known = set(milestones)
    errors: dict[int, str] = {}
    acceptance = False
    for index, row in enumerate(rows):
        if row.amount is None or row.amount <= 0:
            errors[index] = _("The amount must be more than zero.")
        elif row.amount != to_money(row.amount):
            errors[index] = _("Amounts are exact to the cent: 0.000001 is one cent.")
        elif row.trigger not in TRIGGERS:
            errors[index] = _("Choose when this tranche is released.")
        elif row.trigger == "milestone" and row.milestone not in known:
            errors[index] = _("Choose the milestone whose approval releases this tranche.")
        elif row.trigger == "acceptance":
            if acceptance:
                errors[index] = _("Only one tranche can be released on acceptance.")
            acceptance = True
    total_error = None
    if not rows:
        total_error = _("The plan needs at least one tranche.")
    else:
        total = sum((r.amount for r in rows if r.amount is not None), ZERO)
        if total != award:
            difference = exact_yuan(abs(total - award))
            if total > award:
                total_error = _(
                    "The tranches add up to %(total)s, %(difference)s more than the award of "
                    "%(award)s: they must add up to the award exactly.",
                    total=exact_yuan(total),
                    difference=difference,
                    award=exact_yuan(award),
                )
            else:
                total_error = _(
                    "The tranches add up to %(total)s, %(difference)s less than the award of "
                    "%(award)s: they must add up to the award exactly.",
                    total=exact_yuan(total),
                    difference=difference,
                    award=exact_yuan(award),
                )
    return errors, total_error


def check_plan(rows: Sequence[TrancheRow], award: Decimal, milestones: Iterable[int]) -> None:
    """Raise :class:`PlanError` unless the plan adds up to ``award`` and every row is complete."""
    for row in rows:
        if row.trigger != "milestone":
            row.milestone = None
    errors, total_error = plan_problems(rows, award, milestones)
    if errors or total_error:
        raise PlanError(errors, total_error)


def budget_problem(rows: Sequence[BudgetRow], award: Decimal) -> str | None:
    """Why the budget cannot stand (amounts negative, fiscal money not adding up to the award)."""
    categories = [r.category for r in rows]
    if sorted(categories) != sorted(CATEGORIES):
        return _("Give the budget of every category.")
    for row in rows:
        if row.fiscal < 0 or row.self_raised < 0:
            return _("Budget amounts cannot be negative.")
        if row.fiscal != to_money(row.fiscal) or row.self_raised != to_money(row.self_raised):
            return _("Amounts are exact to the cent: 0.000001 is one cent.")
    fiscal = sum((r.fiscal for r in rows), ZERO)
    if fiscal != award:
        return _(
            "The fiscal budget adds up to %(total)s; it must add up to the award of %(award)s exactly "
            "(difference %(difference)s).",
            total=exact_yuan(fiscal),
            award=exact_yuan(award),
            difference=exact_yuan(abs(fiscal - award)),
        )
    return None


# --- the application's contract event -------------------------------------------------------


def guard_contract(application: Application, actor, data: dict) -> str | None:
    """Nothing may stand between the approval and the contract, and it is not contracted yet."""
    problems = []
    if project_for(application) is not None:
        problems.append(_("The application has already been contracted."))
    problems.extend(contract_blockers(application))
    return " ".join(problems) or None


# --- creating the project -------------------------------------------------------------------


def create_project(
    application: Application,
    actor,
    *,
    award: Decimal | None = None,
    budget: Sequence[BudgetRow] | None = None,
    tranches: Sequence[TrancheRow] | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
) -> Project:
    """Contract an approved application: the project with its code, budget, plan and task book.

    Fires the application's ``contract`` event (refused with the blockers of
    :func:`guard_contract`), then creates the project in state ``contracting``: the award
    (by default the decision's amount, never more), the budget by category (fiscal money
    adding up to the award exactly; by default :func:`default_budget`), the team, KPI
    targets and milestones copied from the application, the tranche plan (by default
    :func:`default_plan`; a milestone tranche names a planned milestone by its number) and
    the period (by default the application's). Issues the task book and tells the
    organisation's applicants that it waits for their signature.
    """
    transition(application, "contract", actor)
    approved = decision_amount(application)
    award = approved if award is None else to_money(award)
    if award is None or award <= 0:
        raise ContractingError(_("The award must be more than zero."), field="award")
    if award > approved:
        raise ContractingError(
            _(
                "The award cannot exceed the amount approved (%(amount)s).",
                amount=exact_yuan(approved),
            ),
            field="award",
        )
    start_date = start_date or application.start_date
    end_date = end_date or application.end_date
    if start_date is None:
        raise ContractingError(_("Give the first day of the project."), field="start_date")
    if end_date is None or end_date <= start_date:
        raise ContractingError(_("The project must end after it starts."), field="end_date")
    budget = list(budget) if budget is not None else default_budget(application, award)
    problem = budget_problem(budget, award)
    tranches = (
        [TrancheRow(r.amount, r.trigger, r.milestone) for r in tranches]
        if tranches is not None
        else default_plan(application, award)
    )
    planned = application.milestones
    try:
        check_plan(tranches, award, range(1, len(planned) + 1))
    except PlanError as exc:
        exc.budget = problem
        raise
    if problem:
        raise ContractingError(problem, field="budget")

    year = application.call.year
    project = Project(
        application_id=application.id,
        call_id=application.call_id,
        organisation_id=application.organisation_id,
        cluster_id=application.cluster_id,
        code=next_project_code(year),
        year=year,
        title=application.title,
        summary=application.summary or "",
        objectives=application.objectives or "",
        start_date=start_date,
        end_date=end_date,
        award=award,
        self_raised=sum((to_money(r.self_raised) for r in budget), ZERO),
        state="contracting",
        created_by_id=getattr(actor, "id", None),
    )
    for position, member in enumerate(application.team, start=1):
        project.members.append(
            ProjectMember(
                position=position,
                name=member.name,
                role=member.role,
                title=member.title or "",
                organisation_name=member.organisation_name or "",
            )
        )
    for kpi in application.kpis:
        project.kpis.append(ProjectKpi(kind=kpi.kind, target=kpi.target, note=kpi.note or ""))
    milestones = {}
    for number, planned_milestone in enumerate(planned, start=1):
        milestone = Milestone(
            position=number,
            title=planned_milestone.title,
            deliverable=planned_milestone.deliverable or "",
            due_date=planned_milestone.due_date,
            state="open",
        )
        project.milestones.append(milestone)
        milestones[number] = milestone
    order = {c: i for i, c in enumerate(CATEGORIES)}
    for row in sorted(budget, key=lambda r: order[r.category]):
        project.budget_lines.append(
            ProjectBudgetLine(
                category=row.category,
                fiscal=to_money(row.fiscal),
                self_raised=to_money(row.self_raised),
            )
        )
    db.session.add(project)
    db.session.flush()
    for position, row in enumerate(tranches, start=1):
        milestone = milestones.get(row.milestone) if row.trigger == "milestone" else None
        project.tranches.append(
            Tranche(
                position=position,
                amount=to_money(row.amount),
                trigger=row.trigger,
                milestone_id=milestone.id if milestone else None,
            )
        )
    db.session.flush()
    audit.record(
        "project.created",
        project,
        actor=actor,
        after={
            "application_id": application.id,
            "code": project.code,
            "award": str(award),
            "period": [start_date.isoformat(), end_date.isoformat()],
            "budget": {r.category: [str(r.fiscal), str(r.self_raised)] for r in budget},
            "tranches": describe_plan(project.tranches),
        },
    )
    issue_task_book(project, actor)
    _notify_applicants(
        project,
        "project.task_book_issued",
        _l("Task book of %(code)s ready for signature"),
        _l(
            "The bureau has issued the task book of your project %(code)s “%(title)s”. Download "
            "it, have it signed and sealed, and upload the signed copy."
        ),
    )
    return project


def describe_plan(tranches: Iterable[Tranche]) -> list[dict]:
    """The plan as the audit log keeps it."""
    return [
        {
            "id": t.id,
            "position": t.position,
            "amount": str(t.amount),
            "trigger": t.trigger,
            "milestone_id": t.milestone_id,
            "due": t.due_since is not None,
        }
        for t in tranches
        if t.cancelled_at is None
    ]


# --- the task book --------------------------------------------------------------------------


def _formatters():
    locale = str(get_locale() or "zh_Hans_CN")

    def wan(amount) -> str:
        return format_wan_number(amount or ZERO, locale=locale)

    def number(value) -> str:
        return format_decimal(value, locale=locale) if value is not None else "—"

    def percent(share) -> str:
        return format_percent(share or ZERO, format="#,##0.#%", locale=locale)

    def yuan(amount) -> str:
        return format_yuan_number(amount or ZERO, locale=locale)

    return {"wan": wan, "yuan": yuan, "number": number, "percent": percent}


def task_book_html(project: Project, issued_on: date) -> str:
    """The HTML the task book is rendered from, in the current locale (user text autoescaped)."""
    application = project.application
    call = project.call
    lines = {line.category: line for line in project.budget_lines}
    budget = [
        (
            BUDGET_CATEGORIES[c],
            lines[c].fiscal if c in lines else ZERO,
            lines[c].self_raised if c in lines else ZERO,
        )
        for c in CATEGORIES
    ]
    # Rendered from the environment, not through render_template: the document needs no request
    # (nor the page context processors), so it renders the same in a request, a job or a test.
    return current_app.jinja_env.get_template("funding/contracts/task_book.html").render(
        project=project,
        application=application,
        call=call,
        organisation=project.organisation,
        lang=html_lang(get_locale()),
        stylesheet=pdf_static_url("css/pdf.css"),
        budget=budget,
        fiscal_total=sum((b[1] for b in budget), ZERO),
        self_raised_total=sum((b[2] for b in budget), ZERO),
        tranches=live_tranches(project),
        triggers=TRIGGERS,
        team_roles=TEAM_ROLES,
        kpi_kinds=KPI_KINDS,
        funding_level=FUNDING_LEVELS.get(call.funding_level, call.funding_level),
        category=CALL_CATEGORIES.get(call.category, call.category),
        issued_on=issued_on,
        **_formatters(),
    )


def render_task_book(project: Project, issued_on: date) -> bytes:
    """The task book as PDF bytes, always in the default (Chinese) locale: it is the contract."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        html = task_book_html(project, issued_on)
    return render_pdf(html)


def issue_task_book(project: Project, actor) -> ProjectFile:
    """Render the task book, keep it as a file and its SHA-256 on the project (audited).

    An earlier issue stays on file; the project points at the latest one.
    """
    try:
        data = render_task_book(project, local_today())
    except PdfError:
        raise ContractingError(
            _("The task book could not be produced just now. Please try again in a minute.")
        ) from None
    upload = FileStorage(
        stream=io.BytesIO(data), filename=f"{project.code}.pdf", content_type="application/pdf"
    )
    try:
        stored = storage.save_upload(upload, kinds=("pdf",), max_bytes=len(data) + 1)
    except storage.StorageUnavailable as exc:
        raise ContractingError(exc.message) from None
    now = utcnow()
    record = ProjectFile.from_stored(
        stored, project_id=project.id, purpose="task_book", actor=actor, uploaded_at=now
    )
    db.session.add(record)
    before = {"sha256": project.task_book_sha256}
    project.task_book_sha256 = stored.sha256
    project.task_book_issued_at = now
    db.session.flush()
    audit.record(
        "task_book.issued",
        project,
        actor=actor,
        before=before,
        after={"sha256": stored.sha256, "size": stored.size, "code": project.code},
    )
    return record


# --- the signed copy, the bureau's check and the signing ----------------------------------


def latest_signature(project: Project) -> TaskBookSignature | None:
    """The signed copy handed in last, with the bureau's decision on it."""
    return db.session.scalar(
        sa.select(TaskBookSignature)
        .where(TaskBookSignature.project_id == project.id)
        .order_by(TaskBookSignature.id.desc())
        .limit(1)
    )


def pending_signature(project: Project) -> TaskBookSignature | None:
    """The signed copy waiting for the bureau's confirmation, if any."""
    return db.session.scalar(
        sa.select(TaskBookSignature).where(
            TaskBookSignature.project_id == project.id, TaskBookSignature.state == "signed_uploaded"
        )
    )


def upload_signed_task_book(project: Project, upload, actor) -> ProjectFile:
    """Keep the signed and sealed task book (PDF or image) and hand it to the bureau for its check.

    Accepted while the project is contracting and no earlier copy still waits for the
    bureau. The copy waits in ``signed_uploaded``: nothing becomes due until a bureau
    officer confirms it (:func:`on_confirm_signature`). Audited; the bureau is notified.
    """
    db.session.execute(sa.select(Project.id).where(Project.id == project.id).with_for_update())
    if project.state != "contracting":
        raise ContractingError(_("The task book has been signed already."), field="file")
    if pending_signature(project) is not None:
        raise ContractingError(
            _(
                "The signed copy uploaded earlier is waiting for the bureau's confirmation: "
                "a new copy can be uploaded once the bureau has returned it."
            ),
            field="file",
        )
    try:
        stored = storage.save_upload(upload, kinds=SIGNED_COPY_KINDS)
    except storage.UploadRefused as exc:
        raise ContractingError(exc.message, field="file") from None
    now = utcnow()
    record = ProjectFile.from_stored(
        stored, project_id=project.id, purpose="signed_task_book", actor=actor, uploaded_at=now
    )
    db.session.add(record)
    db.session.flush()
    signature = TaskBookSignature(
        project_id=project.id,
        file_id=record.id,
        state="signed_uploaded",
        task_book_sha256=project.task_book_sha256,
        uploaded_by_id=getattr(actor, "id", None),
        uploaded_at=now,
        return_reason="",
    )
    db.session.add(signature)
    db.session.flush()
    audit.record(
        "task_book.signed_copy",
        project,
        actor=actor,
        after={
            "file_id": record.id,
            "name": record.original_name,
            "sha256": record.sha256,
            "task_book_sha256": project.task_book_sha256,
            "signature_id": signature.id,
            "state": "signed_uploaded",
        },
    )

    notify(
        bureau_users(),
        "project.signed_copy_uploaded",
        _l("Signed task book of %(code)s uploaded"),
        _l(
            "The signed copy of the task book of %(code)s “%(title)s” has been uploaded. Check it against the "
            "issued task book, then confirm it to start the project or return it with the reason."
        ),
        link=url_for("funding.contract", project_id=project.id),
        params={"code": project.code, "title": project.title},
    )
    return record


def _plan_problem(project: Project) -> str | None:
    total = plan_total(project)
    if total != project.award:
        return _(
            "The tranche plan adds up to %(total)s, not to the award of %(award)s: correct the plan first.",
            total=exact_yuan(total),
            award=exact_yuan(project.award),
        )
    return None


def _stale_copy_message() -> str:
    return _(
        "The signed copy was uploaded before the current task book was issued: upload a signed copy "
        "of the current task book."
    )


def guard_confirm_signature(signature: TaskBookSignature, actor, data: dict) -> str | None:
    """The copy is of the current task book, the project still contracting, the plan adds up."""
    project = signature.project
    if project.state != "contracting":
        return _("The task book has been signed already.")
    if signature.task_book_sha256 != project.task_book_sha256 or not signed_copy_is_current(
        project, signature.file
    ):
        return _stale_copy_message()
    return _plan_problem(project)


def on_confirm_signature(signature: TaskBookSignature, actor, data: dict) -> None:
    """The bureau confirms the copy: the project is signed and starts (its tranche on signing is due)."""
    signature.decided_by_id = getattr(actor, "id", None)
    signature.decided_at = utcnow()
    data["project"] = signature.project.code
    transition(signature.project, "sign", actor, signature_id=signature.id)


def on_return_signature(signature: TaskBookSignature, actor, data: dict) -> None:
    """The bureau returns the copy with its reason; the applicant uploads a new one."""
    signature.decided_by_id = getattr(actor, "id", None)
    signature.decided_at = utcnow()
    signature.return_reason = (data.get("reason") or "").strip()
    data["project"] = signature.project.code


def notify_signature_returned(signature: TaskBookSignature, actor, data: dict) -> None:
    """Tell the organisation's applicants why the copy came back."""
    project = signature.project
    notify(
        applicant_users(project),
        "project.signed_copy_returned",
        _l("Signed task book of %(code)s returned"),
        _l(
            "The bureau has returned the signed copy of the task book of %(code)s “%(title)s”.\n"
            "Reason: %(reason)s\nUpload a correctly signed and sealed copy of the current task book."
        ),
        link=url_for("funding.contract", project_id=project.id),
        params={"code": project.code, "title": project.title, "reason": signature.return_reason},
    )


def guard_sign(project: Project, actor, data: dict) -> str | None:
    """The bureau has confirmed a signed copy of the current task book and the plan adds up to the award."""
    signature = latest_signature(project)
    if signature is None:
        return _("Upload the signed and sealed task book first.")
    if signature.state != "confirmed":
        return _("The bureau has not confirmed the signed copy of the task book yet.")
    if signature.task_book_sha256 != project.task_book_sha256:
        return _stale_copy_message()
    return _plan_problem(project)


def on_sign(project: Project, actor, data: dict) -> None:
    """The project is signed now; the tranche on signing becomes due."""
    project.signed_at = utcnow()
    mark_due(project, "contract", at=project.signed_at)


def notify_signed(project: Project, actor, data: dict) -> None:
    """Tell the bureau and the organisation's applicants that the project is under way."""
    notify(
        [*bureau_users(), *applicant_users(project)],
        "project.signed",
        _l("Project %(code)s is under way"),
        _l(
            "The signed task book of %(code)s “%(title)s” has been confirmed. The project is in progress and "
            "its first tranche is due for release."
        ),
        link=url_for("funding.contract", project_id=project.id),
        params={"code": project.code, "title": project.title},
    )


def _notify_applicants(project: Project, kind: str, subject, body) -> None:
    notify(
        applicant_users(project),
        kind,
        subject,
        body,
        link=url_for("funding.contract", project_id=project.id),
        params={"code": project.code, "title": project.title},
    )


# --- changing the tranche plan --------------------------------------------------------------


def _trigger_met(project: Project, trigger: str, milestone: Milestone | None) -> bool:
    if trigger == "contract":
        return project.signed_at is not None
    if trigger == "milestone":
        return milestone is not None and milestone.state == "achieved"
    return project.conclusion == "pass"


def replan_tranches(project: Project, rows: Sequence[TrancheRow], actor) -> list[Tranche]:
    """Replace the project's tranche plan with ``rows`` (a milestone tranche names a milestone id).

    Refused once a tranche has a requested, approved or paid disbursement, and unless the
    plan adds up to the award exactly (:func:`check_plan`). Rows keep their tranche when
    they carry its id; a tranche left out is removed (or cancelled when a rejected request
    refers to it). A tranche whose trigger has been met is due at once, one whose trigger
    has not is not. While contracting, the task book is issued again. Audited.
    """
    db.session.execute(sa.select(Project.id).where(Project.id == project.id).with_for_update())
    if project.state not in ("contracting", "in_progress"):
        raise ContractingError(
            _("The tranche plan can no longer change in this state of the project.")
        )
    if has_live_disbursement(project):
        raise ContractingError(
            _(
                "Money of this project has been requested or paid out: the tranche plan can "
                "no longer change."
            )
        )
    rows = [TrancheRow(r.amount, r.trigger, r.milestone, r.id) for r in rows]
    milestones = {m.id: m for m in project.milestones}
    current = {t.id: t for t in live_tranches(project)}
    check_plan(rows, project.award, milestones)
    unknown = {
        i: _("This tranche is no longer part of the plan: reload the page.")
        for i, r in enumerate(rows)
        if r.id is not None and r.id not in current
    }
    if unknown:
        raise PlanError(unknown)
    before = describe_plan(current.values())
    now = utcnow()
    kept = set()
    result = []
    for position, row in enumerate(rows, start=1):
        tranche = current.get(row.id) if row.id is not None else None
        milestone = milestones.get(row.milestone) if row.trigger == "milestone" else None
        unchanged = (
            tranche is not None
            and tranche.trigger == row.trigger
            and tranche.milestone_id == (milestone.id if milestone else None)
        )
        if tranche is None:
            tranche = Tranche(project_id=project.id)
            project.tranches.append(tranche)
        else:
            kept.add(tranche.id)
        tranche.position = position
        tranche.amount = to_money(row.amount)
        tranche.trigger = row.trigger
        tranche.milestone_id = milestone.id if milestone else None
        if _trigger_met(project, row.trigger, milestone):
            if not (unchanged and tranche.due_since is not None):
                tranche.due_since = now
        else:
            tranche.due_since = None
        result.append(tranche)
    referred = set(
        db.session.scalars(
            sa.select(Disbursement.tranche_id).where(
                Disbursement.tranche_id.in_(list(current) or [0])
            )
        )
    )
    for tranche_id, tranche in current.items():
        if tranche_id in kept:
            continue
        if tranche_id in referred:
            tranche.cancelled_at = now
        else:
            project.tranches.remove(tranche)
    db.session.flush()
    audit.record(
        "tranche.plan",
        project,
        actor=actor,
        before={"tranches": before},
        after={"tranches": describe_plan(project.tranches), "award": str(project.award)},
    )
    if project.state == "contracting":
        issue_task_book(project, actor)
    return result
