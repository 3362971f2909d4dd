"""Experts answer invitations: the dashboard, blind invitation pages, accept with the declaration,
decline with a reason, and no access to other experts' assignments."""

from __future__ import annotations

from datetime import timedelta

import pytest

import grants.review.assign_panels  # noqa: F401  (registers the dashboard panels)
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.review import assignments as ops
from grants.review.models import Assignment, Review
from tests.factories import CallFactory, OrganisationFactory, make_user
from tests.review.assign_helpers import (
    application_under_review,
    audit_events,
    bureau_officer,
    notifications_of,
    pool_expert,
)

pytestmark = pytest.mark.usefixtures("english_ui")  # asserts on English source text

ORG_NAME = "通化金马药业集团股份有限公司"
PRINCIPAL = "严建国"  # the principal investigator fill_application puts on the team


def invite(expert, application=None, days: int = 10):
    application = application or application_under_review(
        organisation=OrganisationFactory(name=ORG_NAME)
    )
    return ops.assign_manually(
        application, expert, bureau_officer(), utcnow() + timedelta(days=days)
    )


def reload(assignment) -> Assignment:
    db.session.expire_all()
    return db.session.get(Assignment, assignment.id)


def test_my_reviews_lists_invitations_and_accepted_with_due_dates_and_progress(client, login):
    expert = pool_expert()
    waiting = invite(expert, days=5)
    accepted = invite(expert, days=2)
    transition(accepted, "accept", expert.user, no_conflict=True)
    db.session.add(Review(assignment=accepted, state="draft"))
    db.session.flush()
    login(expert.user)
    html = client.get("/expert/reviews").get_data(as_text=True)
    assert html.count('class="invitation-row"') == 1 and html.count('class="accepted-row"') == 1
    assert waiting.application.title in html and accepted.application.title in html
    assert "5 days left" in html and "2 days left" in html
    assert "Review in draft" in html
    assert f"/expert/assignments/{accepted.id}/review" in html


def test_my_reviews_puts_what_is_left_to_write_before_submitted_reviews(client, login):
    """A reviewer of many years sees the reviews still to write first; submitted ones follow, newest first."""
    expert = pool_expert()
    rows = []
    for days, state in ((3, "draft"), (1, "submitted"), (6, "submitted")):
        assignment = invite(expert, days=days)
        transition(assignment, "accept", expert.user, no_conflict=True)
        complete = (
            {"submitted_at": utcnow(), "total": 80, "recommendation": "fund"}
            if state == "submitted"
            else {}
        )
        db.session.add(Review(assignment=assignment, state=state, **complete))
        rows.append(assignment)
    db.session.flush()
    login(expert.user)
    html = client.get("/expert/reviews").get_data(as_text=True)
    to_write, submitted = html.split('id="submitted-heading"')
    assert rows[0].application.title in to_write and "Reviews to write" in to_write
    assert rows[1].application.title not in to_write and rows[2].application.title not in to_write
    assert submitted.index(rows[2].application.title) < submitted.index(rows[1].application.title)
    assert ORG_NAME not in html


def test_my_reviews_shows_overdue(client, login):
    expert = pool_expert()
    assignment = invite(expert)
    transition(assignment, "accept", expert.user, no_conflict=True)
    assignment.due_at = utcnow() - timedelta(days=3)
    db.session.flush()
    login(expert.user)
    assert "Overdue by 3 days" in client.get("/expert/reviews").get_data(as_text=True)


def test_my_reviews_refused_to_users_without_an_expert_record(client, login):
    login(make_user("applicant", locale="en"))
    assert client.get("/expert/reviews").status_code == 403


def test_blind_invitation_page_shows_no_organisation_or_people(client, login):
    expert = pool_expert()
    assignment = invite(expert)
    assert assignment.application.call.blind_review
    login(expert.user)
    html = client.get(f"/expert/assignments/{assignment.id}").get_data(as_text=True)
    assert assignment.application.title in html and assignment.application.call.title in html
    assert ORG_NAME not in html and "金马" not in html and PRINCIPAL not in html
    assert "Blind review" in html


def test_open_call_invitation_page_shows_organisation(client, login):
    expert = pool_expert()
    call = CallFactory(blind_review=False)
    assignment = invite(expert, application_under_review(call, OrganisationFactory(name=ORG_NAME)))
    login(expert.user)
    html = client.get(f"/expert/assignments/{assignment.id}").get_data(as_text=True)
    assert ORG_NAME in html and PRINCIPAL in html


def test_accept_requires_the_declaration(client, login):
    expert = pool_expert()
    assignment = invite(expert)
    login(expert.user)
    response = client.post(f"/expert/assignments/{assignment.id}/accept", data={})
    assert response.status_code == 422
    assert "You must make this declaration to accept." in response.get_data(as_text=True)
    assert reload(assignment).state == "invited"
    response = client.post(f"/expert/assignments/{assignment.id}/accept", data={"no_conflict": "y"})
    assert response.status_code == 302
    row = reload(assignment)
    assert (
        row.state == "accepted"
        and row.no_conflict_declared_at is not None
        and row.responded_at is not None
    )
    [event] = audit_events("assignment.accept")
    assert event.after == {"state": "accepted", "no_conflict": True}


def test_accept_guard_refuses_without_declaration_in_the_workflow(app):
    expert = pool_expert()
    assignment = invite(expert)
    from grants.core.workflow import GuardFailed

    try:
        transition(assignment, "accept", expert.user)
    except GuardFailed as exc:
        assert "Declare" in exc.message
    else:
        raise AssertionError("accepting without the declaration must fail")
    assert assignment.state == "invited"


def test_accept_refused_when_a_hard_conflict_appeared_since_the_invitation(client, login):
    expert = pool_expert()
    assignment = invite(expert)
    expert.employer_id = assignment.application.organisation_id
    db.session.flush()
    login(expert.user)
    response = client.post(
        f"/expert/assignments/{assignment.id}/accept",
        data={"no_conflict": "y"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "conflict of interest (Employer is the applicant)" in response.get_data(as_text=True)
    assignment = reload(assignment)
    assert assignment.state == "withdrawn"
    assert assignment.conflict_found_at is not None
    assert assignment.no_conflict_declared_at is None


def test_decline_requires_a_reason_and_keeps_what_was_typed(client, login):
    expert = pool_expert()
    assignment = invite(expert)
    login(expert.user)
    response = client.post(f"/expert/assignments/{assignment.id}/decline", data={"reason": "   "})
    assert response.status_code == 422
    assert reload(assignment).state == "invited"
    long_reason = "出" * 501
    response = client.post(
        f"/expert/assignments/{assignment.id}/decline", data={"reason": long_reason}
    )
    assert response.status_code == 422 and long_reason in response.get_data(as_text=True)


def test_decline_tells_the_bureau_with_a_proposed_replacement(client, login):
    bureau = bureau_officer()
    expert = pool_expert()
    pool_expert(name="候补专家", keywords="中药")
    assignment = invite(expert)
    login(expert.user)
    response = client.post(
        f"/expert/assignments/{assignment.id}/decline", data={"reason": "近期出国访问"}
    )
    assert response.status_code == 302
    row = reload(assignment)
    assert (row.state, row.decline_reason) == ("declined", "近期出国访问")
    [message] = notifications_of(bureau, "assignment.declined")
    assert "候补专家" in message.body and "近期出国访问" in message.body
    assert message.link.endswith(f"/applications/{assignment.application_id}/assignments")


def test_expert_never_sees_or_answers_another_experts_assignment(client, login):
    owner, other = pool_expert(), pool_expert()
    assignment = invite(owner)
    login(other.user)
    assert client.get(f"/expert/assignments/{assignment.id}").status_code == 404
    assert (
        client.post(
            f"/expert/assignments/{assignment.id}/accept", data={"no_conflict": "y"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/expert/assignments/{assignment.id}/decline", data={"reason": "x"}
        ).status_code
        == 404
    )
    assert assignment.application.title not in client.get("/expert/reviews").get_data(as_text=True)
    assert reload(assignment).state == "invited"


def test_expert_dashboard_panel_lists_open_invitations_and_due_reviews(client, login):
    expert = pool_expert()
    invited = invite(expert)
    due_soon = invite(expert, days=2)
    transition(due_soon, "accept", expert.user, no_conflict=True)
    login(expert.user)
    html = client.get("/").get_data(as_text=True)
    assert "Your reviews" in html
    assert "1 invitation awaits your answer" in html and invited.application.title in html
    assert "1 accepted review to write" in html and "2 days left" in html
