"""The applicants' list of open calls and the page of one call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale

from grants.core.types import utcnow
from grants.extensions import db
from grants.programmes import operations as ops
from grants.programmes import views
from tests.factories import CallFactory, ClusterFactory, make_user
from tests.programmes.helpers import call_form_data

NOW = datetime(2026, 3, 20, 4, 0, tzinfo=UTC)  # 12:00 Beijing time


@pytest.fixture
def applicant(login):
    user = make_user("applicant", locale="en")
    login(user)
    return user


def test_open_calls_lists_only_calls_open_now_soonest_first(client, applicant):
    later = CallFactory(title="晚截止的指南", closes_at=utcnow() + timedelta(days=40))
    sooner = CallFactory(title="早截止的指南", closes_at=utcnow() + timedelta(days=3))
    CallFactory(title="草稿指南", state="draft", published_at=None)
    CallFactory(title="已关闭指南", state="closed", closed_at=utcnow())
    CallFactory(
        title="过期未关闭指南",
        opens_at=utcnow() - timedelta(days=30),
        closes_at=utcnow() - timedelta(hours=1),
    )
    upcoming = CallFactory(
        title="即将开放的指南",
        opens_at=utcnow() + timedelta(days=5),
        closes_at=utcnow() + timedelta(days=35),
    )
    response = client.get("/calls")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    opening_soon = html.index("即将开放的指南")
    assert html.index("早截止的指南") < html.index("晚截止的指南") < opening_soon
    for hidden in ("草稿指南", "已关闭指南", "过期未关闭指南"):
        assert hidden not in html
    assert html.count('class="card h-100 open-call"') == 2
    assert html.count('class="upcoming-call"') == 1
    assert (
        f"/calls/{later.id}" in html
        and f"/calls/{sooner.id}" in html
        and f"/calls/{upcoming.id}" in html
    )


def test_open_calls_show_level_category_clusters_cap_in_wan_close_time_and_countdown(
    client, applicant, monkeypatch
):
    monkeypatch.setattr(views, "utcnow", lambda: NOW)
    call = CallFactory(
        opens_at=NOW - timedelta(days=1),
        closes_at=datetime(2026, 3, 23, 9, 0, tzinfo=UTC),
        cap_per_project=Decimal("500000"),
        funding_level="province",
        category="transfer",
    )
    call.clusters.append(ClusterFactory(name_zh="医药健康", name_en="Medicine and health"))
    db.session.flush()
    html = client.get("/calls").get_data(as_text=True)
    assert "CNY 50.00 × 10k" in html
    assert "2026-03-23 17:00" in html
    assert "3 days 5 hours left" in html
    assert "Medicine and health" in html
    assert "Provincial programme" in html and "Commercialisation of results" in html


def test_call_is_not_open_at_its_close_time(app):
    call = CallFactory(opens_at=NOW - timedelta(days=10), closes_at=NOW)
    assert call.is_open(at=NOW - timedelta(microseconds=1)) is True
    assert call.is_open(at=NOW) is False
    assert call.is_open(at=call.opens_at) is True
    assert call.is_open(at=call.opens_at - timedelta(microseconds=1)) is False
    assert call not in ops.open_calls(at=NOW)
    assert call in ops.open_calls(at=NOW - timedelta(seconds=1))


def test_open_calls_page_at_the_close_time_no_longer_lists_the_call(client, applicant, monkeypatch):
    CallFactory(title="到点截止的指南", opens_at=NOW - timedelta(days=10), closes_at=NOW)
    monkeypatch.setattr(views, "utcnow", lambda: NOW)
    assert "到点截止的指南" not in client.get("/calls").get_data(as_text=True)
    monkeypatch.setattr(views, "utcnow", lambda: NOW - timedelta(seconds=1))
    assert "到点截止的指南" in client.get("/calls").get_data(as_text=True)


def test_countdown_counts_days_and_hours(app):
    with app.test_request_context(), force_locale("en"):
        assert (
            views.countdown(NOW + timedelta(days=2, hours=3, minutes=59), NOW)
            == "2 days 3 hours left"
        )
        assert views.countdown(NOW + timedelta(days=1), NOW) == "1 day left"
        assert views.countdown(NOW + timedelta(hours=5), NOW) == "5 hours left"
        assert views.countdown(NOW + timedelta(minutes=20), NOW) == "Less than an hour left"


def test_call_detail_shows_guide_rules_rubric_and_attachments(client, applicant):
    call = CallFactory(
        guide="第一段第一行\n第一段第二行\n\n第二段<script>alert(1)</script>",
        min_self_raised_ratio=Decimal("0.5"),
        indirect_cost_ratio=Decimal("0.2"),
        max_duration_months=24,
        required_qualification="national_high_tech",
        concurrent_cap=2,
    )
    response = client.get(f"/calls/{call.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<p>第一段第一行<br>第一段第二行</p>" in html
    assert "<p>第二段&lt;script&gt;alert(1)&lt;/script&gt;</p>" in html
    assert "<script>alert(1)" not in html
    assert "CNY 50.00 × 10k" in html and "50%" in html and "20%" in html
    assert "24 months" in html
    assert "National high-tech enterprise" in html
    assert "2 projects running per organisation" in html
    # the English page names criteria and attachments in English (the Chinese page in Chinese)
    assert html.count('class="criterion"') == 2 and "Technical merit" in html and "0–10" in html
    assert '<td class="text-end fw-semibold">100</td>' in html
    assert "Business licence" in html and "营业执照" not in html
    assert f"/calls/{call.id}/edit" not in html and f"/calls/{call.id}/close" not in html


def test_call_pages_show_money_in_wan_for_chinese_users(client, login):
    call = CallFactory(cap_per_project=Decimal("123456"), total_budget=Decimal("5000000"))
    login(make_user("applicant"))
    assert "12.35 万元" in client.get("/calls").get_data(as_text=True)
    html = client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "12.35 万元" in html and "500.00 万元" in html
    assert "技术先进性" in html and "Technical merit" not in html and "Business licence" not in html


def test_call_detail_apply_link_only_when_the_endpoint_exists(client, applicant, app):
    call = CallFactory()
    html = client.get(f"/calls/{call.id}").get_data(as_text=True)
    if "applications.new" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            assert url_for("applications.new", call_id=call.id) in html
    else:
        assert "Apply" not in html


def test_call_detail_of_closed_call_offers_no_apply_link(client, applicant, app):
    call = CallFactory(state="closed", closed_at=utcnow())
    response = client.get(f"/calls/{call.id}")
    assert response.status_code == 200
    assert "This call is closed" in response.get_data(as_text=True)
    if "applications.new" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            assert url_for("applications.new", call_id=call.id) not in response.get_data(
                as_text=True
            )


def test_call_detail_of_draft_is_404_for_applicants(client, applicant):
    call = CallFactory(state="draft", published_at=None)
    assert client.get(f"/calls/{call.id}").status_code == 404


def test_call_detail_of_draft_is_shown_to_bureau_with_notice(client, login):
    call = CallFactory(state="draft", published_at=None)
    login(make_user("bureau", locale="en"))
    response = client.get(f"/calls/{call.id}")
    assert response.status_code == 200
    assert "only the bureau can see it" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/calls/manage"),
        ("get", "/calls/new"),
        ("post", "/calls/new"),
        ("get", "/calls/{id}/edit"),
        ("post", "/calls/{id}/edit"),
        ("post", "/calls/{id}/publish"),
        ("post", "/calls/{id}/close"),
        ("post", "/calls/{id}/clone"),
        ("post", "/calls/rubric-total"),
    ],
)
def test_management_pages_are_forbidden_to_applicants(client, applicant, method, path):
    call = CallFactory()
    response = getattr(client, method)(path.format(id=call.id), data=call_form_data())
    assert response.status_code == 403
    db.session.expire_all()
    assert call.state == "published"


def test_call_pages_send_anonymous_visitors_to_sign_in(client):
    call = CallFactory()
    for path in ("/calls", f"/calls/{call.id}", "/calls/manage"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
