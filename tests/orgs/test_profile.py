from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.extensions import db
from tests.factories import (
    ClusterFactory,
    InvitationFactory,
    OrganisationFactory,
    QualificationFactory,
    YearFigureFactory,
    make_user,
)


def profile_data(org, **overrides) -> dict:
    data = {
        "name": org.name,
        "org_type": org.org_type,
        "cluster_id": str(org.cluster_id or 0),
        "address": org.address,
        "legal_representative": org.legal_representative,
        "contact_name": org.contact_name,
        "contact_phone": org.contact_phone,
        "founded_on": "",
    }
    data.update(overrides)
    return data


def test_my_organisation_shows_details_qualifications_figures_members(client, login):
    cluster = ClusterFactory(name_zh="医药健康")
    org = OrganisationFactory(name="通化金马药业", cluster=cluster)
    today = utcnow().date()
    QualificationFactory(
        organisation=org,
        certificate_no="GR2099220001",
        granted_on=today - timedelta(days=400),
        expires_on=today + timedelta(days=300),
    )
    QualificationFactory(
        organisation=org,
        certificate_no="GR2011220002",
        kind="tech_sme",
        granted_on=today - timedelta(days=900),
        expires_on=today - timedelta(days=500),
    )
    YearFigureFactory(
        organisation=org,
        year=2024,
        revenue=Decimal("1234567.00"),
        rd_spending=Decimal("49382.68"),
        staff=120,
        rd_staff=20,
    )
    user = make_user("applicant", organisation=org, name="刘经理")
    colleague = make_user("applicant", organisation=org, name="王工程师")
    login(user)
    response = client.get("/organisation")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (
        "通化金马药业",
        org.uscc,
        "医药健康",
        "GR2099220001",
        "GR2011220002",
        "123.46 万元",
        "4.94 万元",
        ">4 %<",  # R&D intensity to at most one decimal
        "刘经理",
        "王工程师",
        colleague.email,
    ):
        assert text in html, text
    assert "text-bg-success" in html and "text-bg-secondary" in html
    assert f"/organisations/{org.id}/edit" in html


def test_my_organisation_without_organisation_is_404(client, login):
    login(make_user("bureau"))
    assert client.get("/organisation").status_code == 404


def test_my_organisation_for_anonymous_redirects_to_login(client):
    response = client.get("/organisation")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_organisation_page_for_other_applicant_is_404(client, login):
    org = OrganisationFactory()
    login(make_user("applicant"))
    assert client.get(f"/organisations/{org.id}").status_code == 404


def test_organisation_page_for_own_applicant_is_shown(client, login):
    user = make_user("applicant")
    login(user)
    response = client.get(f"/organisations/{user.organisation_id}")
    assert response.status_code == 200
    assert user.organisation.name in response.get_data(as_text=True)


def test_organisation_page_for_finance_is_read_only(client, login):
    org = OrganisationFactory(name="只读的公司")
    QualificationFactory(organisation=org)
    YearFigureFactory(organisation=org)
    InvitationFactory(organisation=org, email="pending@test.example")
    login(make_user("finance"))
    response = client.get(f"/organisations/{org.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "只读的公司" in html
    assert f"/organisations/{org.id}/edit" not in html
    assert "/remove" not in html
    assert f"/organisations/{org.id}/qualifications" not in html
    assert f"/organisations/{org.id}/figures" not in html
    assert "pending@test.example" not in html


def test_organisation_page_for_bureau_offers_editing_but_not_revoking(client, login):
    org = OrganisationFactory()
    invitation = InvitationFactory(organisation=org, email="pending@test.example")
    login(make_user("bureau"))
    html = client.get(f"/organisations/{org.id}").get_data(as_text=True)
    assert f"/organisations/{org.id}/edit" in html
    assert f"/organisations/{org.id}/qualifications" in html
    assert "pending@test.example" in html
    assert f"/invitations/{invitation.id}/revoke" not in html
    assert f"/organisations/{org.id}/invitations" not in html


def test_profile_edit_by_member_saves_and_audits(client, login):
    user = make_user("applicant")
    org = user.organisation
    new_cluster = ClusterFactory()
    login(user)
    assert client.get(f"/organisations/{org.id}/edit").status_code == 200
    response = client.post(
        f"/organisations/{org.id}/edit",
        data=profile_data(
            org,
            name="  通化改名科技有限公司 ",
            cluster_id=str(new_cluster.id),
            legal_representative="赵董事长",
            founded_on="2008-05-20",
        ),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/organisation")
    db.session.refresh(org)
    assert org.name == "通化改名科技有限公司"
    assert org.cluster_id == new_cluster.id
    assert str(org.founded_on) == "2008-05-20"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.updated")
    ).one()
    assert event.after["legal_representative"] == "赵董事长"


def test_profile_edit_by_member_cannot_change_the_code(client, login):
    user = make_user("applicant")
    org = user.organisation
    code = org.uscc
    other_code = OrganisationFactory.build().uscc
    login(user)
    html = client.get(f"/organisations/{org.id}/edit").get_data(as_text=True)
    assert 'name="uscc"' not in html
    response = client.post(f"/organisations/{org.id}/edit", data=profile_data(org, uscc=other_code))
    assert response.status_code == 302
    db.session.refresh(org)
    assert org.uscc == code


def test_profile_edit_by_other_applicant_is_404(client, login):
    org = OrganisationFactory(name="别人的公司")
    login(make_user("applicant"))
    assert client.get(f"/organisations/{org.id}/edit").status_code == 404
    assert (
        client.post(
            f"/organisations/{org.id}/edit", data=profile_data(org, name="被篡改")
        ).status_code
        == 404
    )
    db.session.refresh(org)
    assert org.name == "别人的公司"


def test_profile_edit_by_finance_is_403(client, login):
    org = OrganisationFactory(name="财务不能改")
    login(make_user("finance"))
    assert client.get(f"/organisations/{org.id}/edit").status_code == 403
    assert (
        client.post(
            f"/organisations/{org.id}/edit", data=profile_data(org, name="被篡改")
        ).status_code
        == 403
    )
    db.session.refresh(org)
    assert org.name == "财务不能改"


def test_profile_edit_of_missing_organisation_is_404(client, login):
    login(make_user("bureau"))
    assert client.get("/organisations/999999/edit").status_code == 404


def test_profile_edit_by_bureau_corrects_the_code(client, login):
    org = OrganisationFactory()
    new_code = OrganisationFactory.build().uscc
    login(make_user("bureau"))
    response = client.post(
        f"/organisations/{org.id}/edit", data=profile_data(org, uscc=new_code.lower())
    )
    assert response.status_code == 302
    db.session.refresh(org)
    assert org.uscc == new_code
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.updated")
    ).one()
    assert event.after == {"uscc": new_code}


def test_profile_edit_with_taken_code_puts_error_on_field_and_keeps_input(client, login):
    holder = OrganisationFactory(name="占用代码的公司")
    org = OrganisationFactory()
    code = org.uscc
    login(make_user("bureau"))
    response = client.post(
        f"/organisations/{org.id}/edit",
        data=profile_data(org, uscc=holder.uscc, address="新输入的地址"),
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="uscc-error"' in html
    assert "占用代码的公司" in html
    assert 'value="新输入的地址"' in html
    db.session.refresh(org)
    assert org.uscc == code


def test_profile_edit_keeps_an_inactive_cluster_selectable(client, login):
    cluster = ClusterFactory(active=False, name_zh="停用的集群")
    user = make_user("applicant", organisation=OrganisationFactory(cluster=cluster))
    org = user.organisation
    login(user)
    assert "停用的集群" in client.get(f"/organisations/{org.id}/edit").get_data(as_text=True)
    response = client.post(
        f"/organisations/{org.id}/edit", data=profile_data(org, contact_name="周")
    )
    assert response.status_code == 302
    db.session.refresh(org)
    assert org.cluster_id == cluster.id and org.contact_name == "周"


def test_profile_page_ids_are_unique_and_fields_labelled(client, login):
    import re

    user = make_user("applicant")
    QualificationFactory(organisation=user.organisation)
    YearFigureFactory(organisation=user.organisation)
    InvitationFactory(organisation=user.organisation)
    login(user)
    html = client.get("/organisation").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for field_id in ("qual-kind", "qual-granted_on", "fig-year", "fig-revenue", "invite-email"):
        assert f'for="{field_id}"' in html, field_id


def test_profile_shows_every_amount_with_two_decimals(client, login):
    user = make_user("applicant")
    YearFigureFactory(
        organisation=user.organisation, revenue=Decimal("84320000.00"), rd_spending=Decimal("1.00")
    )
    login(user)
    html = client.get("/organisation").get_data(as_text=True)
    assert "8,432.00 万元" in html
    assert "0.00 万元" in html and "0.0001 万元" not in html


def test_profile_renders_in_english_for_an_english_user(client, login):
    user = make_user("applicant", locale="en")
    YearFigureFactory(organisation=user.organisation, revenue=Decimal("1234567.00"))
    login(user)
    html = client.get("/organisation").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "CNY 123.46 × 10k" in html
