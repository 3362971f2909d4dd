"""The release in one batch: anonymised comments approved one by one, then every decision at once."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.extensions import db
from grants.notifications.models import Notification
from grants.review import decisions as ops
from tests.factories import ExpertFactory, OrganisationFactory, make_user
from tests.review.decision_helpers import (  # noqa: F401 (english is a fixture)
    approved_application,
    audit_actions,
    bureau,
    decision_of,
    english,
    outcome_html,
    reload,
    reviewed_application,
    small_call,
)

pytestmark = pytest.mark.usefixtures("english")


def _approve_all_comments(call, officer):
    for application, _decision in ops.unreleased_decisions(call):
        for review in ops.submitted_reviews(application):
            ops.approve_released_comment(
                review, ops.anonymise(review.comment, review.assignment.expert), officer
            )


def test_anonymise_removes_name_employer_email_and_phone(app):
    employer = OrganisationFactory(name="吉林大学药学院有限公司")
    expert = ExpertFactory(
        name="张建华",
        employer_name="长白山中药研究所",
        email="zhang.jh@jlu.example",
        phone="0435-3921234",
        employer=employer,
    )
    comment = (
        "我是张建华（长白山中药研究所），与吉林大学药学院合作过。该项目技术路线可行。"
        "如有疑问请联系 zhang.jh@jlu.example 或 13812345678，办公电话 0435-3921234。张 建 华"
    )
    text = ops.anonymise(comment, expert)
    for secret in (
        "张建华",
        "张 建 华",
        "长白山中药研究所",
        "吉林大学药学院",
        "zhang.jh@jlu.example",
        "13812345678",
        "0435-3921234",
    ):
        assert secret not in text
    assert "该项目技术路线可行。" in text
    assert text.count(ops.REDACTED) >= 6


def test_anonymise_keeps_ordinary_numbers_and_other_words(app):
    expert = ExpertFactory(
        name="Li Wei", employer_name="Tonghua Normal University", email="", phone=""
    )
    text = ops.anonymise(
        "Li Wei thinks the 2026 budget of 500 万元 is fine; LI WEI, Tonghua Normal University.",
        expert,
    )
    assert "Li Wei" not in text and "LI WEI" not in text and "Tonghua Normal University" not in text
    assert "2026" in text and "500 万元" in text


def test_release_refused_while_comments_unapproved(app):
    call = small_call()
    officer = bureau()
    first = approved_application(call=call)
    second = reviewed_application(call=call)
    ops.decline(second, "创新性不足。", officer)
    for review in ops.submitted_reviews(first):
        ops.approve_released_comment(review, "同意。", officer)
    blockers = ops.release_blockers(call)
    assert (
        len(blockers) == 1
        and second.reference_no in blockers[0]
        and "3 expert comments" in blockers[0]
    )
    with pytest.raises(ops.DecisionError):
        ops.release_decisions(call, officer)
    assert decision_of(first).released_at is None and decision_of(second).released_at is None


def test_release_refused_while_applications_await_decision(app):
    call = small_call()
    officer = bureau()
    approved_application(call=call)
    waiting = reviewed_application(call=call)
    _approve_all_comments(call, officer)
    blockers = ops.release_blockers(call)
    assert any(waiting.reference_no in b and "a decision" in b for b in blockers)


def test_release_sets_released_at_on_every_decision_and_notifies(app):
    call = small_call()
    officer = bureau()
    approved = approved_application(call=call, amount="150000")
    declined = reviewed_application(call=call)
    ops.decline(declined, "创新性不足。", officer)
    applicant_a = make_user("applicant", organisation=approved.organisation)
    applicant_d = make_user("applicant", organisation=declined.organisation)
    _approve_all_comments(call, officer)
    assert ops.release_decisions(call, officer) == 2
    released = {decision_of(approved).released_at, decision_of(declined).released_at}
    assert len(released) == 1 and None not in released
    assert "decision.released" in audit_actions(decision_of(approved))
    kinds = {
        user.id: [
            n.kind
            for n in db.session.scalars(
                sa.select(Notification).where(Notification.user_id == user.id)
            )
        ]
        for user in (applicant_a, applicant_d)
    }
    assert kinds == {applicant_a.id: ["decision.approved"], applicant_d.id: ["decision.declined"]}
    assert ops.release_blockers(call) == ["There is no decision left to release in this call."]


def test_released_outcome_visible_to_applicant_with_anonymous_comments(app):
    call = small_call()
    officer = bureau()
    application = reviewed_application(
        call=call, comments=["张某某认为可行，电话 13812345678。", "创新性较强。", "预算合理。"]
    )
    experts = [r.assignment.expert for r in ops.submitted_reviews(application)]
    ops.approve(application, Decimal("200000"), officer)
    _approve_all_comments(call, officer)
    ops.release_decisions(call, officer)
    applicant = make_user("applicant", organisation=application.organisation)
    assert ops.visible_state(application, applicant) == application.state_label
    html = outcome_html(app, application)
    assert "data-applicant-outcome" in html
    assert "20.00" in html and "20.0000" not in html
    assert "Expert 1" in html and "Expert 3" in html and "创新性较强。" in html
    assert "13812345678" not in html
    for expert in experts:
        assert expert.name not in html and expert.employer_name not in html


def test_released_decline_shows_reasons_not_amount(app):
    call = small_call()
    officer = bureau()
    application = reviewed_application(call=call)
    ops.decline(application, "与支持方向不符。", officer)
    _approve_all_comments(call, officer)
    ops.release_decisions(call, officer)
    html = outcome_html(app, application)
    assert "与支持方向不符。" in html and "Not approved" in html


def test_comment_with_empty_release_text_is_not_shown(app):
    call = small_call()
    officer = bureau()
    application = approved_application(call=call)
    reviews = ops.submitted_reviews(application)
    ops.approve_released_comment(reviews[0], "", officer)
    for review in reviews[1:]:
        ops.approve_released_comment(review, "可行。", officer)
    ops.release_decisions(call, officer)
    outcome = ops.applicant_outcome(application)
    assert [n for n, _text in outcome["comments"]] == [1, 2]


def test_comment_approval_is_audited_and_locked_after_release(app):
    call = small_call()
    officer = bureau()
    application = approved_application(call=call)
    review = ops.submitted_reviews(application)[0]
    ops.approve_released_comment(review, "  可行。 ", officer)
    assert review.released_comment == "可行。" and review.released_comment_approved_at is not None
    assert audit_actions(review)[-1] == "review.comment_approved"
    _approve_all_comments(call, officer)
    ops.release_decisions(call, officer)
    with pytest.raises(ops.DecisionError):
        ops.approve_released_comment(review, "改动", officer)


def test_release_page_prefills_anonymised_comment(client, login):
    call = small_call()
    expert = ExpertFactory(name="欧阳明", email="oy@test.example")
    application = reviewed_application(call=call, comments=["欧阳明：可行。联系 oy@test.example"])
    reviews = ops.submitted_reviews(application)
    reviews[0].assignment.expert = expert
    db.session.flush()
    ops.approve(application, application.fiscal_total, bureau())
    login(bureau())
    html = client.get(f"/calls/{call.id}/release").get_data(as_text=True)
    assert f"{ops.REDACTED}：可行。联系 {ops.REDACTED}" in html
    assert "data-release-blockers" in html


def test_release_views_approve_comments_then_release(client, login):
    call = small_call()
    application = approved_application(call=call)
    applicant = make_user("applicant", organisation=application.organisation)
    login(bureau())
    response = client.post(f"/calls/{call.id}/release")
    assert response.status_code == 422
    assert "not approved for release" in response.get_data(as_text=True)
    for review in ops.submitted_reviews(application):
        response = client.post(
            f"/reviews/{review.id}/released-comment",
            data={f"comment-{review.id}-text": "评审意见：可行。"},
        )
        assert response.status_code == 302
    response = client.post(f"/calls/{call.id}/release")
    assert response.status_code == 302
    assert reload(decision_of(application)).released_at is not None
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(Notification.user_id == applicant.id)
        )
        == 1
    )


def test_overturn_after_release_notifies_applicant(app):
    from grants.core.timeutil import local_today
    from tests.review.decision_helpers import days, notice_for, objection_data

    call = small_call()
    officer = bureau()
    application = approved_application(call=call)
    applicant = make_user("applicant", organisation=application.organisation)
    _approve_all_comments(call, officer)
    ops.release_decisions(call, officer)
    notice = notice_for(call, starts_on=local_today() - days(1))
    objection = ops.record_objection(notice, application.id, objection_data(), officer)
    ops.resolve_objection(objection, "uphold", "异议成立。", officer, overturn_approval=True)
    kinds = db.session.scalars(
        sa.select(Notification.kind)
        .where(Notification.user_id == applicant.id)
        .order_by(Notification.id)
    ).all()
    assert kinds == ["decision.approved", "decision.overturned"]
    outcome = ops.applicant_outcome(application)
    assert outcome["outcome"] == "decline" and outcome["reasons"] == "异议成立。"
