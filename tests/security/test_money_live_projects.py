"""Money moves only for a live project, checked in the transaction that moves it.

A terminated project's state is written straight into the table here, as a concurrent
transaction that committed after this one loaded the project would leave it: the
project in memory still says "in progress". Requesting, approving and paying a release,
verifying spending and a tranche falling due re-read the state under the project's row
lock and refuse. Terminating a project cancels its pending releases and their tranches
in the same transaction, with the audit trail, and gives their reservation back.
"""

from __future__ import annotations

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.core.workflow import GuardFailed, transition
from grants.extensions import db
from grants.funding.disbursements import DisbursementError, request_disbursement
from grants.funding.models import Disbursement, Tranche
from grants.funding.triggers import mark_due
from grants.projects import changes
from grants.projects.models import Project
from tests.factories import make_user
from tests.funding.finance_helpers import (
    APPROVAL,
    approve_form,
    approved,
    key,
    paid,
    project_with_plan,
    requested,
)
from tests.funding.spending_helpers import add_expenditure, running_project

TERMINATED_ZH = "已终止"


def terminated_behind_our_back(project: Project) -> None:
    """The project terminated by another transaction: the row changes, the loaded object does not."""
    table = Project.__table__
    db.session.execute(
        sa.update(table)
        .where(table.c.id == project.id)
        .values(state="terminated", terminated_at=utcnow(), termination_reason="企业已注销")
    )
    assert project.state == "in_progress"  # the stale copy in memory


def test_requesting_a_release_of_a_project_terminated_meanwhile_is_refused(app):
    project = project_with_plan(["10000.00", "20000.00"])
    tranche = project.tranches[0]
    terminated_behind_our_back(project)
    try:
        request_disbursement(tranche, make_user("bureau"), key())
    except DisbursementError as exc:
        assert TERMINATED_ZH in exc.message and project.code in exc.message
    else:
        raise AssertionError("a release of a terminated project was requested")
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Disbursement.id)).where(Disbursement.project_id == project.id)
        )
        == 0
    )


def test_approving_a_release_of_a_project_terminated_meanwhile_is_refused(app):
    project = project_with_plan(["10000.00", "20000.00"])
    disbursement = requested(project.tranches[0])
    terminated_behind_our_back(project)
    try:
        transition(disbursement, "approve", make_user("finance"), **APPROVAL)
    except GuardFailed as exc:
        assert TERMINATED_ZH in exc.message
    else:
        raise AssertionError("a release of a terminated project was approved")
    assert disbursement.state == "requested"


def test_paying_a_release_of_a_project_terminated_meanwhile_is_refused(app):
    project = project_with_plan(["10000.00", "20000.00"])
    finance = make_user("finance")
    disbursement = approved(project.tranches[0], finance=make_user("finance"))
    terminated_behind_our_back(project)
    try:
        transition(disbursement, "pay", finance)
    except GuardFailed as exc:
        assert TERMINATED_ZH in exc.message
    else:
        raise AssertionError("a release of a terminated project was paid")
    db.session.expire_all()
    assert db.session.get(Project, project.id).disbursed_total == 0


def test_finance_queue_shows_the_chinese_refusal_for_a_terminated_project(app, client, login):
    project = project_with_plan(["10000.00", "20000.00"])
    disbursement = requested(project.tranches[0])
    finance = make_user("finance")
    db.session.commit()
    terminated_behind_our_back(project)
    db.session.commit()
    login(finance)
    response = client.post(
        f"/disbursements/{disbursement.id}/approve", data=approve_form(disbursement)
    )
    html = response.get_data(as_text=True)
    assert response.status_code in (409, 422), response.status_code
    assert TERMINATED_ZH in html and "资金" in html
    db.session.expire_all()
    assert db.session.get(Disbursement, disbursement.id).state == "requested"
    assert db.session.get(Disbursement, disbursement.id).approved_at is None


def test_terminating_cancels_pending_releases_and_their_tranches_with_audit(app):
    project = project_with_plan(["10000.00", "20000.00", "30000.00", "40000.00"])
    bureau = make_user("bureau")
    done = paid(project.tranches[0])
    waiting = requested(project.tranches[1])
    checked = approved(project.tranches[2])
    assert project.committed_total == 60000
    changes.terminate_project(project, bureau, "企业已注销，项目无法继续实施")

    db.session.expire_all()
    project = db.session.get(Project, project.id)
    states = {
        d.id: d.state
        for d in db.session.scalars(
            sa.select(Disbursement).where(Disbursement.project_id == project.id)
        )
    }
    assert states == {done.id: "paid", waiting.id: "cancelled", checked.id: "cancelled"}
    assert project.committed_total == project.disbursed_total == 10000
    tranches = db.session.scalars(
        sa.select(Tranche).where(Tranche.project_id == project.id).order_by(Tranche.position)
    ).all()
    assert [t.cancelled_at is not None for t in tranches] == [False, True, True, True]
    cancelled = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == "disbursement.cancel")
        .order_by(AuditEvent.id)
    ).all()
    assert [e.object_id for e in cancelled] == [str(waiting.id), str(checked.id)]
    assert all(e.actor_id == bureau.id and "企业已注销" in e.after["reason"] for e in cancelled)
    assert {
        e.object_id
        for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "tranche.cancelled")
        )
    } == {str(t.id) for t in tranches[1:]}
    row = db.session.get(Disbursement, waiting.id)
    assert row.cancellation_reason and "企业已注销" in row.cancellation_reason


def test_a_cancelled_release_can_no_longer_be_approved_or_paid(app):
    project = project_with_plan(["10000.00", "20000.00"])
    disbursement = approved(project.tranches[0])
    changes.terminate_project(project, make_user("bureau"), "违规使用资金")
    assert disbursement.state == "cancelled"
    try:
        transition(disbursement, "pay", make_user("finance"))
    except GuardFailed:
        raise AssertionError("the guard ran for an event the state does not allow") from None
    except Exception as exc:  # InvalidTransition: no pay from cancelled
        assert type(exc).__name__ == "InvalidTransition"
    else:
        raise AssertionError("a cancelled release was paid")


def test_no_tranche_falls_due_for_a_terminated_project(app):
    project = project_with_plan(["10000.00", "20000.00"], due=False)
    terminated_behind_our_back(project)
    assert mark_due(project, "contract") == []
    db.session.expire_all()
    assert all(
        t.due_since is None
        for t in db.session.scalars(sa.select(Tranche).where(Tranche.project_id == project.id))
    )


def test_spending_of_a_project_terminated_meanwhile_is_not_verified(app):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    terminated_behind_our_back(project)
    try:
        transition(expenditure, "verify", make_user("finance"))
    except GuardFailed as exc:
        assert TERMINATED_ZH in exc.message
    else:
        raise AssertionError("spending of a terminated project was verified")
    assert expenditure.state == "submitted"
