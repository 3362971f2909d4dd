"""Acceptance from end to end: final report → statement verified → a panel of three scoring the
acceptance rubric → pass → the acceptance tranche falls due → closing refused while a tranche is
unpaid, then closed; rectification opening a new round; failure."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.core.timeutil import local_today
from grants.core.workflow import GuardFailed, transition
from grants.extensions import db
from grants.funding.models import Tranche
from grants.projects import acceptance as ops
from grants.projects.models import AcceptanceDecision, FinalReport, Outcome, ProjectKpi
from grants.review.models import Assignment
from tests.projects.acceptance_helpers import (
    audit_events,
    cast,
    inbox,
    join_panel,
    panel_expert,
    pay,
    reload,
    score,
    scored_panel,
    submit_report,
    verified_spending,
    verify,
)


def tranches_of(project) -> list[Tranche]:
    return db.session.scalars(
        sa.select(Tranche).where(Tranche.project_id == project.id).order_by(Tranche.position)
    ).all()


def test_full_acceptance_passes_makes_tranche_due_and_closes_once_paid(app):
    c = cast()
    project = c.project
    verified_spending(project, "equipment", "70000.00")
    outcome = ops.add_outcome(
        project,
        c.owner,
        kind="patent",
        title="一种中药提取在线监测装置",
        quantity=Decimal("2"),
        reference="ZL202610000001.1",
        achieved_on=local_today() - timedelta(days=10),
    )
    report = submit_report(c)
    assert (
        report.state == "submitted" and report.round == 1 and report.submitted_by_id == c.owner.id
    )
    assert project.state == "acceptance_review" and project.acceptance_requested_at is not None
    assert inbox(c.bureau, "acceptance.requested") and inbox(c.finance, "acceptance.requested")

    verify(c)
    assert report.state == "verified" and report.statement_verified_by_id == c.finance.id

    assert not project.call.acceptance_criteria
    assignments = scored_panel(c, 3)
    call = reload(project.call)
    assert [(cr.name_zh, cr.weight) for cr in call.acceptance_criteria] == [
        ("任务完成情况", Decimal("40.00")),
        ("绩效目标实现", Decimal("30.00")),
        ("经费使用", Decimal("20.00")),
        ("成果水平", Decimal("10.00")),
    ]
    assert {s.criterion_id for s in assignments[0].review.scores} == {
        cr.id for cr in call.acceptance_criteria
    }
    assert [a.review.total for a in assignments] == [
        Decimal("80.0000"),
        Decimal("90.0000"),
        Decimal("70.0000"),
    ]

    ops.conclude(project, c.bureau, "pass", reasons="")
    project = reload(project)
    assert (
        project.state == "accepted"
        and project.conclusion == "pass"
        and project.concluded_at is not None
    )
    decision = db.session.scalar(
        sa.select(AcceptanceDecision).where(AcceptanceDecision.project_id == project.id)
    )
    assert decision.conclusion == "pass" and decision.panel_score == Decimal("80.0000")
    assert decision.final_report_id == report.id and decision.decided_by_id == c.bureau.id
    kpis = {
        k.kind: k.achieved
        for k in db.session.scalars(
            sa.select(ProjectKpi).where(ProjectKpi.project_id == project.id)
        )
    }
    assert kpis == {"patents_filed": Decimal("3.00"), "revenue": Decimal("501.00")}
    assert reload(outcome).final_report_id == report.id
    contract, acceptance = tranches_of(project)
    assert acceptance.trigger == "acceptance" and acceptance.due_since is not None
    assert inbox(c.owner, "acceptance.pass") and inbox(c.finance, "acceptance.pass")

    with pytest.raises(GuardFailed) as refused:
        ops.close_project(project, c.bureau)
    assert project.state == "accepted"
    assert [t.position for t in ops.open_tranches(project)] == [1, 2]
    assert refused.value.message.count(ops.format_wan(contract.amount)) == 1
    pay(contract, c)
    with pytest.raises(GuardFailed):
        ops.close_project(reload(project), c.bureau)
    pay(acceptance, c)
    ops.close_project(reload(project), c.bureau)
    project = reload(project)
    assert project.state == "closed" and project.closed_at is not None
    assert [e.after["state"] for e in audit_events("project.close")] == ["closed"]
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Outcome.id)).where(Outcome.project_id == project.id)
        )
        == 1
    )


def test_rectify_sends_project_back_with_deadline_and_opens_new_round(app):
    c = cast()
    project = c.project
    first = submit_report(c)
    verify(c)
    scored_panel(c, 3)
    waiting = join_panel(c, panel_expert(), accept=False)
    deadline = local_today() + timedelta(days=60)
    ops.conclude(
        project,
        c.bureau,
        "rectify",
        reasons="经费决算与账目不符，请补充说明。",
        rectify_by=deadline,
    )
    project = reload(project)
    assert (
        project.state == "in_progress"
        and project.rectify_by == deadline
        and project.conclusion == "rectify"
    )
    assert reload(waiting).state == "withdrawn"
    decision = db.session.scalar(
        sa.select(AcceptanceDecision).where(AcceptanceDecision.project_id == project.id)
    )
    assert decision.conclusion == "rectify" and decision.rectify_by == deadline
    rounds = db.session.scalars(
        sa.select(FinalReport)
        .where(FinalReport.project_id == project.id)
        .order_by(FinalReport.round)
    ).all()
    assert [(r.round, r.state) for r in rounds] == [(1, "verified"), (2, "draft")]
    assert rounds[1].summary == first.summary and rounds[1].statement == first.statement
    assert inbox(c.owner, "acceptance.rectify")

    second = ops.submit_final_report(
        project,
        c.owner,
        summary="已按专家意见整改。",
        kpi_achieved={k: Decimal(v) for k, v in rounds[1].kpi_achieved.items()},
        statement={k: Decimal(v) for k, v in rounds[1].statement.items()},
    )
    assert second.round == 2 and reload(project).state == "acceptance_review"
    assert ops.panel_state(project).assignments == []
    with pytest.raises(GuardFailed):
        ops.conclude(reload(project), c.bureau, "pass")


def test_fail_records_reasons_cancels_acceptance_tranche_and_closes(app):
    c = cast()
    project = c.project
    submit_report(c)
    scored_panel(c, 3, values=((2, 2, 2, 2),))
    ops.conclude(project, c.bureau, "fail", reasons="主要绩效指标未完成。")
    project = reload(project)
    assert (
        project.state == "acceptance_failed"
        and project.conclusion_reasons == "主要绩效指标未完成。"
    )
    assert tranches_of(project)[1].cancelled_at is not None
    decision = db.session.scalar(
        sa.select(AcceptanceDecision).where(AcceptanceDecision.project_id == project.id)
    )
    assert decision.conclusion == "fail" and decision.panel_score == Decimal("20.0000")
    ops.close_project(project, c.bureau)
    assert reload(project).state == "closed"


def test_quorum_is_three_or_every_accepted_expert_of_a_smaller_panel(app):
    c = cast()
    submit_report(c)
    verify(c)
    first = join_panel(c, panel_expert())
    second = join_panel(c, panel_expert())
    score(first)
    with pytest.raises(GuardFailed) as refused:
        ops.conclude(c.project, c.bureau, "pass")
    assert "1" in refused.value.message and "2" in refused.value.message
    score(second)
    ops.conclude(reload(c.project), c.bureau, "pass")
    assert reload(c.project).state == "accepted"


def test_pass_needs_statement_verified_and_at_least_one_review(app):
    c = cast()
    submit_report(c)
    assert ops.panel_state(c.project).needed == 1
    with pytest.raises(GuardFailed):
        ops.conclude(c.project, c.bureau, "pass")
    scored_panel(c, 3)
    with pytest.raises(GuardFailed):
        ops.conclude(reload(c.project), c.bureau, "pass")
    verify(c)
    ops.conclude(reload(c.project), c.bureau, "pass")
    assert reload(c.project).state == "accepted"


def test_five_accepted_experts_conclude_after_three_reviews(app):
    c = cast()
    submit_report(c)
    verify(c)
    panel = [join_panel(c, panel_expert()) for _ in range(5)]
    for assignment in panel[:3]:
        score(assignment)
    ops.conclude(c.project, c.bureau, "pass")
    assert reload(c.project).state == "accepted"
    assert {reload(a).state for a in panel[3:]} == {"withdrawn"}
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Assignment.id)).where(
                Assignment.state == "withdrawn", Assignment.purpose == "acceptance"
            )
        )
        == 2
    )


def test_transition_request_acceptance_refused_without_submitted_report(app):
    c = cast()
    with pytest.raises(GuardFailed):
        transition(c.project, "request_acceptance", c.owner)
    assert c.project.state == "in_progress"
