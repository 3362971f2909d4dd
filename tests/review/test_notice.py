"""The public notice (公示): drafting, the publish and close guards, the public pages."""

from datetime import date
from decimal import Decimal

import pytest

from grants.core.timeutil import local_today
from grants.core.workflow import GuardFailed
from grants.review import decisions as ops
from grants.review.models import PublicNotice
from tests.review.decision_helpers import (  # noqa: F401 (english is a fixture)
    approved_application,
    audit_actions,
    bureau,
    days,
    english,
    notice_for,
    objection_data,
    reload,
    reviewed_application,
    small_call,
)

pytestmark = pytest.mark.usefixtures("english")


def test_working_days_counts_monday_to_friday():
    monday = date(2026, 3, 2)
    assert ops.working_days(monday, monday + days(4)) == 5
    assert ops.working_days(monday, monday + days(6)) == 5
    assert ops.working_days(monday + days(4), monday + days(8)) == 3  # Fri, Mon, Tue
    assert ops.working_days(monday, monday - days(1)) == 0
    assert ops.default_end(monday + days(4)) == monday + days(10)  # Fri → next Thu


def test_period_warning_below_five_working_days(app):
    monday = date(2026, 3, 2)
    assert "only 3 working days" in ops.period_warning(monday, monday + days(2))
    assert ops.period_warning(monday, monday + days(4)) is None


def test_notice_publish_refused_without_approved_application(app):
    call = small_call()
    reviewed_application(call=call)
    notice = notice_for(call, publish=False)
    with pytest.raises(GuardFailed) as refused:
        ops.publish_notice(notice, bureau())
    assert "no approved application" in refused.value.message
    assert reload(notice).state == "draft"


def test_notice_publish_refused_when_period_has_ended(app):
    call = small_call()
    approved_application(call=call)
    today = local_today()
    notice = notice_for(call, starts_on=today - days(10), ends_on=today - days(1), publish=False)
    with pytest.raises(GuardFailed):
        ops.publish_notice(notice, bureau())


def test_notice_publish_stamps_time_and_lists_approved(app):
    call = small_call()
    approved = approved_application(call=call)
    reviewed_application(call=call)
    notice = notice_for(call)
    assert notice.state == "published" and notice.published_at is not None
    assert [a.id for a, _d in ops.noticed_applications(notice)] == [approved.id]
    assert audit_actions(notice)[-2:] == ["notice.listed", "notice.publish"]


def test_notice_lists_only_approvals_made_before_publication(app):
    call = small_call()
    first = approved_application(call=call)
    later = reviewed_application(call=call)
    notice = notice_for(call)
    ops.approve(later, later.fiscal_total, bureau())
    assert [a.id for a, _d in ops.noticed_applications(notice)] == [first.id]


def test_notice_create_rejects_end_before_start(client, login):
    call = small_call()
    login(bureau())
    response = client.post(
        f"/calls/{call.id}/notices/new",
        data={"title": "公示", "body": "", "starts_on": "2026-05-10", "ends_on": "2026-05-01"},
    )
    assert response.status_code == 422
    assert "cannot end before it starts" in response.get_data(as_text=True)
    assert 'value="公示"' in response.get_data(as_text=True)


def test_notice_create_with_short_period_warns_but_saves(client, login):
    call = small_call()
    login(bureau())
    monday = date(2026, 3, 2)
    response = client.post(
        f"/calls/{call.id}/notices/new",
        data={
            "title": "立项公示",
            "body": "正文",
            "starts_on": monday.isoformat(),
            "ends_on": (monday + days(1)).isoformat(),
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "only 2 working days" in response.get_data(as_text=True)
    notice = PublicNotice.query.filter_by(call_id=call.id).one()
    assert notice.state == "draft" and notice.ends_on == monday + days(1)


def test_notice_publish_view_shows_guard_message(client, login):
    call = small_call()
    notice = notice_for(call, publish=False)
    login(bureau())
    response = client.post(f"/notices/{notice.id}/publish")
    assert response.status_code == 422
    assert "no approved application" in response.get_data(as_text=True)


def test_public_notice_without_login_shows_approved_only(client):
    call = small_call()
    approved = approved_application(call=call, fiscal="270000", amount="200000")
    declined = reviewed_application(call=call)
    ops.decline(declined, "创新性不足。", bureau())
    undecided = reviewed_application(call=call)
    notice = notice_for(call)
    page = client.get(f"/notices/{notice.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert approved.organisation.name in html and approved.title in html
    assert "20.00" in html and call.title in html and notice.body in html
    for hidden in (declined, undecided):
        assert hidden.title not in html and hidden.organisation.name not in html
    # nothing beyond organisation, title, amount, call and the notice text
    assert approved.reference_no not in html
    assert approved.organisation.uscc not in html
    assert approved.summary not in html
    assert "27.00" not in html  # the amount requested


def test_public_notice_draft_is_404(client):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call, publish=False)
    assert client.get(f"/notices/{notice.id}").status_code == 404
    assert client.get("/notices/999999").status_code == 404


def test_public_notice_list_shows_published_not_drafts(client):
    call = small_call()
    approved_application(call=call)
    published = notice_for(call)
    draft = ops.create_notice(
        call,
        {
            "title": "草稿公示不可见",
            "body": "",
            "starts_on": local_today(),
            "ends_on": local_today() + days(7),
        },
        bureau(),
    )
    html = client.get("/notices").get_data(as_text=True)
    assert published.title in html and f"/notices/{published.id}" in html
    assert draft.title not in html


def test_public_notice_after_overturn_drops_the_application(client):
    call = small_call()
    kept = approved_application(call=call)
    overturned = approved_application(call=call)
    notice = notice_for(call)
    officer = bureau()
    objection = ops.record_objection(notice, overturned.id, objection_data(), officer)
    ops.resolve_objection(
        objection, "uphold", "经核实，合作协议系伪造。", officer, overturn_approval=True
    )
    html = client.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert kept.title in html and overturned.title not in html


def test_notice_close_refused_before_end_date(app):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call)
    with pytest.raises(GuardFailed) as refused:
        ops.close_notice(notice, bureau())
    assert "runs until" in refused.value.message
    with pytest.raises(GuardFailed):
        ops.close_notice(notice, bureau(), force=True, reason="  ")
    ops.close_notice(notice, bureau(), force=True, reason="公示材料有误，重新公示。")
    assert notice.state == "closed"
    assert audit_actions(notice)[-1] == "notice.close"


def test_notice_close_after_end_date_passes(app, monkeypatch):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call)
    monkeypatch.setattr(ops, "local_today", lambda: notice.ends_on + days(1))
    ops.close_notice(notice, None)  # the system may close it once it has ended
    assert notice.state == "closed"


def test_notice_close_refused_while_objection_open(app, monkeypatch):
    call = small_call()
    application = approved_application(call=call)
    notice = notice_for(call)
    ops.record_objection(notice, application.id, objection_data(), bureau())
    monkeypatch.setattr(ops, "local_today", lambda: notice.ends_on + days(1))
    with pytest.raises(GuardFailed) as refused:
        ops.close_notice(notice, bureau())
    assert "open objections" in refused.value.message


def test_notice_close_view_early_without_reason_keeps_page(client, login):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call)
    login(bureau())
    response = client.post(
        f"/notices/{notice.id}/close", data={"close-force": "y", "close-reason": ""}
    )
    assert response.status_code == 422
    assert "Give the reason" in response.get_data(as_text=True)
    response = client.post(
        f"/notices/{notice.id}/close", data={"close-force": "y", "close-reason": "发布有误"}
    )
    assert response.status_code == 302
    assert reload(notice).state == "closed"


def test_published_notice_cannot_be_edited(app):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call)
    with pytest.raises(ops.DecisionError):
        ops.update_notice(
            notice,
            {"title": "改", "body": "", "starts_on": notice.starts_on, "ends_on": notice.ends_on},
            bureau(),
        )


def test_notice_page_shows_listed_amounts(client, login):
    call = small_call()
    approved_application(call=call, fiscal="270000", amount="123456")
    notice = notice_for(call)
    login(bureau())
    html = client.get(f"/notices/{notice.id}/manage").get_data(as_text=True)
    assert "CNY 12.35 × 10k" in html and "12.3456" not in html  # 万元 to two decimals
    assert Decimal("123456") == ops.noticed_applications(notice)[0][1].amount


def test_notice_edit_draft_updates_and_audits(client, login):
    call = small_call()
    approved_application(call=call)
    notice = notice_for(call, publish=False)
    login(bureau())
    assert client.get(f"/notices/{notice.id}/edit").status_code == 200
    response = client.post(
        f"/notices/{notice.id}/edit",
        data={
            "title": "关于拟立项项目的公示（更正）",
            "body": "正文",
            "starts_on": notice.starts_on.isoformat(),
            "ends_on": notice.ends_on.isoformat(),
        },
    )
    assert response.status_code == 302
    assert reload(notice).title == "关于拟立项项目的公示（更正）"
    assert audit_actions(notice) == ["notice.created", "notice.updated"]
    client.post(f"/notices/{notice.id}/publish")
    assert reload(notice).state == "published"
    response = client.get(f"/notices/{notice.id}/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/notices/{notice.id}/manage"
    )
