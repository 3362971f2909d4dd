"""The completeness checks and the call's rules, each at its boundary."""

from dataclasses import FrozenInstanceError
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from grants.applications.checks import (
    BUDGET_ROWS,
    SECTIONS,
    BudgetSummary,
    duration_months,
    eligibility_problems,
    percent,
    requirement_name,
    section_problems,
    submission_problems,
)
from grants.applications.models import Attachment, KpiTarget, PlannedMilestone, TeamMember
from grants.core.timeutil import local_to_utc
from grants.extensions import db
from tests.applications.helpers import applicant_with_draft, set_budget
from tests.factories import ApplicationFactory, CallFactory, ClusterFactory, QualificationFactory

pytestmark = pytest.mark.usefixtures("untranslated_ui")  # asserts on English source text


def with_licence(application):
    application.attachments.append(
        Attachment(
            requirement_code="licence",
            original_name="营业执照.pdf",
            stored_name=f"aa/bb/{application.id:032x}.pdf",
            content_type="application/pdf",
            size=10,
            sha256="0" * 64,
        )
    )
    db.session.flush()
    return application


@pytest.fixture
def draft(app):
    _user, application = applicant_with_draft()
    return with_licence(application)


def test_checks_filled_application_has_no_problems(draft):
    assert submission_problems(draft) == []
    assert all(items == [] for items in section_problems(draft).values())


def test_checks_empty_draft_lists_every_section(app):
    _user, application = applicant_with_draft(filled=False)
    problems = section_problems(application)
    assert set(problems) == {"basic", "team", "budget", "milestones", "kpis", "attachments"}
    assert all(problems[s] for s in problems)
    assert "Upload the required attachment “营业执照”." in problems["attachments"]
    assert "Set at least one KPI target above zero." in problems["kpis"]


# --- budget rules ---------------------------------------------------------------------------


def test_budget_cap_exactly_met_passes(draft):
    set_budget(
        draft,
        equipment=("200000", "400000"),
        business_materials=("200000", "200000"),
        labour=("60000", "0"),
        indirect=("40000", "0"),
    )
    assert draft.fiscal_total == Decimal("500000.00") == draft.call.cap_per_project
    assert section_problems(draft)["budget"] == []


def test_budget_cap_one_yuan_over_fails(draft):
    set_budget(
        draft,
        equipment=("200000", "400000"),
        business_materials=("200000", "200000"),
        labour=("60001", "0"),
        indirect=("40000", "0"),
    )
    assert section_problems(draft)["budget"] == [
        "The fiscal request of 500,001.00 元 exceeds the call's cap of 500,000.00 元."
    ]


def test_budget_self_raised_share_exactly_at_minimum_passes(draft):
    set_budget(
        draft,
        equipment=("100000", "300000"),
        business_materials=("150000", "0"),
        labour=("40000", "0"),
        indirect=("10000", "0"),
    )
    assert draft.self_raised_total * 2 == draft.total_budget
    assert section_problems(draft)["budget"] == []


def test_budget_self_raised_share_one_yuan_short_fails(draft):
    set_budget(
        draft,
        equipment=("100000", "299999"),
        business_materials=("150000", "0"),
        labour=("40000", "0"),
        indirect=("10000", "0"),
    )
    assert section_problems(draft)["budget"] == [
        "The self-raised funds of 299,999.00 元 are less than the call's minimum of 299,999.50 元 "
        "(50 % of the total budget of 599,999.00 元)."
    ]


def test_budget_indirect_exactly_at_limit_passes(draft):
    # limit = 20 % × (direct 250,000 − equipment 100,000) = 30,000 yuan
    set_budget(
        draft,
        equipment=("100000", "400000"),
        business_materials=("100000", "0"),
        labour=("50000", "0"),
        indirect=("30000", "0"),
    )
    assert section_problems(draft)["budget"] == []


def test_budget_indirect_one_yuan_over_limit_fails(draft):
    set_budget(
        draft,
        equipment=("100000", "400000"),
        business_materials=("100000", "0"),
        labour=("50000", "0"),
        indirect=("30001", "0"),
    )
    assert section_problems(draft)["budget"] == [
        "The fiscal indirect costs of 30,001.00 元 exceed the limit of 30,000.00 元 "
        "(20 % of the fiscal direct costs less equipment, 150,000.00 元)."
    ]


def test_budget_self_raised_indirect_costs_are_not_limited(draft):
    set_budget(
        draft,
        equipment=("100000", "400000"),
        business_materials=("100000", "0"),
        labour=("50000", "0"),
        indirect=("30000", "90000"),
    )
    assert section_problems(draft)["budget"] == []


def test_budget_zero_total_fails(draft):
    set_budget(draft)
    assert section_problems(draft)["budget"] == [
        "Enter the budget: the total budget must be more than zero."
    ]


# --- period, team, milestones, KPIs ---------------------------------------------------------


def test_duration_months_counts_whole_and_part_months():
    assert duration_months(date(2026, 1, 1), date(2028, 12, 31)) == 36
    assert duration_months(date(2026, 1, 1), date(2029, 1, 1)) == 37
    assert duration_months(date(2026, 1, 15), date(2026, 2, 14)) == 1
    assert duration_months(date(2026, 2, 1), date(2026, 2, 28)) == 1
    assert duration_months(date(2026, 1, 15), date(2026, 2, 15)) == 2
    assert duration_months(date(2026, 1, 10), date(2026, 1, 5)) == 0  # ends before it starts


def test_period_at_maximum_passes_one_day_longer_fails(draft):
    draft.start_date, draft.end_date = date(2026, 1, 1), date(2028, 12, 31)
    assert section_problems(draft)["basic"] == []
    draft.end_date = date(2029, 1, 1)
    assert section_problems(draft)["basic"] == [
        "The project period of 37 months exceeds the call's maximum of 36 months."
    ]


@pytest.mark.parametrize("missing", ["start_date", "end_date"])
def test_a_period_with_one_date_missing_asks_for_both(draft, missing):
    setattr(draft, missing, None)
    assert section_problems(draft)["basic"] == [
        "Give the start and end dates of the project period."
    ]


def test_team_two_principals_fails(draft):
    draft.team.append(TeamMember(position=2, name="李四", role="principal"))
    assert section_problems(draft)["team"] == [
        "The team has 2 principal investigators; there must be exactly one."
    ]


def test_team_without_principal_fails(draft):
    draft.team[0].role = "core"
    assert section_problems(draft)["team"] == [
        "Name the principal investigator: exactly one team member has that role."
    ]


def test_milestone_shares_not_adding_to_100_fail(draft):
    draft.milestones[1].funding_share = Decimal("0.4999")
    assert section_problems(draft)["milestones"] == [
        "The milestones' shares of funding add up to 99.99 %; they must add up to exactly 100 %."
    ]


def test_milestone_shares_of_thirds_pass_when_exact(draft):
    draft.milestones[0].funding_share = Decimal("0.3333")
    draft.milestones[1].funding_share = Decimal("0.3333")
    draft.milestones.append(
        PlannedMilestone(
            position=3, title="推广", due_date=date(2027, 12, 31), funding_share=Decimal("0.3334")
        )
    )
    assert section_problems(draft)["milestones"] == []


def test_milestone_outside_period_and_out_of_order_fail(draft):
    draft.milestones[0].due_date = date(2028, 1, 1)
    problems = section_problems(draft)["milestones"]
    assert problems == [
        "The milestone “完成中试” is due on 2028-01-01, outside the project period (2026-01-01 to 2027-12-31).",
        "The milestone “通过验收” is due on 2027-12-31, before the milestone listed above it (2028-01-01): "
        "list the milestones in order.",
    ]


def test_milestones_due_on_the_first_and_last_day_of_the_period_pass(draft):
    draft.milestones[0].due_date = draft.start_date
    draft.milestones[-1].due_date = draft.end_date
    assert section_problems(draft)["milestones"] == []


def test_kpis_all_zero_fail(draft):
    draft.kpis[0].target = Decimal("0")
    draft.kpis.append(KpiTarget(kind="jobs", target=Decimal("0"), note="待定"))
    assert section_problems(draft)["kpis"] == ["Set at least one KPI target above zero."]


# --- the moment of submission -----------------------------------------------------------------

CLOSES = local_to_utc(datetime(2026, 3, 31, 17, 0))


@pytest.fixture
def closing_draft(app):
    _user, application = applicant_with_draft(
        opens_at=local_to_utc(datetime(2026, 3, 1, 9, 0)), closes_at=CLOSES
    )
    return with_licence(application)


def test_close_time_one_second_before_passes(closing_draft):
    assert (
        submission_problems(closing_draft, at=local_to_utc(datetime(2026, 3, 31, 16, 59, 59))) == []
    )


def test_close_time_itself_is_refused(closing_draft):
    assert submission_problems(closing_draft, at=local_to_utc(datetime(2026, 3, 31, 17, 0, 0))) == [
        "The call closed on 2026-03-31 17:00 (Beijing time); applications can no longer be submitted."
    ]


def test_call_not_yet_open_is_refused(closing_draft):
    problems = submission_problems(closing_draft, at=local_to_utc(datetime(2026, 3, 1, 8, 59)))
    assert problems == ["The call opens on 2026-03-01 09:00 (Beijing time); submit after that."]


def test_the_opening_minute_itself_is_open(closing_draft):
    assert submission_problems(closing_draft, at=local_to_utc(datetime(2026, 3, 1, 9, 0))) == []


def test_qualification_held_on_the_beijing_submission_date(closing_draft):
    call = closing_draft.call
    call.required_qualification = "national_high_tech"
    QualificationFactory(
        organisation=closing_draft.organisation,
        granted_on=date(2023, 4, 1),
        expires_on=date(2026, 3, 30),
    )
    db.session.flush()
    db.session.refresh(closing_draft.organisation)
    # 2026-03-30 23:30 Beijing is still the last valid day; 2026-03-31 00:30 Beijing is not,
    # although both are 2026-03-30 in UTC.
    assert eligibility_problems(closing_draft, at=local_to_utc(datetime(2026, 3, 30, 23, 30))) == []
    problems = eligibility_problems(closing_draft, at=local_to_utc(datetime(2026, 3, 31, 0, 30)))
    assert len(problems) == 1
    assert "on the day of submission (2026-03-31)" in problems[0]
    assert closing_draft.organisation.name in problems[0]


def test_cluster_outside_the_call_is_refused(draft):
    other = ClusterFactory(name_zh="现代旅游")
    draft.call.clusters.append(ClusterFactory())
    draft.cluster = other
    db.session.flush()
    assert section_problems(draft)["basic"] == [
        "The industry cluster 现代旅游 is not among the clusters this call targets."
    ]


def test_concurrent_cap_counts_live_applications_of_the_same_year(draft):
    draft.call.concurrent_cap = 1
    other_call = CallFactory(year=draft.call.year)
    live = ApplicationFactory(
        call=other_call,
        organisation=draft.organisation,
        state="submitted",
        reference_no="X-001",
        submitted_at=draft.created_at,
    )
    db.session.flush()
    problems = eligibility_problems(draft)
    assert problems == [
        f"{draft.organisation.name} already has 1 applications submitted or running in calls "
        f"of 2026; the cap is 1 at a time."
    ]
    db.session.delete(live)
    ApplicationFactory(call=other_call, organisation=draft.organisation, state="withdrawn")
    ApplicationFactory(
        call=CallFactory(year=2025),
        organisation=draft.organisation,
        state="under_review",
        reference_no="X-002",
        submitted_at=draft.created_at,
    )
    db.session.flush()
    assert eligibility_problems(draft) == []


def test_concurrent_cap_below_cap_passes(draft):
    draft.call.concurrent_cap = 2
    ApplicationFactory(
        call=CallFactory(),
        organisation=draft.organisation,
        state="approved",
        reference_no="X-003",
        submitted_at=draft.created_at,
    )
    db.session.flush()
    assert eligibility_problems(draft) == []


# Written out by hand, not taken from LIVE_STATES: whether an application in each state
# counts against the organisation's cap of concurrent applications (限项).
COUNTS_AGAINST_CAP = {
    "draft": False,
    "submitted": True,
    "returned": False,
    "withdrawn": False,
    "rejected": False,
    "under_review": True,
    "reviewed": True,
    "approved": True,
    "declined": False,
    "contracted": True,
}


def test_cap_table_names_every_application_state():
    from grants.applications.models import ApplicationState

    assert set(COUNTS_AGAINST_CAP) == {state.value for state in ApplicationState}


@pytest.mark.parametrize("state", sorted(COUNTS_AGAINST_CAP))
def test_concurrent_cap_counts_exactly_the_live_states(draft, state):
    draft.call.concurrent_cap = 1
    ApplicationFactory(
        call=CallFactory(year=draft.call.year),
        organisation=draft.organisation,
        state=state,
        reference_no=f"X-{state}",
        submitted_at=draft.created_at,
    )
    db.session.flush()
    refused = bool(eligibility_problems(draft))
    assert refused is COUNTS_AGAINST_CAP[state]


# --- the budget table, by hand ---------------------------------------------------------------


def line(category, sub_item, fiscal, self_raised):
    return SimpleNamespace(
        category=category, sub_item=sub_item, fiscal=fiscal, self_raised=self_raised
    )


def test_the_budget_table_has_the_rows_of_the_2021_rules_in_order():
    assert [(r.key, r.category, r.sub_item, r.is_sub_item) for r in BUDGET_ROWS] == [
        ("equipment", "equipment", "", False),
        ("business_materials", "business", "materials", True),
        ("business_testing", "business", "testing", True),
        ("business_fuel_power", "business", "fuel_power", True),
        ("business_publication_ip", "business", "publication_ip", True),
        ("business_travel_meetings", "business", "travel_meetings", True),
        ("business_other", "business", "other", True),
        ("labour", "labour", "", False),
        ("indirect", "indirect", "", False),
    ]
    with pytest.raises(FrozenInstanceError):
        BUDGET_ROWS[0].key = "x"
    assert list(SECTIONS) == ["basic", "team", "budget", "milestones", "kpis", "attachments"]


def test_budget_summary_adds_up_rows_categories_and_totals():
    budget = BudgetSummary.from_lines(
        [
            line("equipment", None, Decimal("300000"), Decimal("100000")),
            line("business", "materials", Decimal("50000"), Decimal("20000")),
            line("business", "testing", Decimal("30000"), None),
            line("labour", "", Decimal("80000"), Decimal("40000")),
            line("indirect", "", Decimal("40000"), Decimal("0")),
            line("business", "no_such_item", Decimal("999"), Decimal("999")),  # not a row
        ]
    )
    assert set(budget.amounts) == {
        "equipment",
        "business_materials",
        "business_testing",
        "labour",
        "indirect",
    }
    assert budget.fiscal("equipment") == Decimal("300000")
    assert budget.self_raised("equipment") == Decimal("100000")
    assert budget.self_raised("business_testing") == Decimal("0")  # None is zero
    assert budget.row_total("business_materials") == Decimal("70000")
    assert budget.row_total("business_other") == Decimal("0")  # a row left empty
    assert budget.category_fiscal("business") == Decimal("80000")
    assert budget.category_self_raised("business") == Decimal("20000")
    assert budget.category_self_raised("labour") == Decimal("40000")
    assert budget.fiscal_total == Decimal("500000")
    assert budget.self_raised_total == Decimal("160000")
    assert budget.grand_total == Decimal("660000")
    assert budget.fiscal_direct == Decimal("460000")  # equipment + business + labour
    # 20 % of (fiscal direct 460,000 − equipment 300,000) = 32,000
    assert budget.indirect_limit(Decimal("0.2")) == Decimal("32000.0")
    assert BudgetSummary().grand_total == Decimal("0")


def test_percentages_follow_the_request_language(app):
    with app.test_request_context(), force_locale("en"):
        assert percent(Decimal("0.125")) == "12.5"
        assert percent(Decimal("12.5")) == "1,250"
    with app.test_request_context():
        assert percent(Decimal("0.5")) == "50"


def test_a_requirement_is_named_in_the_readers_language(app):
    both = SimpleNamespace(name_zh="营业执照", name_en="Business licence")
    chinese_only = SimpleNamespace(name_zh="查新报告", name_en=None)
    with app.test_request_context():
        assert requirement_name(both) == "营业执照"
        with force_locale("en"):
            assert requirement_name(both) == "Business licence"
            assert requirement_name(chinese_only) == "查新报告"
