"""Maker-checker disbursement: requests and reservations, approval by another person,
payment, rejection, exact Decimal arithmetic, and the pages and panels around them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.core.workflow import GuardFailed, TransitionForbidden, can_fire, transition
from grants.extensions import db
from grants.funding.disbursements import DisbursementError, request_disbursement
from grants.funding.models import Disbursement
from grants.funding.triggers import mark_due
from grants.notifications.models import Notification
from grants.projects.models import Project
from tests.factories import OrganisationFactory, make_project, make_user
from tests.funding.finance_helpers import (
    APPROVAL,
    approve_form,
    approved,
    due_tranche,
    key,
    paid,
    people,
    project_with_plan,
    requested,
)


def disbursements_of(project) -> list[Disbursement]:
    return list(
        db.session.scalars(
            sa.select(Disbursement)
            .where(Disbursement.project_id == project.id)
            .order_by(Disbursement.id)
        )
    )


def fresh(project):
    db.session.expire(project)
    return project


def audit_actions(obj) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(
                AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == str(obj.id)
            )
            .order_by(AuditEvent.id)
        )
    )


# --- requesting ----------------------------------------------------------------------------------


def test_request_reserves_the_tranche_amount(app):
    project = make_project(award="200000.00")
    bureau = make_user("bureau")
    tranche = due_tranche(project)
    disbursement = request_disbursement(tranche, bureau, key(), note="首期")
    assert disbursement.state == "requested"
    assert disbursement.amount == tranche.amount == Decimal("60000.00")
    assert disbursement.requested_by_id == bureau.id and disbursement.request_note == "首期"
    assert fresh(project).committed_total == Decimal("60000.00")
    assert project.disbursed_total == Decimal("0.00")
    assert audit_actions(disbursement) == ["disbursement.request"]
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "disbursement.request")
    )
    assert event.after["amount"] == "60000.00" and event.after["committed_total"] == "60000.00"


def test_request_before_the_trigger_is_met_is_refused(app):
    project = make_project(award="200000.00")
    milestone_tranche = next(t for t in project.tranches if t.trigger == "milestone")
    acceptance_tranche = next(t for t in project.tranches if t.trigger == "acceptance")
    for tranche in (milestone_tranche, acceptance_tranche):
        with pytest.raises(DisbursementError):
            request_disbursement(tranche, make_user("bureau"), key())
    assert disbursements_of(project) == []
    assert fresh(project).committed_total == Decimal("0.00")


def test_request_after_the_trigger_is_met_goes_through(app):
    project = make_project(award="200000.00")
    milestone_tranche = next(t for t in project.tranches if t.trigger == "milestone")
    mark_due(project, "milestone", milestone=project.milestones[0])
    disbursement = request_disbursement(milestone_tranche, make_user("bureau"), key())
    assert disbursement.amount == Decimal("80000.00")
    assert fresh(project).committed_total == Decimal("80000.00")


def test_request_of_a_cancelled_tranche_is_refused(app):
    project = make_project()
    tranche = due_tranche(project)
    tranche.cancelled_at = utcnow()
    db.session.flush()
    with pytest.raises(DisbursementError):
        request_disbursement(tranche, make_user("bureau"), key())
    assert disbursements_of(project) == []


@pytest.mark.parametrize("state", ["contracting", "terminated", "closed"])
def test_request_when_the_project_does_not_run_is_forbidden(app, state):
    extra = (
        {"terminated_at": utcnow(), "termination_reason": "撤项"} if state == "terminated" else {}
    )
    project = make_project(state=state, **extra)
    tranche = project.tranches[0]
    tranche.due_since = utcnow()
    db.session.flush()
    with pytest.raises(TransitionForbidden):
        request_disbursement(tranche, make_user("bureau"), key())
    assert disbursements_of(project) == []


@pytest.mark.parametrize("roles", [("finance",), ("applicant",), ("expert",)])
def test_request_by_other_roles_is_forbidden(app, roles):
    project = make_project()
    user = make_user(*roles, organisation=project.organisation if "applicant" in roles else None)
    with pytest.raises(TransitionForbidden):
        request_disbursement(due_tranche(project), user, key())
    assert disbursements_of(project) == []


def test_replayed_key_returns_the_same_disbursement(app):
    project = make_project()
    bureau = make_user("bureau")
    tranche = due_tranche(project)
    same = key()
    first = request_disbursement(tranche, bureau, same)
    second = request_disbursement(tranche, bureau, same)
    assert second.id == first.id
    assert len(disbursements_of(project)) == 1
    assert fresh(project).committed_total == tranche.amount


def test_key_reused_for_another_tranche_is_refused(app):
    project = project_with_plan(["1000.00", "2000.00"])
    bureau = make_user("bureau")
    same = key()
    request_disbursement(project.tranches[0], bureau, same)
    with pytest.raises(DisbursementError):
        request_disbursement(project.tranches[1], bureau, same)
    assert len(disbursements_of(project)) == 1
    assert fresh(project).committed_total == Decimal("1000.00")


def test_second_request_of_a_tranche_with_another_key_is_refused(app):
    project = make_project()
    tranche = due_tranche(project)
    requested(tranche)
    with pytest.raises(DisbursementError):
        requested(tranche)
    assert len(disbursements_of(project)) == 1


def test_request_without_a_valid_key_is_refused(app):
    project = make_project()
    for bad in ("", "short", "x" * 65, "含有中文的键值含有中文的键值"):
        with pytest.raises(DisbursementError):
            request_disbursement(due_tranche(project), make_user("bureau"), bad)
    assert disbursements_of(project) == []


def test_request_that_would_exceed_the_award_is_refused(app):
    project = make_project(award="200000.00", committed_total=Decimal("150000.00"))
    with pytest.raises(DisbursementError) as refused:
        requested(due_tranche(project))
    assert refused.value.message


def test_request_exceeding_the_award_message(app, english_ui):
    project = make_project(award="200000.00", committed_total=Decimal("150000.00"))
    with pytest.raises(DisbursementError, match="would exceed the award"):
        requested(due_tranche(project))


def test_database_refuses_a_second_live_disbursement_of_a_tranche(app):
    project = make_project()
    first = requested(due_tranche(project))
    twin = Disbursement(
        project_id=project.id,
        tranche_id=first.tranche_id,
        amount=first.amount,
        idempotency_key=key(),
        requested_by_id=first.requested_by_id,
    )
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(twin)
        db.session.flush()


def test_database_refuses_committing_beyond_the_award(app):
    project = make_project(award="200000.00")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        table = Project.__table__
        db.session.execute(
            sa.update(table)
            .where(table.c.id == project.id)
            .values(committed_total=Decimal("200000.01"))
        )


# --- approval: maker and checker ---------------------------------------------------------------


def test_requester_cannot_approve_by_rule(app):
    project = make_project()
    both = make_user("bureau", "finance")
    disbursement = requested(due_tranche(project), both)
    assert not can_fire(both, disbursement, "approve")
    assert can_fire(make_user("finance"), disbursement, "approve")
    with pytest.raises(TransitionForbidden):
        transition(disbursement, "approve", both, **APPROVAL)
    assert disbursement.state == "requested"


def test_database_refuses_approver_equal_to_requester(app):
    project = make_project()
    disbursement = requested(due_tranche(project))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.text("UPDATE disbursements SET approved_by_id = requested_by_id WHERE id = :id"),
            {"id": disbursement.id},
        )


def test_database_refuses_approver_equal_to_requester_through_the_orm(app):
    project = make_project()
    disbursement = requested(due_tranche(project))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        disbursement.approved_by_id = disbursement.requested_by_id
        db.session.flush()


def test_approve_records_payee_voucher_and_approver(app):
    project = make_project()
    bureau, finance = people()
    disbursement = requested(due_tranche(project), bureau)
    transition(disbursement, "approve", finance, **APPROVAL)
    assert disbursement.state == "approved"
    assert disbursement.approved_by_id == finance.id and disbursement.approved_at is not None
    assert disbursement.payee_account == "0706001209024567890"
    assert disbursement.voucher_no == "FK-2026-0001" and disbursement.voucher_date == date(
        2026, 4, 1
    )
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "disbursement.approve")
    )
    assert event.after["state"] == "approved" and event.after["amount"] == str(disbursement.amount)
    assert fresh(project).committed_total == disbursement.amount  # approval moves no money


@pytest.mark.parametrize(
    "missing",
    [
        {"payee_name": " "},
        {"payee_bank": ""},
        {"payee_account": "1234567"},
        {"payee_account": "1234-5678-90"},
        {"payee_account": "1" * 31},
        {"voucher_no": ""},
        {"voucher_date": None},
    ],
)
def test_approve_without_payee_or_voucher_is_refused(app, missing):
    disbursement = requested(due_tranche(make_project()))
    with pytest.raises(GuardFailed):
        transition(disbursement, "approve", make_user("finance"), **{**APPROVAL, **missing})
    assert disbursement.state == "requested"


# --- payment and rejection ------------------------------------------------------------------------


def test_pay_moves_the_amount_into_disbursed_total(app):
    project = make_project(award="200000.00")
    bureau, finance = people()
    disbursement = approved(due_tranche(project), bureau, finance)
    transition(disbursement, "pay", finance)
    assert (
        disbursement.state == "paid"
        and disbursement.paid_by_id == finance.id
        and disbursement.paid_at
    )
    fresh(project)
    assert project.disbursed_total == Decimal("60000.00") == project.committed_total
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "disbursement.pay"))
    assert event.after["amount"] == "60000.00" and event.after["disbursed_total"] == "60000.00"


def test_pay_of_a_requested_disbursement_is_impossible(app):
    disbursement = requested(due_tranche(make_project()))
    with pytest.raises(Exception) as refused:
        transition(disbursement, "pay", make_user("finance"))
    assert type(refused.value).__name__ == "InvalidTransition"


def test_pay_by_bureau_is_forbidden(app):
    disbursement = approved(due_tranche(make_project()))
    with pytest.raises(TransitionForbidden):
        transition(disbursement, "pay", make_user("bureau"))


def test_reject_releases_the_reservation(app):
    project = make_project(award="200000.00")
    tranche = due_tranche(project)
    disbursement = requested(tranche)
    assert fresh(project).committed_total == Decimal("60000.00")
    transition(disbursement, "reject", make_user("finance"), reason="账户信息有误")
    assert disbursement.state == "rejected" and disbursement.rejection_reason == "账户信息有误"
    assert fresh(project).committed_total == Decimal("0.00")
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "disbursement.reject")
    )
    assert event.after["amount"] == "60000.00" and event.after["committed_total"] == "0.00"
    again = requested(tranche)
    assert again.id != disbursement.id and fresh(project).committed_total == Decimal("60000.00")


def test_reject_needs_a_reason(app):
    disbursement = requested(due_tranche(make_project()))
    with pytest.raises(GuardFailed):
        transition(disbursement, "reject", make_user("finance"), reason="  ")
    assert disbursement.state == "requested"


def test_paid_and_rejected_notify_bureau_and_organisation(app):
    project = make_project()
    owner = make_user("applicant", organisation=project.organisation)
    outsider = make_user("applicant", organisation=OrganisationFactory())
    bureau, finance = people()
    paid(due_tranche(project), bureau, finance)
    kinds = dict(
        db.session.execute(
            sa.select(Notification.user_id, Notification.kind).where(
                Notification.kind == "disbursement.paid"
            )
        ).all()
    )
    assert (
        kinds.get(owner.id) == "disbursement.paid" and kinds.get(bureau.id) == "disbursement.paid"
    )
    assert outsider.id not in kinds
    mark_due(project, "milestone", milestone=project.milestones[0])
    second = requested(project.tranches[1], bureau)
    transition(second, "reject", finance, reason="凭证不全")
    rejected_to = set(
        db.session.scalars(
            sa.select(Notification.user_id).where(Notification.kind == "disbursement.rejected")
        )
    )
    assert {owner.id, bureau.id} <= rejected_to and outsider.id not in rejected_to


def test_request_notifies_finance(app):
    finance = make_user("finance")
    requested(due_tranche(make_project()))
    assert (
        db.session.scalar(sa.select(Notification.kind).where(Notification.user_id == finance.id))
        == "disbursement.requested"
    )


# --- exact Decimal arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize(
    "amounts",
    [
        ["33333.33", "33333.33", "33333.34"],
        [
            "10000.10",
            "20000.20",
            "30000.30",
        ],  # binary floating point sums these to 60000.600000000006
        ["0.10", "0.20", "0.30"],
    ],
)
def test_tranches_sum_to_the_award_exactly(app, amounts):
    project = project_with_plan(amounts)
    assert sum((t.amount for t in project.tranches), Decimal(0)) == project.award
    bureau, finance = people()
    for tranche in project.tranches:
        paid(tranche, bureau, finance)
    fresh(project)
    assert project.committed_total == project.award == project.disbursed_total
    assert project.remaining == Decimal("0.00")
    for value in (
        project.award,
        project.committed_total,
        project.disbursed_total,
        project.remaining,
        *(d.amount for d in disbursements_of(project)),
    ):
        assert type(value) is Decimal
    with pytest.raises(DisbursementError):
        requested(project.tranches[0])  # a tranche already paid has a live disbursement


def test_award_with_room_for_part_of_the_plan_releases_only_what_fits(app):
    project = project_with_plan(
        ["33333.33", "33333.33", "33333.34"], award="100000.00", committed_total=Decimal("33333.33")
    )
    bureau = make_user("bureau")
    requested(project.tranches[0], bureau)
    requested(project.tranches[1], bureau)
    assert fresh(project).committed_total == Decimal("99999.99")
    with pytest.raises(DisbursementError):
        requested(project.tranches[2], bureau)
    assert fresh(project).committed_total == Decimal("99999.99")


# --- pages: the money tab and the release button ------------------------------------------------


def test_money_tab_shows_the_reconciliation(client, login):
    project = make_project(award="200000.00")
    bureau, finance = people()
    paid(due_tranche(project), bureau, finance)
    db.session.commit()
    login(make_user("applicant", organisation=project.organisation))
    response = client.get(f"/projects/{project.id}/money")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # read in 万元 to two decimals, the exact amount in 元 beneath it
    exact = '<span class="d-block small text-body-secondary fw-normal" data-exact>'
    assert f'data-figure="award">20.00 万元{exact}200,000.00 元</span>' in html
    assert f'data-figure="disbursed">6.00 万元{exact}60,000.00 元</span>' in html
    assert f'data-figure="remaining">14.00 万元{exact}140,000.00 元</span>' in html
    assert 'data-status="paid"' in html and 'data-status="pending"' in html
    assert "FK-2026-0001" in html
    assert "/release" not in html  # the owner cannot request a release


def test_money_tab_of_a_project_awaiting_its_task_book(client, login):
    project = make_project(state="contracting")
    project.tranches[1].cancelled_at = utcnow()
    db.session.commit()
    login(make_user("bureau"))
    response = client.get(f"/projects/{project.id}/money")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('data-status="pending"') == 2 and 'data-status="cancelled"' in html
    assert "/release" not in html


def test_money_tab_permissions(client, login):
    project = make_project()
    url = f"/projects/{project.id}/money"
    cases = [
        (make_user("bureau"), 200),
        (make_user("admin"), 200),
        (make_user("finance"), 200),
        (make_user("applicant", organisation=project.organisation), 200),
        (make_user("applicant", organisation=OrganisationFactory()), 404),
        (make_user("expert"), 404),
    ]
    db.session.commit()
    for user, status in cases:
        login(user)
        assert client.get(url).status_code == status, user.role_names
        client.post("/logout")
    assert client.get(url).status_code == 302


def test_money_tab_shows_release_button_to_bureau_only_on_due_tranches(client, login):
    project = make_project()
    db.session.commit()
    login(make_user("bureau"))
    html = client.get(f"/projects/{project.id}/money").get_data(as_text=True)
    due = due_tranche(project)
    assert f"/tranches/{due.id}/release" in html
    assert html.count('/release"') == 1
    assert f'name="release-{due.id}-idempotency_key"' in html


def test_finance_sees_money_without_any_edit_action(client, login):
    project = make_project()
    requested(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    html = client.get(f"/projects/{project.id}/money").get_data(as_text=True)
    assert "/release" not in html
    assert "/edit" not in html
    queue = client.get("/finance/queue").get_data(as_text=True)
    assert "/edit" not in queue


def test_release_button_requests_once_whatever_the_clicks(client, login, english_ui):
    project = make_project()
    tranche = due_tranche(project)
    db.session.commit()
    login(make_user("bureau"))
    html = client.get(f"/projects/{project.id}/money").get_data(as_text=True)
    token = re.search(
        rf'name="release-{tranche.id}-idempotency_key" type="hidden" value="([0-9a-f]+)"', html
    )
    assert token, html
    form = {
        f"release-{tranche.id}-idempotency_key": token.group(1),
        f"release-{tranche.id}-note": "首期拨付",
    }
    url = f"/projects/{project.id}/tranches/{tranche.id}/release"
    first = client.post(url, data=form)
    second = client.post(url, data=form)
    assert first.status_code == 302 and second.status_code == 302
    assert "had already been requested" in client.get(second.location).get_data(as_text=True)
    rows = disbursements_of(project)
    assert len(rows) == 1 and rows[0].request_note == "首期拨付"
    assert fresh(project).committed_total == tranche.amount


def test_release_of_a_tranche_not_due_is_refused_with_the_form(client, login, english_ui):
    project = make_project()
    milestone_tranche = next(t for t in project.tranches if t.trigger == "milestone")
    db.session.commit()
    login(make_user("bureau"))
    response = client.post(
        f"/projects/{project.id}/tranches/{milestone_tranche.id}/release",
        data={f"release-{milestone_tranche.id}-idempotency_key": key()},
    )
    assert response.status_code == 422
    assert "is not due yet" in response.get_data(as_text=True)
    assert disbursements_of(project) == []


def test_release_beyond_the_award_is_refused_on_the_page_before_the_database(client, login):
    """committed ≤ award: the page says why and nothing is reserved; the CHECK is the second line."""
    project = make_project(award="200000.00", committed_total=Decimal("150000.00"))
    tranche = due_tranche(project)  # 60,000 yuan: 150,000 + 60,000 > 200,000
    db.session.commit()
    login(make_user("bureau"))
    response = client.post(
        f"/projects/{project.id}/tranches/{tranche.id}/release",
        data={f"release-{tranche.id}-idempotency_key": key()},
    )
    assert response.status_code == 422
    assert "拨付 60,000.00 元 将超出项目立项资助金额" in response.get_data(as_text=True)
    assert disbursements_of(project) == []
    assert fresh(project).committed_total == Decimal("150000.00")


def test_release_by_finance_or_owner_is_forbidden(client, login):
    project = make_project()
    tranche = due_tranche(project)
    finance = make_user("finance")
    owner = make_user("applicant", organisation=project.organisation)
    db.session.commit()
    for user in (finance, owner):
        login(user)
        response = client.post(
            f"/projects/{project.id}/tranches/{tranche.id}/release",
            data={f"release-{tranche.id}-idempotency_key": key()},
        )
        assert response.status_code == 403
        client.post("/logout")
    assert disbursements_of(project) == []


def test_release_of_another_projects_tranche_is_not_found(client, login):
    project, other = make_project(), make_project()
    db.session.commit()
    login(make_user("bureau"))
    tranche = due_tranche(other)
    response = client.post(
        f"/projects/{project.id}/tranches/{tranche.id}/release",
        data={f"release-{tranche.id}-idempotency_key": key()},
    )
    assert response.status_code == 404


# --- pages: the finance queue --------------------------------------------------------------------


def test_queue_is_for_finance_only(client, login):
    db.session.commit()
    for roles, status in (
        (("finance",), 200),
        (("bureau",), 403),
        (("applicant",), 403),
        (("expert",), 403),
    ):
        login(make_user(*roles))
        db.session.commit()
        assert client.get("/finance/queue").status_code == status, roles
        client.post("/logout")


def test_queue_approve_pay_through_the_pages(client, login):
    project = make_project()
    disbursement = requested(due_tranche(project))
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    html = client.get("/finance/queue").get_data(as_text=True)
    assert f'value="{project.organisation.name}"' in html  # payee defaults to the organisation
    response = client.post(
        f"/disbursements/{disbursement.id}/approve", data=approve_form(disbursement)
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert disbursement.state == "approved" and disbursement.approved_by_id == finance.id
    response = client.post(f"/disbursements/{disbursement.id}/pay", data={})
    assert response.status_code == 302
    db.session.expire_all()
    assert disbursement.state == "paid"
    assert project.disbursed_total == disbursement.amount


def test_queue_approve_with_a_bad_account_keeps_what_was_typed(client, login):
    project = make_project()
    disbursement = requested(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    response = client.post(
        f"/disbursements/{disbursement.id}/approve",
        data=approve_form(disbursement, payee_account="12AB", voucher_no="PZ-77"),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="12AB"' in html and 'value="PZ-77"' in html and 'aria-invalid="true"' in html
    db.session.expire_all()
    assert disbursement.state == "requested"


def test_queue_requester_cannot_approve_and_is_told_why(client, login, english_ui):
    project = make_project()
    both = make_user("bureau", "finance")
    disbursement = requested(due_tranche(project), both)
    db.session.commit()
    login(both)
    html = client.get("/finance/queue").get_data(as_text=True)
    assert "You requested this release yourself" in html
    assert f"/disbursements/{disbursement.id}/approve" not in html
    response = client.post(
        f"/disbursements/{disbursement.id}/approve", data=approve_form(disbursement)
    )
    assert response.status_code == 422
    assert "another finance officer must check and approve it" in response.get_data(as_text=True)
    db.session.expire_all()
    assert disbursement.state == "requested" and disbursement.approved_by_id is None


def test_queue_reject_releases_the_reservation(client, login):
    project = make_project()
    disbursement = requested(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    empty = client.post(
        f"/disbursements/{disbursement.id}/reject", data={f"reject-{disbursement.id}-reason": ""}
    )
    assert empty.status_code == 422
    response = client.post(
        f"/disbursements/{disbursement.id}/reject",
        data={f"reject-{disbursement.id}-reason": "收款账户与单位名称不符"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert disbursement.state == "rejected" and project.committed_total == Decimal("0.00")


def audit_count(disbursement) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "Disbursement",
            AuditEvent.object_id == str(disbursement.id),
            AuditEvent.action.not_like("%denied%"),
        )
    )


def test_queue_action_already_taken_by_a_colleague_redirects(client, login):
    project = make_project()
    disbursement = approved(due_tranche(project))
    db.session.commit()
    first = (disbursement.state, disbursement.approved_by_id, disbursement.approved_at)
    events = audit_count(disbursement)
    login(make_user("finance"))
    response = client.post(
        f"/disbursements/{disbursement.id}/approve", data=approve_form(disbursement)
    )
    assert response.status_code == 302 and response.location.endswith("/finance/queue")
    page = client.get(response.location).get_data(as_text=True)
    assert "该拨付申请已无法审核通过：当前状态为“财务已审核”" in page
    db.session.expire_all()
    again = db.session.get(Disbursement, disbursement.id)
    assert (again.state, again.approved_by_id, again.approved_at) == first
    assert first[0] == "approved"
    assert audit_count(disbursement) == events  # the second approval left no trace of success


def test_queue_actions_by_bureau_are_forbidden(client, login):
    project = make_project()
    disbursement = requested(due_tranche(project))
    db.session.commit()
    login(make_user("bureau"))
    assert (
        client.post(
            f"/disbursements/{disbursement.id}/approve", data=approve_form(disbursement)
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/disbursements/{disbursement.id}/reject",
            data={f"reject-{disbursement.id}-reason": "x"},
        ).status_code
        == 403
    )
    db.session.expire_all()
    assert disbursement.state == "requested"


# --- dashboard panels ----------------------------------------------------------------------------


def test_finance_panel_counts_waiting_disbursements(app):
    from grants.funding.finance_panels import disbursements_panel

    finance = make_user("finance")
    assert disbursements_panel(finance) is None
    first, second = make_project(), make_project()
    waiting = requested(due_tranche(first))
    approved(due_tranche(second))
    data = disbursements_panel(finance)
    assert data["requested_total"] == 1 and data["approved_total"] == 1
    assert [d.id for d in data["requested"]] == [waiting.id]


def test_bureau_panel_lists_due_tranches_not_yet_requested(app):
    from grants.funding.finance_panels import due_tranches_panel

    bureau = make_user("bureau")
    before = due_tranches_panel(bureau)
    base = before["total"] if before else 0
    project = make_project()
    tranche = due_tranche(project)
    data = due_tranches_panel(bureau)
    assert data["total"] == base + 1 and tranche in data["tranches"]
    disbursement = requested(tranche)
    data = due_tranches_panel(bureau)
    assert (data["total"] if data else 0) == base
    transition(disbursement, "reject", make_user("finance"), reason="重新申请")
    assert due_tranches_panel(bureau)["total"] == base + 1


def test_dashboard_shows_the_panels(client, login):
    project = make_project()
    requested(due_tranche(project))
    make_project()
    finance, bureau = make_user("finance"), make_user("bureau")
    db.session.commit()
    login(finance)
    html = client.get("/").get_data(as_text=True)
    assert 'id="panel-funding-disbursements"' in html
    client.post("/logout")
    login(bureau)
    html = client.get("/").get_data(as_text=True)
    assert 'id="panel-funding-due_tranches"' in html
