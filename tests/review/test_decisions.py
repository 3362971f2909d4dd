"""Decisions: approval within the request and the call's budget, declines with reasons, visibility."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.applications.models import ApplicationState
from grants.core.models import AuditEvent
from grants.core.workflow import GuardFailed
from grants.extensions import db
from grants.review import decisions as ops
from grants.review.models import Decision
from tests.applications.bureau_helpers import application_in_state
from tests.factories import make_user
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


def under_review_label() -> str:
    return str(ApplicationState.UNDER_REVIEW.label)


def test_approve_within_request_and_budget_writes_decision(app):
    officer = bureau()
    application = reviewed_application(fiscal="270000")
    decision = ops.approve(application, Decimal("200000"), officer)
    assert application.state == "approved"
    assert decision.outcome == "approve"
    assert decision.amount == Decimal("200000.00")
    assert decision.requested == Decimal("270000.00")
    assert decision.decided_by_id == officer.id and decision.released_at is None
    assert "decision.approve" in audit_actions(decision)
    event = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "application.approve", AuditEvent.object_id == str(application.id)
        )
    )
    assert event.after["amount"] == "200000.00" and event.after["state"] == "approved"


def test_approve_above_request_is_refused(app):
    application = reviewed_application(fiscal="270000")
    with pytest.raises(GuardFailed) as refused:
        ops.approve(application, Decimal("270000.01"), bureau())
    assert "cannot exceed" in refused.value.message
    assert reload(application).state == "reviewed"
    assert decision_of(application) is None


def test_approve_zero_is_refused(app):
    application = reviewed_application()
    with pytest.raises(GuardFailed):
        ops.approve(application, Decimal("0"), bureau())


def test_decision_check_rejects_amount_above_request_inserted_directly(app):
    application = reviewed_application(fiscal="100000")
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.add(
            Decision(
                application_id=application.id,
                outcome="approve",
                amount=Decimal("100000.01"),
                requested=Decimal("100000"),
            )
        )
        db.session.flush()


def test_approve_running_total_refuses_the_one_that_exceeds_budget(app):
    call = small_call(budget="500000")
    officer = bureau()
    first = reviewed_application(call=call, fiscal="200000")
    second = reviewed_application(call=call, fiscal="200000")
    third = reviewed_application(call=call, fiscal="200000")
    ops.approve(first, Decimal("200000"), officer)
    ops.approve(second, Decimal("200000"), officer)
    assert ops.approved_total(call) == Decimal("400000.00")
    with pytest.raises(GuardFailed) as refused:
        ops.approve(third, Decimal("100000.01"), officer)
    assert "budget" in refused.value.message
    assert reload(third).state == "reviewed"
    assert ops.budget_position(call).remaining == Decimal("100000.00")


def test_approve_exactly_at_budget_passes(app):
    call = small_call(budget="500000")
    officer = bureau()
    first = reviewed_application(call=call, fiscal="300000")
    second = reviewed_application(call=call, fiscal="300000")
    ops.approve(first, Decimal("300000"), officer)
    ops.approve(second, Decimal("200000"), officer)
    position = ops.budget_position(call)
    assert position.approved == position.budget and position.remaining == 0


def test_declined_applications_do_not_count_against_budget(app):
    call = small_call(budget="300000")
    officer = bureau()
    ops.decline(reviewed_application(call=call, fiscal="300000"), "创新性不足。", officer)
    ops.approve(reviewed_application(call=call, fiscal="300000"), Decimal("300000"), officer)
    assert ops.approved_total(call) == Decimal("300000.00")


def test_decline_requires_reasons(app):
    application = reviewed_application()
    with pytest.raises(GuardFailed):
        ops.decline(application, "   ", bureau())
    assert reload(application).state == "reviewed"
    decision = ops.decline(application, "技术路线不清晰。", bureau())
    assert application.state == "declined"
    assert (
        decision.outcome == "decline"
        and decision.amount is None
        and decision.reasons == "技术路线不清晰。"
    )
    assert "decision.decline" in audit_actions(decision)


def test_decisions_page_shows_running_total_and_remaining_budget(client, login):
    call = small_call(budget="1000000")
    approved_application(call=call, fiscal="250000")
    waiting = reviewed_application(call=call, fiscal="270000")
    login(bureau())
    page = client.get(f"/calls/{call.id}/decisions").get_data(as_text=True)
    assert "data-budget>CNY 100.00 × 10k<" in page  # budget in 万元, two decimals
    assert "data-approved-total>CNY 25.00 × 10k<" in page  # approved so far
    assert "data-remaining>CNY 75.00 × 10k<" in page  # remaining
    assert "100.0000" not in page
    assert f'id="application-{waiting.id}"' in page
    assert 'value="27"' in page  # the approve form defaults to the request, in 万元


def test_approve_view_takes_wan_and_redirects(client, login):
    call = small_call(budget="1000000")
    application = reviewed_application(call=call, fiscal="270000")
    login(bureau())
    response = client.post(
        f"/calls/{call.id}/decisions/{application.id}/approve",
        data={f"approve-{application.id}-amount": "20.5"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/calls/{call.id}/decisions#application-{application.id}"
    )
    assert decision_of(application).amount == Decimal("205000.00")
    page = client.get(f"/calls/{call.id}/decisions").get_data(as_text=True)
    assert "CNY 20.50 × 10k" in page and "data-remaining>CNY 79.50 × 10k<" in page


def test_approve_view_above_request_keeps_typed_amount(client, login):
    call = small_call(budget="1000000")
    application = reviewed_application(call=call, fiscal="270000")
    login(bureau())
    response = client.post(
        f"/calls/{call.id}/decisions/{application.id}/approve",
        data={f"approve-{application.id}-amount": "30"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="30"' in page and "cannot exceed" in page
    assert reload(application).state == "reviewed"
    assert decision_of(application) is None  # the app refused; the CHECK was never reached


def test_decline_view_without_reasons_is_refused(client, login):
    call = small_call()
    application = reviewed_application(call=call)
    login(bureau())
    response = client.post(
        f"/calls/{call.id}/decisions/{application.id}/decline",
        data={f"decline-{application.id}-reasons": ""},
    )
    assert response.status_code == 422
    assert reload(application).state == "reviewed"
    assert decision_of(application) is None
    response = client.post(
        f"/calls/{call.id}/decisions/{application.id}/decline",
        data={f"decline-{application.id}-reasons": "与本批次支持方向不符。"},
    )
    assert response.status_code == 302
    assert decision_of(application).reasons == "与本批次支持方向不符。"


def test_approve_view_rejects_application_of_another_call(client, login):
    application = reviewed_application()
    other = small_call()
    login(bureau())
    response = client.post(
        f"/calls/{other.id}/decisions/{application.id}/approve",
        data={f"approve-{application.id}-amount": "1"},
    )
    assert response.status_code == 404


def test_decision_invisible_to_applicant_before_release(app):
    approved = approved_application()
    declined = reviewed_application()
    ops.decline(declined, "创新性不足。", bureau())
    applicant = make_user("applicant", organisation=approved.organisation)
    for application in (approved, declined):
        assert ops.visible_state(application) == under_review_label()
        assert ops.applicant_outcome(application) is None
        assert outcome_html(app, application).strip() == ""
    assert ops.visible_state(approved, applicant) == under_review_label()
    assert ops.visible_state(approved, bureau()) == str(ApplicationState.APPROVED.label)


def test_visible_state_shows_earlier_states_unchanged(app):
    application = reviewed_application()
    assert ops.visible_state(application) == under_review_label()
    assert ops.visible_state(application_in_state("returned")) == str(
        ApplicationState.RETURNED.label
    )


def test_decisions_page_shows_mean_and_trimmed_mean(client, login):
    from tests.review.decision_helpers import add_review

    call = small_call(trimmed_mean_min_reviews=3)
    application = reviewed_application(call=call)  # totals 70, 71, 72
    add_review(application, total="100")
    login(bureau())
    page = client.get(f"/calls/{call.id}/decisions").get_data(as_text=True)
    row = page[page.index(f'id="application-{application.id}"') :]
    # mean 78.25 and trimmed mean 71.5, shown to one decimal rounded half up
    assert ">4<" in row[:600] and ">78.3<" in row and ">71.5<" in row
    assert "78.25" not in row and "71.50" not in row
