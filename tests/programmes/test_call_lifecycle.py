"""Publishing, closing and reopening calls, and what may change once published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from grants.core.types import utcnow
from grants.extensions import db
from tests.factories import CallFactory, ClusterFactory, make_user
from tests.programmes.helpers import audit_events, call_form_data, reload


@pytest.fixture
def bureau(login):
    user = make_user("bureau", locale="en")
    login(user)
    return user


def draft_call(**kwargs):
    call = CallFactory(state="draft", published_at=None, **kwargs)
    call.clusters.append(ClusterFactory())
    db.session.flush()
    return call


def test_publish_ready_draft_publishes_and_audits(client, bureau):
    call = draft_call()
    response = client.post(f"/calls/{call.id}/publish", follow_redirects=True)
    assert response.status_code == 200
    call = reload(call)
    assert call.state == "published" and call.published_at is not None
    [event] = audit_events("call.publish", call)
    assert (event.actor_id, event.before, event.after) == (
        bureau.id,
        {"state": "draft"},
        {"state": "published"},
    )
    assert f"The call {call.code} is published." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("criteria", "Add at least one review criterion."),
        ("clusters", "Choose the industry clusters the call targets."),
        ("closed", "The close time is already past."),
    ],
)
def test_publish_refused_by_guard_shows_reason_and_keeps_draft(client, bureau, problem, message):
    call = CallFactory(state="draft", published_at=None, rubric=problem != "criteria")
    if problem != "clusters":
        call.clusters.append(ClusterFactory())
    if problem == "closed":
        call.opens_at = utcnow() - timedelta(days=10)
        call.closes_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    response = client.post(f"/calls/{call.id}/publish", follow_redirects=True)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert reload(call).state == "draft"
    assert audit_events("call.publish", call) == []


def test_call_page_shows_buttons_the_workflow_allows(client, bureau):
    draft = draft_call()
    html = client.get(f"/calls/{draft.id}").get_data(as_text=True)
    assert f"/calls/{draft.id}/publish" in html and f"/calls/{draft.id}/close" not in html
    published = CallFactory()
    html = client.get(f"/calls/{published.id}").get_data(as_text=True)
    assert f"/calls/{published.id}/close" in html and f"/calls/{published.id}/publish" not in html
    assert f"/calls/{published.id}/reopen" not in html


def test_published_call_edit_form_offers_only_guide_and_close_time(client, bureau):
    call = CallFactory()
    html = client.get(f"/calls/{call.id}/edit").get_data(as_text=True)
    assert 'name="closes_at"' in html and 'name="guide"' in html
    assert 'name="title"' not in html and 'name="cap_per_project"' not in html
    assert 'name="criteria-0-weight"' not in html


def test_published_call_ignores_changes_to_other_settings(client, bureau):
    call = CallFactory(title="原标题")
    new_close = (call.closes_at + timedelta(days=7)).astimezone(UTC)
    local = (new_close + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
    data = call_form_data(
        title="篡改的标题",
        cap_per_project="1",
        guide="更新的指南",
        closes_at=local,
        **{"criteria-0-weight": "1"},
    )
    response = client.post(f"/calls/{call.id}/edit", data=data)
    assert response.status_code == 302
    call = reload(call)
    assert call.title == "原标题" and call.cap_per_project == Decimal("500000.00")
    assert call.criteria[0].weight == Decimal("60")
    assert call.guide == "更新的指南"
    assert call.closes_at == new_close.replace(second=0, microsecond=0)


def test_published_call_later_close_time_extends_and_is_audited(client, bureau):
    call = CallFactory(closes_at=datetime(2099, 3, 31, 9, 0, tzinfo=UTC))
    response = client.post(
        f"/calls/{call.id}/edit",
        data={"closes_at": "2099-04-15T17:00", "guide": call.guide},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "2099-04-15 17:00" in response.get_data(as_text=True)
    assert reload(call).closes_at == datetime(2099, 4, 15, 9, 0, tzinfo=UTC)
    [event] = audit_events("call.close_time_changed", call)
    assert event.before == {"closes_at": "2099-03-31T09:00:00+00:00"}
    assert event.after == {"closes_at": "2099-04-15T09:00:00+00:00"}
    assert event.actor_id == bureau.id
    assert audit_events("call.guide_changed", call) == []


def test_published_call_earlier_close_time_is_refused(client, bureau):
    call = CallFactory(closes_at=datetime(2099, 3, 31, 9, 0, tzinfo=UTC))
    response = client.post(
        f"/calls/{call.id}/edit", data={"closes_at": "2099-03-30T17:00", "guide": "新指南"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="closes_at-error"' in html and "新指南" in html
    assert reload(call).closes_at == datetime(2099, 3, 31, 9, 0, tzinfo=UTC)
    assert audit_events("call.close_time_changed", call) == []


def test_published_call_guide_change_is_audited(client, bureau):
    call = CallFactory(guide="旧")
    local_close = (call.closes_at + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/calls/{call.id}/edit", data={"closes_at": local_close, "guide": "新"})
    [event] = audit_events("call.guide_changed", call)
    assert (event.before, event.after) == ({"guide": "旧"}, {"guide": "新"})


def test_close_then_reopen_after_extending(client, bureau):
    call = CallFactory()
    client.post(f"/calls/{call.id}/close")
    call = reload(call)
    assert call.state == "closed" and call.closed_at is not None
    assert [e.after["state"] for e in audit_events("call.close", call)] == ["closed"]
    client.post(f"/calls/{call.id}/reopen")
    call = reload(call)
    assert call.state == "published" and call.closed_at is None


def test_reopen_with_past_close_time_is_refused_until_extended(client, bureau):
    call = CallFactory(
        opens_at=utcnow() - timedelta(days=40), closes_at=utcnow() - timedelta(days=1)
    )
    client.post(f"/calls/{call.id}/close")
    response = client.post(f"/calls/{call.id}/reopen", follow_redirects=True)
    assert "Set a close time in the future before reopening the call." in response.get_data(
        as_text=True
    )
    assert reload(call).state == "closed"
    later = (utcnow() + timedelta(days=10, hours=8)).strftime("%Y-%m-%dT%H:%M")
    assert (
        client.post(f"/calls/{call.id}/edit", data={"closes_at": later, "guide": ""}).status_code
        == 302
    )
    client.post(f"/calls/{call.id}/reopen")
    assert reload(call).state == "published"


def test_close_of_a_draft_is_refused(client, bureau):
    call = draft_call()
    response = client.post(f"/calls/{call.id}/close", follow_redirects=True)
    assert "This action is not possible in the current state." in response.get_data(as_text=True)
    assert reload(call).state == "draft"
