"""Reopening a submitted review: the bureau only, with a reason that is audited and sent to the expert."""

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.extensions import db
from grants.notifications.models import Notification
from tests.factories import make_user
from tests.review.scoring_helpers import ready_assignment, reload, submitted_review, under_review

REASON = "第二项评分与评语不一致，请核实后重新提交。"


def test_bureau_reopens_with_a_reason_that_is_audited_and_notified(client, login):
    assignment = ready_assignment()
    review = submitted_review(assignment, ["8", "7"])
    bureau = make_user("bureau")
    login(bureau)
    response = client.post(f"/reviews/{review.id}/reopen", data={"reason": REASON})
    assert response.status_code == 302
    review = reload(review)
    assert review.state == "draft" and review.total is None and review.submitted_at is None
    assert len(review.scores) == 2  # the scores stay for the expert to revise
    event = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "review.reopen", AuditEvent.object_id == str(review.id)
        )
    ).one()
    assert event.actor_id == bureau.id
    assert event.after == {"state": "draft", "reason": REASON}
    [note] = db.session.scalars(
        sa.select(Notification).where(
            Notification.user_id == assignment.expert.user_id,
            Notification.kind == "review.reopened",
        )
    ).all()
    assert REASON in note.body and assignment.application.title in note.subject
    assert note.link == f"/expert/assignments/{assignment.id}/review"


def test_reopened_review_can_be_edited_and_submitted_again(client, login):
    assignment = ready_assignment()
    review = submitted_review(assignment, ["8", "7"])
    login(make_user("bureau"))
    client.post(f"/reviews/{review.id}/reopen", data={"reason": REASON})
    client.post("/logout")
    login(assignment.expert.user)
    response = client.post(
        f"/expert/assignments/{assignment.id}/review",
        data={
            f"score_{assignment.application.call.criteria[0].id}": "9",
            f"score_{assignment.application.call.criteria[1].id}": "7",
            "recommendation": "fund",
            "comment": reload(review).comment,
            "action": "submit",
        },
    )
    assert response.status_code == 302
    review = reload(review)
    assert review.state == "submitted" and str(review.total) == "82.0000"  # 60·0.9 + 40·0.7


def test_reopen_without_reason_is_refused(client, login):
    review = submitted_review(ready_assignment(), ["8", "7"])
    login(make_user("bureau"))
    response = client.post(f"/reviews/{review.id}/reopen", data={"reason": "   "})
    assert response.status_code == 422
    assert reload(review).state == "submitted"


def test_expert_cannot_reopen_their_own_review(client, login):
    assignment = ready_assignment()
    review = submitted_review(assignment, ["8", "7"])
    login(assignment.expert.user)
    response = client.post(f"/reviews/{review.id}/reopen", data={"reason": REASON})
    assert response.status_code == 403
    assert reload(review).state == "submitted"
    assert "/reopen" not in client.get(f"/expert/assignments/{assignment.id}/review").get_data(
        as_text=True
    )


def test_review_of_a_closed_application_is_not_reopened(client, login):
    review = submitted_review(
        ready_assignment(application=under_review(state="reviewed")), ["8", "7"]
    )
    login(make_user("bureau"))
    page = client.get(f"/reviews/{review.id}").get_data(as_text=True)
    assert f"/reviews/{review.id}/reopen" not in page
    response = client.post(f"/reviews/{review.id}/reopen", data={"reason": REASON})
    assert response.status_code == 302
    assert reload(review).state == "submitted"


def test_bureau_page_offers_reopening_only_for_submitted_reviews(client, login):
    assignment = ready_assignment()
    review = submitted_review(assignment, ["8", "7"])
    login(make_user("bureau"))
    assert f"/reviews/{review.id}/reopen" in client.get(f"/reviews/{review.id}").get_data(
        as_text=True
    )
    client.post(f"/reviews/{review.id}/reopen", data={"reason": REASON})
    assert f"/reviews/{review.id}/reopen" not in client.get(f"/reviews/{review.id}").get_data(
        as_text=True
    )
