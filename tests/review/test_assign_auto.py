"""Automatic and manual assignment on the database: suitability, conflicts, re-runs, refusals."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.review import assignments as ops
from grants.review.models import Assignment
from tests.factories import ApplicationFactory, ClusterFactory, OrganisationFactory
from tests.review.assign_helpers import (
    application_under_review,
    assignments_of,
    audit_events,
    bureau_officer,
    call_with_applications,
    notifications_of,
    open_assignments,
    pool_expert,
)

pytestmark = pytest.mark.usefixtures("english_ui")  # asserts on English source text


def due():
    return utcnow() + timedelta(days=14)


def all_assignments():
    db.session.expire_all()
    return db.session.query(Assignment).order_by(Assignment.id).all()


# --- suitability -----------------------------------------------------------------------------


def test_suitability_counts_cluster_match_and_keyword_substrings(app):
    cluster, other = ClusterFactory(), ClusterFactory()
    application = ApplicationFactory(
        cluster=cluster, title="人参皂苷提取纯化工艺研究", summary="建立中药材GMP质量控制体系。"
    )
    both = pool_expert([cluster], keywords="人参, 质量控制，无关词")
    words_only = pool_expert([other], keywords="GMP、纯化")
    nothing = pool_expert([other], keywords="钢铁")
    assert ops.suitability(application, both) == ops.CLUSTER_POINTS + 2 * ops.KEYWORD_POINTS
    assert ops.keyword_hits(application, words_only) == ["GMP", "纯化"]
    assert ops.suitability(application, words_only) == 2 * ops.KEYWORD_POINTS
    assert ops.suitability(application, nothing) == 0


def test_suitability_caps_keyword_hits(app):
    application = ApplicationFactory(title="一二三四五六")
    expert = pool_expert(keywords="一,二,三,四,五,六")
    assert ops.suitability(application, expert) == ops.KEYWORD_POINTS * ops.MAX_KEYWORD_HITS


# --- automatic assignment ---------------------------------------------------------------------


def test_auto_assign_gives_every_application_k_experts_and_notifies_each_expert_once(app):
    call, cluster, applications = call_with_applications(3, k=2)
    experts = [pool_expert([cluster]) for _ in range(3)]
    actor = bureau_officer()
    when = due()
    run = ops.auto_assign(call, actor, cap=2, due_at=when)
    assert len(run.created) == 6 and run.kept == 0
    for application in applications:
        rows = assignments_of(application)
        assert len(rows) == 2
        assert {(a.state, a.source, a.due_at, a.created_by_id) for a in rows} == {
            ("invited", "auto", when, actor.id)
        }
    loads = Counter(a.expert_id for a in all_assignments())
    assert sorted(loads.values()) == [2, 2, 2]
    for expert in experts:
        [message] = notifications_of(expert.user, "assignment.invited")
        assert "2" in message.body and call.title in message.body
    [event] = audit_events("assignment.auto_assign")
    assert event.object_id == str(call.id) and event.actor_id == actor.id
    assert (
        event.after["created"] == 6
        and event.after["cap"] == 2
        and event.after["objective"] == run.result.objective
    )
    assert event.after["load_min"] == event.after["load_max"] == 2


def test_auto_assign_prefers_matching_cluster_and_keywords(app):
    call, cluster, _applications = call_with_applications(2, k=1)
    good = pool_expert([cluster], keywords="中药")
    pool_expert([ClusterFactory()], keywords="钢铁")
    ops.auto_assign(call, bureau_officer(), cap=5, due_at=due())
    assert {a.expert_id for a in all_assignments()} == {good.id}


def test_auto_assign_never_assigns_a_conflicted_expert(app):
    call, cluster, applications = call_with_applications(2, k=2)
    insider = pool_expert(
        [cluster],
        keywords="中药",
        employer_id=applications[0].organisation_id,
        employer_name=applications[0].organisation.name,
    )
    pool_expert([cluster])
    pool_expert([cluster])
    ops.auto_assign(call, bureau_officer(), cap=5, due_at=due())
    assert insider.id not in {a.expert_id for a in assignments_of(applications[0])}
    assert insider.id in {a.expert_id for a in assignments_of(applications[1])}


def test_auto_assign_rerun_keeps_accepted_and_does_not_reinvite_declined(app):
    call, cluster, applications = call_with_applications(2, k=2)
    experts = [pool_expert([cluster]) for _ in range(4)]
    actor = bureau_officer()
    ops.auto_assign(call, actor, cap=1, due_at=due())
    first, second = assignments_of(applications[0])
    transition(first, "accept", first.expert.user, no_conflict=True)
    transition(second, "decline", second.expert.user, reason="出差")
    accepted_id, declined_pair = first.id, (second.application_id, second.expert_id)
    run = ops.auto_assign(call, actor, cap=2, due_at=due())
    assert run.kept == 3  # the accepted one and the other application's two invitations
    assert len(run.created) == 1
    rows = assignments_of(applications[0])
    assert db.session.get(Assignment, accepted_id).state == "accepted"
    assert [(a.application_id, a.expert_id) for a in rows if a.state == "invited"] != [
        declined_pair
    ]
    assert len(open_assignments(applications[0])) == 2
    assert len(open_assignments(applications[1])) == 2
    assert (
        Counter(
            a.expert_id for a in all_assignments() if a.state in ("invited", "accepted")
        ).most_common(1)[0][1]
        <= 2
    )
    assert len(experts) == 4


def test_auto_assign_respects_the_experts_own_maximum(app):
    call, cluster, _applications = call_with_applications(4, k=1)
    limited = pool_expert([cluster], keywords="中药", max_load=1)
    pool_expert([cluster])
    ops.auto_assign(call, bureau_officer(), cap=4, due_at=due())
    assert Counter(a.expert_id for a in all_assignments())[limited.id] == 1


def test_auto_assign_infeasible_creates_nothing_and_names_the_applications(app):
    call, cluster, applications = call_with_applications(2, k=3)
    pool_expert([cluster])
    pool_expert([cluster])
    with pytest.raises(ops.AutoAssignInfeasible) as refused:
        ops.auto_assign(call, bureau_officer(), cap=5, due_at=due())
    assert all_assignments() == []
    result = refused.value.result
    assert set(result.short_applications) == {a.id for a in applications}
    assert all(s.reason == "too_few_experts" and s.allowed == 2 for s in result.shortages)
    assert "2 reviews cannot be placed" in refused.value.message
    assert audit_events("assignment.auto_assign") == []


def test_auto_assign_draw_uses_and_returns_a_seed(app):
    call, cluster, _applications = call_with_applications(2, k=1)
    for _ in range(3):
        pool_expert([cluster])
    run = ops.auto_assign(call, bureau_officer(), cap=2, due_at=due(), draw=True)
    assert run.seed is not None
    [event] = audit_events("assignment.auto_assign")
    assert event.after["draw"] is True and event.after["seed"] == run.seed


def test_auto_assign_refuses_without_applications_or_with_a_past_due_date(app):
    call, cluster, _applications = call_with_applications(1, k=1)
    pool_expert([cluster])
    with pytest.raises(ops.AssignmentError):
        ops.auto_assign(call, bureau_officer(), cap=2, due_at=utcnow() - timedelta(hours=1))
    empty_call, _, _ = call_with_applications(0, k=1)
    with pytest.raises(ops.AssignmentError):
        ops.auto_assign(empty_call, bureau_officer(), cap=2, due_at=due())


def test_auto_assign_skips_inactive_experts_and_experts_without_account(app):
    call, cluster, _applications = call_with_applications(1, k=1)
    pool_expert([cluster], keywords="中药", active=False)
    pool_expert([cluster], keywords="中药", user=None)
    plain = pool_expert([cluster])
    ops.auto_assign(call, bureau_officer(), cap=2, due_at=due())
    assert [a.expert_id for a in all_assignments()] == [plain.id]


# --- manual assignment --------------------------------------------------------------------------


def test_assign_manually_invites_audits_and_notifies(app):
    application = application_under_review()
    expert = pool_expert()
    actor = bureau_officer()
    assignment = ops.assign_manually(application, expert, actor, due())
    assert (assignment.state, assignment.source, assignment.created_by_id) == (
        "invited",
        "manual",
        actor.id,
    )
    [event] = audit_events("assignment.invited")
    assert event.after["expert_id"] == expert.id
    [message] = notifications_of(expert.user, "assignment.invited")
    assert application.title in message.body
    assert message.link.endswith(f"/expert/assignments/{assignment.id}")


def test_assign_manually_refuses_a_conflicted_expert_with_the_reason(app):
    organisation = OrganisationFactory(name="通化金马药业集团股份有限公司")
    application = application_under_review(organisation=organisation)
    insider = pool_expert(employer_id=organisation.id, employer_name=organisation.name)
    with pytest.raises(ops.AssignmentError) as refused:
        ops.assign_manually(application, insider, bureau_officer(), due())
    assert "通化金马药业集团股份有限公司" in refused.value.message
    assert assignments_of(application) == []


def test_assign_manually_refuses_a_soft_flag_until_the_bureau_allows_it(app):
    from grants.review.conflicts import rule_conflict

    organisation = OrganisationFactory(name="通化金马药业集团股份有限公司")
    application = application_under_review(organisation=organisation)
    lookalike = pool_expert(employer_name="金马药业")
    bureau = bureau_officer()
    with pytest.raises(ops.AssignmentError):
        ops.assign_manually(application, lookalike, bureau, due())
    rule_conflict(application, lookalike, blocked=False, reason="不同法人", actor=bureau)
    assert ops.assign_manually(application, lookalike, bureau, due()).state == "invited"


def test_assign_manually_refuses_duplicates_and_earlier_declines(app):
    application = application_under_review()
    expert, other = pool_expert(), pool_expert()
    bureau = bureau_officer()
    ops.assign_manually(application, expert, bureau, due())
    with pytest.raises(ops.AssignmentError, match="already"):
        ops.assign_manually(application, expert, bureau, due())
    declined = ops.assign_manually(application, other, bureau, due())
    transition(declined, "decline", other.user, reason="时间冲突")
    with pytest.raises(ops.AssignmentError):
        ops.assign_manually(application, other, bureau, due())


def test_assign_manually_refuses_applications_not_under_review(app):
    application = ApplicationFactory(state="draft")
    with pytest.raises(ops.AssignmentError):
        ops.assign_manually(application, pool_expert(), bureau_officer(), due())


# --- replacements --------------------------------------------------------------------------------


def test_propose_replacement_is_the_best_allowed_expert_not_yet_on_the_application(app):
    cluster = ClusterFactory()
    application = application_under_review(
        organisation=OrganisationFactory(cluster=cluster), cluster=cluster
    )
    decliner = pool_expert([cluster], keywords="中药")
    pool_expert()
    best = pool_expert([cluster])
    pool_expert([cluster], keywords="中药", employer_id=application.organisation_id)
    bureau = bureau_officer()
    assignment = ops.assign_manually(application, decliner, bureau, due())
    transition(assignment, "decline", decliner.user, reason="出国")
    proposal = ops.propose_replacement(assignment)
    assert proposal.expert.id == best.id and proposal.suitability == ops.CLUSTER_POINTS
    replacement = ops.invite_replacement(assignment, best, bureau)
    assert (replacement.source, replacement.replaces_id) == ("replacement", assignment.id)
    assert replacement.due_at >= utcnow() + timedelta(days=ops.REPLACEMENT_MIN_DAYS - 1)
    with pytest.raises(ops.AssignmentError, match="already been replaced"):
        ops.invite_replacement(assignment, pool_expert(), bureau)
    assert ops.declined_awaiting_replacement() == []
