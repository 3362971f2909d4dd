"""Portfolio figures on a fixture portfolio: exact Decimals, the shared definitions, and a number of
SQL statements that does not grow with the portfolio."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event

from grants.extensions import db
from grants.reports.aggregations import ANY_QUALIFICATION, build_portfolio, enterprise_years
from grants.reports.periods import Period, PeriodError, period_choices
from grants.reports.plan import plan_progress
from tests.factories import CallFactory, make_project
from tests.reports.portfolio_helpers import AS_OF, EXPECTED, YEAR
from tests.reports.portfolio_helpers import build_portfolio as build_fixture

PERIOD = Period(YEAR, YEAR)


def figures():
    return build_portfolio(PERIOD, as_of=AS_OF)


def test_cluster_tallies_are_exact_on_fixtures(app):
    build_fixture()
    portfolio = figures()
    for code in ("pharma", "equipment"):
        tally = portfolio.by_cluster[code]
        expected = EXPECTED[code]
        assert (tally.applications, tally.passed, tally.funded) == (
            expected["applications"],
            expected["passed"],
            expected["funded"],
        )
        assert tally.awarded == expected["awarded"]
        assert tally.disbursed == expected["disbursed"]
        assert tally.spent == expected["spent"]
        assert tally.success_rate == expected["success_rate"]
        assert isinstance(tally.awarded, Decimal)
    assert portfolio.totals.awarded == EXPECTED["total_awarded"]
    assert list(portfolio.by_cluster)[:2] == ["pharma", "equipment"]


def test_levels_and_plan_figures_add_up(app):
    build_fixture()
    portfolio = figures()
    for level in ("province", "city"):
        assert portfolio.by_level[level].funded == EXPECTED[level]["funded"]
        assert portfolio.by_level[level].awarded == EXPECTED[level]["awarded"]
    assert portfolio.by_level["district"].funded == 0
    both = portfolio.where(levels=("province", "city"))
    assert (both.funded, both.awarded) == (3, EXPECTED["total_awarded"])
    leading = portfolio.where(levels=("province", "city"), clusters=["pharma"])
    assert (leading.funded, leading.awarded) == (2, Decimal("1510000.55"))
    assert portfolio.by_category["research"].funded == 2
    assert portfolio.by_category["transfer"].awarded == Decimal("510000.55")
    assert list(portfolio.by_year) == [YEAR] and portfolio.by_year[YEAR].funded == 3


def test_qualifications_count_on_the_last_day_of_the_year(app):
    build_fixture()
    portfolio = figures()
    high_tech = portfolio.qualifications["national_high_tech"]
    assert (high_tech.applications, high_tech.passed, high_tech.funded) == (4, 3, 2)
    assert high_tech.awarded == Decimal("1510000.55")
    assert portfolio.qualifications[ANY_QUALIFICATION].funded == 2
    assert "tech_sme" not in portfolio.qualifications  # expired on 30 June


def test_enterprises_and_rd_intensity_by_year(app):
    build_fixture()
    years = enterprise_years([2019, 2020, 2022])
    assert (years[2020].tech_enterprises, years[2020].national_high_tech) == (1, 1)
    assert years[2019].tech_enterprises == 1
    assert years[2022].tech_enterprises == 0
    assert years[2020].rd_intensity == Decimal("0.0333")
    assert years[2019].rd_intensity is None
    indicators = plan_progress(years, range(2020, 2023))
    tech, high_tech, rd = indicators
    assert (tech.baseline, tech.target) == (1, 2)
    assert (high_tech.baseline, high_tech.target, high_tech.stated_baseline) == (1, 10, 8)
    assert rd.target == Decimal("0.0433")
    assert tech.latest_year == 2022 and tech.achieved is False


def test_milestones_on_time_late_and_overdue(app):
    build_fixture()
    portfolio = figures()
    pharma = portfolio.milestones["pharma"]
    assert (pharma.on_time, pharma.late, pharma.overdue) == (1, 1, 2)
    equipment = portfolio.milestones["equipment"]
    assert (equipment.on_time, equipment.late, equipment.overdue) == (1, 0, 1)
    assert portfolio.milestone_total.on_time_rate == Decimal("0.3333")


def test_outcomes_and_acceptance_by_cluster(app):
    build_fixture()
    portfolio = figures()
    assert portfolio.outcomes["pharma"]["patent"].quantity == Decimal("3.00")
    assert portfolio.outcomes["pharma"]["patent"].records == 2
    assert portfolio.outcomes["pharma"]["revenue"].quantity == Decimal("1234500.00")
    assert portfolio.outcome_totals["jobs"].quantity == Decimal("12.00")
    pharma = portfolio.acceptance["pharma"]
    assert (pharma.passed, pharma.failed, pharma.rectifying, pharma.rectify_decisions) == (
        1,
        0,
        1,
        1,
    )
    assert pharma.pass_rate == Decimal("1.0000")
    assert portfolio.acceptance["equipment"].ongoing == 1
    assert portfolio.organisations_funded == 2
    assert [line.code for line in portfolio.projects] == sorted(
        line.code for line in portfolio.projects
    )


def test_other_years_stay_out_of_the_period(app):
    build_fixture()
    make_project(award="999999.00")  # a 2026 call
    assert figures().totals.awarded == EXPECTED["total_awarded"]
    assert build_portfolio(Period(2016, 2026), as_of=AS_OF).totals.funded == 4


def test_statement_count_does_not_grow_with_the_portfolio(app):
    build_fixture()
    db.session.flush()

    def count() -> int:
        statements = []

        def listener(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            figures()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    small = count()
    district_call = CallFactory(year=YEAR, funding_level="district")
    for _ in range(4):
        make_project(call=district_call, award="100000.00")
    db.session.flush()
    assert count() == small <= 14


def test_periods_parse_and_name_themselves(app):
    assert Period.parse("2021-2025").label == "2021–2025"
    assert Period.parse("2023").is_single_year
    with pytest.raises(PeriodError):
        Period.parse("2025-2021")
    with pytest.raises(PeriodError):
        Period.parse("../etc")
    keys = [key for key, _label in period_choices()]
    assert keys[:2] == ["2021-2025", "2016-2020"] and "2016" in keys
