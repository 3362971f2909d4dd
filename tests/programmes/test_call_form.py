"""Creating and editing draft calls: every validation, Beijing time, 万元 and percentages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.extensions import db
from grants.programmes.models import Call
from tests.factories import CallFactory, ClusterFactory, make_user
from tests.programmes.helpers import audit_events, call_by_code, call_count, call_form_data


@pytest.fixture
def bureau(login):
    user = make_user("bureau", locale="en")
    login(user)
    return user


def test_new_call_form_shows_beijing_time_and_defaults(client, bureau):
    ClusterFactory(name_zh="医药健康", name_en="Medicine and health")
    response = client.get("/calls/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'type="datetime-local"' in html
    assert "UTC+8" in html
    assert "Medicine and health" in html
    assert 'value="50"' in html and 'value="20"' in html


def test_new_call_saves_draft_with_rubric_attachments_and_audit(client, bureau):
    pharma, tourism = ClusterFactory(name_zh="医药健康"), ClusterFactory(name_zh="现代旅游")
    response = client.post(
        "/calls/new",
        data=call_form_data(
            clusters=[pharma, tourism],
            required_qualification="national_high_tech",
            concurrent_cap="2",
        ),
    )
    assert response.status_code == 302
    call = call_by_code("2026-EDJ-KJGG")
    assert response.headers["Location"].endswith(f"/calls/{call.id}")
    assert call.state == "draft" and call.published_at is None
    assert {c.name_zh for c in call.clusters} == {"医药健康", "现代旅游"}
    assert [(c.position, c.name_zh, c.weight, c.min_score, c.max_score) for c in call.criteria] == [
        (1, "技术先进性", Decimal("60"), Decimal("0"), Decimal("10")),
        (2, "经济社会效益", Decimal("40"), Decimal("0"), Decimal("10")),
    ]
    assert [(a.code, a.name_zh, a.required) for a in call.attachment_requirements] == [
        ("licence", "营业执照", True)
    ]
    assert (call.required_qualification, call.concurrent_cap, call.blind_review) == (
        "national_high_tech",
        2,
        True,
    )
    assert call.guide == "一、支持方向\n\n二、申报条件"
    [event] = audit_events("call.created", call)
    assert event.actor_id == bureau.id
    assert event.after["code"] == "2026-EDJ-KJGG" and len(event.after["criteria"]) == 2


def test_new_call_converts_beijing_time_to_utc(client, bureau):
    client.post(
        "/calls/new", data=call_form_data(opens_at="2026-03-01T08:00", closes_at="2026-03-31T17:00")
    )
    call = call_by_code("2026-EDJ-KJGG")
    assert call.closes_at == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    assert call.opens_at == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_new_call_converts_wan_and_percentages(client, bureau):
    client.post(
        "/calls/new",
        data=call_form_data(
            total_budget="1,234.5678",
            cap_per_project="12.3456",
            min_self_raised_pct="33.33",
            indirect_cost_pct="100",
        ),
    )
    call = call_by_code("2026-EDJ-KJGG")
    assert call.total_budget == Decimal("12345678.00")
    assert call.cap_per_project == Decimal("123456.00")
    assert call.min_self_raised_ratio == Decimal("0.3333")
    assert call.indirect_cost_ratio == Decimal("1.0000")


def test_edit_form_shows_stored_values_in_beijing_time_wan_and_percent(client, bureau):
    call = CallFactory(
        state="draft",
        published_at=None,
        code="2026-EDJ-X",
        closes_at=datetime(2026, 3, 31, 9, 0, tzinfo=UTC),
        opens_at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
        total_budget=Decimal("5000000"),
        cap_per_project=Decimal("123456"),
        min_self_raised_ratio=Decimal("0.5"),
    )
    html = client.get(f"/calls/{call.id}/edit").get_data(as_text=True)
    assert 'value="2026-03-31T17:00"' in html
    assert 'value="2026-03-01T08:00"' in html
    assert 'value="500"' in html and 'value="12.3456"' in html
    assert 'id="min_self_raised_pct"' in html and 'value="50"' in html
    assert "技术先进性" in html and "licence" in html


@pytest.mark.parametrize(
    ("overrides", "error_field"),
    [
        ({"cap_per_project": "600"}, "cap_per_project"),
        ({"cap_per_project": "0"}, "cap_per_project"),
        ({"total_budget": "-5"}, "total_budget"),
        ({"total_budget": "100.12345"}, "total_budget"),
        ({"total_budget": "lots"}, "total_budget"),
        ({"min_self_raised_pct": "100"}, "min_self_raised_pct"),
        ({"min_self_raised_pct": "-1"}, "min_self_raised_pct"),
        ({"min_self_raised_pct": "12.345"}, "min_self_raised_pct"),
        ({"indirect_cost_pct": "100.01"}, "indirect_cost_pct"),
        ({"indirect_cost_pct": "abc"}, "indirect_cost_pct"),
        ({"closes_at": "2026-03-01T09:00"}, "closes_at"),
        ({"closes_at": "2026-02-28T09:00"}, "closes_at"),
        ({"closes_at": "31/03/2026"}, "closes_at"),
        ({"trimmed_mean_min_reviews": "2"}, "trimmed_mean_min_reviews"),
        (
            {"reviewers_per_application": "16", "trimmed_mean_min_reviews": "3"},
            "reviewers_per_application",
        ),
        ({"concurrent_cap": "0"}, "concurrent_cap"),
        ({"max_duration_months": "0"}, "max_duration_months"),
        ({"code": "2026 EDJ"}, "code"),
        ({"title": ""}, "title"),
        ({"funding_level": "county"}, "funding_level"),
        ({"required_qualification": "nobel_prize"}, "required_qualification"),
        ({"criteria-1-weight": "0"}, "criteria-1-weight"),
        ({"criteria-1-weight": "-3"}, "criteria-1-weight"),
        ({"criteria-1-weight": ""}, "criteria-1-weight"),
        ({"criteria-0-max_score": "0"}, "criteria-0-max_score"),
        ({"criteria-0-max_score": "-1"}, "criteria-0-max_score"),
        ({"criteria-0-min_score": "x"}, "criteria-0-min_score"),
        ({"criteria-0-weight": "1.234"}, "criteria-0-weight"),
        ({"criteria-0-name_zh": ""}, "criteria-0-name_zh"),
        ({"attachments-0-code": "Licence file"}, "attachments-0-code"),
        ({"attachments-0-name_zh": ""}, "attachments-0-name_zh"),
        ({"attachments-1-code": "licence", "attachments-1-name_zh": "重复"}, "attachments-1-code"),
    ],
)
def test_new_call_with_invalid_value_is_refused_on_its_field(
    client, bureau, overrides, error_field
):
    before = call_count()
    response = client.post("/calls/new", data=call_form_data(**overrides))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'id="{error_field}-error"' in html
    assert 'aria-invalid="true"' in html
    assert call_count() == before


def test_new_call_cap_above_total_names_the_rule(client, bureau):
    response = client.post(
        "/calls/new", data=call_form_data(total_budget="100", cap_per_project="100.0001")
    )
    assert "The cap per project cannot exceed the total budget." in response.get_data(as_text=True)
    assert call_by_code("2026-EDJ-KJGG") is None


def test_new_call_with_cap_equal_to_total_is_accepted(client, bureau):
    assert (
        client.post(
            "/calls/new", data=call_form_data(total_budget="100", cap_per_project="100")
        ).status_code
        == 302
    )
    assert call_by_code("2026-EDJ-KJGG").cap_per_project == Decimal("1000000.00")


def test_new_call_with_taken_code_is_refused(client, bureau):
    CallFactory(code="2026-EDJ-KJGG")
    response = client.post("/calls/new", data=call_form_data(code="2026-edj-kjgg"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="code-error"' in html and "Another call already uses this code." in html


def test_new_call_form_error_keeps_everything_typed(client, bureau):
    cluster = ClusterFactory()
    response = client.post(
        "/calls/new",
        data=call_form_data(clusters=[cluster], cap_per_project="900", guide="第一段\n\n第二段<b>"),
    )
    html = response.get_data(as_text=True)
    assert 'value="2026年度二道江区科技攻关计划"' in html
    assert 'value="2026-03-31T17:00"' in html
    assert 'value="900"' in html
    assert "第二段&lt;b&gt;" in html
    assert 'value="技术先进性"' in html and 'value="licence"' in html
    assert re.search(
        rf'<input checked[^>]*name="cluster_ids" type="checkbox" value="{cluster.id}"', html
    )


def test_new_call_blank_rows_are_ignored(client, bureau):
    data = call_form_data(
        **{
            "criteria-2-name_zh": "",
            "criteria-2-weight": "",
            "criteria-2-min_score": "0",
            "criteria-2-max_score": "10",
            "attachments-1-code": "",
            "attachments-1-required": "y",
        }
    )
    assert client.post("/calls/new", data=data).status_code == 302
    call = call_by_code("2026-EDJ-KJGG")
    assert len(call.criteria) == 2 and len(call.attachment_requirements) == 1


def test_new_call_add_row_rerenders_with_blank_row_and_saves_nothing(client, bureau):
    response = client.post(
        "/calls/new", data=call_form_data(row_action="add_criterion", cap_per_project="900")
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="criteria-2-name_zh"' in html
    assert 'value="技术先进性"' in html
    assert 'id="cap_per_project-error"' not in html
    assert call_count() == 0
    response = client.post("/calls/new", data=call_form_data(row_action="add_attachment"))
    assert 'name="attachments-1-code"' in response.get_data(as_text=True)


def test_new_call_remove_row_drops_only_that_row(client, bureau):
    response = client.post("/calls/new", data=call_form_data(row_action="remove_criterion:0"))
    html = response.get_data(as_text=True)
    assert "技术先进性" not in html and 'value="经济社会效益"' in html
    assert call_count() == 0
    response = client.post("/calls/new", data=call_form_data(row_action="remove_attachment:0"))
    assert 'value="licence"' not in response.get_data(as_text=True)


def test_call_form_shows_weight_total(client, bureau):
    response = client.post(
        "/calls/new",
        data=call_form_data(**{"criteria-1-weight": "15.5"}, row_action="add_criterion"),
    )
    assert '<strong id="weight-total">75.5</strong>' in response.get_data(as_text=True)


def test_rubric_total_fragment_sums_valid_weights(client, bureau):
    response = client.post(
        "/calls/rubric-total",
        data={
            "criteria-0-weight": "60",
            "criteria-3-weight": "25.5",
            "criteria-4-weight": "abc",
            "criteria-5-weight": "-4",
            "title": "99",
        },
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "85.5"


def test_edit_draft_changes_everything_keeps_criterion_ids_and_audits(client, bureau):
    old_cluster, new_cluster = ClusterFactory(), ClusterFactory(name_zh="数字信息")
    call = CallFactory(state="draft", published_at=None, code="2026-EDJ-KJGG")
    call.clusters.append(old_cluster)
    db.session.flush()
    first_id = call.criteria[0].id
    data = call_form_data(
        clusters=[new_cluster],
        title="修改后的标题",
        cap_per_project="60",
        review_mode="open",
        **{
            "criteria-0-id": str(first_id),
            "criteria-0-weight": "70",
            "criteria-1-name_zh": "",
            "criteria-1-name_en": "",
            "criteria-1-weight": "",
            "criteria-1-description": "",
            "attachments-0-code": "report",
            "attachments-0-name_zh": "可行性报告",
            "attachments-0-required": None,
        },
    )
    response = client.post(f"/calls/{call.id}/edit", data=data)
    assert response.status_code == 302
    call = call_by_code("2026-EDJ-KJGG")
    assert call.title == "修改后的标题" and call.blind_review is False
    assert call.cap_per_project == Decimal("600000.00")
    assert [c.name_zh for c in call.clusters] == ["数字信息"]
    assert [(c.id, c.weight) for c in call.criteria] == [(first_id, Decimal("70"))]
    assert [(a.code, a.required) for a in call.attachment_requirements] == [("report", False)]
    [event] = audit_events("call.updated", call)
    assert event.before["title"] != "修改后的标题" and event.after["title"] == "修改后的标题"
    assert "cap_per_project" in event.after and "clusters" in event.after


def test_edit_draft_shows_inactive_cluster_it_already_targets(client, bureau):
    retired = ClusterFactory(name_en="Retired cluster", active=False)
    ClusterFactory(name_en="Other retired cluster", active=False)
    call = CallFactory(state="draft", published_at=None)
    call.clusters.append(retired)
    db.session.flush()
    html = client.get(f"/calls/{call.id}/edit").get_data(as_text=True)
    assert "Retired cluster (inactive)" in html and "Other retired cluster" not in html


def test_edit_unknown_call_is_404(client, bureau):
    assert client.get("/calls/999999/edit").status_code == 404


def test_call_model_rejects_cap_above_total_in_database(app):
    before = db.session.scalar(sa.select(sa.func.count(Call.id)))
    call = CallFactory.build(total_budget=Decimal("100"), cap_per_project=Decimal("200"))
    db.session.add(call)
    with pytest.raises(sa.exc.IntegrityError) as raised:
        db.session.flush()
    assert "cap_within_budget" in str(raised.value)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Call.id))) == before
    at_total = CallFactory.build(total_budget=Decimal("100"), cap_per_project=Decimal("100"))
    db.session.add(at_total)
    db.session.flush()  # a cap equal to the total is allowed
    assert at_total.id is not None


def test_new_call_may_trim_from_more_reviews_than_experts_assigned(client, bureau):
    data = call_form_data(reviewers_per_application="3", trimmed_mean_min_reviews="5")
    assert client.post("/calls/new", data=data).status_code == 302
    call = call_by_code("2026-EDJ-KJGG")
    assert (call.reviewers_per_application, call.trimmed_mean_min_reviews) == (3, 5)


def test_new_call_with_chinese_names_and_no_codes_is_saved(client, bureau):
    """Issue 18 ("Words"): criteria and attachments need only a Chinese name; codes are made."""
    data = call_form_data(
        **{
            "criteria-0-name_en": "",
            "criteria-1-name_en": "",
            "attachments-0-code": "",
            "attachments-0-name_en": "",
            "attachments-1-code": "",
            "attachments-1-name_zh": "可行性研究报告",
            "attachments-1-name_en": "",
            "attachments-2-code": "att-2",
            "attachments-2-name_zh": "查新报告",
        }
    )
    response = client.post("/calls/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    call = call_by_code("2026-EDJ-KJGG")
    assert [(c.name_zh, c.name_en) for c in call.criteria] == [
        ("技术先进性", ""),
        ("经济社会效益", ""),
    ]
    # a typed code is kept; the others are made from their position, skipping codes in use
    assert [(a.code, a.name_zh) for a in call.attachment_requirements] == [
        ("att-1", "营业执照"),
        ("att-3", "可行性研究报告"),
        ("att-2", "查新报告"),
    ]
    # editing keeps the codes made (they are in the form), so applications keep their kinds
    html = client.get(f"/calls/{call.id}/edit").get_data(as_text=True)
    assert 'value="att-1"' in html and 'value="att-3"' in html


def test_refused_call_form_lists_every_error_at_the_top_with_links(client, bureau):
    """Issue 18 ("Words"): the summary names all errors at once, rows included, each a link."""
    response = client.post(
        "/calls/new",
        data=call_form_data(
            title="",
            **{"criteria-1-weight": "0", "attachments-0-name_zh": "", "attachments-0-code": ""},
        ),
    )
    html = response.get_data(as_text=True)
    summary = html[html.index('class="alert alert-danger error-summary"') :]
    summary = summary[: summary.index("</div>")]
    for target in ("title", "criteria-1-weight", "attachments-0-name_zh"):
        assert f'href="#{target}"' in summary and f'id="{target}"' in html
    assert summary.count("<li>") == 3
    assert html.index("error-summary") < html.index('aria-invalid="true"')
    assert 'value="Business licence"' in html  # what was typed is kept
