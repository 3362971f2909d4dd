"""The tranche plan: statuses on the contract tab, and the bureau changing the plan."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grants.core.types import utcnow
from grants.extensions import db
from grants.funding import contracting as ops
from grants.projects.tabs import TABS
from tests.factories import make_project, make_user
from tests.funding.contract_helpers import (
    audit_actions,
    bureau,
    contracted,
    disbursement,
    owner_of,
    plan_form,
    ready_application,
    reload,
)


def statuses(project) -> list[str]:
    latest = ops.latest_disbursements(t.id for t in project.tranches)
    return [ops.tranche_status(t, latest.get(t.id)) for t in project.tranches]


def test_contract_tab_is_registered(app):
    tab = TABS["contract"]
    assert (tab.endpoint, tab.order, tab.action) == ("funding.contract", 20, "project.view")


def test_tranche_status_follows_trigger_and_disbursements(app):
    project = make_project(award="100000")  # 30 % contract (due), 40 % milestone 1, 30 % acceptance
    contract, _milestone, acceptance = project.tranches
    assert statuses(project) == ["due", "pending", "pending"]
    for state in ("requested", "approved", "paid"):
        row = disbursement(contract, state)
        assert statuses(project)[0] == state
        db.session.delete(row)
        db.session.flush()
    disbursement(contract, "rejected")
    assert statuses(project)[0] == "due"
    acceptance.cancelled_at = utcnow()
    assert statuses(project)[2] == "cancelled"


@pytest.mark.parametrize(
    "who, status",
    [("owner", 200), ("bureau", 200), ("finance", 200), ("stranger", 403), ("expert", 403)],
)
def test_contract_tab_rule(client, login, who, status):
    project = make_project(award="100000")
    users = {
        "owner": lambda: owner_of(project),
        "bureau": bureau,
        "finance": lambda: make_user("finance"),
        "stranger": lambda: make_user("applicant"),
        "expert": lambda: make_user("expert"),
    }
    login(users[who]())
    response = client.get(f"/projects/{project.id}/contract")
    assert response.status_code == status
    if status == 200:
        html = response.get_data(as_text=True)
        assert html.count("data-tranche-status=") == 3
        assert 'data-tranche-status="due"' in html
        assert ('/tranches"' in html) is (who == "bureau")


def _rows(project):
    return [
        (format(t.amount / 10000, "f"), t.trigger, str(t.milestone_id or ""), t.id)
        for t in project.tranches
    ]


def test_bureau_changes_the_plan(client, login):
    project = make_project(award="100000")
    contract, milestone, acceptance = project.tranches
    login(bureau())
    assert client.get(f"/projects/{project.id}/tranches").status_code == 200
    second = project.milestones[1]
    data = plan_form(
        [
            ("2", "contract", "", contract.id),
            ("3", "milestone", str(milestone.milestone_id), milestone.id),
            ("2.5", "milestone", str(second.id), None),
            ("2.5", "acceptance", "", acceptance.id),
        ]
    )
    response = client.post(f"/projects/{project.id}/tranches", data=data)
    assert response.status_code == 302
    project = reload(project)
    plan = [(t.amount, t.trigger, t.milestone_id) for t in project.tranches]
    assert plan == [
        (Decimal("20000.00"), "contract", None),
        (Decimal("30000.00"), "milestone", milestone.milestone_id),
        (Decimal("25000.00"), "milestone", second.id),
        (Decimal("25000.00"), "acceptance", None),
    ]
    assert sum(t.amount for t in project.tranches) == project.award
    assert "tranche.plan" in audit_actions(project)
    assert project.tranches[0].due_since is not None  # the contract is signed: still due
    assert project.tranches[2].due_since is None


def test_plan_that_does_not_add_up_is_refused_with_422(client, login, english_ui):
    project = make_project(award="100000")
    before = [(t.id, t.amount) for t in project.tranches]
    login(bureau())
    rows = _rows(project)
    rows[0] = ("3.000001", *rows[0][1:])
    response = client.post(f"/projects/{project.id}/tranches", data=plan_form(rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "data-plan-error" in html and "more than the award" in html
    assert 'value="3.000001"' in html
    assert [(t.id, t.amount) for t in reload(project).tranches] == before


def test_milestone_tranche_needs_its_milestone(client, login, english_ui):
    project = make_project(award="100000")
    login(bureau())
    rows = _rows(project)
    rows[1] = (rows[1][0], "milestone", "", rows[1][3])
    response = client.post(f"/projects/{project.id}/tranches", data=plan_form(rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.index('id="tranches-1-amount-error"')
    assert "Choose the milestone" in html[error : error + 200]


def test_at_most_one_acceptance_tranche(client, login, english_ui):
    project = make_project(award="100000")
    login(bureau())
    rows = _rows(project)
    rows[1] = (rows[1][0], "acceptance", "", rows[1][3])
    response = client.post(f"/projects/{project.id}/tranches", data=plan_form(rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.index('id="tranches-2-amount-error"')
    assert "Only one tranche can be released on acceptance." in html[error : error + 200]


def test_plan_with_unknown_milestone_is_refused(client, login):
    project = make_project(award="100000")
    other = make_project(award="100000")
    login(bureau())
    rows = _rows(project)
    rows[1] = (rows[1][0], "milestone", str(other.milestones[0].id), rows[1][3])
    assert client.post(f"/projects/{project.id}/tranches", data=plan_form(rows)).status_code == 422
    assert reload(project).tranches[1].milestone_id == project.milestones[0].id


@pytest.mark.parametrize("state", ["requested", "approved", "paid"])
def test_plan_frozen_once_a_tranche_has_a_live_disbursement(client, login, state):
    project = make_project(award="100000")
    disbursement(project.tranches[0], state)
    db.session.commit()
    login(bureau())
    assert client.get(f"/projects/{project.id}/tranches").status_code == 302
    response = client.post(f"/projects/{project.id}/tranches", data=plan_form(_rows(project)))
    assert response.status_code == 302
    with pytest.raises(ops.ContractingError):
        ops.replan_tranches(reload(project), [], bureau())


def test_tranche_with_rejected_request_is_cancelled_not_deleted(app):
    project = make_project(award="100000")
    contract, milestone, acceptance = project.tranches
    disbursement(contract, "rejected")
    rows = [
        ops.TrancheRow(Decimal("70000"), "milestone", milestone.milestone_id, milestone.id),
        ops.TrancheRow(Decimal("30000"), "acceptance", None, acceptance.id),
    ]
    ops.replan_tranches(project, rows, bureau())
    contract = reload(contract)
    assert contract.cancelled_at is not None
    assert ops.plan_total(reload(project)) == Decimal("100000.00")


def test_new_tranche_on_a_met_trigger_is_due_at_once(app):
    project = make_project(award="100000")
    contract, milestone, acceptance = project.tranches
    first_due = contract.due_since
    rows = [
        ops.TrancheRow(Decimal("10000"), "contract", None, contract.id),
        ops.TrancheRow(Decimal("20000"), "contract"),
        ops.TrancheRow(Decimal("40000"), "milestone", milestone.milestone_id, milestone.id),
        ops.TrancheRow(Decimal("30000"), "acceptance", None, acceptance.id),
    ]
    ops.replan_tranches(project, rows, bureau())
    tranches = reload(project).tranches
    assert tranches[0].due_since == first_due
    assert tranches[1].due_since is not None and tranches[1].trigger == "contract"
    assert tranches[2].due_since is None


def test_tranche_moved_to_an_achieved_milestone_is_due(app):
    from datetime import date

    from grants.projects.models import Milestone

    project = make_project(award="100000")
    contract, milestone, acceptance = project.tranches
    achieved = Milestone(
        position=3,
        title="样机完成",
        due_date=date(2026, 6, 30),
        state="achieved",
        achieved_at=utcnow(),
    )
    project.milestones.append(achieved)
    db.session.flush()
    rows = [
        ops.TrancheRow(contract.amount, "contract", None, contract.id),
        ops.TrancheRow(milestone.amount, "milestone", achieved.id, milestone.id),
        ops.TrancheRow(acceptance.amount, "acceptance", None, acceptance.id),
    ]
    ops.replan_tranches(project, rows, bureau())
    assert reload(project).tranches[1].due_since is not None
    rows[1] = ops.TrancheRow(milestone.amount, "milestone", project.milestones[1].id, milestone.id)
    ops.replan_tranches(reload(project), rows, bureau())
    assert reload(project).tranches[1].due_since is None


@pytest.mark.parametrize("roles", [("applicant",), ("finance",), ("expert",)])
def test_plan_changes_refused_to_others(client, login, roles):
    project = make_project(award="100000")
    user = owner_of(project) if roles == ("applicant",) else make_user(*roles)
    login(user)
    assert client.get(f"/projects/{project.id}/tranches").status_code == 403
    rows = _rows(project)
    rows[0] = ("1", *rows[0][1:])
    rows[2] = ("5", *rows[2][1:])
    assert client.post(f"/projects/{project.id}/tranches", data=plan_form(rows)).status_code == 403
    assert reload(project).tranches[0].amount == Decimal("30000.00")


def test_plan_of_a_closed_project_cannot_change(client, login):
    project = make_project(award="100000", state="accepted")
    before = [(t.amount, t.trigger, t.milestone_id) for t in project.tranches]
    sha = project.task_book_sha256
    login(bureau())
    assert client.get(f"/projects/{project.id}/tranches").status_code == 403
    rows = _rows(project)
    rows[0] = ("1", *rows[0][1:])
    rows[2] = ("5", *rows[2][1:])
    assert client.post(f"/projects/{project.id}/tranches", data=plan_form(rows)).status_code == 403
    after = reload(project)
    assert [(t.amount, t.trigger, t.milestone_id) for t in after.tranches] == before
    assert [t.amount for t in after.tranches] == [
        Decimal("30000.00"),
        Decimal("40000.00"),
        Decimal("30000.00"),
    ]
    assert after.task_book_sha256 == sha
    assert "tranche.plan" not in audit_actions(project)


def test_changing_the_plan_while_contracting_issues_the_task_book_again(app):
    project = contracted(ready_application(amount="100000"))
    first = project.task_book_sha256
    rows = [ops.TrancheRow(t.amount, t.trigger, t.milestone_id, t.id) for t in project.tranches]
    rows[0].amount += Decimal("0.01")
    rows[-1].amount -= Decimal("0.01")
    ops.replan_tranches(project, rows, bureau())
    assert project.task_book_sha256 != first
    assert ops.plan_total(project) == project.award
    assert all(t.due_since is None for t in project.tranches)
