"""The conflict-of-interest rules: normalisation, hard and soft conflicts, rulings, the matrix."""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from grants.applications.models import Application
from grants.core.timeutil import local_today
from grants.extensions import db
from grants.review.conflicts import (
    ConflictError,
    conflict_matrix,
    conflicts_for,
    is_blocked,
    names_resemble,
    normalise_org_name,
    rule_conflict,
)
from grants.review.models import ConflictRuling, Expert
from tests.factories import OrganisationFactory, make_user, next_uscc
from tests.review.pool_helpers import (
    audit_count,
    build_instance,
    exclude,
    plain_expert,
    relation,
    rule,
    submitted,
)


def kinds(conflicts) -> list[tuple[str, bool]]:
    return [(c.kind, c.hard) for c in conflicts]


@pytest.fixture
def jinma(app):
    """A submitted application of 通化金马药业集团股份有限公司."""
    org = OrganisationFactory(name="通化金马药业集团股份有限公司")
    return submitted(organisation=org)


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("通化金马药业集团股份有限公司", "通化金马药业"),
        ("金马药业（通化）有限公司", "金马药业"),
        ("金马药业(通化)有限公司", "金马药业"),
        ("吉林省通化市二道江区鑫源化工有限责任公司", "鑫源化工"),
        ("通化市 东宝实业 集团 有限公司", "东宝实业"),
        ("ＡＢＣ 科技 有限公司", "abc科技"),
        ("吉林大学第一医院", "吉林大学第一医院"),
        ("【通化】万通药业股份公司", "万通药业"),
    ],
)
def test_normalise_org_name_strips_spaces_brackets_places_and_legal_forms(name, key):
    assert normalise_org_name(name) == key


def test_normalise_org_name_keeps_a_place_with_nothing_after_it():
    assert normalise_org_name("通化市") == "通化市"
    assert normalise_org_name("吉林省通化市") == "通化市"
    assert normalise_org_name("") == ""


def test_names_resemble_needs_two_characters_to_contain():
    assert names_resemble("金马药业", "通化金马药业")
    assert names_resemble("吉林大学", "吉林大学第一医院")
    assert not names_resemble("金", "金马药业")
    assert not names_resemble("", "")
    assert not names_resemble("修正药业", "万通药业")


# --- hard conflicts ----------------------------------------------------------------------------


def test_conflict_employer_organisation_is_hard(jinma):
    expert = plain_expert(employer_id=jinma.organisation_id, employer_name="金马")
    assert kinds(conflicts_for(expert, jinma)) == [("employer", True)]
    assert is_blocked(expert, jinma)


def test_conflict_employer_uscc_is_hard_without_a_link(jinma):
    expert = plain_expert(employer_uscc=jinma.organisation.uscc, employer_name="某药企")
    conflicts = conflicts_for(expert, jinma)
    assert kinds(conflicts) == [("employer", True)]
    assert "通化金马药业集团股份有限公司" in conflicts[0].reason


def test_conflict_declared_relation_with_the_organisation_is_hard(jinma):
    expert = plain_expert(employer_name="长春中医药大学")
    relation(expert, "shareholding", organisation=jinma.organisation)
    assert kinds(conflicts_for(expert, jinma)) == [("relation", True)]


def test_conflict_relation_ended_over_three_years_ago_no_longer_counts(jinma):
    expert = plain_expert(employer_name="长春中医药大学")
    relation(
        expert,
        "employer",
        organisation=jinma.organisation,
        until=local_today() - timedelta(days=3 * 366 + 2),
    )
    assert conflicts_for(expert, jinma) == []
    recent = plain_expert(employer_name="长春中医药大学")
    relation(
        recent,
        "employer",
        organisation=jinma.organisation,
        until=local_today() - timedelta(days=2 * 365),
    )
    assert kinds(conflicts_for(recent, jinma)) == [("relation", True)]


def test_conflict_excluded_expert_named_without_employer_is_hard(jinma):
    expert = plain_expert(name="张 伟", employer_name="吉林大学")
    exclude(jinma, "张伟")
    assert kinds(conflicts_for(expert, jinma)) == [("excluded", True)]


def test_conflict_excluded_expert_with_same_normalised_employer_is_hard(jinma):
    expert = plain_expert(name="张伟", employer_name="吉林大学")
    exclude(jinma, "张伟", "吉林省吉林大学")
    assert kinds(conflicts_for(expert, jinma)) == [("excluded", True)]


# --- soft flags --------------------------------------------------------------------------------


def test_conflict_employer_name_resembling_the_applicant_is_soft(jinma):
    expert = plain_expert(employer_name="金马药业")
    conflicts = conflicts_for(expert, jinma)
    assert kinds(conflicts) == [("employer_name", False)]
    assert "金马药业" in conflicts[0].reason
    assert is_blocked(expert, jinma)  # an unruled soft flag blocks until the bureau rules


def test_conflict_university_and_its_hospital_are_soft(app):
    hospital = submitted(organisation=OrganisationFactory(name="吉林大学第一医院"))
    expert = plain_expert(employer_name="吉林大学")
    assert kinds(conflicts_for(expert, hospital)) == [("employer_name", False)]


def test_conflict_relation_with_a_similar_name_is_soft(jinma):
    expert = plain_expert(employer_name="长春中医药大学")
    relation(expert, "collaboration", name="金马药业（通化）有限公司")
    conflicts = conflicts_for(expert, jinma)
    assert kinds(conflicts) == [("relation_name", False)]
    assert "金马药业（通化）有限公司" in conflicts[0].reason


def test_conflict_excluded_namesake_with_another_employer_is_soft(jinma):
    expert = plain_expert(name="张伟", employer_name="长春中医药大学")
    exclude(jinma, "张伟", "吉林大学")
    assert kinds(conflicts_for(expert, jinma)) == [("excluded_name", False)]


def test_conflict_unrelated_expert_has_none(jinma):
    expert = plain_expert(name="李娜", employer_name="长春中医药大学")
    relation(expert, "collaboration", name="修正药业集团股份有限公司")
    exclude(jinma, "张伟")
    assert conflicts_for(expert, jinma) == []
    assert not is_blocked(expert, jinma)


def test_conflict_employer_hard_suppresses_its_soft_flag(jinma):
    expert = plain_expert(
        employer_id=jinma.organisation_id, employer_name="通化金马药业集团股份有限公司"
    )
    assert kinds(conflicts_for(expert, jinma)) == [("employer", True)]


# --- rulings -----------------------------------------------------------------------------------


def test_ruling_block_turns_soft_flags_hard(jinma):
    expert = plain_expert(employer_name="金马药业")
    rule(jinma, expert, blocked=True)
    conflicts = conflicts_for(expert, jinma)
    assert [(c.kind, c.hard, c.ruled) for c in conflicts] == [("employer_name", True, True)]
    assert conflicts_for(expert, jinma, apply_rulings=False)[0].hard is False


def test_ruling_allow_clears_soft_flags(jinma):
    expert = plain_expert(employer_name="金马药业")
    rule(jinma, expert, blocked=False)
    assert conflicts_for(expert, jinma) == []
    assert not is_blocked(expert, jinma)


def test_ruling_allow_never_clears_a_hard_conflict(jinma):
    expert = plain_expert(employer_uscc=jinma.organisation.uscc, employer_name="金马药业")
    relation(expert, "collaboration", name="金马药业")
    rule(jinma, expert, blocked=False)
    assert kinds(conflicts_for(expert, jinma)) == [("employer", True)]
    assert is_blocked(expert, jinma)


def test_rule_conflict_records_and_audits_the_ruling(jinma):
    bureau = make_user("bureau")
    expert = plain_expert(employer_name="金马药业")
    rule_conflict(jinma, expert, blocked=False, reason="同名不同企业", actor=bureau)
    rule_conflict(jinma, expert, blocked=True, reason="复核后回避", actor=bureau)
    rulings = db.session.scalars(
        sa.select(ConflictRuling).where(ConflictRuling.expert_id == expert.id)
    ).all()
    assert [(r.blocked, r.reason, r.decided_by_id) for r in rulings] == [
        (True, "复核后回避", bureau.id)
    ]
    assert audit_count("conflict.ruled") == 2


def test_rule_conflict_refuses_a_hard_pair_and_an_unflagged_one(jinma):
    bureau = make_user("bureau")
    hard = plain_expert(employer_id=jinma.organisation_id)
    with pytest.raises(ConflictError):
        rule_conflict(jinma, hard, blocked=False, reason="允许", actor=bureau)
    unflagged = plain_expert(employer_name="长春中医药大学")
    with pytest.raises(ConflictError):
        rule_conflict(jinma, unflagged, blocked=True, reason="回避", actor=bureau)
    with pytest.raises(ConflictError):
        rule_conflict(
            jinma, plain_expert(employer_name="金马药业"), blocked=True, reason=" ", actor=bureau
        )
    assert audit_count("conflict.ruled") == 0


# --- the matrix --------------------------------------------------------------------------------


def test_conflict_matrix_matches_the_single_pair_rules(jinma):
    soft = plain_expert(employer_name="金马药业")
    hard = plain_expert(employer_id=jinma.organisation_id)
    free = plain_expert(employer_name="长春中医药大学")
    allowed = plain_expert(employer_name="通化金马")
    rule(jinma, allowed, blocked=False)
    matrix = conflict_matrix([jinma], [soft, hard, free, allowed])
    assert set(matrix) == {(jinma.id, soft.id), (jinma.id, hard.id)}
    assert matrix[jinma.id, soft.id] == conflicts_for(soft, jinma)
    assert conflict_matrix([], [soft]) == {}


@pytest.mark.parametrize("seed", [3, 11])
def test_conflict_matrix_equals_per_pair_function_on_random_sample(app, seed):
    app_ids, expert_ids = build_instance(60, 40, seed=seed)
    raw = conflict_matrix(app_ids, expert_ids, apply_rulings=False)
    rng = random.Random(seed)
    flagged = sorted(raw)
    for a, e in rng.sample(flagged, min(len(flagged), 40)):  # rule on some flagged pairs, both ways
        rule(db.session.get(Application, a), db.session.get(Expert, e), rng.random() < 0.5)
    matrix = conflict_matrix(app_ids, expert_ids)
    assert any(not c.hard for cs in matrix.values() for c in cs), (
        "the instance should hold soft flags"
    )
    assert any(c.hard for cs in matrix.values() for c in cs), (
        "the instance should hold hard conflicts"
    )
    pairs = rng.sample([(a, e) for a in app_ids for e in expert_ids], 400) + flagged[:200]
    today = local_today()
    for a, e in pairs:
        application, expert = db.session.get(Application, a), db.session.get(Expert, e)
        assert matrix.get((a, e), []) == conflicts_for(expert, application, today=today), (a, e)


def test_conflict_matrix_runs_a_fixed_number_of_queries(app):
    app_ids, expert_ids = build_instance(120, 50, seed=5)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        db.session.expire_all()
        conflict_matrix(app_ids[:20], expert_ids[:10])
        small = len(statements)
        statements.clear()
        db.session.expire_all()
        conflict_matrix(app_ids, expert_ids)
        large = len(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert small == large <= 6


def test_conflict_matrix_for_1000_applications_and_300_experts_is_fast(app, capsys):
    app_ids, expert_ids = build_instance(1000, 300, seed=7, clash=0.1)
    db.session.expire_all()
    started = time.perf_counter()
    matrix = conflict_matrix(app_ids, expert_ids)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        hard = sum(1 for cs in matrix.values() if any(c.hard for c in cs))
        print(
            f"\nconflict_matrix 1000 x 300 [{app.config['BACKEND']}]: {elapsed:.3f} s, "
            f"{len(matrix)} pairs with conflicts ({hard} hard)"
        )
    assert matrix
    assert elapsed < 5


def test_conflict_matrix_accepts_relation_until_today(jinma):
    expert = plain_expert(employer_name="长春中医药大学")
    relation(expert, "family", organisation=jinma.organisation, until=date.today())
    assert kinds(conflict_matrix([jinma], [expert])[jinma.id, expert.id]) == [("relation", True)]


def test_conflict_employer_uscc_of_unregistered_organisation_matches_later_registration(app):
    code = next_uscc()
    expert = plain_expert(employer_uscc=code, employer_name="新注册企业")
    application = submitted(organisation=OrganisationFactory(name="完全不同的名字", uscc=code))
    assert kinds(conflicts_for(expert, application)) == [("employer", True)]
    assert kinds(conflict_matrix([application], [expert])[application.id, expert.id]) == [
        ("employer", True)
    ]
