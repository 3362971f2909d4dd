"""Review actions posted for an object no longer in an actionable state, or with bad input.

A stale object (the invitation already answered, the notice already closed, the review
already reopened) is answered with a redirect to the page that shows it and a warning
that says why; bad input on an actionable object re-renders that page with the form
visible, its errors beside the fields and what was typed kept.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.review import assignments as assign_ops
from grants.review import decisions as decision_ops
from tests.factories import AssignmentFactory
from tests.review.assign_helpers import application_under_review, bureau_officer, pool_expert
from tests.review.decision_helpers import (
    approved_application,
    days,
    notice_for,
    objection_data,
    small_call,
)
from tests.review.scoring_helpers import ready_assignment, reload, submitted_review, under_review

pytestmark = pytest.mark.usefixtures("english_ui")


def warned(client, response, message: str) -> str:
    """The page a redirect leads to, which must show ``message`` in a warning."""
    assert response.status_code in (302, 303), response.status_code
    html = client.get(response.location).get_data(as_text=True)
    assert "alert-warning" in html and message in html, html[:3000]
    return html


# --- the bureau invites an expert -------------------------------------------------------------


def test_invite_on_an_application_no_longer_under_review_warns_on_its_page(client, login):
    application = under_review(state="reviewed")
    expert = pool_expert()
    login(bureau_officer())
    response = client.post(
        f"/applications/{application.id}/assignments",
        data={"expert_id": expert.id, "due_at": "2099-01-01T18:00"},
    )
    assert response.location.endswith(f"/applications/{application.id}/assignments")
    warned(client, response, "Experts can be invited only while the application is under review.")
    assert assign_ops.call_assignments(application.call) == []


def test_invite_with_empty_input_shows_the_form_with_its_errors(client, login):
    application = application_under_review()
    login(bureau_officer())
    response = client.post(f"/applications/{application.id}/assignments", data={"due_at": "明天"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'action="/applications/{application.id}/assignments"' in html
    assert "invalid-feedback" in html and "Choose an expert." in html and 'value="明天"' in html


# --- the expert answers an invitation ---------------------------------------------------------


def _invited(expert, application=None):
    application = application or application_under_review()
    return assign_ops.assign_manually(
        application, expert, bureau_officer(), utcnow() + timedelta(days=10)
    )


def test_accepting_an_invitation_already_accepted_warns(client, login):
    expert = pool_expert()
    assignment = _invited(expert)
    transition(assignment, "accept", expert.user, no_conflict=True)
    login(expert.user)
    response = client.post(f"/expert/assignments/{assignment.id}/accept", data={})
    assert response.location.endswith(f"/expert/assignments/{assignment.id}")
    warned(client, response, "This invitation has already been accepted.")


def test_declining_a_withdrawn_invitation_warns_and_changes_nothing(client, login):
    expert = pool_expert()
    assignment = _invited(expert)
    transition(assignment, "withdraw", bureau_officer())
    login(expert.user)
    response = client.post(f"/expert/assignments/{assignment.id}/decline", data={"reason": ""})
    warned(client, response, "The bureau has withdrawn this invitation.")
    assert reload(assignment).state == "withdrawn"


def test_declining_an_invitation_already_declined_warns(client, login):
    expert = pool_expert()
    assignment = _invited(expert)
    transition(assignment, "decline", expert.user, reason="出差")
    login(expert.user)
    response = client.post(
        f"/expert/assignments/{assignment.id}/decline", data={"reason": "另有安排"}
    )
    warned(client, response, "This invitation has already been declined.")
    assert reload(assignment).decline_reason == "出差"


def test_accepting_after_the_review_closed_warns(client, login):
    expert = pool_expert()
    assignment = AssignmentFactory(application=under_review(state="reviewed"), expert=expert)
    login(expert.user)
    response = client.post(f"/expert/assignments/{assignment.id}/accept", data={"no_conflict": "y"})
    warned(client, response, "This application is no longer under review.")
    assert reload(assignment).state == "invited"


def test_answering_someone_elses_invitation_is_forbidden(client, login):
    assignment = _invited(pool_expert())
    login(bureau_officer())
    assert client.post(f"/expert/assignments/{assignment.id}/accept", data={}).status_code == 403
    assert client.post(f"/expert/assignments/{assignment.id}/decline", data={}).status_code == 403
    assert reload(assignment).state == "invited"


def test_declining_without_a_reason_shows_the_form_with_its_error(client, login):
    expert = pool_expert()
    assignment = _invited(expert)
    login(expert.user)
    response = client.post(f"/expert/assignments/{assignment.id}/decline", data={"reason": "  "})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'action="/expert/assignments/{assignment.id}/decline"' in html
    assert "invalid-feedback" in html and "Say why you decline" in html


# --- the public notice -----------------------------------------------------------------------


def test_closing_a_closed_notice_warns_on_its_page(client, login):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call)
    decision_ops.close_notice(notice, bureau_officer(), force=True, reason="公示材料有误")
    login(bureau_officer())
    response = client.post(
        f"/notices/{notice.id}/close", data={"close-force": "y", "close-reason": "x" * 3000}
    )
    assert response.location.endswith(f"/notices/{notice.id}/manage")
    warned(client, response, "This notice is already closed")


def test_closing_a_draft_notice_warns_on_its_page(client, login):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call, publish=False)
    login(bureau_officer())
    response = client.post(f"/notices/{notice.id}/close", data={})
    warned(client, response, "This notice is not published yet")
    assert reload(notice).state == "draft"


def test_closing_an_ended_notice_with_an_open_objection_shows_why(client, login, monkeypatch):
    call = small_call()
    application = approved_application(call=call)
    notice = notice_for(call)
    decision_ops.record_objection(notice, application.id, objection_data(), bureau_officer())
    monkeypatch.setattr(decision_ops, "local_today", lambda: notice.ends_on + days(1))
    login(bureau_officer())
    response = client.post(
        f"/notices/{notice.id}/close", data={"close-force": "y", "close-reason": "到期"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert (
        "invalid-feedback" in html
        and "Resolve the open objections before closing the notice." in html
    )
    assert reload(notice).state == "published"


def test_objection_to_a_closed_notice_warns_on_its_page(client, login):
    call = small_call()
    application = approved_application(call=call)
    notice = notice_for(call)
    decision_ops.close_notice(notice, bureau_officer(), force=True, reason="公示材料有误")
    login(bureau_officer())
    response = client.post(
        f"/notices/{notice.id}/objections",
        data={
            "objection-application_id": application.id,
            "objection-raised_by": "李某",
            "objection-text": "材料不实。",
            "objection-received_on": notice.starts_on.isoformat(),
        },
    )
    warned(client, response, "This notice is already closed")
    assert reload(notice).objections == []


def test_objection_with_empty_input_shows_the_form_with_its_errors(client, login):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call)
    login(bureau_officer())
    response = client.post(f"/notices/{notice.id}/objections", data={"objection-raised_by": "李某"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'action="/notices/{notice.id}/objections"' in html
    assert "invalid-feedback" in html and 'value="李某"' in html


# --- reopening a review ----------------------------------------------------------------------


def test_reopening_a_review_already_reopened_warns(client, login):
    review = submitted_review(ready_assignment(), ["8", "7"])
    transition(review, "reopen", bureau_officer(), reason="评分不一致")
    login(bureau_officer())
    response = client.post(f"/reviews/{review.id}/reopen", data={"reason": ""})
    assert response.location.endswith(f"/reviews/{review.id}")
    warned(client, response, "This review is not submitted (any more): there is nothing to reopen.")


def test_reopening_without_a_reason_shows_the_form_with_its_error(client, login):
    review = submitted_review(ready_assignment(), ["8", "7"])
    login(bureau_officer())
    response = client.post(f"/reviews/{review.id}/reopen", data={"reason": " "})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'action="/reviews/{review.id}/reopen"' in html and "invalid-feedback" in html
    assert reload(review).state == "submitted"
