"""A small portfolio with known figures, for the aggregation, document, job and page tests.

Two clusters, two calls of 2020 (provincial research, municipal transfer), three projects,
four more applications (declined, rejected at the formal check, withdrawn, draft), two
organisations with qualifications and yearly figures, milestones on time, late and overdue,
spending, outcomes and acceptance decisions. The expected figures are spelled out in
``EXPECTED`` so that the tests read them instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from grants.core.types import utcnow
from grants.extensions import db
from grants.funding.models import Expenditure
from grants.projects.models import AcceptanceDecision, Outcome, Project
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    ClusterFactory,
    OrganisationFactory,
    QualificationFactory,
    YearFigureFactory,
    make_project,
)

YEAR = 2020
AS_OF = date(2026, 6, 30)
EXPECTED = {
    "pharma": {
        "applications": 4,
        "passed": 3,
        "funded": 2,
        "awarded": Decimal("1510000.55"),
        "disbursed": Decimal("300000.00"),
        "spent": Decimal("200000.00"),
        "success_rate": Decimal("0.6667"),
    },
    "equipment": {
        "applications": 2,
        "passed": 1,
        "funded": 1,
        "awarded": Decimal("140000.00"),
        "disbursed": Decimal("0"),
        "spent": Decimal("0"),
        "success_rate": Decimal("1.0000"),
    },
    "total_awarded": Decimal("1650000.55"),
    "province": {"funded": 2, "awarded": Decimal("1140000.00")},
    "city": {"funded": 1, "awarded": Decimal("510000.55")},
}


@dataclass
class Portfolio:
    pharma: object
    equipment: object
    org_a: object
    org_b: object
    province_call: object
    city_call: object
    p1: Project
    p2: Project
    p3: Project


def _beijing(year, month, day, hour=12) -> datetime:
    """A Beijing wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def build_portfolio(pharma_name: str = "医药健康") -> Portfolio:
    """Create the portfolio described in the module docstring and flush it."""
    pharma = ClusterFactory(
        code="pharma", name_zh=pharma_name, name_en="Medicine and health", sort_order=1
    )
    equipment = ClusterFactory(
        code="equipment", name_zh="装备制造", name_en="Equipment manufacturing", sort_order=2
    )
    org_a = OrganisationFactory(name="通化金马药业集团股份有限公司", cluster=pharma)
    org_b = OrganisationFactory(name="通化阿尔凯斯特汽车部件有限公司", cluster=equipment)
    QualificationFactory(
        organisation=org_a,
        kind="national_high_tech",
        granted_on=date(2019, 1, 1),
        expires_on=date(2021, 12, 31),
    )
    QualificationFactory(
        organisation=org_b,
        kind="tech_sme",
        granted_on=date(2020, 1, 1),
        expires_on=date(2020, 6, 30),
    )
    YearFigureFactory(
        organisation=org_a, year=YEAR, revenue=Decimal("10000000"), rd_spending=Decimal("300000")
    )
    YearFigureFactory(
        organisation=org_b, year=YEAR, revenue=Decimal("5000000"), rd_spending=Decimal("200000")
    )
    province_call = CallFactory(
        year=YEAR, funding_level="province", category="research", title="2020年度吉林省科技发展计划"
    )
    city_call = CallFactory(
        year=YEAR, funding_level="city", category="transfer", title="2020年度通化市科技计划"
    )

    p1 = make_project(
        call=province_call,
        organisation=org_a,
        award="1000000.00",
        state="accepted",
        conclusion="pass",
        committed_total=Decimal("300000.00"),
        disbursed_total=Decimal("300000.00"),
    )
    p2 = make_project(call=province_call, organisation=org_b, award="140000.00")
    p3 = make_project(call=city_call, organisation=org_a, award="510000.55", conclusion="rectify")
    p1.title, p2.title, p3.title = (
        "中药提取自动化关键技术研究",
        "汽车部件智能检测技术研究",
        "天麻多肽抗菌产品产业化",
    )

    submitted = utcnow()
    ApplicationFactory(
        call=province_call,
        organisation=org_a,
        state="declined",
        submitted_at=submitted,
        reference_no="R-DECLINED",
    )
    ApplicationFactory(
        call=province_call,
        organisation=org_a,
        state="withdrawn",
        submitted_at=submitted,
        reference_no="R-WITHDRAWN",
    )
    ApplicationFactory(
        call=city_call,
        organisation=org_b,
        state="rejected",
        submitted_at=submitted,
        reference_no="R-REJECTED",
    )
    ApplicationFactory(call=city_call, organisation=org_b, state="draft")

    # milestones are due on 2020-12-31 and 2021-12-31 (make_project)
    p1.milestones[0].achieved_at = _beijing(2020, 12, 31, 23)  # on time, late in the Beijing day
    p1.milestones[1].achieved_at = _beijing(2022, 1, 5)  # late
    p2.milestones[0].achieved_at = _beijing(2020, 6, 1)  # on time; the second is overdue
    # p3: both overdue
    db.session.add(
        Expenditure(
            project=p1,
            category="equipment",
            period_start=date(2020, 3, 1),
            period_end=date(2020, 12, 31),
            amount=Decimal("200000.00"),
            state="verified",
            verified_at=utcnow(),
        )
    )
    db.session.add(
        Expenditure(
            project=p1,
            category="business",
            period_start=date(2020, 3, 1),
            period_end=date(2020, 12, 31),
            amount=Decimal("50000.00"),
            state="submitted",
        )
    )
    db.session.add_all(
        [
            Outcome(project=p1, kind="patent", title="一种中药提取装置", quantity=Decimal("2")),
            Outcome(
                project=p1, kind="revenue", title="新增销售收入", quantity=Decimal("1234500.00")
            ),
            Outcome(project=p3, kind="patent", title="一种抗菌肽", quantity=Decimal("1")),
            Outcome(project=p2, kind="jobs", title="新增就业", quantity=Decimal("12")),
            AcceptanceDecision(project=p1, conclusion="pass", panel_score=Decimal("86.5")),
            AcceptanceDecision(
                project=p3, conclusion="rectify", reasons="专利未授权", rectify_by=date(2022, 6, 30)
            ),
        ]
    )
    db.session.flush()
    return Portfolio(pharma, equipment, org_a, org_b, province_call, city_call, p1, p2, p3)
