"""Termination of a project by the bureau: reason, cancelled tranches, notices, permissions, the page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grants.core.workflow import (
    GuardFailed,
    InvalidTransition,
    TransitionForbidden,
    can_fire,
    transition,
)
from grants.extensions import db
from grants.funding.models import Disbursement, Tranche
from grants.projects import changes as ops
from tests.projects.change_helpers import (
    audit_events,
    cast,
    extension,
    inbox,
    live_disbursement,
    reload,
    submitted,
)


def tranches_of(project) -> list[Tranche]:
    return db.session.scalars(
        sa.select(Tranche).where(Tranche.project_id == project.id).order_by(Tranche.position)
    ).all()


def test_termination_records_reason_and_cancels_undisbursed_tranches(app):
    c = cast()
    project = c.project
    contract, milestone, acceptance = tranches_of(project)
    pending = live_disbursement(project, contract, c.bureau, state="requested")
    ops.terminate_project(project, c.bureau, "  企业已注销，项目无法继续实施  ")
    project = reload(project)
    assert project.state == "terminated"
    assert project.terminated_at is not None
    assert project.termination_reason == "企业已注销，项目无法继续实施"
    contract, milestone, acceptance = tranches_of(project)
    # the pending release is cancelled with its tranche, and its reservation given back
    assert db.session.get(Disbursement, pending.id).state == "cancelled"
    assert project.committed_total == 0
    assert all(t.cancelled_at is not None for t in (contract, milestone, acceptance))
    assert [e.object_id for e in audit_events("tranche.cancelled")] == [
        str(milestone.id),
        str(acceptance.id),
        str(contract.id),
    ]
    event = audit_events("project.terminate", project)[-1]
    assert (
        event.before["state"] == "in_progress"
        and event.after["reason"].strip() == "企业已注销，项目无法继续实施"
    )


def test_termination_cancels_a_tranche_whose_disbursement_was_rejected(app):
    c = cast()
    project = c.project
    contract = tranches_of(project)[0]
    live_disbursement(project, contract, c.bureau, state="rejected")
    ops.terminate_project(project, c.bureau, "违规使用资金")
    assert all(t.cancelled_at is not None for t in tranches_of(project))


def test_termination_leaves_already_cancelled_tranches_alone(app):
    c = cast()
    project = c.project
    first = tranches_of(project)[0]
    first.cancelled_at = project.signed_at
    db.session.flush()
    ops.terminate_project(project, c.bureau, "违规")
    assert reload(first).cancelled_at == project.signed_at
    assert len(audit_events("tranche.cancelled")) == 2


def test_termination_of_a_project_still_contracting(app):
    c = cast(state="contracting")
    ops.terminate_project(c.project, c.bureau, "未按期签订任务书")
    assert reload(c.project).state == "terminated"
    assert all(t.cancelled_at is not None for t in tranches_of(c.project))


def test_termination_rejects_requests_waiting_for_a_decision(app):
    c = cast()
    waiting = submitted(c.project, "extension", extension(c.project), c.owner)
    draft = ops.draft_change(c.project, "team", c.owner, reason="r", proposed={"members": []})
    ops.terminate_project(c.project, c.bureau, "违规")
    assert reload(waiting).state == "rejected" and waiting.decision_note
    assert reload(draft).state == "draft"
    assert inbox(c.owner, "change_request.rejected")


def test_termination_without_reason_is_refused(app):
    c = cast()
    with pytest.raises(GuardFailed):
        ops.terminate_project(c.project, c.bureau, "   ")
    assert reload(c.project).state == "in_progress"
    assert all(t.cancelled_at is None for t in tranches_of(c.project))


def test_termination_notifies_the_owner_and_finance(app):
    c = cast()
    ops.terminate_project(c.project, c.bureau, "违规")
    assert len(inbox(c.owner, "project.terminated")) == 1
    assert len(inbox(c.finance, "project.terminated")) == 1
    assert not inbox(c.outsider, "project.terminated")
    assert not inbox(c.expert, "project.terminated")


def test_only_the_bureau_may_terminate(app):
    c = cast()
    for name, user in c.everyone().items():
        assert can_fire(user, c.project, "terminate") == (name == "bureau"), name
        if name != "bureau":
            with pytest.raises(TransitionForbidden):
                transition(c.project, "terminate", user, reason="理由")
    assert reload(c.project).state == "in_progress"


@pytest.mark.parametrize("state", ["acceptance_review", "accepted", "closed"])
def test_projects_past_execution_cannot_be_terminated(app, state):
    c = cast(state=state)
    with pytest.raises(InvalidTransition):
        ops.terminate_project(c.project, c.bureau, "理由")


def test_terminated_project_cannot_be_terminated_again_nor_changed(app):
    from grants.core.permissions import can

    c = cast()
    ops.terminate_project(c.project, c.bureau, "违规")
    with pytest.raises(InvalidTransition):
        ops.terminate_project(c.project, c.bureau, "再次")
    assert not can(c.bureau, "project.terminate", c.project)
    assert not can(c.owner, "change.create", c.project)


# --- the page -------------------------------------------------------------------------------------


def test_terminate_page_shows_tranches_to_cancel(app, client, login):
    c = cast()
    db.session.commit()
    login(c.bureau)
    page = client.get(f"/projects/{c.project.id}/terminate")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-to-cancel" in html and html.count('<th scope="row" class="fw-normal">') == 3
    tab = client.get(f"/projects/{c.project.id}/changes").get_data(as_text=True)
    assert "data-terminate>" in tab


def test_terminate_page_refused_to_everyone_but_the_bureau(app, client, login):
    c = cast()
    db.session.commit()
    for user in (c.owner, c.finance, c.expert, c.outsider):
        login(user)
        assert client.get(f"/projects/{c.project.id}/terminate").status_code == 403
        assert (
            client.post(
                f"/projects/{c.project.id}/terminate", data={"reason": "理由", "confirm": "y"}
            ).status_code
            == 403
        )
        client.post("/logout")
    assert reload(c.project).state == "in_progress"


def test_terminate_form_needs_reason_and_confirmation(app, client, login):
    c = cast()
    db.session.commit()
    login(c.bureau)
    url = f"/projects/{c.project.id}/terminate"
    unconfirmed = client.post(url, data={"reason": "违规使用资金"})
    assert unconfirmed.status_code == 422 and "违规使用资金" in unconfirmed.get_data(as_text=True)
    assert client.post(url, data={"reason": " ", "confirm": "y"}).status_code == 422
    assert reload(c.project).state == "in_progress"


def test_terminate_through_the_page(app, client, login):
    c = cast()
    db.session.commit()
    login(c.bureau)
    response = client.post(
        f"/projects/{c.project.id}/terminate", data={"reason": "违规使用资金", "confirm": "y"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/projects/{c.project.id}/changes")
    project = reload(c.project)
    assert project.state == "terminated" and project.termination_reason == "违规使用资金"
    tab = client.get(f"/projects/{c.project.id}/changes").get_data(as_text=True)
    assert "data-terminated" in tab and "违规使用资金" in tab and "data-terminate>" not in tab
    assert client.get(f"/projects/{c.project.id}/terminate").status_code == 403
