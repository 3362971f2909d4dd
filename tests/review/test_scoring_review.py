"""The expert's review page and form: validation, draft, submission, lock, audit, the CHECK on scores."""

from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from grants.core.models import AuditEvent
from grants.extensions import db
from grants.review.models import Review, Score
from tests.review.scoring_helpers import (
    LONG_COMMENT,
    as_rendered,
    draft_review,
    form_data,
    ready_assignment,
    reload,
    submitted_review,
    under_review,
)


def post(client, assignment, values, **kwargs):
    return client.post(
        f"/expert/assignments/{assignment.id}/review", data=form_data(assignment, values, **kwargs)
    )


def audit_events(action, review):
    return db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.object_id == str(review.id))
        .order_by(AuditEvent.id)
    ).all()


def test_review_page_shows_the_proposal_and_a_field_per_criterion(client, login):
    assignment = ready_assignment()
    login(assignment.expert.user)
    response = client.get(f"/expert/assignments/{assignment.id}/review")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert assignment.application.title in html
    assert "建立过程模型，开发控制系统，中试验证。" in html  # technical route
    for criterion in assignment.application.call.criteria:
        assert f'name="score_{criterion.id}"' in html
        assert criterion.name_zh in html
    assert "0–10" in html  # the range is shown
    assert 'name="action" value="submit"' in html


def test_save_draft_creates_the_review_and_scores_with_their_range(client, login):
    assignment = ready_assignment()
    login(assignment.expert.user)
    response = post(client, assignment, ["8.5", ""], comment="初步意见", recommendation="")
    assert response.status_code == 302
    review = reload(assignment).review
    assert (
        review.state == "draft" and review.comment == "初步意见" and review.recommendation is None
    )
    [score] = review.scores
    first = assignment.application.call.criteria[0]
    assert (score.criterion_id, score.value, score.min_score, score.max_score) == (
        first.id,
        Decimal("8.5"),
        first.min_score,
        first.max_score,
    )
    [event] = audit_events("review.save_draft", review)
    assert event.after["scores"] == {str(first.id): "8.5"}
    assert event.before["scores"] == {str(first.id): None}


def test_save_draft_again_updates_and_audits_each_score_change(client, login):
    assignment = ready_assignment()
    login(assignment.expert.user)
    post(client, assignment, ["8", "6"], recommendation="fund")
    post(client, assignment, ["8", "7.25"], recommendation="fund")
    post(client, assignment, ["8", "7.25"], recommendation="fund")  # nothing changed: no event
    review = reload(assignment).review
    assert sorted(s.value for s in review.scores) == [Decimal("7.25"), Decimal("8")]
    events = audit_events("review.save_draft", review)
    assert len(events) == 2
    second = assignment.application.call.criteria[1]
    assert events[1].before["scores"] == {str(second.id): "6"}
    assert events[1].after["scores"] == {str(second.id): "7.25"}


OUT_OF_RANGE = _l("Give a score from %(min)s to %(max)s.", min="0", max="10")


@pytest.mark.parametrize(
    "typed, message",
    [
        ("10.5", OUT_OF_RANGE),
        ("-1", OUT_OF_RANGE),
        ("7.555", _l("Use at most two decimals.")),
        ("abc", _l("Enter a number, such as 8 or 7.5.")),
    ],
)
def test_score_out_of_range_or_malformed_is_refused_and_kept(client, login, typed, message):
    assignment = ready_assignment()
    login(assignment.expert.user)
    response = post(client, assignment, [typed, "7"], comment="保留这段文字")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'value="{typed}"' in html  # what was typed stays on the page
    assert "保留这段文字" in html
    assert 'aria-invalid="true"' in html
    assert as_rendered(message) in html
    assert reload(assignment).review is None


def test_full_width_digits_are_read_as_numbers(client, login):
    assignment = ready_assignment()
    login(assignment.expert.user)
    assert post(client, assignment, ["８.５", "7"]).status_code == 302
    assert sorted(s.value for s in reload(assignment).review.scores) == [
        Decimal("7"),
        Decimal("8.5"),
    ]


def test_submit_computes_the_total_and_locks_the_review(client, login):
    assignment = ready_assignment()
    login(assignment.expert.user)
    response = post(
        client, assignment, ["8", "7"], recommendation="fund_with_changes", action="submit"
    )
    assert response.status_code == 302
    review = reload(assignment).review
    assert review.state == "submitted"
    assert review.total == Decimal("76.0000")  # 60·0.8 + 40·0.7
    assert review.submitted_at is not None and review.recommendation == "fund_with_changes"
    [event] = audit_events("review.submit", review)
    assert event.after["state"] == "submitted"
    page = client.get(f"/expert/assignments/{assignment.id}/review").get_data(as_text=True)
    assert 'name="score_' not in page and "data-total>76<" in page and "76.0000" not in page


def test_submitted_review_refuses_further_posts(client, login):
    assignment = ready_assignment()
    review = submitted_review(assignment, ["8", "7"])
    login(assignment.expert.user)
    response = post(client, assignment, ["1", "1"], action="save")
    assert response.status_code == 409
    again = post(client, assignment, ["1", "1"], action="submit")
    assert again.status_code == 409
    review = reload(review)
    assert review.state == "submitted" and review.total == Decimal("76.0000")
    assert sorted(s.value for s in review.scores) == [Decimal("7"), Decimal("8")]
    assert audit_events("review.save_draft", review) == []


def test_submit_of_an_incomplete_review_saves_the_draft_and_names_what_is_missing(client, login):
    assignment = ready_assignment()
    login(assignment.expert.user)
    response = post(
        client, assignment, ["8", ""], comment="太短", recommendation="", action="submit"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (
        html.count("invalid-feedback") == 3
    )  # the missing score, the recommendation, the short comment
    assert "太短" in html
    review = reload(assignment).review
    assert review.state == "draft" and len(review.scores) == 1


def test_submit_guard_refuses_an_incomplete_review(app):
    from grants.core.workflow import GuardFailed, transition

    assignment = ready_assignment()
    review = draft_review(assignment, ["8"], comment=LONG_COMMENT, recommendation="fund")
    with app.test_request_context(), pytest.raises(GuardFailed) as refused:
        transition(review, "submit", assignment.expert.user)
    assert review.state == "draft"
    assert assignment.application.call.criteria[1].name_zh in refused.value.message


def test_submit_guard_wants_a_comment_of_the_minimum_length(app):
    from grants.core.workflow import GuardFailed, transition

    assignment = ready_assignment()
    review = draft_review(assignment, ["8", "7"], comment="很好", recommendation="fund")
    with app.test_request_context(), pytest.raises(GuardFailed):
        transition(review, "submit", assignment.expert.user)


def test_database_check_rejects_a_score_outside_its_range(app):
    assignment = ready_assignment()
    review = draft_review(assignment)
    criterion = assignment.application.call.criteria[0]
    db.session.add(
        Score(
            review_id=review.id,
            criterion_id=criterion.id,
            value=Decimal("11"),
            min_score=Decimal("0"),
            max_score=Decimal("10"),
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_database_check_rejects_a_submitted_review_without_total(app):
    assignment = ready_assignment()
    db.session.add(
        Review(
            assignment=assignment, state="submitted", comment=LONG_COMMENT, recommendation="fund"
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_review_of_a_closed_application_cannot_be_saved(client, login):
    assignment = ready_assignment(application=under_review(state="reviewed"))
    login(assignment.expert.user)
    assert post(client, assignment, ["8", "7"]).status_code == 409
    assert reload(assignment).review is None
    page = client.get(f"/expert/assignments/{assignment.id}/review").get_data(as_text=True)
    assert 'name="score_' not in page
