"""Portfolio figures for a period, from grouped queries: the same fixed number of statements
whether the portfolio holds ten projects or ten thousand.

Definitions (the report prints them in its notes):

- A project's year is its call's year (``Project.year``); an application's year is its call's year.
- *Applications* are the applications submitted (``submitted_at`` set) to the period's calls.
- *Passed the formal check* are those past it: under review, reviewed, approved, declined or
  contracted. Drafts, withdrawn applications, those returned or waiting for the check and those
  rejected at the check are not.
- *Funded* are the projects (one per application); *success rate* = funded ÷ passed the formal check.
- *Awarded* = Σ award; *disbursed* = Σ money paid (``disbursed_total``); *recovered* = Σ money paid
  back; *spent* = Σ spending reports verified by finance.
- A milestone is *on time* when achieved on or before its due date (Beijing time). Counted are the
  milestones achieved or due by the as-of date; open milestones of terminated projects are left out.
- An organisation holds a qualification in year Y when it is valid on 31 December of Y.
- Technology enterprises in Y: organisations holding any qualification on 31 December of Y;
  national high-tech enterprises: those holding ``national_high_tech``. R&D intensity in Y:
  Σ R&D spending ÷ Σ revenue over the organisations' figures for Y.

All money is Decimal yuan, summed by the database and rounded to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.applications.models import Application
from grants.core.money import money_or_zero
from grants.core.timeutil import local_today, utc_to_local
from grants.extensions import db
from grants.funding.models import Expenditure
from grants.orgs.models import IndustryCluster, Organisation, Qualification, YearFigure
from grants.programmes.models import CATEGORIES, FUNDING_LEVELS, Call
from grants.projects.models import OUTCOME_KINDS, AcceptanceDecision, Milestone, Outcome, Project
from grants.reports.periods import Period

ZERO = Decimal(0)
RATE = Decimal("0.0001")
PASSED_FORMAL_CHECK = ("under_review", "reviewed", "approved", "declined", "contracted")
NO_CLUSTER = "none"
ANY_QUALIFICATION = "*"
NATIONAL_HIGH_TECH = "national_high_tech"
COUNTED_OUTCOMES = ("patent", "paper", "standard", "new_product", "software", "award")


def ratio(part, whole) -> Decimal | None:
    """``part / whole`` to four decimals, or None when ``whole`` is zero."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE, rounding=ROUND_HALF_UP)


@dataclass
class Tally:
    """Applications, funded projects and money of one row of a table."""

    applications: int = 0
    passed: int = 0
    funded: int = 0
    awarded: Decimal = ZERO
    disbursed: Decimal = ZERO
    recovered: Decimal = ZERO
    spent: Decimal = ZERO

    def add(self, other: Tally) -> Tally:
        self.applications += other.applications
        self.passed += other.passed
        self.funded += other.funded
        self.awarded += other.awarded
        self.disbursed += other.disbursed
        self.recovered += other.recovered
        self.spent += other.spent
        return self

    @property
    def success_rate(self) -> Decimal | None:
        """Funded ÷ applications that passed the formal check."""
        return ratio(self.funded, self.passed)

    @property
    def disbursed_rate(self) -> Decimal | None:
        return ratio(self.disbursed, self.awarded)

    @property
    def spent_rate(self) -> Decimal | None:
        """Spent ÷ disbursed."""
        return ratio(self.spent, self.disbursed)


class CubeKey(NamedTuple):
    year: int
    level: str
    category: str
    cluster: str


@dataclass(frozen=True)
class ClusterRef:
    """An industry cluster as the report names it."""

    id: int | None
    code: str
    name_zh: str
    name_en: str
    sort_order: int

    def name(self, locale: str) -> str:
        if self.id is None:
            return str(_l("No cluster"))
        return self.name_zh if str(locale).startswith("zh") else (self.name_en or self.name_zh)


@dataclass
class MilestoneTally:
    on_time: int = 0
    late: int = 0
    overdue: int = 0

    @property
    def counted(self) -> int:
        return self.on_time + self.late + self.overdue

    @property
    def on_time_rate(self) -> Decimal | None:
        return ratio(self.on_time, self.counted)

    def add(self, other: MilestoneTally) -> MilestoneTally:
        self.on_time += other.on_time
        self.late += other.late
        self.overdue += other.overdue
        return self


@dataclass
class OutcomeTally:
    records: int = 0
    quantity: Decimal = ZERO

    def add(self, other: OutcomeTally) -> OutcomeTally:
        self.records += other.records
        self.quantity += other.quantity
        return self


@dataclass
class AcceptanceTally:
    """Where the projects stand in acceptance (验收)."""

    passed: int = 0
    failed: int = 0
    rectifying: int = 0
    under_review: int = 0
    ongoing: int = 0
    terminated: int = 0
    rectify_decisions: int = 0

    @property
    def concluded(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> Decimal | None:
        return ratio(self.passed, self.concluded)

    def add(self, other: AcceptanceTally) -> AcceptanceTally:
        for name in (
            "passed",
            "failed",
            "rectifying",
            "under_review",
            "ongoing",
            "terminated",
            "rectify_decisions",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass
class EnterpriseYear:
    """The district's enterprises in one year (qualifications on 31 December, yearly figures)."""

    year: int
    tech_enterprises: int = 0
    national_high_tech: int = 0
    revenue: Decimal = ZERO
    rd_spending: Decimal = ZERO

    @property
    def rd_intensity(self) -> Decimal | None:
        """R&D spending ÷ revenue."""
        return ratio(self.rd_spending, self.revenue)


@dataclass(frozen=True)
class ProjectLine:
    """One project as the tables and the appendix list it."""

    id: int
    code: str
    title: str
    year: int
    organisation_id: int
    organisation: str
    cluster: str
    level: str
    category: str
    award: Decimal
    disbursed: Decimal
    recovered: Decimal
    spent: Decimal
    state: str
    conclusion: str | None


@dataclass
class Portfolio:
    """Every figure of a portfolio report for one period."""

    period: Period
    as_of: date
    clusters: dict[str, ClusterRef]
    cube: dict[CubeKey, Tally]
    qualifications: dict[str, Tally]
    enterprises: dict[int, EnterpriseYear]
    milestones: dict[str, MilestoneTally]
    outcomes: dict[str, dict[str, OutcomeTally]]
    acceptance: dict[str, AcceptanceTally]
    projects: list[ProjectLine] = field(default_factory=list)

    # --- roll-ups of the cube ------------------------------------------------------------

    def rollup(self, dimension: str, keys: Iterable[str | int] = ()) -> dict:
        """Tallies by one dimension of the cube (year, level, category, cluster), ``keys`` first."""
        result: dict = {key: Tally() for key in keys}
        for cube_key, tally in self.cube.items():
            result.setdefault(getattr(cube_key, dimension), Tally()).add(tally)
        return result

    @property
    def totals(self) -> Tally:
        total = Tally()
        for tally in self.cube.values():
            total.add(tally)
        return total

    @property
    def by_cluster(self) -> dict[str, Tally]:
        rows = self.rollup("cluster", self.clusters)
        return dict(sorted(rows.items(), key=lambda kv: self._cluster_order(kv[0])))

    @property
    def by_level(self) -> dict[str, Tally]:
        return self._ordered(self.rollup("level", FUNDING_LEVELS), list(FUNDING_LEVELS))

    @property
    def by_category(self) -> dict[str, Tally]:
        return self._ordered(self.rollup("category", CATEGORIES), list(CATEGORIES))

    @property
    def by_year(self) -> dict[int, Tally]:
        return dict(sorted(self.rollup("year", self.period.years).items()))

    def by_cluster_and(self, dimension: str) -> dict[str, dict]:
        """Per cluster, tallies by a second dimension (level, category or year)."""
        result: dict[str, dict] = {code: {} for code in self.clusters}
        for cube_key, tally in self.cube.items():
            inner = result.setdefault(cube_key.cluster, {})
            inner.setdefault(getattr(cube_key, dimension), Tally()).add(tally)
        return dict(sorted(result.items(), key=lambda kv: self._cluster_order(kv[0])))

    def where(
        self, *, levels: Iterable[str] | None = None, clusters: Iterable[str] | None = None
    ) -> Tally:
        """The tally of the cells at the given funding levels and clusters."""
        levels = set(levels) if levels is not None else None
        clusters = set(clusters) if clusters is not None else None
        total = Tally()
        for key, tally in self.cube.items():
            if (levels is None or key.level in levels) and (
                clusters is None or key.cluster in clusters
            ):
                total.add(tally)
        return total

    # --- other tables --------------------------------------------------------------------

    @property
    def milestone_total(self) -> MilestoneTally:
        total = MilestoneTally()
        for tally in self.milestones.values():
            total.add(tally)
        return total

    @property
    def acceptance_total(self) -> AcceptanceTally:
        total = AcceptanceTally()
        for tally in self.acceptance.values():
            total.add(tally)
        return total

    @property
    def outcome_totals(self) -> dict[str, OutcomeTally]:
        totals = {kind: OutcomeTally() for kind in OUTCOME_KINDS}
        for kinds in self.outcomes.values():
            for kind, tally in kinds.items():
                totals.setdefault(kind, OutcomeTally()).add(tally)
        return totals

    @property
    def organisations_funded(self) -> int:
        return len({line.organisation_id for line in self.projects})

    def projects_of(self, cluster: str) -> list[ProjectLine]:
        return [line for line in self.projects if line.cluster == cluster]

    def projects_by_cluster(self) -> list[tuple[str, list[ProjectLine]]]:
        grouped: dict[str, list[ProjectLine]] = defaultdict(list)
        for line in self.projects:
            grouped[line.cluster].append(line)
        return sorted(grouped.items(), key=lambda kv: self._cluster_order(kv[0]))

    def cluster_name(self, code: str, locale: str) -> str:
        ref = self.clusters.get(code)
        if ref is None:
            return "—"
        return ref.name(locale)

    def _cluster_order(self, code: str) -> tuple:
        ref = self.clusters.get(code)
        return (ref is None, ref.sort_order if ref else 0, code)

    @staticmethod
    def _ordered(rows: dict, order: list) -> dict:
        return dict(
            sorted(
                rows.items(),
                key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), str(kv[0])),
            )
        )


# --- the queries ----------------------------------------------------------------------------


def _year_ends(years: Iterable[int]):
    """A derived table of (year, 31 December of that year) rows."""
    selects = [
        sa.select(
            sa.literal(year, sa.Integer).label("year"),
            sa.literal(date(year, 12, 31), sa.Date).label("year_end"),
        )
        for year in sorted(set(years))
    ]
    if len(selects) == 1:
        return selects[0].subquery("year_ends")
    return sa.union_all(*selects).subquery("year_ends")


def _valid_on(year_end):
    return sa.and_(
        Qualification.granted_on <= year_end,
        sa.or_(Qualification.expires_on.is_(None), Qualification.expires_on >= year_end),
    )


def load_clusters() -> tuple[dict[int, str], dict[str, ClusterRef]]:
    """Cluster ids to codes, and the clusters by code in their sort order."""
    rows = db.session.execute(
        sa.select(
            IndustryCluster.id,
            IndustryCluster.code,
            IndustryCluster.name_zh,
            IndustryCluster.name_en,
            IndustryCluster.sort_order,
            IndustryCluster.active,
        ).order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()
    codes = {row.id: row.code for row in rows}
    refs = {
        row.code: ClusterRef(row.id, row.code, row.name_zh, row.name_en, row.sort_order)
        for row in rows
        if row.active
    }
    return codes, refs


def _cluster_code(codes: dict[int, str], cluster_id: int | None) -> str:
    return codes.get(cluster_id, NO_CLUSTER) if cluster_id is not None else NO_CLUSTER


def project_cube(period: Period, codes: dict[int, str]) -> dict[CubeKey, Tally]:
    """Applications, funded projects, awarded, disbursed, recovered and spent money by
    (year, funding level, call category, cluster): three grouped statements."""
    cube: dict[CubeKey, Tally] = defaultdict(Tally)
    first, last = period.first_year, period.last_year
    projects = db.session.execute(
        sa.select(
            Project.year,
            Call.funding_level,
            Call.category,
            Project.cluster_id,
            sa.func.count(Project.id),
            sa.func.sum(Project.award),
            sa.func.sum(Project.disbursed_total),
            sa.func.sum(Project.recovered_total),
        )
        .join(Call, Call.id == Project.call_id)
        .where(Project.year.between(first, last))
        .group_by(Project.year, Call.funding_level, Call.category, Project.cluster_id)
    )
    for year, level, category, cluster_id, count, awarded, disbursed, recovered in projects:
        tally = cube[CubeKey(year, level, category, _cluster_code(codes, cluster_id))]
        tally.funded += count
        tally.awarded += money_or_zero(awarded)
        tally.disbursed += money_or_zero(disbursed)
        tally.recovered += money_or_zero(recovered)
    passed = sa.func.sum(sa.case((Application.state.in_(PASSED_FORMAL_CHECK), 1), else_=0))
    applications = db.session.execute(
        sa.select(
            Call.year,
            Call.funding_level,
            Call.category,
            Application.cluster_id,
            sa.func.count(Application.id),
            passed,
        )
        .join(Call, Call.id == Application.call_id)
        .where(Call.year.between(first, last), Application.submitted_at.is_not(None))
        .group_by(Call.year, Call.funding_level, Call.category, Application.cluster_id)
    )
    for year, level, category, cluster_id, count, passed_count in applications:
        tally = cube[CubeKey(year, level, category, _cluster_code(codes, cluster_id))]
        tally.applications += count
        tally.passed += int(passed_count or 0)
    spent = db.session.execute(
        sa.select(
            Project.year,
            Call.funding_level,
            Call.category,
            Project.cluster_id,
            sa.func.sum(Expenditure.amount),
        )
        .join(Project, Project.id == Expenditure.project_id)
        .join(Call, Call.id == Project.call_id)
        .where(Project.year.between(first, last), Expenditure.state == "verified")
        .group_by(Project.year, Call.funding_level, Call.category, Project.cluster_id)
    )
    for year, level, category, cluster_id, amount in spent:
        cube[
            CubeKey(year, level, category, _cluster_code(codes, cluster_id))
        ].spent += money_or_zero(amount)
    return dict(cube)


def qualification_tallies(period: Period) -> dict[str, Tally]:
    """Applications and funded projects by the qualifications their organisation held on
    31 December of the year (an organisation with two qualifications counts in both rows;
    ``*`` is any qualification): two grouped statements."""
    years = _year_ends(period.years)
    by_kind = (
        sa.select(years.c.year, Qualification.organisation_id, Qualification.kind)
        .select_from(years)
        .join(Qualification, _valid_on(years.c.year_end))
    )
    any_kind = (
        sa.select(
            years.c.year,
            Qualification.organisation_id,
            sa.literal(ANY_QUALIFICATION, sa.String).label("kind"),
        )
        .select_from(years)
        .join(Qualification, _valid_on(years.c.year_end))
    )
    held = sa.union(by_kind, any_kind).subquery("held")
    result: dict[str, Tally] = defaultdict(Tally)
    projects = db.session.execute(
        sa.select(
            held.c.kind,
            sa.func.count(Project.id),
            sa.func.sum(Project.award),
            sa.func.sum(Project.disbursed_total),
        )
        .join(
            held,
            sa.and_(held.c.organisation_id == Project.organisation_id, held.c.year == Project.year),
        )
        .where(Project.year.between(period.first_year, period.last_year))
        .group_by(held.c.kind)
    )
    for kind, count, awarded, disbursed in projects:
        result[kind].funded += count
        result[kind].awarded += money_or_zero(awarded)
        result[kind].disbursed += money_or_zero(disbursed)
    passed = sa.func.sum(sa.case((Application.state.in_(PASSED_FORMAL_CHECK), 1), else_=0))
    applications = db.session.execute(
        sa.select(held.c.kind, sa.func.count(Application.id), passed)
        .join(Call, Call.id == Application.call_id)
        .join(
            held,
            sa.and_(
                held.c.organisation_id == Application.organisation_id, held.c.year == Call.year
            ),
        )
        .where(
            Call.year.between(period.first_year, period.last_year),
            Application.submitted_at.is_not(None),
        )
        .group_by(held.c.kind)
    )
    for kind, count, passed_count in applications:
        result[kind].applications += count
        result[kind].passed += int(passed_count or 0)
    return dict(result)


def enterprise_years(years: Iterable[int]) -> dict[int, EnterpriseYear]:
    """Technology and national high-tech enterprises on 31 December, revenue and R&D spending,
    for each year: two grouped statements."""
    years = sorted(set(years))
    result = {year: EnterpriseYear(year) for year in years}
    if not years:
        return result
    ends = _year_ends(years)
    counts = db.session.execute(
        sa.select(
            ends.c.year,
            sa.func.count(sa.distinct(Qualification.organisation_id)),
            sa.func.count(
                sa.distinct(
                    sa.case(
                        (Qualification.kind == NATIONAL_HIGH_TECH, Qualification.organisation_id)
                    )
                )
            ),
        )
        .select_from(ends)
        .join(Qualification, _valid_on(ends.c.year_end))
        .group_by(ends.c.year)
    )
    for year, any_count, high_tech in counts:
        result[year].tech_enterprises = any_count
        result[year].national_high_tech = high_tech
    figures = db.session.execute(
        sa.select(
            YearFigure.year, sa.func.sum(YearFigure.revenue), sa.func.sum(YearFigure.rd_spending)
        )
        .where(YearFigure.year.in_(years))
        .group_by(YearFigure.year)
    )
    for year, revenue, rd_spending in figures:
        result[year].revenue = money_or_zero(revenue)
        result[year].rd_spending = money_or_zero(rd_spending)
    return result


def _beijing_date(value: datetime | None) -> date | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return utc_to_local(value).date()


def milestone_tallies(
    period: Period, codes: dict[int, str], as_of: date
) -> dict[str, MilestoneTally]:
    """Milestones on time, late and overdue by cluster (one statement, counted here)."""
    rows = db.session.execute(
        sa.select(Project.cluster_id, Milestone.due_date, Milestone.achieved_at)
        .join(Project, Project.id == Milestone.project_id)
        .where(
            Project.year.between(period.first_year, period.last_year),
            sa.or_(
                Milestone.achieved_at.is_not(None),
                sa.and_(Milestone.due_date < as_of, Project.state != "terminated"),
            ),
        )
    )
    result: dict[str, MilestoneTally] = defaultdict(MilestoneTally)
    for cluster_id, due_date, achieved_at in rows:
        tally = result[_cluster_code(codes, cluster_id)]
        achieved_on = _beijing_date(achieved_at)
        if achieved_on is None:
            tally.overdue += 1
        elif achieved_on <= due_date:
            tally.on_time += 1
        else:
            tally.late += 1
    return dict(result)


def outcome_tallies(period: Period, codes: dict[int, str]) -> dict[str, dict[str, OutcomeTally]]:
    """Outcome records and their summed quantity by cluster and kind (one grouped statement)."""
    rows = db.session.execute(
        sa.select(
            Project.cluster_id,
            Outcome.kind,
            sa.func.count(Outcome.id),
            sa.func.sum(Outcome.quantity),
        )
        .join(Project, Project.id == Outcome.project_id)
        .where(Project.year.between(period.first_year, period.last_year))
        .group_by(Project.cluster_id, Outcome.kind)
    )
    result: dict[str, dict[str, OutcomeTally]] = defaultdict(dict)
    for cluster_id, kind, count, quantity in rows:
        kinds = result[_cluster_code(codes, cluster_id)]
        kinds.setdefault(kind, OutcomeTally()).add(
            OutcomeTally(count, Decimal(quantity or 0).quantize(Decimal("0.01")))
        )
    return dict(result)


def acceptance_tallies(period: Period, codes: dict[int, str]) -> dict[str, AcceptanceTally]:
    """Acceptance results by cluster from the projects' states and conclusions, and the number of
    rectification decisions (two grouped statements)."""
    result: dict[str, AcceptanceTally] = defaultdict(AcceptanceTally)
    rows = db.session.execute(
        sa.select(Project.cluster_id, Project.state, Project.conclusion, sa.func.count(Project.id))
        .where(Project.year.between(period.first_year, period.last_year))
        .group_by(Project.cluster_id, Project.state, Project.conclusion)
    )
    for cluster_id, state, conclusion, count in rows:
        tally = result[_cluster_code(codes, cluster_id)]
        if state == "terminated":
            tally.terminated += count
        elif state == "acceptance_review":
            tally.under_review += count
        elif conclusion == "pass" and state in ("accepted", "closed"):
            tally.passed += count
        elif conclusion == "fail" and state in ("acceptance_failed", "closed"):
            tally.failed += count
        elif conclusion == "rectify":
            tally.rectifying += count
        else:
            tally.ongoing += count
    decisions = db.session.execute(
        sa.select(Project.cluster_id, sa.func.count(AcceptanceDecision.id))
        .join(Project, Project.id == AcceptanceDecision.project_id)
        .where(
            Project.year.between(period.first_year, period.last_year),
            AcceptanceDecision.conclusion == "rectify",
        )
        .group_by(Project.cluster_id)
    )
    for cluster_id, count in decisions:
        result[_cluster_code(codes, cluster_id)].rectify_decisions += count
    return dict(result)


def project_lines(period: Period, codes: dict[int, str]) -> list[ProjectLine]:
    """Every project of the period with its money and standing (one statement)."""
    spent = (
        sa.select(Expenditure.project_id, sa.func.sum(Expenditure.amount).label("spent"))
        .where(Expenditure.state == "verified")
        .group_by(Expenditure.project_id)
        .subquery("spent")
    )
    rows = db.session.execute(
        sa.select(
            Project.id,
            Project.code,
            Project.title,
            Project.year,
            Project.organisation_id,
            Organisation.name,
            Project.cluster_id,
            Call.funding_level,
            Call.category,
            Project.award,
            Project.disbursed_total,
            Project.recovered_total,
            spent.c.spent,
            Project.state,
            Project.conclusion,
        )
        .join(Call, Call.id == Project.call_id)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .outerjoin(spent, spent.c.project_id == Project.id)
        .where(Project.year.between(period.first_year, period.last_year))
        .order_by(Project.code)
    )
    return [
        ProjectLine(
            id=r[0],
            code=r[1],
            title=r[2],
            year=r[3],
            organisation_id=r[4],
            organisation=r[5],
            cluster=_cluster_code(codes, r[6]),
            level=r[7],
            category=r[8],
            award=money_or_zero(r[9]),
            disbursed=money_or_zero(r[10]),
            recovered=money_or_zero(r[11]),
            spent=money_or_zero(r[12]),
            state=r[13],
            conclusion=r[14],
        )
        for r in rows
    ]


def build_portfolio(
    period: Period, *, as_of: date | None = None, enterprise_span: Iterable[int] | None = None
) -> Portfolio:
    """Every figure of the portfolio for ``period`` (enterprise figures for ``enterprise_span``)."""
    as_of = as_of or local_today()
    codes, clusters = load_clusters()
    cube = project_cube(period, codes)
    used = {key.cluster for key in cube}
    if NO_CLUSTER in used or any(code not in clusters for code in used):
        _add_inactive(clusters, used)
    return Portfolio(
        period=period,
        as_of=as_of,
        clusters=clusters,
        cube=cube,
        qualifications=qualification_tallies(period),
        enterprises=enterprise_years(
            enterprise_span if enterprise_span is not None else period.years
        ),
        milestones=milestone_tallies(period, codes, as_of),
        outcomes=outcome_tallies(period, codes),
        acceptance=acceptance_tallies(period, codes),
        projects=project_lines(period, codes),
    )


def _add_inactive(clusters: dict[str, ClusterRef], used: set[str]) -> None:
    """Clusters switched off since, and projects without a cluster, still get a row."""
    missing = [code for code in used if code not in clusters and code != NO_CLUSTER]
    if missing:
        rows = db.session.execute(
            sa.select(
                IndustryCluster.id,
                IndustryCluster.code,
                IndustryCluster.name_zh,
                IndustryCluster.name_en,
                IndustryCluster.sort_order,
            ).where(IndustryCluster.code.in_(missing))
        ).all()
        for row in rows:
            clusters[row.code] = ClusterRef(
                row.id, row.code, row.name_zh, row.name_en, row.sort_order
            )
    if NO_CLUSTER in used:
        clusters[NO_CLUSTER] = ClusterRef(None, NO_CLUSTER, "", "", 1_000_000)
