"""What an application still lacks, and why it may not be submitted yet.

:func:`section_problems` lists, per section of the form, what is missing or breaks a
rule of the call; :func:`submission_problems` adds the conditions of the moment of
submission (the call open, the organisation eligible, the concurrent-project cap).
Every problem is a translated sentence naming the numbers involved. Money is Decimal
throughout and shown with :func:`grants.core.money.format_yuan`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from babel.numbers import format_decimal
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from grants.applications.models import (
    BUDGET_CATEGORIES,
    BUSINESS_SUB_ITEMS,
    Application,
    ApplicationState,
)
from grants.core.money import display_locale, format_yuan
from grants.core.timeutil import add_months, utc_to_local
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs.models import QUALIFICATIONS, Organisation
from grants.programmes.models import Call

ZERO = Decimal(0)
ONE = Decimal(1)
LIVE_STATES = (
    ApplicationState.SUBMITTED,
    ApplicationState.UNDER_REVIEW,
    ApplicationState.REVIEWED,
    ApplicationState.APPROVED,
    ApplicationState.CONTRACTED,
)

SECTIONS = {
    "basic": _l("Basic information"),
    "team": _l("Team"),
    "budget": _l("Budget"),
    "milestones": _l("Milestone plan"),
    "kpis": _l("KPI targets"),
    "attachments": _l("Attachments"),
}


@dataclass(frozen=True)
class BudgetRow:
    """One row of the budget table: a category, or one sub-item of business costs."""

    key: str
    category: str
    sub_item: str
    label: object

    @property
    def is_sub_item(self) -> bool:
        return bool(self.sub_item)


BUDGET_ROWS: tuple[BudgetRow, ...] = (
    BudgetRow("equipment", "equipment", "", BUDGET_CATEGORIES["equipment"]),
    *(
        BudgetRow(f"business_{code}", "business", code, label)
        for code, label in BUSINESS_SUB_ITEMS.items()
    ),
    BudgetRow("labour", "labour", "", BUDGET_CATEGORIES["labour"]),
    BudgetRow("indirect", "indirect", "", BUDGET_CATEGORIES["indirect"]),
)
BUDGET_ROW_KEYS = {(r.category, r.sub_item): r.key for r in BUDGET_ROWS}


@dataclass
class BudgetSummary:
    """The budget's amounts in yuan by row, with the totals the rules need."""

    amounts: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    @classmethod
    def from_lines(cls, lines: Iterable) -> BudgetSummary:
        """From BudgetLine rows (or objects with category, sub_item, fiscal, self_raised)."""
        amounts = {}
        for line in lines:
            key = BUDGET_ROW_KEYS.get((line.category, line.sub_item or ""))
            if key is not None:
                amounts[key] = (line.fiscal or ZERO, line.self_raised or ZERO)
        return cls(amounts)

    def fiscal(self, key: str) -> Decimal:
        return self.amounts.get(key, (ZERO, ZERO))[0]

    def self_raised(self, key: str) -> Decimal:
        return self.amounts.get(key, (ZERO, ZERO))[1]

    def row_total(self, key: str) -> Decimal:
        return self.fiscal(key) + self.self_raised(key)

    def category_fiscal(self, category: str) -> Decimal:
        return sum((self.fiscal(r.key) for r in BUDGET_ROWS if r.category == category), ZERO)

    def category_self_raised(self, category: str) -> Decimal:
        return sum((self.self_raised(r.key) for r in BUDGET_ROWS if r.category == category), ZERO)

    @property
    def fiscal_total(self) -> Decimal:
        return sum((f for f, _s in self.amounts.values()), ZERO)

    @property
    def self_raised_total(self) -> Decimal:
        return sum((s for _f, s in self.amounts.values()), ZERO)

    @property
    def grand_total(self) -> Decimal:
        return self.fiscal_total + self.self_raised_total

    @property
    def fiscal_direct(self) -> Decimal:
        return sum((self.category_fiscal(c) for c in ("equipment", "business", "labour")), ZERO)

    def indirect_limit(self, ratio: Decimal) -> Decimal:
        """The most fiscal indirect costs may be: ratio × (fiscal direct − fiscal equipment)."""
        return ratio * (self.fiscal_direct - self.category_fiscal("equipment"))


def exact(amount: Decimal) -> str:
    """Money in 元 to the cent: a check compares amounts exactly, which 万元 to two decimals
    would hide."""
    return format_yuan(amount)


def percent(ratio: Decimal) -> str:
    """A fraction as a percentage number without needless zeros (0.5 → 50, 0.125 → 12.5)."""
    return format_decimal(ratio * 100, format="#,##0.##", locale=display_locale())


def budget_problems(call, budget: BudgetSummary) -> list[str]:
    """The call's budget rules: a total above zero, the cap, the self-raised share, the overhead limit."""
    problems = []
    if budget.grand_total <= ZERO:
        problems.append(_("Enter the budget: the total budget must be more than zero."))
        return problems
    if budget.fiscal_total > call.cap_per_project:
        problems.append(
            _(
                "The fiscal request of %(amount)s exceeds the call's cap of %(cap)s.",
                amount=exact(budget.fiscal_total),
                cap=exact(call.cap_per_project),
            )
        )
    minimum = call.min_self_raised_ratio * budget.grand_total
    if budget.self_raised_total < minimum:
        problems.append(
            _(
                "The self-raised funds of %(amount)s are less than the call's minimum of "
                "%(min)s (%(ratio)s %% of the total budget of %(total)s).",
                amount=exact(budget.self_raised_total),
                min=exact(minimum),
                ratio=percent(call.min_self_raised_ratio),
                total=exact(budget.grand_total),
            )
        )
    limit = budget.indirect_limit(call.indirect_cost_ratio)
    indirect = budget.category_fiscal("indirect")
    if indirect > limit:
        problems.append(
            _(
                "The fiscal indirect costs of %(amount)s exceed the limit of %(limit)s "
                "(%(ratio)s %% of the fiscal direct costs less equipment, %(base)s).",
                amount=exact(indirect),
                limit=exact(limit),
                ratio=percent(call.indirect_cost_ratio),
                base=exact(budget.fiscal_direct - budget.category_fiscal("equipment")),
            )
        )
    return problems


def duration_months(start: date, end: date) -> int:
    """How many months the period from ``start`` to ``end`` (both included) spans, counting a part as one."""
    # add_months(start, months) falls in end's month; the period's last day is the day before
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) - timedelta(days=1) < end:
        months += 1  # end lies past a whole number of months: the part counts as one
    return max(0, months)


def basic_problems(application: Application) -> list[str]:
    problems = []
    call = application.call
    if not (application.title or "").strip():
        problems.append(_("Give the project a title."))
    if application.cluster_id is None:
        problems.append(_("Choose the industry cluster."))
    elif call.clusters and application.cluster not in call.clusters:
        problems.append(
            _(
                "The industry cluster %(cluster)s is not among the clusters this call targets.",
                cluster=application.cluster.display_name(),
            )
        )
    if application.start_date is None or application.end_date is None:
        problems.append(_("Give the start and end dates of the project period."))
    else:
        months = duration_months(application.start_date, application.end_date)
        if months > call.max_duration_months:
            problems.append(
                _(
                    "The project period of %(months)d months exceeds the call's maximum of "
                    "%(max)d months.",
                    months=months,
                    max=call.max_duration_months,
                )
            )
    for attr, message in (
        ("summary", _("Write the summary.")),
        ("objectives", _("Describe the objectives.")),
        ("technical_route", _("Describe the technical route.")),
    ):
        if not (getattr(application, attr) or "").strip():
            problems.append(message)
    return problems


def team_problems(application: Application) -> list[str]:
    if not application.team:
        return [_("Add the team, starting with the principal investigator.")]
    principals = sum(1 for m in application.team if m.role == "principal")
    if principals == 0:
        return [_("Name the principal investigator: exactly one team member has that role.")]
    if principals > 1:
        return [
            _(
                "The team has %(count)d principal investigators; there must be exactly one.",
                count=principals,
            )
        ]
    return []


def milestone_problems(application: Application) -> list[str]:
    milestones = application.milestones
    if not milestones:
        return [_("Add the milestones of the plan.")]
    problems = []
    shares = sum((m.funding_share or ZERO for m in milestones), ZERO)
    if shares != ONE:
        problems.append(
            _(
                "The milestones' shares of funding add up to %(sum)s %%; they must add up to "
                "exactly 100 %%.",
                sum=percent(shares),
            )
        )
    start, end = application.start_date, application.end_date
    previous = None
    for m in milestones:
        if start and end and not (start <= m.due_date <= end):
            problems.append(
                _(
                    "The milestone “%(title)s” is due on %(due)s, outside the project period "
                    "(%(start)s to %(end)s).",
                    title=m.title,
                    due=m.due_date.isoformat(),
                    start=start.isoformat(),
                    end=end.isoformat(),
                )
            )
        if previous is not None and m.due_date < previous.due_date:
            problems.append(
                _(
                    "The milestone “%(title)s” is due on %(due)s, before the milestone listed "
                    "above it (%(before)s): list the milestones in order.",
                    title=m.title,
                    due=m.due_date.isoformat(),
                    before=previous.due_date.isoformat(),
                )
            )
        previous = m
    return problems


def kpi_problems(application: Application) -> list[str]:
    if not any((k.target or ZERO) > ZERO for k in application.kpis):
        return [_("Set at least one KPI target above zero.")]
    return []


def attachment_problems(application: Application) -> list[str]:
    present = {a.requirement_code for a in application.attachments}
    return [
        _("Upload the required attachment “%(name)s”.", name=requirement_name(r))
        for r in application.call.attachment_requirements
        if r.required and r.code not in present
    ]


def requirement_name(requirement) -> str:
    """The requirement's name in the user's language."""
    return (
        requirement.name_zh
        if display_locale().startswith("zh")
        else (requirement.name_en or requirement.name_zh)
    )


def section_problems(application: Application) -> dict[str, list[str]]:
    """Per section of the form, what is missing or breaks the call's rules (empty list: complete)."""
    return {
        "basic": basic_problems(application),
        "team": team_problems(application),
        "budget": budget_problems(
            application.call, BudgetSummary.from_lines(application.budget_lines)
        ),
        "milestones": milestone_problems(application),
        "kpis": kpi_problems(application),
        "attachments": attachment_problems(application),
    }


def _beijing(value: datetime) -> str:
    return format_datetime(value, "yyyy-MM-dd HH:mm")


def lock_organisation(organisation_id: int) -> None:
    """Serialise the submissions of one organisation until the transaction ends.

    Counting the organisation's live applications and then submitting one is a
    count-then-write: two submissions at once would both count below the cap. A row lock
    on the organisation (``SELECT … FOR UPDATE`` on PostgreSQL) makes the second wait
    for the first to commit and then count again; SQLite serialises writers anyway.
    """
    db.session.execute(
        sa.select(Organisation.id).where(Organisation.id == organisation_id).with_for_update()
    )


def live_application_count(application: Application) -> int:
    """The organisation's other applications in live states in calls of the same year."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(Application.id))
            .join(Call, Application.call_id == Call.id)
            .where(
                Application.organisation_id == application.organisation_id,
                Application.state.in_(LIVE_STATES),
                Call.year == application.call.year,
                Application.id != application.id,
            )
        )
        or 0
    )


def eligibility_problems(application: Application, at: datetime | None = None) -> list[str]:
    """The call open at ``at``; the qualification held on that day; the concurrent-project cap."""
    at = at or utcnow()
    call = application.call
    org = application.organisation
    problems = []
    if call.state != "published":
        problems.append(_("The call “%(call)s” is not open for applications.", call=call.title))
    elif at < call.opens_at:
        problems.append(
            _(
                "The call opens on %(time)s (Beijing time); submit after that.",
                time=_beijing(call.opens_at),
            )
        )
    elif at >= call.closes_at:
        problems.append(
            _(
                "The call closed on %(time)s (Beijing time); applications can no longer be "
                "submitted.",
                time=_beijing(call.closes_at),
            )
        )
    if call.required_qualification:
        day = utc_to_local(at).date()
        if not org.holds(call.required_qualification, day):
            problems.append(
                _(
                    "The call requires the qualification “%(qualification)s” on the day of "
                    "submission (%(day)s); %(org)s does not hold it on that day.",
                    qualification=QUALIFICATIONS.get(
                        call.required_qualification, call.required_qualification
                    ),
                    day=day.isoformat(),
                    org=org.name,
                )
            )
    if call.concurrent_cap:
        count = live_application_count(application)
        if count >= call.concurrent_cap:
            problems.append(
                _(
                    "%(org)s already has %(count)d applications submitted or running in calls "
                    "of %(year)d; the cap is %(cap)d at a time.",
                    org=org.name,
                    count=count,
                    year=call.year,
                    cap=call.concurrent_cap,
                )
            )
    return problems


def submission_problems(application: Application, at: datetime | None = None) -> list[str]:
    """Every reason the application cannot be submitted at ``at`` (now by default); empty when it can."""
    problems = [p for section in section_problems(application).values() for p in section]
    return problems + eligibility_problems(application, at)


def missing_count(application: Application) -> int:
    """How many problems the sections still have (for lists and the dashboard)."""
    return sum(len(v) for v in section_problems(application).values())
