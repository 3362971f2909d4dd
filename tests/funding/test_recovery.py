"""Recovery of unspent funds: finance records money paid back, never more than was disbursed."""

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from grants.core.models import AuditEvent
from grants.core.refusals import OperationError
from grants.core.timeutil import local_today
from grants.extensions import db
from grants.funding import spending
from grants.funding.models import FundRecovery
from grants.projects.models import Project
from tests.factories import make_user
from tests.funding.spending_helpers import add_expenditure, ended_project, running_project


def recoveries_of(project) -> list[FundRecovery]:
    return db.session.scalars(
        sa.select(FundRecovery)
        .where(FundRecovery.project_id == project.id)
        .order_by(FundRecovery.id)
    ).all()


def recovered_total(project) -> Decimal:
    return db.session.scalar(sa.select(Project.recovered_total).where(Project.id == project.id))


def test_record_recovery_adds_row_raises_total_and_is_audited(app):
    project = ended_project(disbursed="60000.00")
    finance = make_user("finance")
    recovery = spending.record_recovery(
        project, finance, "25000.50", " HS-2026-018 ", local_today(), "退回结余资金"
    )
    assert (recovery.amount, recovery.voucher_no, recovery.recorded_by_id) == (
        Decimal("25000.50"),
        "HS-2026-018",
        finance.id,
    )
    assert recovered_total(project) == Decimal("25000.50")
    assert project.recovered_total == Decimal("25000.50")  # the session sees the new figure
    event = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "recovery.recorded", AuditEvent.object_id == str(recovery.id)
        )
    )
    assert event.after["amount"] == "25000.50" and event.after["recovered_total"] == "25000.50"


def test_recovery_cannot_exceed_money_disbursed(app):
    project = ended_project(disbursed="60000.00")
    finance = make_user("finance")
    with pytest.raises(OperationError) as caught:
        spending.record_recovery(project, finance, "60000.01", "HS-1", local_today())
    assert caught.value.field == "amount"
    assert recoveries_of(project) == [] and recovered_total(project) == Decimal("0.00")


def test_recoveries_add_up_to_exactly_the_money_disbursed(app):
    project = ended_project(disbursed="60000.00")
    finance = make_user("finance")
    spending.record_recovery(project, finance, "40000.00", "HS-1", local_today())
    with pytest.raises(OperationError):
        spending.record_recovery(project, finance, "20000.01", "HS-2", local_today())
    spending.record_recovery(project, finance, "20000.00", "HS-3", local_today())
    assert recovered_total(project) == Decimal("60000.00")
    assert [r.voucher_no for r in recoveries_of(project)] == ["HS-1", "HS-3"]
    with pytest.raises(OperationError):
        spending.record_recovery(project, finance, "0.01", "HS-4", local_today())


def test_recovery_of_project_never_paid_is_refused(app):
    project = ended_project(disbursed="0.00")
    with pytest.raises(OperationError):
        spending.record_recovery(project, make_user("finance"), "1.00", "HS-1", local_today())


@pytest.mark.parametrize(
    ("amount", "voucher", "days_ahead", "field"),
    [
        ("0", "HS-1", 0, "amount"),
        ("-10", "HS-1", 0, "amount"),
        ("1.001", "HS-1", 0, "amount"),
        ("100", "  ", 0, "voucher_no"),
        ("100", "HS-1", 1, "received_on"),
    ],
)
def test_recovery_values_are_checked(app, amount, voucher, days_ahead, field):
    project = ended_project()
    with pytest.raises(OperationError) as caught:
        spending.record_recovery(
            project,
            make_user("finance"),
            amount,
            voucher,
            local_today() + timedelta(days=days_ahead),
        )
    assert caught.value.field == field


def test_recovery_refuses_float(app):
    project = ended_project()
    with pytest.raises(TypeError):
        spending.record_recovery(project, make_user("finance"), 100.0, "HS-1", local_today())


def test_database_refuses_recovered_beyond_disbursed(app):
    project = ended_project(disbursed="100.00")
    db.session.commit()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.update(Project)
            .where(Project.id == project.id)
            .values(recovered_total=Decimal("100.01"))
        )


def test_suggested_recovery_is_disbursed_less_verified_spending_less_recovered(app):
    project = ended_project(disbursed="60000.00")
    add_expenditure(project, "35000.00")
    add_expenditure(project, "5000.00", state="submitted")
    position = spending.recovery_position(project)
    assert (position.disbursed, position.spent, position.suggested) == (
        Decimal("60000.00"),
        Decimal("35000.00"),
        Decimal("25000.00"),
    )
    spending.record_recovery(project, make_user("finance"), "10000.00", "HS-1", local_today())
    position = spending.recovery_position(project)
    assert (position.recovered, position.suggested, position.recoverable) == (
        Decimal("10000.00"),
        Decimal("15000.00"),
        Decimal("50000.00"),
    )


@pytest.mark.parametrize("state", ["terminated", "acceptance_failed", "closed"])
def test_finance_records_recovery_through_the_spending_tab(app, client, login, state):
    project = ended_project(state=state, disbursed="60000.00")
    add_expenditure(project, "35000.00")
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    page = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert 'id="recovery"' in page and 'value="25000.00"' in page  # the suggested amount is offered
    response = client.post(
        f"/projects/{project.id}/recoveries",
        data={
            "recovery-amount": "25,000.00",
            "recovery-voucher_no": "HS-2026-001",
            "recovery-received_on": local_today().isoformat(),
            "recovery-note": "结余资金退回",
        },
    )
    assert response.status_code == 302
    assert recovered_total(project) == Decimal("25000.00")
    html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert "HS-2026-001" in html and "data-recovery=" in html


def test_recovery_beyond_disbursed_through_the_tab_is_422_with_inputs_kept(app, client, login):
    project = ended_project(disbursed="60000.00")
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    response = client.post(
        f"/projects/{project.id}/recoveries",
        data={
            "recovery-amount": "60000.01",
            "recovery-voucher_no": "HS-2026-009",
            "recovery-received_on": local_today().isoformat(),
            "recovery-note": "多退了",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="recovery-amount-error"' in html
    assert 'value="60000.01"' in html and 'value="HS-2026-009"' in html and "多退了" in html
    assert recoveries_of(project) == [] and recovered_total(project) == Decimal("0.00")


def test_recovery_is_finance_only_and_only_for_ended_projects(app, client, login):
    project = ended_project()
    running, _owner = running_project(
        committed_total=Decimal("60000.00"), disbursed_total=Decimal("60000.00")
    )
    ended_owner = make_user("applicant", organisation=project.organisation)
    bureau = make_user("bureau")
    finance = make_user("finance")
    db.session.commit()
    data = {
        "recovery-amount": "100.00",
        "recovery-voucher_no": "HS-1",
        "recovery-received_on": local_today().isoformat(),
    }
    for user in (ended_owner, bureau):
        login(user)
        assert client.post(f"/projects/{project.id}/recoveries", data=data).status_code == 403
        html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
        assert 'id="recovery"' in html and f"/projects/{project.id}/recoveries" not in html
        client.post("/logout")
    login(finance)
    assert client.post(f"/projects/{running.id}/recoveries", data=data).status_code == 403
    assert 'id="recovery"' not in client.get(f"/projects/{running.id}/spending").get_data(
        as_text=True
    )
    assert recoveries_of(project) == [] and recoveries_of(running) == []
    with pytest.raises(OperationError):
        spending.record_recovery(running, finance, "100.00", "HS-1", local_today())
    with pytest.raises(OperationError):
        spending.record_recovery(project, bureau, "100.00", "HS-1", local_today())
