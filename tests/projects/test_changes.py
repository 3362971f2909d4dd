"""Change requests: each kind from draft to approved with the change applied and audited, the rules
of the house for proposals, rejection, stale values, permissions, the pages and the dashboard panel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.core.refusals import OperationError
from grants.core.workflow import (
    GuardFailed,
    InvalidTransition,
    TransitionForbidden,
    can_fire,
    transition,
)
from grants.extensions import db
from grants.funding.models import ProjectBudgetLine
from grants.projects import changes as ops
from grants.projects.models import ChangeRequest, Milestone, ProjectKpi, ProjectMember
from tests.projects.change_helpers import (
    audit_events,
    budget_moving,
    cast,
    extension,
    inbox,
    proposal,
    reload,
    submitted,
    verified_spending,
)


def budget_of(project) -> dict[str, tuple[Decimal, Decimal]]:
    rows = db.session.scalars(
        sa.select(ProjectBudgetLine).where(ProjectBudgetLine.project_id == project.id)
    )
    return {line.category: (line.fiscal, line.self_raised) for line in rows}


def members_of(project) -> list[ProjectMember]:
    return db.session.scalars(
        sa.select(ProjectMember)
        .where(ProjectMember.project_id == project.id)
        .order_by(ProjectMember.id)
    ).all()


def kpis_of(project) -> dict[str, tuple[Decimal, str]]:
    rows = db.session.scalars(sa.select(ProjectKpi).where(ProjectKpi.project_id == project.id))
    return {k.kind: (k.target, k.note) for k in rows}


# --- every kind, from draft to approved ---------------------------------------------------------


def test_extension_approved_moves_end_date_and_open_milestones(app):
    c = cast()
    project = c.project
    first, second = project.milestones
    # month ends, so that the expected dates below are written out by hand
    project.end_date, first.due_date, second.due_date = (
        date(2027, 8, 31),
        date(2026, 12, 31),
        date(2027, 8, 31),
    )
    db.session.flush()
    old_end = project.end_date
    proposed = {
        "end_date": "2028-02-29",
        "milestones": [
            {"id": first.id, "due_date": "2027-06-30"},
            {"id": second.id, "due_date": "2028-02-29"},
        ],
    }
    assert proposed == extension(project, 6)  # the helper the other tests use agrees
    change = ops.draft_change(
        project, "extension", c.owner, reason="设备到货延迟", proposed=proposed
    )
    assert change.state == "draft" and change.previous == {}
    ops.submit_change(change, c.owner)
    assert change.state == "submitted" and change.submitted_at is not None
    assert change.previous["end_date"] == old_end.isoformat()
    ops.approve_change(change, c.bureau, "同意延期")
    project = reload(project)
    assert reload(change).state == "approved"
    assert project.end_date == date(2028, 2, 29)
    assert db.session.get(Milestone, first.id).due_date == date(2027, 6, 30)
    assert db.session.get(Milestone, second.id).due_date == date(2028, 2, 29)
    event = audit_events("project.change.extension", project)[-1]
    assert event.before["end_date"] == old_end.isoformat()
    assert event.after["end_date"] == project.end_date.isoformat()
    assert event.after["change_request_id"] == change.id
    assert audit_events("change_request.approve", change)


def test_extension_leaves_achieved_milestones_alone(app):
    c = cast()
    project = c.project
    first = project.milestones[0]
    first_due = first.due_date
    transition(first, "report", None)
    transition(first, "approve", None)
    proposed = extension(project, 3)
    assert [row["id"] for row in proposed["milestones"]] == [project.milestones[1].id]
    change = submitted(project, "extension", proposed, c.owner)
    ops.approve_change(change, c.bureau)
    assert db.session.get(Milestone, first.id).due_date == first_due


def test_budget_reallocation_approved_rewrites_lines_and_self_raised(app):
    c = cast(award="200000.00")
    project = c.project
    before = budget_of(project)
    self_raised_before = project.self_raised
    proposed = budget_moving(project, "30000", self_raised={"labour": "150000.00"})
    change = submitted(project, "budget", proposed, c.owner)
    ops.approve_change(change, c.bureau)
    after = budget_of(project)
    assert after["equipment"][0] == before["equipment"][0] - Decimal("30000")
    assert after["business"][0] == before["business"][0] + Decimal("30000")
    assert sum(v[0] for v in after.values()) == Decimal("200000.00")
    assert after["labour"][1] == Decimal("150000.00")
    assert reload(project).self_raised == self_raised_before + Decimal("50000.00")
    event = audit_events("project.change.budget", project)[-1]
    assert event.before["lines"]["equipment"]["fiscal"] == str(before["equipment"][0])
    assert event.after["lines"]["business"]["fiscal"] == str(after["business"][0])


def test_principal_change_to_a_new_person_keeps_the_former_as_core_member(app):
    c = cast()
    project = c.project
    old = project.principal
    proposed = proposal(
        project,
        "principal",
        name="王海涛",
        title="教授级高工",
        organisation_name="通化某研究院",
        old_principal="core",
    )
    change = submitted(project, "principal", proposed, c.owner)
    ops.approve_change(change, c.bureau)
    members = members_of(project)
    principals = [m for m in members if m.role == "principal"]
    assert [(m.name, m.title, m.organisation_name) for m in principals] == [
        ("王海涛", "教授级高工", "通化某研究院")
    ]
    former = db.session.get(ProjectMember, old.id)
    assert former.role == "core" and former.active
    event = audit_events("project.change.principal", project)[-1]
    assert (
        event.before["principal"]["name"] == "严建国"
        and event.after["principal"]["name"] == "王海涛"
    )


def test_principal_change_promotes_a_member_and_the_former_leaves(app):
    c = cast()
    project = c.project
    old = project.principal
    core = next(m for m in project.members if m.role == "core")
    change = submitted(
        project,
        "principal",
        proposal(project, "principal", member_id=core.id, old_principal="leaves"),
        c.owner,
    )
    assert change.proposed["name"] == core.name
    ops.approve_change(change, c.bureau)
    promoted, former = db.session.get(ProjectMember, core.id), db.session.get(ProjectMember, old.id)
    assert promoted.role == "principal" and promoted.active
    assert former.role == "member" and not former.active
    assert len(members_of(project)) == 2


def test_team_change_adds_removes_and_edits_members(app):
    c = cast()
    project = c.project
    core = next(m for m in project.members if m.role == "core")
    project.members.append(
        ProjectMember(position=3, name="赵敏", role="member", title="助理工程师")
    )
    db.session.flush()
    leaving = next(m for m in project.members if m.name == "赵敏")
    proposed = {
        "members": [
            {
                "id": core.id,
                "name": "李红",
                "role": "core",
                "title": "高级工程师",
                "organisation_name": "通化某公司",
            },
            {
                "id": None,
                "name": "孙立",
                "role": "member",
                "title": "技术员",
                "organisation_name": "",
            },
        ]
    }
    change = submitted(project, "team", proposed, c.owner)
    assert [m["name"] for m in change.previous["members"]] == ["李红", "赵敏"]
    ops.approve_change(change, c.bureau)
    members = {m.name: m for m in members_of(project)}
    assert members["李红"].title == "高级工程师" and members["李红"].active
    assert not db.session.get(ProjectMember, leaving.id).active
    assert members["孙立"].active and members["孙立"].role == "member"
    assert members["严建国"].role == "principal" and members["严建国"].active
    event = audit_events("project.change.team", project)[-1]
    assert [m["name"] for m in event.after["members"]] == ["李红", "孙立"]


def test_content_change_rewrites_objectives_and_kpi_targets(app):
    c = cast()
    project = c.project
    proposed = {
        "objectives": "研制新型环保涂料并实现中试。",
        "kpis": {
            "patents_filed": {"target": "3", "note": "含PCT"},
            "jobs": {"target": "12", "note": ""},
        },
    }
    change = submitted(project, "content", proposed, c.owner)
    ops.approve_change(change, c.bureau)
    assert reload(project).objectives == "研制新型环保涂料并实现中试。"
    assert kpis_of(project) == {
        "patents_filed": (Decimal("3.00"), "含PCT"),
        "jobs": (Decimal("12.00"), ""),
    }
    event = audit_events("project.change.content", project)[-1]
    assert set(event.before["kpis"]) == {"patents_filed", "revenue"}
    assert set(event.after["kpis"]) == {"patents_filed", "jobs"}


def test_withdrawal_approved_terminates_the_project(app):
    c = cast()
    project = c.project
    change = submitted(
        project, "withdrawal", {"understood": True}, c.owner, reason="市场需求变化，企业决定撤项"
    )
    ops.approve_change(change, c.bureau, "同意撤项")
    project = reload(project)
    assert reload(change).state == "approved"
    assert project.state == "terminated" and project.terminated_at is not None
    assert project.termination_reason == "市场需求变化，企业决定撤项"
    terminate = audit_events("project.terminate", project)[-1]
    assert terminate.after["change_request_id"] == change.id
    assert all(t.cancelled_at is not None for t in project.tranches[1:])


# --- rules of the house ---------------------------------------------------------------------------


def test_budget_not_summing_to_the_award_is_refused(app):
    c = cast(award="200000.00")
    project = c.project
    proposed = budget_moving(project, "0")
    proposed["lines"]["equipment"]["fiscal"] = str(
        Decimal(proposed["lines"]["equipment"]["fiscal"]) + 1
    )
    with pytest.raises(ops.ChangeProblems) as refused, db.session.begin_nested():
        submitted(project, "budget", proposed, c.owner)
    assert [key for key, _message in refused.value.problems] == ["budget:total"]
    change = ops.draft_change(project, "budget", c.owner, reason="调整", proposed=proposed)
    with pytest.raises(GuardFailed):
        transition(change, "submit", c.owner)
    assert change.state == "draft"


def test_budget_below_verified_spending_is_refused(app):
    c = cast(award="200000.00")
    project = c.project
    verified_spending(project, "equipment", "60000.00")
    with pytest.raises(ops.ChangeProblems) as refused, db.session.begin_nested():
        submitted(project, "budget", budget_moving(project, "30000"), c.owner)
    assert [key for key, _message in refused.value.problems] == ["budget:equipment"]
    change = submitted(project, "budget", budget_moving(project, "20000"), c.owner)
    assert change.state == "submitted"


def test_budget_spending_verified_after_submission_blocks_approval(app):
    c = cast(award="200000.00")
    project = c.project
    change = submitted(project, "budget", budget_moving(project, "30000"), c.owner)
    verified_spending(project, "equipment", "60000.00")
    with pytest.raises(GuardFailed):
        ops.approve_change(change, c.bureau)
    assert reload(change).state == "submitted"


@pytest.mark.parametrize("months", [0, -1, 13])
def test_extension_out_of_bounds_is_refused(app, months):
    c = cast()
    project = c.project
    proposed = {"end_date": ops.add_months(project.end_date, months).isoformat(), "milestones": []}
    with pytest.raises(ops.ChangeProblems) as refused:
        submitted(project, "extension", proposed, c.owner)
    assert "end_date" in [key for key, _message in refused.value.problems]


def test_extension_of_twelve_months_is_the_limit(app):
    c = cast()
    change = submitted(
        c.project, "extension", extension(c.project, ops.MAX_EXTENSION_MONTHS), c.owner
    )
    assert change.state == "submitted"


def test_extension_milestone_after_the_new_end_is_refused(app):
    c = cast()
    project = c.project
    proposed = extension(project, 2)
    proposed["milestones"][-1]["due_date"] = ops.add_months(project.end_date, 3).isoformat()
    with pytest.raises(ops.ChangeProblems) as refused:
        submitted(project, "extension", proposed, c.owner)
    assert [key for key, _message in refused.value.problems] == [
        f"milestone:{project.milestones[-1].id}"
    ]


def test_principal_without_a_name_is_refused(app):
    c = cast()
    with pytest.raises(ops.ChangeProblems) as refused:
        submitted(c.project, "principal", proposal(c.project, "principal"), c.owner)
    assert [key for key, _message in refused.value.problems] == ["name"]


def test_principal_named_as_the_current_one_is_refused(app):
    c = cast()
    with pytest.raises(ops.ChangeProblems):
        submitted(c.project, "principal", proposal(c.project, "principal", name="严建国"), c.owner)


def test_team_cannot_make_a_member_principal(app):
    c = cast()
    rows = ops.current_values(c.project, "team")["members"]
    rows[0]["role"] = "principal"
    with pytest.raises(ops.ChangeProblems) as refused:
        submitted(c.project, "team", {"members": rows}, c.owner)
    assert [key for key, _message in refused.value.problems] == ["member:0"]


def test_content_without_any_target_above_zero_is_refused(app):
    c = cast()
    proposed = {"objectives": "目标", "kpis": {"jobs": {"target": "0", "note": ""}}}
    with pytest.raises(ops.ChangeProblems) as refused:
        submitted(c.project, "content", proposed, c.owner)
    assert [key for key, _message in refused.value.problems] == ["kpis"]


@pytest.mark.parametrize("kind", ["budget", "team", "content"])
def test_proposal_changing_nothing_is_refused(app, kind):
    c = cast()
    with pytest.raises(ops.ChangeProblems) as refused:
        submitted(c.project, kind, proposal(c.project, kind), c.owner)
    assert [key for key, _message in refused.value.problems] == [""]


def test_request_without_a_reason_is_refused(app):
    c = cast()
    with pytest.raises(ops.ChangeProblems) as refused:
        submitted(c.project, "withdrawal", {}, c.owner, reason="  ")
    assert [key for key, _message in refused.value.problems] == ["reason"]


def test_second_open_request_of_a_kind_is_refused(app):
    c = cast()
    first = ops.draft_change(
        c.project, "extension", c.owner, reason="r", proposed=extension(c.project)
    )
    with pytest.raises(OperationError):
        ops.draft_change(c.project, "extension", c.owner, reason="r", proposed=extension(c.project))
    other = ops.draft_change(
        c.project, "budget", c.owner, reason="r", proposed=budget_moving(c.project, "100")
    )
    assert other.state == "draft"
    ops.cancel_change(first, c.owner)
    again = ops.draft_change(
        c.project, "extension", c.owner, reason="r", proposed=extension(c.project)
    )
    assert again.state == "draft"


def test_update_draft_and_submit(app):
    c = cast()
    change = ops.draft_change(
        c.project, "extension", c.owner, reason="", proposed=extension(c.project, 1)
    )
    ops.update_change(
        change, c.owner, reason="设备延迟", proposed=extension(c.project, 4), submit=True
    )
    assert change.state == "submitted" and change.reason == "设备延迟"
    assert change.proposed["end_date"] == ops.add_months(c.project.end_date, 4).isoformat()
    assert audit_events("change_request.edit", change)


def test_submit_requires_a_running_project(app):
    c = cast(state="acceptance_review")
    change = ChangeRequest(
        project=c.project,
        kind="extension",
        reason="r",
        proposed=extension(c.project),
        created_by_id=c.owner.id,
    )
    db.session.add(change)
    db.session.flush()
    with pytest.raises(GuardFailed):
        transition(change, "submit", c.owner)


# --- decisions ------------------------------------------------------------------------------------


def test_rejection_records_the_note_and_changes_nothing(app):
    c = cast()
    project = c.project
    end = project.end_date
    change = submitted(project, "extension", extension(project, 6), c.owner)
    ops.reject_change(change, c.bureau, "理由不充分")
    change = reload(change)
    assert change.state == "rejected" and change.decision_note == "理由不充分"
    assert change.decided_by_id == c.bureau.id and change.decided_at is not None
    assert reload(project).end_date == end
    assert not audit_events("project.change.extension", project)
    assert inbox(c.owner, "change_request.rejected")


def test_rejection_without_a_note_is_refused(app):
    c = cast()
    change = submitted(c.project, "extension", extension(c.project), c.owner)
    with pytest.raises(GuardFailed):
        ops.reject_change(change, c.bureau, " ")


def test_stale_previous_values_refuse_approval(app, english_ui):
    c = cast(award="200000.00")
    project = c.project
    change = submitted(project, "budget", budget_moving(project, "30000"), c.owner)
    line = next(line for line in project.budget_lines if line.category == "labour")
    line.self_raised = Decimal("1.00")
    db.session.flush()
    assert ops.is_stale(change)
    with pytest.raises(GuardFailed) as refused:
        ops.approve_change(change, c.bureau)
    assert "submit it again" in refused.value.message
    assert reload(change).state == "submitted"


def test_stale_after_another_change_was_applied(app):
    c = cast()
    project = c.project
    first = submitted(project, "principal", proposal(project, "principal", name="王海涛"), c.owner)
    second = submitted(project, "team", {"members": []}, c.owner)
    ops.approve_change(first, c.bureau)
    with pytest.raises(GuardFailed):
        ops.approve_change(second, c.bureau)


def test_approval_refused_once_the_project_no_longer_runs(app):
    c = cast()
    change = submitted(c.project, "extension", extension(c.project), c.owner)
    transition(c.project, "terminate", None, reason="逾期未整改，系统终止")
    assert change.state == "submitted"
    with pytest.raises(GuardFailed):
        ops.approve_change(change, c.bureau)


def test_submission_notifies_the_bureau_and_decision_the_owner(app):
    c = cast()
    change = submitted(c.project, "extension", extension(c.project), c.owner)
    assert [n.link for n in inbox(c.bureau, "change_request.submitted")] == [
        ops._change_link(change)
    ]
    assert not inbox(c.finance, "change_request.submitted")
    ops.approve_change(change, c.bureau)
    assert inbox(c.owner, "change_request.approved")
    assert not inbox(c.outsider, "change_request.approved")


# --- permissions of every transition --------------------------------------------------------------

EXPECTED = {
    # event: who may fire it (from the state the event starts in)
    "submit": {"owner"},
    "cancel": {"owner"},
    "approve": {"bureau"},
    "reject": {"bureau"},
}


@pytest.mark.parametrize("event", sorted(EXPECTED))
def test_change_transition_permissions(app, event):
    c = cast()
    change = ops.draft_change(
        c.project, "extension", c.owner, reason="r", proposed=extension(c.project)
    )
    if event in ("approve", "reject"):
        ops.submit_change(change, c.owner)
    for name, user in c.everyone().items():
        assert can_fire(user, change, event) == (name in EXPECTED[event]), (event, name)
        if name not in EXPECTED[event]:
            with pytest.raises(TransitionForbidden):
                transition(change, event, user, note="备注")


def test_submitted_request_can_be_cancelled_by_owner_only(app):
    c = cast()
    change = submitted(c.project, "extension", extension(c.project), c.owner)
    assert not can_fire(c.bureau, change, "cancel")
    ops.cancel_change(change, c.owner)
    assert change.state == "cancelled"
    with pytest.raises(InvalidTransition):
        ops.approve_change(change, c.bureau)


def test_only_the_owner_may_create_while_running(app):
    from grants.core.permissions import can

    c = cast()
    allowed = {name for name, user in c.everyone().items() if can(user, "change.create", c.project)}
    assert allowed == {"owner"}
    finished = cast(state="acceptance_review")
    assert not can(finished.owner, "change.create", finished.project)


# --- pages ---------------------------------------------------------------------------------------


def test_changes_tab_lists_requests_and_kinds(app, client, login):
    c = cast()
    submitted(c.project, "extension", extension(c.project), c.owner)
    db.session.commit()
    login(c.owner)
    page = client.get(f"/projects/{c.project.id}/changes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-kind="extension"' in html and 'data-change-state="submitted"' in html
    assert 'data-new-kind="budget"' in html and 'data-new-kind="extension"' not in html
    assert 'data-tab="changes"' in html
    assert "data-terminate>" not in html


def test_changes_tab_hidden_from_other_organisations_and_experts(app, client, login):
    c = cast()
    db.session.commit()
    for user in (c.outsider, c.expert):
        login(user)
        assert client.get(f"/projects/{c.project.id}/changes").status_code == 403
        client.post("/logout")
    login(c.finance)
    assert client.get(f"/projects/{c.project.id}/changes").status_code == 200


def test_new_request_form_starts_from_current_values(app, client, login):
    c = cast()
    db.session.commit()
    login(c.owner)
    page = client.get(f"/projects/{c.project.id}/changes/new/extension")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{c.project.end_date.isoformat()}"' in html
    assert f'value="{c.project.milestones[0].due_date.isoformat()}"' in html
    budget = client.get(f"/projects/{c.project.id}/changes/new/budget").get_data(as_text=True)
    assert 'name="equipment-fiscal"' in budget and 'value="8"' in budget
    for kind in ("principal", "team", "content", "withdrawal"):
        assert client.get(f"/projects/{c.project.id}/changes/new/{kind}").status_code == 200
    assert client.get(f"/projects/{c.project.id}/changes/new/nonsense").status_code == 404


def test_new_request_forbidden_to_bureau_and_outsiders(app, client, login):
    c = cast()
    db.session.commit()
    for user in (c.bureau, c.finance, c.outsider, c.expert):
        login(user)
        assert client.get(f"/projects/{c.project.id}/changes/new/extension").status_code == 403
        assert (
            client.post(
                f"/projects/{c.project.id}/changes/new/extension",
                data={"reason": "x", "end_date": "2030-01-01"},
            ).status_code
            == 403
        )
        client.post("/logout")
    assert db.session.scalar(sa.select(sa.func.count(ChangeRequest.id))) == 0


def budget_form(project, **overrides) -> dict:
    data = {"reason": "设备改为租赁", "action": "submit"}
    for line in project.budget_lines:
        data[f"{line.category}-fiscal"] = str(line.fiscal / 10000)
        data[f"{line.category}-self_raised"] = str(line.self_raised / 10000)
    data.update(overrides)
    return data


def test_budget_form_submitted_through_the_page(app, client, login):
    c = cast(award="200000.00")
    db.session.commit()
    login(c.owner)
    response = client.post(
        f"/projects/{c.project.id}/changes/new/budget",
        data=budget_form(c.project, **{"equipment-fiscal": "5", "business-fiscal": "9"}),
    )
    assert response.status_code == 302
    change = db.session.scalar(
        sa.select(ChangeRequest).where(ChangeRequest.project_id == c.project.id)
    )
    assert change.state == "submitted" and change.kind == "budget"
    assert change.proposed["lines"]["equipment"]["fiscal"] == "50000.00"
    assert change.proposed["lines"]["business"]["fiscal"] == "90000.00"


def test_budget_form_not_summing_is_shown_again_with_what_was_typed(app, client, login):
    c = cast(award="200000.00")
    db.session.commit()
    login(c.owner)
    response = client.post(
        f"/projects/{c.project.id}/changes/new/budget",
        data=budget_form(c.project, **{"equipment-fiscal": "5.1234"}),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="5.1234"' in html and "data-total-error" in html and "设备改为租赁" in html
    assert db.session.scalar(sa.select(sa.func.count(ChangeRequest.id))) == 0


def test_extension_form_error_is_beside_the_end_date(app, client, login):
    c = cast()
    db.session.commit()
    login(c.owner)
    response = client.post(
        f"/projects/{c.project.id}/changes/new/extension",
        data={"reason": "延期", "action": "submit", "end_date": "2000-01-01"},
    )
    assert response.status_code == 422
    assert 'id="end_date-error"' in response.get_data(as_text=True)


def test_save_draft_then_edit_and_submit_from_the_page(app, client, login):
    c = cast()
    db.session.commit()
    login(c.owner)
    new_end = ops.add_months(c.project.end_date, 3).isoformat()
    response = client.post(
        f"/projects/{c.project.id}/changes/new/extension",
        data={"reason": "延期", "action": "save", "end_date": new_end},
    )
    assert response.status_code == 302
    change = db.session.scalar(sa.select(ChangeRequest))
    assert change.state == "draft"
    edit = client.get(f"/projects/{c.project.id}/changes/{change.id}/edit")
    assert edit.status_code == 200 and f'value="{new_end}"' in edit.get_data(as_text=True)
    assert client.post(f"/projects/{c.project.id}/changes/{change.id}/submit").status_code == 302
    assert reload(change).state == "submitted"
    assert client.get(f"/projects/{c.project.id}/changes/{change.id}/edit").status_code == 403


def test_team_form_adds_and_removes_members(app, client, login):
    c = cast()
    core = next(m for m in c.project.members if m.role == "core")
    db.session.commit()
    login(c.owner)
    data = {
        "reason": "人员调整",
        "action": "submit",
        "members-0-member_id": str(core.id),
        "members-0-name": "李红",
        "members-0-role": "core",
        "members-0-remove": "y",
        "members-1-name": "孙立",
        "members-1-role": "member",
        "members-1-title": "技术员",
        "members-2-name": "",
        "members-2-role": "member",
    }
    response = client.post(f"/projects/{c.project.id}/changes/new/team", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    change = db.session.scalar(sa.select(ChangeRequest))
    assert change.proposed["members"] == [
        {"id": None, "name": "孙立", "role": "member", "title": "技术员", "organisation_name": ""}
    ]
    detail = client.get(f"/projects/{c.project.id}/changes/{change.id}").get_data(as_text=True)
    assert detail.count("data-changed") == 2


def test_detail_shows_old_beside_new_and_bureau_buttons(app, client, login):
    c = cast()
    change = submitted(c.project, "extension", extension(c.project, 6), c.owner)
    db.session.commit()
    login(c.bureau)
    html = client.get(f"/projects/{c.project.id}/changes/{change.id}").get_data(as_text=True)
    assert c.project.end_date.isoformat() in html
    assert ops.add_months(c.project.end_date, 6).isoformat() in html
    assert "/approve" in html and "/reject" in html and "/cancel" not in html
    client.post("/logout")
    login(c.owner)
    html = client.get(f"/projects/{c.project.id}/changes/{change.id}").get_data(as_text=True)
    assert "/approve" not in html and "/cancel" in html


def test_bureau_approves_and_rejects_through_the_pages(app, client, login):
    c = cast()
    new_end = ops.add_months(c.project.end_date, 6)
    extension_request = submitted(c.project, "extension", extension(c.project, 6), c.owner)
    team_request = submitted(c.project, "team", {"members": []}, c.owner)
    db.session.commit()
    login(c.bureau)
    base = f"/projects/{c.project.id}/changes"
    assert client.post(f"{base}/{team_request.id}/reject", data={"note": ""}).status_code == 422
    assert (
        client.post(
            f"{base}/{team_request.id}/reject", data={"note": "核心成员不能全部退出"}
        ).status_code
        == 302
    )
    assert (
        client.post(f"{base}/{extension_request.id}/approve", data={"note": ""}).status_code == 302
    )
    assert reload(team_request).state == "rejected"
    assert reload(extension_request).state == "approved"
    assert reload(c.project).end_date == new_end


def test_stale_request_page_warns_and_approval_is_refused(app, client, login):
    c = cast()
    change = submitted(c.project, "extension", extension(c.project, 6), c.owner)
    c.project.milestones[0].due_date = date(c.project.year, 11, 30)
    db.session.commit()
    login(c.bureau)
    base = f"/projects/{c.project.id}/changes/{change.id}"
    assert "data-stale" in client.get(base).get_data(as_text=True)
    assert client.post(f"{base}/approve", data={"note": ""}).status_code == 422
    assert reload(change).state == "submitted"


@pytest.mark.parametrize(
    "who,event,status",
    [
        ("owner", "approve", 403),
        ("owner", "reject", 403),
        ("finance", "approve", 403),
        ("finance", "cancel", 403),
        ("expert", "approve", 403),
        ("outsider", "cancel", 403),
        ("outsider", "submit", 403),
        ("bureau", "cancel", 403),
    ],
)
def test_change_pages_refuse_the_wrong_people(app, client, login, who, event, status):
    c = cast()
    change = submitted(c.project, "extension", extension(c.project), c.owner)
    db.session.commit()
    login(getattr(c, who))
    response = client.post(
        f"/projects/{c.project.id}/changes/{change.id}/{event}", data={"note": "备注"}
    )
    assert response.status_code == status
    assert reload(change).state == "submitted"


def test_bureau_cannot_submit_the_owners_draft(app, client, login):
    c = cast()
    change = ops.draft_change(
        c.project, "extension", c.owner, reason="r", proposed=extension(c.project)
    )
    db.session.commit()
    login(c.bureau)  # the draft is the owner's until submitted: not even found
    assert client.post(f"/projects/{c.project.id}/changes/{change.id}/submit").status_code == 404
    assert reload(change).state == "draft"


def test_request_of_another_project_is_not_found(app, client, login):
    c = cast()
    other = cast()
    change = submitted(c.project, "extension", extension(c.project), c.owner)
    db.session.commit()
    login(other.owner)
    assert client.get(f"/projects/{other.project.id}/changes/{change.id}").status_code == 404


def test_dashboard_panel_lists_requests_waiting_for_a_decision(app, client, login):
    c = cast()
    change = submitted(c.project, "budget", budget_moving(c.project, "1000"), c.owner)
    db.session.commit()
    login(c.bureau)
    html = client.get("/").get_data(as_text=True)
    assert "data-panel-changes" in html
    assert f"/projects/{c.project.id}/changes/{change.id}" in html
    client.post("/logout")
    login(c.owner)
    assert "data-panel-changes" not in client.get("/").get_data(as_text=True)
