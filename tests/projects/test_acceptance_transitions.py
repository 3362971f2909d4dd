"""Every acceptance transition and who may fire it: the final report (submit, verify, return,
resubmit), the project (request_acceptance, pass, rectify, fail, close), the guards of
submission, and the acceptance rules."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from grants.applications.models import BUDGET_CATEGORIES
from grants.core.permissions import can
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.core.workflow import (
    GuardFailed,
    InvalidTransition,
    TransitionForbidden,
    can_fire,
    transition,
)
from grants.extensions import db
from grants.projects import acceptance as ops
from grants.projects.models import ChangeRequest, Milestone
from tests.factories import make_project, make_user
from tests.projects.acceptance_helpers import (
    cast,
    inbox,
    join_panel,
    panel_expert,
    reload,
    report_values,
    scored_panel,
    submit_report,
    verified_spending,
    verify,
)

# --- the final report --------------------------------------------------------------------------


def test_submit_is_the_owners_alone(app):
    c = cast()
    report = ops.save_final_report(c.project, c.owner, **report_values(c.project))
    for user in (c.bureau, c.finance, c.outsider, make_user("expert")):
        assert not can_fire(user, report, "submit")
        with pytest.raises(TransitionForbidden):
            transition(report, "submit", user)
    assert can_fire(c.owner, report, "submit")
    transition(report, "submit", c.owner)
    assert report.state == "submitted" and reload(c.project).state == "acceptance_review"


def test_submit_refused_while_report_incomplete(app):
    c = cast()
    values = report_values(
        c.project,
        summary="  ",
        kpi_achieved={"patents_filed": Decimal("1")},
        statement={"equipment": Decimal("100")},
    )
    with pytest.raises(GuardFailed) as refused:
        ops.submit_final_report(c.project, c.owner, **values)
    message = refused.value.message
    assert (
        ops.kpi_label("revenue")[0] in message and ops.kpi_label("patents_filed")[0] not in message
    )
    assert (
        str(BUDGET_CATEGORIES["labour"]) in message
        and str(BUDGET_CATEGORIES["equipment"]) not in message
    )
    report = ops.current_report(c.project)
    assert report is None or report.state == "draft"
    assert c.project.state == "in_progress"


def test_submit_refused_while_a_milestone_is_open(app):
    c = cast()
    c.project.milestones.append(
        Milestone(position=3, title="中试线建成", due_date=date(c.project.year, 12, 31))
    )
    db.session.flush()
    with pytest.raises(GuardFailed) as refused:
        submit_report(c)
    assert "中试线建成" in refused.value.message
    assert c.project.state == "in_progress"


def test_submit_refused_while_a_change_request_awaits_decision(app):
    c = cast()
    db.session.add(
        ChangeRequest(
            project_id=c.project.id,
            kind="extension",
            reason="延期",
            state="submitted",
            submitted_at=utcnow(),
            proposed={},
            previous={},
        )
    )
    db.session.flush()
    with pytest.raises(GuardFailed):
        submit_report(c)
    assert c.project.state == "in_progress"


def test_verify_is_finances_alone(app):
    c = cast()
    report = submit_report(c)
    for user in (c.owner, c.bureau, c.outsider):
        with pytest.raises(TransitionForbidden):
            transition(report, "verify", user)
    verify(c)
    assert report.state == "verified" and report.statement_verified_at is not None
    with pytest.raises(InvalidTransition):
        transition(report, "return", c.finance, note="再看看")


def test_return_needs_a_note_and_tells_the_owner(app):
    c = cast()
    report = submit_report(c)
    with pytest.raises(TransitionForbidden):
        transition(report, "return", c.bureau, note="不符")
    with pytest.raises(GuardFailed):
        ops.return_statement(report, c.finance, "   ")
    ops.return_statement(report, c.finance, "设备费决算与账目相差1000元。")
    assert report.state == "returned" and report.statement_note == "设备费决算与账目相差1000元。"
    assert inbox(c.owner, "acceptance.statement_returned")
    assert reload(c.project).state == "acceptance_review"


def test_returned_report_is_revised_and_resubmitted_while_in_review(app):
    c = cast()
    report = submit_report(c)
    ops.return_statement(report, c.finance, "请核对设备费。")
    project = reload(c.project)
    assert not can(c.owner, "acceptance.write", project) and can(
        c.owner, "acceptance.revise", project
    )
    assert not can(c.outsider, "acceptance.revise", project)
    values = report_values(
        project, statement={line.category: line.fiscal for line in project.budget_lines}
    )
    resubmitted = ops.submit_final_report(project, c.owner, **values)
    assert (
        resubmitted.id == report.id and resubmitted.state == "submitted" and resubmitted.round == 1
    )
    assert resubmitted.statement["equipment"] == str(project.budget_lines[0].fiscal)
    assert reload(project).state == "acceptance_review"
    assert inbox(c.finance, "acceptance.statement_resubmitted")


def test_submitted_report_cannot_be_edited(app):
    c = cast()
    submit_report(c)
    with pytest.raises(ops.AcceptanceError):
        ops.save_final_report(reload(c.project), c.owner, **report_values(c.project))


def test_statement_starts_from_verified_spending(app):
    c = cast()
    verified_spending(c.project, "equipment", "12000.50")
    verified_spending(c.project, "equipment", "3000.00")
    prefill = ops.statement_prefill(c.project)
    assert prefill["equipment"] == Decimal("15000.50") and prefill["labour"] == Decimal("0")
    report = ops.save_final_report(
        c.project, c.owner, summary="草稿", kpi_achieved={}, statement=prefill
    )
    rows = {r.category: r for r in ops.statement_rows(c.project, report)}
    assert rows["equipment"].verified == Decimal("15000.50") and rows[
        "equipment"
    ].difference == Decimal("0")
    assert rows["equipment"].budget == c.project.budget_lines[0].fiscal


# --- the project ---------------------------------------------------------------------------------


def test_request_acceptance_is_the_owners_and_needs_a_submitted_report(app):
    c = cast()
    assert not can_fire(c.bureau, c.project, "request_acceptance")
    with pytest.raises(TransitionForbidden):
        transition(c.project, "request_acceptance", c.bureau)
    with pytest.raises(GuardFailed):
        transition(c.project, "request_acceptance", c.owner)


@pytest.mark.parametrize("event", ["pass", "rectify", "fail"])
def test_conclusions_are_the_bureaus_alone(app, event):
    c = cast()
    submit_report(c)
    verify(c)
    scored_panel(c, 3)
    data = {"reasons": "理由", "rectify_by": local_today() + timedelta(days=30)}
    for user in (c.owner, c.finance, c.outsider, c.experts[0].user):
        assert not can_fire(user, c.project, event)
        with pytest.raises(TransitionForbidden):
            transition(c.project, event, user, **data)
    assert can_fire(c.bureau, c.project, event)
    transition(c.project, event, c.bureau, **data)
    assert (
        c.project.state
        == {"pass": "accepted", "rectify": "in_progress", "fail": "acceptance_failed"}[event]
    )


def test_rectify_needs_reasons_and_a_future_deadline(app):
    c = cast()
    submit_report(c)
    scored_panel(c, 3)
    with pytest.raises(GuardFailed):
        ops.conclude(
            c.project,
            c.bureau,
            "rectify",
            reasons="",
            rectify_by=local_today() + timedelta(days=30),
        )
    with pytest.raises(GuardFailed):
        ops.conclude(c.project, c.bureau, "rectify", reasons="补充材料", rectify_by=local_today())
    with pytest.raises(GuardFailed):
        ops.conclude(c.project, c.bureau, "rectify", reasons="补充材料", rectify_by=None)
    ops.conclude(
        c.project,
        c.bureau,
        "rectify",
        reasons="补充材料",
        rectify_by=local_today() + timedelta(days=1),
    )
    assert reload(c.project).state == "in_progress"


def test_fail_needs_reasons_and_the_panels_reviews(app):
    c = cast()
    submit_report(c)
    with pytest.raises(GuardFailed):
        ops.conclude(c.project, c.bureau, "fail", reasons="指标未完成")
    scored_panel(c, 3)
    with pytest.raises(GuardFailed):
        ops.conclude(c.project, c.bureau, "fail", reasons=" ")
    ops.conclude(c.project, c.bureau, "fail", reasons="指标未完成")
    assert reload(c.project).state == "acceptance_failed"


def test_close_is_the_bureaus_alone(app):
    c = cast()
    submit_report(c)
    scored_panel(c, 3)
    ops.conclude(c.project, c.bureau, "fail", reasons="指标未完成")
    for user in (c.owner, c.finance):
        with pytest.raises(TransitionForbidden):
            transition(c.project, "close", user)
    assert can_fire(c.bureau, c.project, "close")
    transition(c.project, "close", c.bureau)
    assert c.project.state == "closed"


def test_unknown_conclusion_refused(app):
    c = cast()
    submit_report(c)
    with pytest.raises(ops.AcceptanceError):
        ops.conclude(c.project, c.bureau, "maybe")


# --- the rules --------------------------------------------------------------------------------------


def test_acceptance_rules_follow_role_organisation_and_state(app):
    c = cast()
    project = c.project
    assert can(c.owner, "acceptance.write", project) and can(
        c.owner, "acceptance.outcomes", project
    )
    for user in (c.bureau, c.finance, c.outsider):
        assert not can(user, "acceptance.write", project) and not can(
            user, "acceptance.outcomes", project
        )
    assert not can(c.bureau, "acceptance.convene", project)
    submit_report(c)
    assert not can(c.owner, "acceptance.write", project) and can(
        c.owner, "acceptance.outcomes", project
    )
    assert can(c.bureau, "acceptance.convene", project) and not can(
        c.finance, "acceptance.convene", project
    )
    assert can(c.bureau, "acceptance.view_panel") and not can(c.owner, "acceptance.view_panel")
    member = join_panel(c, panel_expert())
    stranger, invited = panel_expert(), panel_expert()
    join_panel(c, invited, accept=False)
    assert can(member.expert.user, "acceptance.read_report", project)
    assert not can(stranger.user, "acceptance.read_report", project)
    assert not can(invited.user, "acceptance.read_report", project)
    for user in (c.owner, c.bureau, c.finance):
        assert can(user, "acceptance.read_report", project)
    assert not can(c.outsider, "acceptance.read_report", project)


def test_contracting_project_has_no_acceptance(app):
    project = make_project(state="contracting")
    owner = make_user("applicant", organisation=project.organisation)
    assert not can(owner, "acceptance.write", project)
    with pytest.raises(ops.AcceptanceError):
        ops.save_final_report(project, owner, summary="x", kpi_achieved={}, statement={})
