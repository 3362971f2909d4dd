from datetime import timedelta

from grants.core.types import utcnow
from grants.extensions import db
from tests.factories import ClusterFactory, OrganisationFactory, QualificationFactory, make_user


def names(response) -> list[str]:
    """Organisation names in the order the list shows them."""
    html = response.get_data(as_text=True)
    import re

    return re.findall(r'<a href="/organisations/\d+">([^<]+)</a>', html)


def seed():
    pharma = ClusterFactory(name_zh="医药健康")
    materials = ClusterFactory(name_zh="新材料")
    today = utcnow().date()
    a = OrganisationFactory(name="甲药业", cluster=pharma)
    b = OrganisationFactory(name="乙材料", cluster=materials, org_type="enterprise")
    c = OrganisationFactory(name="丙学院", cluster=pharma, org_type="university")
    QualificationFactory(organisation=a, kind="national_high_tech")
    QualificationFactory(
        organisation=b,
        kind="national_high_tech",
        granted_on=today - timedelta(days=1200),
        expires_on=today - timedelta(days=100),
    )
    a.created_at = utcnow() - timedelta(days=30)
    b.created_at = utcnow() - timedelta(days=20)
    c.created_at = utcnow() - timedelta(days=10)
    db.session.flush()
    return {"pharma": pharma, "materials": materials, "a": a, "b": b, "c": c}


def test_organisation_list_shows_all_sorted_by_name(client, login):
    data = seed()
    login(make_user("bureau"))
    response = client.get("/organisations")
    assert response.status_code == 200
    assert sorted(names(response)) == sorted(["甲药业", "乙材料", "丙学院"])
    assert data["a"].uscc in response.get_data(as_text=True)


def test_organisation_list_filters_on_name_and_code(client, login):
    data = seed()
    login(make_user("bureau"))
    assert names(client.get("/organisations?q=药业")) == ["甲药业"]
    assert names(client.get(f"/organisations?q={data['b'].uscc[-8:].lower()}")) == ["乙材料"]
    assert names(client.get("/organisations?q=%25")) == []


def test_organisation_list_filters_on_cluster_and_type(client, login):
    data = seed()
    OrganisationFactory(name="丁无集群", cluster=None)
    login(make_user("bureau"))
    assert sorted(names(client.get(f"/organisations?cluster={data['pharma'].id}"))) == sorted(
        ["甲药业", "丙学院"]
    )
    assert names(client.get(f"/organisations?cluster={data['pharma'].id}&type=university")) == [
        "丙学院"
    ]
    assert names(client.get("/organisations?cluster=none")) == ["丁无集群"]


def test_organisation_list_filters_on_qualification_held_now(client, login):
    seed()
    login(make_user("bureau"))
    assert names(client.get("/organisations?qualification=national_high_tech")) == ["甲药业"]
    assert names(client.get("/organisations?qualification=tech_sme")) == []


def test_organisation_list_sorts_by_registration_date(client, login):
    seed()
    login(make_user("finance"))
    assert names(client.get("/organisations?sort=-registered")) == ["丙学院", "乙材料", "甲药业"]
    assert names(client.get("/organisations?sort=registered")) == ["甲药业", "乙材料", "丙学院"]


def test_organisation_list_paginates(client, login, app):
    for i in range(app.config["PAGE_SIZE"] + 3):
        OrganisationFactory(name=f"分页公司{i:03d}")
    login(make_user("bureau"))
    first = names(client.get("/organisations"))
    second = names(client.get("/organisations?page=2"))
    assert len(first) == app.config["PAGE_SIZE"] and len(second) == 3
    assert not set(first) & set(second)


def test_organisation_list_is_forbidden_to_applicants(client, login):
    login(make_user("applicant"))
    assert client.get("/organisations").status_code == 403
