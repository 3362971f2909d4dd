"""Contracting: the bureau's list, the contract form and ``create_project`` (codes, budget, plan)."""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.config import Config, validate_project_code_format
from grants.core.workflow import GuardFailed, InvalidTransition
from grants.extensions import db
from grants.funding import contracting as ops
from grants.funding.models import ProjectCodeCounter
from grants.projects.models import Project
from tests.factories import ApplicationFactory, CallFactory, make_project, make_user
from tests.funding.contract_helpers import (
    audit_actions,
    bureau,
    contract_form,
    contracted,
    owner_of,
    ready_application,
    reload,
)

CENT = Decimal("0.01")


# --- create_project -------------------------------------------------------------------------


def test_create_project_copies_application_and_issues_task_book(app):
    application = ready_application(amount="200000")
    officer = bureau()
    project = ops.create_project(application, officer)
    assert project.state == "contracting"
    assert reload(application).state == "contracted"
    assert project.code == f"{application.call.year}-EDJ-KJ-001"
    assert project.award == Decimal("200000.00")
    assert [m.name for m in project.members] == ["严建国"]
    assert [(k.kind, k.target) for k in project.kpis] == [("patents_filed", Decimal("2"))]
    assert [(m.title, m.due_date, m.state) for m in project.milestones] == [
        (p.title, p.due_date, "open") for p in application.milestones
    ]
    assert sum(line.fiscal for line in project.budget_lines) == project.award
    assert project.self_raised == Decimal("350000.00")
    assert sum(t.amount for t in project.tranches) == project.award
    assert (project.start_date, project.end_date) == (application.start_date, application.end_date)
    assert project.task_book_sha256 and len(project.task_book_sha256) == 64
    assert ops.task_book_file(project).sha256 == project.task_book_sha256
    assert "project.created" in audit_actions(project) and "task_book.issued" in audit_actions(
        project
    )
    assert "application.contract" in audit_actions(application)


def test_create_project_tells_the_organisation(app):
    from grants.notifications.models import Notification

    application = ready_application()
    applicant = owner_of(application)
    project = contracted(application)
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == applicant.id))
    assert note is not None and project.code in note.subject
    assert note.link.endswith(f"/projects/{project.id}/contract")


def test_project_codes_count_per_year(app):
    call = CallFactory(year=2026)
    first = contracted(ready_application(call))
    second = contracted(ready_application(call))
    later = contracted(ready_application(CallFactory(year=2027)))
    assert (first.code, second.code, later.code) == (
        "2026-EDJ-KJ-001",
        "2026-EDJ-KJ-002",
        "2027-EDJ-KJ-001",
    )
    assert db.session.get(ProjectCodeCounter, 2026).last == 2


def test_project_code_format_is_configurable(app, monkeypatch):
    monkeypatch.setitem(app.config, "PROJECT_CODE_FORMAT", "EDJ{year}/{seq:04d}")
    project = contracted(ready_application(CallFactory(year=2028)))
    assert project.code == "EDJ2028/0001"


def test_next_project_number_creates_the_missing_counter(app):
    assert db.session.get(ProjectCodeCounter, 2031) is None
    assert [ops.next_project_number(2031) for _ in range(3)] == [1, 2, 3]
    assert ops.next_project_number(2032) == 1


def test_project_numbers_stay_unique_under_concurrency(app):
    """Parallel transactions on PostgreSQL, the first of them creating the year's counter."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("SQLite serialises writers: one write transaction at a time")
    import threading

    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=12)
    year, workers = 2900 + os.getpid() % 90, 12
    barrier = threading.Barrier(workers)
    numbers, errors = [], []

    def take():
        try:
            with engine.begin() as conn:
                barrier.wait(timeout=30)
                numbers.append(
                    conn.execute(ops.next_number_statement(year, "postgresql")).scalar_one()
                )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(workers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert sorted(numbers) == list(range(1, workers + 1))
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.delete(ProjectCodeCounter.__table__).where(ProjectCodeCounter.year == year)
            )
        engine.dispose()


@pytest.mark.parametrize(
    "pattern",
    [
        "{seq:03d}",
        "{year}",
        "{year}-{seq}-{month}",
        "{}-{seq}",
        "{year}{seq:s}",
        "",
        "{year}-" + "X" * 60 + "-{seq}",
        "{year}-{seq",
        "{year.real}-{seq}",
    ],
)
def test_project_code_format_refused_when_codes_could_clash(pattern):
    with pytest.raises(ValueError):
        validate_project_code_format(pattern)


def test_project_code_format_checked_in_config():
    assert (
        Config(PROJECT_CODE_FORMAT="{year}-KJ-{seq:03d}").PROJECT_CODE_FORMAT
        == "{year}-KJ-{seq:03d}"
    )
    with pytest.raises(ValueError):
        Config(PROJECT_CODE_FORMAT="KJ-{seq:03d}")


def test_default_budget_scales_to_the_award_exactly(app):
    application = ready_application()  # fiscal lines 100,000 / 100,000 / 50,000 / 20,000
    rows = {r.category: r for r in ops.default_budget(application, Decimal("100000.00"))}
    assert sum(r.fiscal for r in rows.values()) == Decimal("100000.00")
    # 100000 × 100000/270000 = 37037.037…: rounded down, the 3 cents left go to the largest (first) line
    assert rows["equipment"].fiscal == Decimal("37037.06")
    assert rows["business"].fiscal == Decimal("37037.03")
    assert rows["labour"].fiscal == Decimal("18518.51")
    assert rows["indirect"].fiscal == Decimal("7407.40")
    assert rows["business"].self_raised == Decimal("150000.00")


@pytest.mark.parametrize(
    "award", ["0.01", "0.07", "1.00", "99999.99", "123456.78", "269999.99", "270000.00"]
)
def test_default_budget_and_plan_add_up_to_any_award(app, award):
    application = ready_application()
    award = Decimal(award)
    budget = ops.default_budget(application, award)
    plan = ops.default_plan(application, award)
    assert sum(r.fiscal for r in budget) == award
    assert all(r.fiscal >= 0 and r.fiscal == r.fiscal.quantize(CENT) for r in budget)
    assert sum(r.amount for r in plan) == award
    assert all(r.amount > 0 and r.amount == r.amount.quantize(CENT) for r in plan)
    assert sum(1 for r in plan if r.trigger == "acceptance") <= 1


def test_default_plan_first_on_contract_then_milestones_then_acceptance(app):
    application = ready_application()  # two milestones, 50 % each
    plan = ops.default_plan(application, Decimal("100000.01"))
    assert [(r.amount, r.trigger, r.milestone) for r in plan] == [
        (Decimal("30000.00"), "contract", None),
        (Decimal("25000.00"), "milestone", 1),
        (Decimal("25000.00"), "milestone", 2),
        (Decimal("20000.01"), "acceptance", None),
    ]


def test_scale_exactly_puts_the_remainder_on_the_largest_weight():
    parts = ops.scale_exactly({"a": Decimal(1), "b": Decimal(2), "c": Decimal(1)}, Decimal("0.03"))
    assert parts == {"a": Decimal("0.00"), "b": Decimal("0.03"), "c": Decimal("0.00")}
    parts = ops.scale_exactly(
        {"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)}, Decimal("100.00")
    )
    assert parts == {"a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}


def test_create_project_with_bureau_budget_and_plan(app):
    application = ready_application(amount="100000")
    budget = [
        ops.BudgetRow("equipment", Decimal("50000"), Decimal("1")),
        ops.BudgetRow("business", Decimal("30000.5"), Decimal("0")),
        ops.BudgetRow("labour", Decimal("19999.5"), Decimal("0")),
        ops.BudgetRow("indirect", Decimal("0"), Decimal("0")),
    ]
    plan = [
        ops.TrancheRow(Decimal("40000"), "contract"),
        ops.TrancheRow(Decimal("35000.33"), "milestone", 2),
        ops.TrancheRow(Decimal("24999.67"), "acceptance"),
    ]
    project = contracted(application, budget=budget, tranches=plan)
    assert {line.category: line.fiscal for line in project.budget_lines}["business"] == Decimal(
        "30000.50"
    )
    assert project.self_raised == Decimal("1.00")
    milestone_tranche = project.tranches[1]
    assert milestone_tranche.milestone.title == application.milestones[1].title


def test_create_project_refuses_budget_not_adding_up(app):
    application = ready_application(amount="100000")
    budget = [ops.BudgetRow(c, Decimal("25000.01")) for c in ops.CATEGORIES]
    with pytest.raises(ops.ContractingError) as refused:
        contracted(application, budget=budget)
    assert refused.value.field == "budget"


@pytest.mark.parametrize(
    "plan, row, total",
    [
        ([("60000", "contract", None), ("39999.99", "acceptance", None)], None, True),
        ([("60000", "contract", None), ("40000.01", "acceptance", None)], None, True),
        ([("60000", "milestone", None), ("40000", "acceptance", None)], 0, False),
        ([("60000", "milestone", 7), ("40000", "acceptance", None)], 0, False),
        ([("60000", "acceptance", None), ("40000", "acceptance", None)], 1, False),
        ([("100000", "contract", None), ("0", "acceptance", None)], 1, False),
        ([("100000", "contract", None), ("-1", "acceptance", None)], 1, True),
        ([], None, True),
    ],
)
def test_create_project_refuses_plan_that_does_not_stand(app, plan, row, total):
    application = ready_application(amount="100000")
    rows = [ops.TrancheRow(Decimal(a), t, m) for a, t, m in plan]
    with pytest.raises(ops.PlanError) as refused:
        contracted(application, tranches=rows)
    assert (row in refused.value.rows) if row is not None else not refused.value.rows
    assert bool(refused.value.total) is total


def test_create_project_refuses_award_above_the_approval(app):
    application = ready_application(amount="100000")
    with pytest.raises(ops.ContractingError) as refused:
        contracted(application, award=Decimal("100000.01"))
    assert refused.value.field == "award"


@pytest.mark.parametrize("kwargs", [{"released": False}, {"noticed": False}])
def test_blockers_refuse_contracting(app, kwargs):
    application = ready_application(**kwargs)
    with pytest.raises(GuardFailed):
        contracted(application)
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Project.id)).where(Project.application_id == application.id)
        )
        == 0
    )


def test_contracting_twice_is_refused(app, english_ui):
    application = ready_application()
    contracted(application)
    with pytest.raises(InvalidTransition):
        contracted(application)
    factory_project = make_project()
    assert "already been contracted" in ops.guard_contract(factory_project.application, None, {})


# --- the pages ------------------------------------------------------------------------------


def test_contracting_list_shows_blockers_and_the_create_action(client, login):
    ready = ready_application()
    blocked = ready_application(released=False)
    login(bureau())
    response = client.get("/contracting")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ready.reference_no in html and blocked.reference_no in html
    assert f"/applications/{ready.id}/contract" in html
    assert f"/applications/{blocked.id}/contract" not in html
    row = html[html.index(f'data-application="{blocked.id}"') :]
    assert "data-blockers" in row[: row.index("</tr>")]


@pytest.mark.parametrize("roles", [("applicant",), ("finance",), ("expert",)])
def test_contracting_pages_refused_to_others(client, login, roles):
    application = ready_application()
    user = make_user(
        *roles, organisation=application.organisation if "applicant" in roles else None
    )
    login(user)
    assert client.get("/contracting").status_code == 403
    assert client.get(f"/applications/{application.id}/contract").status_code == 403
    assert (
        client.post(
            f"/applications/{application.id}/contract", data=contract_form(application)
        ).status_code
        == 403
    )
    assert reload(application).state == "approved"


def test_contract_form_proposes_the_default_budget_and_plan(client, login):
    application = ready_application(amount="100000")
    login(bureau())
    response = client.get(f"/applications/{application.id}/contract")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'value="3.703706"' in html  # equipment: 37,037.06 yuan
    assert 'name="tranches-0-amount"' in html and 'value="3"' in html  # 30 % of 10 万元 on contract


def test_contract_form_creates_the_project(client, login):
    application = ready_application(amount="100000")
    login(bureau())
    response = client.post(
        f"/applications/{application.id}/contract", data=contract_form(application)
    )
    assert response.status_code == 302
    project = db.session.scalar(sa.select(Project).where(Project.application_id == application.id))
    assert response.headers["Location"].endswith(f"/projects/{project.id}/contract")
    assert project.award == Decimal("100000.00") and project.state == "contracting"
    assert sum(t.amount for t in project.tranches) == project.award


def test_contract_form_budget_not_adding_up_gives_422_and_keeps_input(client, login, english_ui):
    application = ready_application(amount="100000")
    login(bureau())
    data = contract_form(
        application,
        budget={
            "equipment": ("4", "1"),
            "business": ("3.123456", "0"),
            "labour": ("2", "0"),
            "indirect": ("1", "0"),
        },
    )
    response = client.post(f"/applications/{application.id}/contract", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "data-budget-error" in html and "must add up to the award" in html
    assert 'value="3.123456"' in html
    assert reload(application).state == "approved"


def test_contract_form_shows_budget_and_plan_errors_together(client, login, english_ui):
    application = ready_application(amount="100000")
    login(bureau())
    data = contract_form(
        application,
        budget={
            "equipment": ("1", "0"),
            "business": ("1", "0"),
            "labour": ("1", "0"),
            "indirect": ("1", "0"),
        },
        tranches=[("5", "acceptance", ""), ("5", "acceptance", "")],
    )
    html = client.post(f"/applications/{application.id}/contract", data=data).get_data(as_text=True)
    assert "data-budget-error" in html and 'id="tranches-1-amount-error"' in html


def test_contract_form_plan_error_beside_the_row(client, login, english_ui):
    application = ready_application(amount="100000")
    login(bureau())
    data = contract_form(application, tranches=[("5", "acceptance", ""), ("5", "acceptance", "")])
    response = client.post(f"/applications/{application.id}/contract", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.index('id="tranches-1-amount-error"')
    assert "Only one tranche can be released on acceptance." in html[error : error + 200]
    assert "tranches-0-amount-error" not in html


def test_contract_form_sends_unapproved_applications_back(client, login):
    application = ready_application()
    draft = ApplicationFactory(call=application.call)
    login(bureau())
    response = client.get(f"/applications/{draft.id}/contract")
    assert response.status_code == 302 and response.headers["Location"].endswith("/contracting")
    project = contracted(application)
    db.session.commit()
    response = client.get(f"/applications/{application.id}/contract")
    assert response.headers["Location"].endswith(f"/projects/{project.id}/contract")


def test_contract_form_refuses_a_blocked_application(client, login):
    application = ready_application(noticed=False)
    login(bureau())
    page = client.get(f"/applications/{application.id}/contract")
    assert page.status_code == 200 and "data-blockers" in page.get_data(as_text=True)
    response = client.post(
        f"/applications/{application.id}/contract", data=contract_form(application)
    )
    assert response.status_code == 422
    assert "data-problem" in response.get_data(as_text=True)
    assert reload(application).state == "approved"


def test_contract_form_invalid_amount_keeps_input(client, login):
    application = ready_application(amount="100000")
    login(bureau())
    data = contract_form(application, tranches=[("abc", "contract", ""), ("10", "acceptance", "")])
    response = client.post(f"/applications/{application.id}/contract", data=data)
    assert response.status_code == 422
    assert 'value="abc"' in response.get_data(as_text=True)


def test_bureau_dashboard_lists_applications_ready_to_contract(client, login):
    ready = ready_application()
    login(bureau())
    html = client.get("/").get_data(as_text=True)
    assert "data-panel-ready" in html and ready.reference_no in html
    assert f"/applications/{ready.id}/contract" in html


def test_amounts_that_must_agree_are_shown_exactly_in_yuan(app):
    assert ops.exact_yuan(Decimal("56296.29")) == "56,296.29 元"
    assert ops.exact_yuan(Decimal("250000")) == "250,000.00 元"
    assert ops.exact_yuan(Decimal("0.01")) == "0.01 元"


def test_code_matches_the_default_pattern(app):
    project = contracted()
    assert re.fullmatch(r"\d{4}-EDJ-KJ-\d{3}", project.code)
