"""The acceptance panel on the review engine: the rubric, conflicts of interest (employer, declared
relations, excluded experts), manual and suggested invitations, accepting, scoring the acceptance
criteria, and the review closing with the round."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.core.workflow import GuardFailed, transition
from grants.extensions import db
from grants.programmes.models import RubricCriterion
from grants.projects import acceptance as ops
from grants.review import assignments as review_ops
from grants.review import scoring
from grants.review.models import Assignment, ExcludedExpert, ExpertRelation
from tests.factories import make_project
from tests.projects.acceptance_helpers import (
    audit_events,
    cast,
    inbox,
    join_panel,
    panel_expert,
    reload,
    score,
    scored_panel,
    submit_report,
    verify,
)


def due():
    return utcnow() + timedelta(days=14)


def in_review():
    c = cast()
    submit_report(c)
    return c


def test_convening_creates_default_rubric_once_and_audits_it(app):
    c = in_review()
    join_panel(c, panel_expert())
    join_panel(c, panel_expert())
    call = reload(c.project.call)
    criteria = call.acceptance_criteria
    assert next((cr.name_zh, cr.weight, cr.min_score, cr.max_score) for cr in criteria) == (
        "任务完成情况",
        Decimal("40.00"),
        Decimal("0.00"),
        Decimal("10.00"),
    )
    assert sum(cr.weight for cr in criteria) == Decimal("100") and len(criteria) == 4
    assert all(cr.purpose == "acceptance" for cr in criteria)
    assert len(call.criteria) == 2  # the proposal rubric is untouched
    assert len(audit_events("call.acceptance_rubric_created")) == 1


def test_call_with_its_own_acceptance_rubric_keeps_it(app):
    c = cast()
    call = c.project.call
    db.session.add(
        RubricCriterion(
            call_id=call.id,
            purpose="acceptance",
            position=1,
            name_zh="目标完成度",
            name_en="Objectives",
            weight=Decimal("100"),
            min_score=Decimal("0"),
            max_score=Decimal("100"),
        )
    )
    db.session.flush()
    db.session.expire(call)
    submit_report(c)
    assignment = join_panel(c, panel_expert())
    assert [cr.name_zh for cr in scoring.criteria_for(assignment)] == ["目标完成度"]
    score(assignment, (85,))
    assert assignment.review.total == Decimal("85.0000")
    assert not audit_events("call.acceptance_rubric_created")


def test_employer_conflict_refused(app):
    c = in_review()
    colleague = panel_expert(
        employer_id=c.project.organisation_id, employer_name=c.project.organisation.name
    )
    with pytest.raises(ops.AcceptanceError) as refused:
        ops.invite_panel_expert(c.project, colleague, c.bureau, due())
    assert colleague.name in refused.value.message
    assert not db.session.scalars(
        sa.select(Assignment).where(Assignment.expert_id == colleague.id)
    ).all()


def test_declared_relation_conflict_refused(app):
    c = in_review()
    expert = panel_expert()
    expert.relations.append(
        ExpertRelation(kind="shareholding", organisation_id=c.project.organisation_id)
    )
    db.session.flush()
    with pytest.raises(ops.AcceptanceError):
        ops.invite_panel_expert(c.project, expert, c.bureau, due())


def test_excluded_expert_refused(app):
    c = in_review()
    expert = panel_expert(employer_name="某大学")
    db.session.add(
        ExcludedExpert(
            application_id=c.project.application_id,
            name=expert.name,
            employer_name="",
            reason="竞争关系",
        )
    )
    db.session.flush()
    with pytest.raises(ops.AcceptanceError):
        ops.invite_panel_expert(c.project, expert, c.bureau, due())


def test_conflict_found_after_invitation_refuses_acceptance(app):
    c = in_review()
    expert = panel_expert()
    assignment = join_panel(c, expert, accept=False)
    expert.employer_id = c.project.organisation_id
    db.session.flush()
    with pytest.raises(GuardFailed):
        transition(assignment, "accept", expert.user, no_conflict=True)
    assert assignment.state == "invited"


def test_same_expert_not_invited_twice_in_a_round(app):
    c = in_review()
    expert = panel_expert()
    join_panel(c, expert)
    with pytest.raises(ops.AcceptanceError):
        ops.invite_panel_expert(c.project, expert, c.bureau, due())


def test_invitation_refused_outside_acceptance_review(app):
    c = cast()
    with pytest.raises(ops.AcceptanceError):
        ops.invite_panel_expert(c.project, panel_expert(), c.bureau, due())


def test_invitation_is_an_acceptance_assignment_of_the_round_and_notifies_expert(app):
    c = in_review()
    expert = panel_expert()
    assignment = join_panel(c, expert, accept=False)
    assert (assignment.purpose, assignment.round, assignment.application_id) == (
        "acceptance",
        1,
        c.project.application_id,
    )
    assert inbox(expert.user, "assignment.invited")
    assert audit_events("assignment.invited")[-1].after["purpose"] == "acceptance"


def test_same_expert_may_sit_on_the_next_round(app):
    c = in_review()
    verify(c)
    panel = scored_panel(c, 3)
    ops.conclude(
        c.project,
        c.bureau,
        "rectify",
        reasons="补充说明",
        rectify_by=local_today() + timedelta(days=30),
    )
    project = reload(c.project)
    report = ops.current_report(project)
    ops.submit_final_report(
        project,
        c.owner,
        summary="整改完成",
        kpi_achieved={k: Decimal(v) for k, v in report.kpi_achieved.items()},
        statement={k: Decimal(v) for k, v in report.statement.items()},
    )
    again = ops.invite_panel_expert(reload(project), panel[0].expert, c.bureau, due())
    assert again.round == 2
    assert ops.panel_state(reload(project)).assignments == [again]


def test_suggestion_leaves_out_conflicted_and_prefers_suited_experts(app):
    c = in_review()
    cluster = c.project.cluster
    suited = [panel_expert(keywords="中药, 提取") for _ in range(3)]
    for expert in suited:
        expert.clusters.append(cluster)
    conflicted = panel_expert(keywords="中药, 提取", employer_id=c.project.organisation_id)
    conflicted.clusters.append(cluster)
    panel_expert(keywords="冶金")
    db.session.flush()
    suggestion = ops.suggested_experts(c.project, 3)
    assert {e.id for e in suggestion.experts} == {e.id for e in suited}
    ops.invite_suggested_panel(c.project, c.bureau, size=3, due_at=due())
    invited = {a.expert_id for a in ops.panel_state(c.project).assignments}
    assert invited == {e.id for e in suited} and conflicted.id not in invited
    assert all(a.source == "auto" for a in ops.panel_state(c.project).assignments)
    with pytest.raises(ops.AcceptanceError):
        ops.invite_suggested_panel(c.project, c.bureau, size=3, due_at=due())


def test_suggestion_balances_load_over_open_acceptance_reviews(app):
    busy_c = in_review()
    busy, free = panel_expert(keywords=""), panel_expert(keywords="")
    join_panel(busy_c, busy)
    c = in_review()
    suggestion = review_ops.suggest_panel(c.project.application, size=1, round=1)
    # Both suit equally (no cluster, no keyword): the one without an open acceptance review is chosen.
    pool = {e.id for e in review_ops.invitable_experts()}
    assert {busy.id, free.id} <= pool
    assert suggestion.experts and suggestion.experts[0].id != busy.id


def test_suggestion_fills_what_it_can_when_the_pool_is_short(app):
    c = in_review()
    for expert in review_ops.invitable_experts():
        expert.active = False
    only = panel_expert()
    db.session.flush()
    run = ops.invite_suggested_panel(c.project, c.bureau, size=3, due_at=due())
    assert [e.id for e in run.experts] == [only.id] and run.short == 2


def test_acceptance_review_scores_the_acceptance_rubric(app):
    c = in_review()
    assignment = join_panel(c, panel_expert())
    acceptance_ids = {cr.id for cr in reload(c.project.call).acceptance_criteria}
    proposal_ids = {cr.id for cr in c.project.call.criteria}
    review = score(assignment, (10, 5, 0, 10))
    assert {s.criterion_id for s in review.scores} == acceptance_ids
    assert not acceptance_ids & proposal_ids
    assert review.total == Decimal("65.0000")
    assert scoring.recommendation_label("fund", "acceptance") == str(
        scoring.ACCEPTANCE_RECOMMENDATIONS["fund"]
    )


def test_acceptance_review_closes_with_the_conclusion(app):
    c = in_review()
    verify(c)
    scored_panel(c, 3)
    late = join_panel(c, panel_expert())
    scoring.save_draft(late, late.expert.user, scores={}, comment="", recommendation=None)
    ops.conclude(c.project, c.bureau, "pass")
    late = reload(late)
    assert late.state == "withdrawn"
    assert not scoring.review_open(late)
    with pytest.raises(scoring.ScoringError):
        scoring.save_draft(late, late.expert.user, scores={}, comment="补充", recommendation=None)
    assert inbox(late.expert.user, "assignment.withdrawn")


def test_acceptance_reviews_stay_out_of_the_proposal_matrix(app):
    c = in_review()
    scored_panel(c, 3)
    matrix = scoring.review_matrix(c.project.call)
    assert all(
        a.purpose == "proposal"
        for row in matrix.rows
        for cell in row.cells.values()
        for a in [cell.assignment]
    )
    assert scoring.valid_review_count(c.project.application) == 0


def test_declined_acceptance_invitation_proposes_replacement_for_the_round(app):
    c = in_review()
    expert = panel_expert()
    spare = panel_expert()
    assignment = join_panel(c, expert, accept=False)
    transition(assignment, "decline", expert.user, reason="出差")
    proposal = review_ops.propose_replacement(assignment)
    assert proposal is not None and proposal.expert.id != expert.id
    replacement = review_ops.invite_replacement(assignment, spare, c.bureau)
    assert (replacement.purpose, replacement.round, replacement.replaces_id) == (
        "acceptance",
        1,
        assignment.id,
    )
    assert inbox(c.bureau, "assignment.declined")


def test_project_without_acceptance_review_has_no_suggestion(app):
    project = make_project()
    assert ops.suggested_experts(project) is None


def test_solver_counts_base_load_from_other_panels():
    from grants.review import solver

    free = solver.solve(["a"], ["x", "y"], 1, {}, [], 5)
    assert free.feasible
    busy = solver.solve(["a"], ["x", "y"], 1, {}, [], 5, base_load={"x": 2})
    assert busy.pairs == [("a", "y")] and busy.loads == {"x": 2, "y": 1}
    capped = solver.solve(["a"], ["x", "y"], 2, {}, [], 2, base_load={"x": 2})
    assert not capped.feasible
