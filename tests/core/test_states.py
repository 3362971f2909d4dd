"""The vocabulary of states: one enum per entity, Chinese labels for all, workflow tables consistent."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from itertools import combinations

import pytest
from flask_babel import force_locale

from grants.core.states import STATE_SETS, StateSet, badge_of, label_of, state_set
from grants.core.types import utcnow
from grants.core.workflow import WORKFLOWS, transition
from grants.review import assignments as assignment_ops
from tests.factories import make_user
from tests.review.assign_helpers import application_under_review, bureau_officer, pool_expert
from tests.review.decision_helpers import add_review, small_call

CHINESE = "zh_Hans_CN"

# Chinese labels that states of different entities may share, because they mean the same
# thing for each: anything else shared is a mix-up like the one that showed 不予立项 on the
# release and assignment pages.
ALLOWED_SHARED_LABELS = {
    # 草稿: written but not yet submitted or published, whatever the document.
    "草稿": {"application", "call", "notice", "progress_report", "change_request", "final_report"},
    # 已提交: handed in by the applicant, awaiting the bureau's check.
    "已提交": {"application", "progress_report"},
    # 排队中: waiting for a worker; a portfolio report is produced by a background job.
    "排队中": {"job", "portfolio_report"},
    # A tranche's status mirrors its disbursement's state once a release is requested.
    "财务已审核": {"disbursement", "tranche"},
    "已拨付": {"disbursement", "tranche"},
}

# State sets without a workflow table: a derived condition (comment_release, tranche) or a
# status the job runner and the mailer set themselves (job, outbox_email).
SETS_WITHOUT_WORKFLOW = {"comment_release", "job", "outbox_email", "tranche"}


def chinese_labels() -> dict[tuple[str, str], str]:
    with force_locale(CHINESE):
        return {
            (entity, member.value): str(member.label)
            for entity, states in STATE_SETS.items()
            for member in states
        }


def test_state_sets_cover_every_workflow(app):
    for workflow in WORKFLOWS.values():
        assert STATE_SETS[workflow.name] is workflow.states
    without_workflow = set(STATE_SETS) - {w.name for w in WORKFLOWS.values()}
    assert without_workflow == SETS_WITHOUT_WORKFLOW


def test_state_labels_distinct_across_entities_unless_allowed(app):
    by_label = defaultdict(set)
    for (entity, _value), label in chinese_labels().items():
        by_label[label].add(entity)
    clashes = []
    for label, entities in by_label.items():
        allowed = ALLOWED_SHARED_LABELS.get(label, set())
        for pair in combinations(sorted(entities), 2):
            if not set(pair) <= allowed:
                clashes.append((label, pair))
    assert clashes == []


def test_state_labels_distinct_within_each_entity(app):
    for entity, states in STATE_SETS.items():
        with force_locale(CHINESE):
            labels = [str(m.label) for m in states]
        assert len(labels) == len(set(labels)), entity


def test_every_state_has_a_chinese_label(app):
    missing = []
    for (entity, value), label in chinese_labels().items():
        source = str(STATE_SETS[entity].of(value).label._args[1])
        if label == source or not any("\u4e00" <= ch <= "\u9fff" for ch in label):
            missing.append((entity, value, label))
    assert missing == []


def test_state_labels_use_an_entity_context(app):
    for entity, states in STATE_SETS.items():
        for member in states:
            context, _msgid = member.label._args
            assert context == f"{entity.replace('_', ' ')} state", (entity, member)


def test_workflow_tables_name_only_declared_states_as_members(app):
    for workflow in WORKFLOWS.values():
        for t in workflow.transitions:
            assert isinstance(t.source, workflow.states), (workflow.name, t.event, t.source)
            assert isinstance(t.target, workflow.states), (workflow.name, t.event, t.target)


def test_every_declared_state_is_reachable(app):
    """Each state is the initial one (the column default) or the target of a transition."""
    for workflow in WORKFLOWS.values():
        column = workflow.model.__table__.c[workflow.state_attr]
        initial = {column.default.arg} if column.default is not None else set()
        targets = {str(t.target) for t in workflow.transitions}
        unreachable = {m.value for m in workflow.states} - targets - initial
        assert unreachable == set(), workflow.name


def test_valid_next_follows_the_workflow_table(app):
    for workflow in WORKFLOWS.values():
        for member in workflow.states:
            expected = {t.target for t in workflow.transitions if t.source == member}
            assert member.valid_next == expected, (workflow.name, member)


def test_state_values_match_the_stored_strings(app):
    from grants.applications.models import ApplicationState
    from grants.review.models import AssignmentState

    assert ApplicationState.DECLINED == "declined" and str(ApplicationState.DECLINED) == "declined"
    assert ApplicationState.known("under_review") and not ApplicationState.known("nonsense")
    assert AssignmentState.of("declined") is AssignmentState.DECLINED


def test_label_and_badge_helpers_accept_objects_values_and_unknowns(app):
    from grants.review.models import AssignmentState

    class Stub:
        state = "declined"

    with force_locale(CHINESE):
        assert label_of("assignment", Stub()) == "已谢绝"
        assert label_of(AssignmentState, "declined") == "已谢绝"
        assert label_of("application", "declined") == "不予立项"
        assert label_of("assignment", "mystery") == "mystery"
        assert label_of("assignment", None) == ""
    assert badge_of("assignment", "declined") == "danger"
    assert badge_of("assignment", "mystery") == "light"


def test_state_set_refuses_an_unknown_badge_colour(app):
    with pytest.raises(ValueError):

        class Bad(StateSet):
            ODD = "odd", "Odd", "purple"


def test_state_set_refuses_a_second_set_for_one_entity(app):
    class Another(StateSet):
        DRAFT = "draft", "Draft", "secondary"

    with pytest.raises(ValueError):
        state_set("application")(Another)


def test_assignment_page_shows_declined_as_declined_by_the_expert(client, login):
    application = application_under_review()
    expert = pool_expert(name="谢绝者")
    assignment = assignment_ops.assign_manually(
        application, expert, bureau_officer(), utcnow() + timedelta(days=5)
    )
    transition(assignment, "decline", expert.user, reason="出差")
    login(make_user("bureau", locale=CHINESE))
    page = client.get(f"/applications/{application.id}/assignments").get_data(as_text=True)
    assert "已谢绝" in page
    assert "不予立项" not in page


def test_release_page_shows_unapproved_comment_as_awaiting_approval(client, login):
    from grants.review import decisions as decision_ops

    call = small_call()
    officer = make_user("bureau", locale=CHINESE)
    application = application_under_review(call=call)
    for _ in range(call.reviewers_per_application):
        add_review(application)
    transition(application, "finish_review", officer)
    decision_ops.decline(application, "创新性不足。", officer)
    login(officer)
    page = client.get(f"/calls/{call.id}/release").get_data(as_text=True)
    assert "待审定" in page
    # 不予立项 is the application's outcome here, shown once in its outcome badge; the
    # comments awaiting approval must not read 不予立项.
    assert page.count("不予立项") == 1


def test_concurrent_project_cap_counts_the_same_live_states(app):
    """限项 counts live applications: the set keeps exactly its members."""
    from grants.applications.checks import LIVE_STATES

    assert set(LIVE_STATES) == {"submitted", "under_review", "reviewed", "approved", "contracted"}
