"""Objections during the public notice: recorded within the period, upheld (overturning) or dismissed."""

import pytest
import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.timeutil import local_today
from grants.core.workflow import GuardFailed
from grants.extensions import db
from grants.notifications.models import Notification
from grants.review import decisions as ops
from grants.review.models import Objection
from tests.factories import make_user
from tests.review.decision_helpers import (  # noqa: F401 (english is a fixture)
    approved_application,
    audit_actions,
    bureau,
    days,
    decision_of,
    english,
    notice_for,
    objection_data,
    reload,
    reviewed_application,
    small_call,
)

pytestmark = pytest.mark.usefixtures("english")


def _noticed(starts_in: int = -2):
    """An approved application on a published notice that started ``starts_in`` days from today."""
    call = small_call()
    application = approved_application(call=call)
    start = local_today() + days(starts_in)
    notice = notice_for(call, starts_on=start, ends_on=local_today() + days(5))
    return application, notice


def test_objection_recorded_within_period(app):
    application, notice = _noticed()
    objection = ops.record_objection(
        notice, application.id, objection_data(received_on=notice.starts_on), bureau()
    )
    assert objection.state == "open" and objection.application_id == application.id
    assert audit_actions(objection) == ["objection.recorded"]


def test_objection_refused_before_period_starts(app):
    application, notice = _noticed()
    with pytest.raises(ops.DecisionError) as refused:
        ops.record_objection(
            notice, application.id, objection_data(received_on=notice.starts_on - days(1)), bureau()
        )
    assert (
        refused.value.field == "received_on"
        and "outside the notice period" in refused.value.message
    )


def test_objection_refused_after_period_ends(app, monkeypatch):
    application, notice = _noticed()
    monkeypatch.setattr(ops, "local_today", lambda: notice.ends_on + days(3))
    with pytest.raises(ops.DecisionError) as refused:
        ops.record_objection(
            notice, application.id, objection_data(received_on=notice.ends_on + days(1)), bureau()
        )
    assert "outside the notice period" in refused.value.message
    ops.record_objection(
        notice, application.id, objection_data(received_on=notice.ends_on), bureau()
    )


def test_objection_refused_with_future_date(app):
    application, notice = _noticed()
    with pytest.raises(ops.DecisionError):
        ops.record_objection(
            notice, application.id, objection_data(received_on=local_today() + days(1)), bureau()
        )


def test_objection_refused_for_application_not_on_notice(app):
    _application, notice = _noticed()
    other = approved_application()
    with pytest.raises(ops.DecisionError) as refused:
        ops.record_objection(notice, other.id, objection_data(), bureau())
    assert refused.value.field == "application_id"


def test_objection_refused_on_draft_notice(app):
    call = small_call()
    application = approved_application(call=call)
    notice = notice_for(call, publish=False)
    with pytest.raises(ops.DecisionError):
        ops.record_objection(notice, application.id, objection_data(), bureau())


def test_objection_view_outside_period_keeps_input(client, login):
    application, notice = _noticed()
    login(bureau())
    response = client.post(
        f"/notices/{notice.id}/objections",
        data={
            "objection-application_id": application.id,
            "objection-raised_by": "李某",
            "objection-contact": "",
            "objection-text": "材料不实。",
            "objection-received_on": (notice.starts_on - days(1)).isoformat(),
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "outside the notice period" in html and "材料不实。" in html and 'value="李某"' in html
    assert db.session.scalar(sa.select(sa.func.count(Objection.id))) == 0


def test_objection_uphold_then_overturn_declines_with_audit(client, login):
    application, notice = _noticed()
    applicant = make_user("applicant", organisation=application.organisation)
    officer = bureau()
    objection = ops.record_objection(notice, application.id, objection_data(), officer)
    login(officer)
    response = client.post(
        f"/objections/{objection.id}/resolve",
        data={
            "event": "uphold",
            f"resolve-{objection.id}-resolution": "经核实，合作协议系伪造。",
            f"resolve-{objection.id}-overturn": "y",
        },
    )
    assert response.status_code == 302
    objection = reload(objection)
    assert objection.state == "upheld" and objection.resolved_by_id == officer.id
    application = reload(application)
    assert application.state == "declined"
    decision = decision_of(application)
    assert decision.outcome == "decline" and decision.amount is None
    assert decision.reasons == "经核实，合作协议系伪造。"
    assert "decision.overturn" in audit_actions(decision)
    event = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "application.overturn", AuditEvent.object_id == str(application.id)
        )
    )
    assert event.before == {"state": "approved"} and event.after["state"] == "declined"
    assert ops.approved_total(application.call) == 0
    # not released yet: the applicant is not told (and still reads "under review")
    assert (
        db.session.scalars(
            sa.select(Notification).where(Notification.user_id == applicant.id)
        ).all()
        == []
    )


def test_objection_uphold_without_overturn_then_overturn_separately(app):
    application, notice = _noticed()
    officer = bureau()
    objection = ops.record_objection(notice, application.id, objection_data(), officer)
    ops.resolve_objection(objection, "uphold", "部分属实。", officer)
    assert application.state == "approved"
    ops.overturn(application, "异议成立，撤销立项。", officer)
    assert (
        application.state == "declined"
        and decision_of(application).reasons == "异议成立，撤销立项。"
    )


def test_overturn_refused_without_upheld_objection(app):
    application, notice = _noticed()
    with pytest.raises(GuardFailed):
        ops.overturn(application, "无理由", bureau())
    objection = ops.record_objection(notice, application.id, objection_data(), bureau())
    ops.resolve_objection(objection, "dismiss", "经核实，异议不成立。", bureau())
    with pytest.raises(GuardFailed):
        ops.overturn(application, "", bureau())


def test_objection_dismiss_keeps_approval(client, login):
    application, notice = _noticed()
    objection = ops.record_objection(notice, application.id, objection_data(), bureau())
    login(bureau())
    response = client.post(
        f"/objections/{objection.id}/resolve",
        data={
            "event": "dismiss",
            f"resolve-{objection.id}-resolution": "经核实，异议不成立。",
            f"resolve-{objection.id}-overturn": "y",
        },
    )
    assert response.status_code == 302
    assert reload(objection).state == "dismissed"
    assert reload(application).state == "approved"
    assert decision_of(application).outcome == "approve"


def test_objection_resolution_required(client, login):
    application, notice = _noticed()
    objection = ops.record_objection(notice, application.id, objection_data(), bureau())
    login(bureau())
    response = client.post(
        f"/objections/{objection.id}/resolve",
        data={"event": "uphold", f"resolve-{objection.id}-resolution": " "},
    )
    assert response.status_code == 422
    assert reload(objection).state == "open"


def test_contract_blockers_list_open_objection_and_running_notice(app, monkeypatch):
    application, notice = _noticed()
    officer = bureau()
    objection = ops.record_objection(notice, application.id, objection_data(), officer)
    blockers = ops.contract_blockers(application)
    assert any("not been released" in b for b in blockers)
    assert any("has not been closed" in b for b in blockers)
    assert any("1 objection" in b for b in blockers)
    ops.resolve_objection(objection, "dismiss", "不成立。", officer)
    for review in ops.submitted_reviews(application):
        ops.approve_released_comment(review, "同意。", officer)
    ops.release_decisions(application.call, officer)
    monkeypatch.setattr(ops, "local_today", lambda: notice.ends_on + days(1))
    ops.close_notice(notice, officer)
    assert ops.contract_blockers(application) == []


def test_contract_blockers_for_approval_never_noticed(app):
    application = approved_application()
    assert any("not been on a public notice" in b for b in ops.contract_blockers(application))
    declined = reviewed_application()
    ops.decline(declined, "创新性不足。", bureau())
    assert ops.contract_blockers(declined) == ["The application is not approved."]
