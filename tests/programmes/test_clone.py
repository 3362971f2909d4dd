"""Cloning last year's call into a draft for the following year."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from grants.extensions import db
from tests.factories import CallFactory, ClusterFactory, make_user
from tests.programmes.helpers import audit_events, call_by_code


@pytest.fixture
def bureau(login):
    user = make_user("bureau", locale="en")
    login(user)
    return user


def last_years_call(**kwargs):
    call = CallFactory(
        code="2026-EDJ-KJGG",
        year=2026,
        title="2026年度二道江区科技攻关计划",
        opens_at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
        closes_at=datetime(2026, 3, 31, 9, 0, tzinfo=UTC),
        required_qualification="tech_sme",
        concurrent_cap=2,
        blind_review=False,
        indirect_cost_ratio=Decimal("0.1500"),
        **kwargs,
    )
    call.clusters.extend([ClusterFactory(name_zh="医药健康"), ClusterFactory(name_zh="新材料")])
    db.session.flush()
    return call


def test_clone_makes_next_years_draft_with_everything_copied(client, bureau):
    source = last_years_call()
    response = client.post(f"/calls/{source.id}/clone")
    assert response.status_code == 302
    clone = call_by_code("2027-EDJ-KJGG")
    assert response.headers["Location"].endswith(f"/calls/{clone.id}/edit")
    assert (clone.year, clone.state, clone.cloned_from_id) == (2027, "draft", source.id)
    assert clone.title == "2027年度二道江区科技攻关计划"
    assert clone.opens_at == datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    assert clone.closes_at == datetime(2027, 3, 31, 9, 0, tzinfo=UTC)
    assert clone.published_at is None and clone.closed_at is None and clone.last_reference_no == 0
    assert [(c.name_zh, c.weight, c.min_score, c.max_score) for c in clone.criteria] == [
        (c.name_zh, c.weight, c.min_score, c.max_score) for c in source.criteria
    ]
    assert {c.id for c in clone.criteria}.isdisjoint({c.id for c in source.criteria})
    assert [(a.code, a.name_zh, a.required) for a in clone.attachment_requirements] == [
        ("licence", "营业执照", True)
    ]
    assert sorted(c.name_zh for c in clone.clusters) == ["医药健康", "新材料"]
    for key in (
        "funding_level",
        "category",
        "guide",
        "total_budget",
        "cap_per_project",
        "min_self_raised_ratio",
        "indirect_cost_ratio",
        "max_duration_months",
        "required_qualification",
        "concurrent_cap",
        "reviewers_per_application",
        "trimmed_mean_min_reviews",
        "blind_review",
    ):
        assert getattr(clone, key) == getattr(source, key), key
    [event] = audit_events("call.cloned", clone)
    assert event.after["cloned_from_id"] == source.id and event.actor_id == bureau.id


def test_clone_twice_gives_a_unique_code(client, bureau):
    source = last_years_call()
    client.post(f"/calls/{source.id}/clone")
    client.post(f"/calls/{source.id}/clone")
    assert call_by_code("2027-EDJ-KJGG") is not None
    assert call_by_code("2027-EDJ-KJGG-2") is not None


def test_clone_code_without_year_gets_the_year_appended(client, bureau):
    source = CallFactory(code="EDJ-TALENT", year=2026)
    client.post(f"/calls/{source.id}/clone")
    assert call_by_code("EDJ-TALENT-2027").year == 2027


def test_clone_leaves_digits_that_only_contain_the_year(client, bureau):
    source = CallFactory(code="EDJ-120260-2026", year=2026)
    client.post(f"/calls/{source.id}/clone")
    assert call_by_code("EDJ-120260-2027") is not None


def test_clone_of_29_february_moves_to_28_february(client, bureau):
    source = CallFactory(
        code="2028-LEAP",
        year=2028,
        opens_at=datetime(2028, 2, 29, 0, 0, tzinfo=UTC),
        closes_at=datetime(2028, 3, 31, 9, 0, tzinfo=UTC),
    )
    client.post(f"/calls/{source.id}/clone")
    assert call_by_code("2029-LEAP").opens_at == datetime(2029, 2, 28, 0, 0, tzinfo=UTC)


def test_clone_by_applicant_is_forbidden(client, login):
    source = CallFactory()
    login(make_user("applicant"))
    assert client.post(f"/calls/{source.id}/clone").status_code == 403
    assert audit_events("call.cloned") == []
