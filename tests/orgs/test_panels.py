from datetime import timedelta

from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs import panels
from tests.factories import (
    ClusterFactory,
    InvitationFactory,
    OrganisationFactory,
    QualificationFactory,
    YearFigureFactory,
    make_user,
)


def test_profile_checklist_lists_what_is_missing(app):
    org = OrganisationFactory(cluster=None)
    today = utcnow().date()
    soon = QualificationFactory(
        organisation=org,
        kind="national_high_tech",
        granted_on=today - timedelta(days=1000),
        expires_on=today + timedelta(days=30),
    )
    gone = QualificationFactory(
        organisation=org,
        kind="tech_sme",
        granted_on=today - timedelta(days=400),
        expires_on=today - timedelta(days=20),
    )
    user = make_user("applicant", organisation=org)
    data = panels.profile_checklist(user)
    assert data["cluster_missing"] is True
    assert data["figures_missing"] is True
    assert data["qualification_alerts"] == [(gone, "expired"), (soon, "expiring")]


def test_profile_checklist_is_quiet_for_a_complete_profile(app):
    org = OrganisationFactory(cluster=ClusterFactory())
    today = utcnow().date()
    YearFigureFactory(organisation=org, year=today.year - 1)
    QualificationFactory(
        organisation=org,
        kind="tech_sme",
        granted_on=today - timedelta(days=800),
        expires_on=today - timedelta(days=400),
    )
    QualificationFactory(
        organisation=org,
        kind="tech_sme",
        granted_on=today - timedelta(days=399),
        expires_on=today + timedelta(days=365),
    )
    user = make_user("applicant", organisation=org)
    data = panels.profile_checklist(user)
    assert not data["cluster_missing"] and not data["figures_missing"]
    assert data["qualification_alerts"] == []


def test_profile_checklist_is_hidden_without_organisation(app):
    assert panels.profile_checklist(make_user("expert")) is None


def test_applicant_dashboard_shows_checklist_and_open_invitations(client, login):
    org = OrganisationFactory(name="检查清单公司", cluster=None)
    InvitationFactory(organisation=org, email="waiting@test.example")
    user = make_user("applicant", organisation=org)
    login(user)
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "检查清单公司" in html
    assert str(utcnow().year - 1) in html
    assert "waiting@test.example" in html
    assert 'href="/organisation"' in html


def test_bureau_dashboard_counts_recent_registrations(client, login):
    recent = [OrganisationFactory(name=f"新注册{i}") for i in range(6)]
    old = OrganisationFactory(name="很久以前注册的")
    old.created_at = utcnow() - timedelta(days=45)
    for i, org in enumerate(recent):
        org.created_at = utcnow() - timedelta(days=i + 1)
    db.session.flush()
    user = make_user("bureau")
    data = panels.new_registrations(user)
    assert data["total"] == 6
    assert [o.name for o in data["latest"]] == [f"新注册{i}" for i in range(5)]
    login(user)
    html = client.get("/").get_data(as_text=True)
    assert "新注册0" in html and "新注册5" not in html and "很久以前注册的" not in html
