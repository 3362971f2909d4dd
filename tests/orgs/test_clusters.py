import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.extensions import db
from grants.orgs.models import IndustryCluster
from tests.factories import ClusterFactory, OrganisationFactory, make_user


def cluster_data(**overrides) -> dict:
    data = {
        "code": "Bio_Pharma",
        "name_zh": "生物医药",
        "name_en": "Biopharma",
        "description": "中药现代化",
        "sort_order": "15",
        "active": "y",
    }
    data.update(overrides)
    return data


def cluster_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(IndustryCluster.id)))


def audit_count(action: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == action)
    )


def test_clusters_list_shows_order_state_and_usage(client, login):
    used = ClusterFactory(name_zh="装备制造", sort_order=1)
    ClusterFactory(name_zh="现代旅游", sort_order=2, active=False)
    OrganisationFactory(cluster=used)
    OrganisationFactory(cluster=used)
    login(make_user("admin"))
    response = client.get("/admin/clusters")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index("装备制造") < html.index("现代旅游")
    assert f'href="/organisations?cluster={used.id}">2</a>' in html
    assert f"/admin/clusters/{used.id}/delete" not in html
    assert f"/admin/clusters/{used.id}/active" in html


def test_cluster_create_saves_and_audits(client, login):
    login(make_user("admin"))
    assert client.get("/admin/clusters/new").status_code == 200
    response = client.post("/admin/clusters/new", data=cluster_data())
    assert response.status_code == 302
    cluster = db.session.scalars(
        sa.select(IndustryCluster).where(IndustryCluster.code == "bio_pharma")
    ).one()
    assert (cluster.name_zh, cluster.name_en, cluster.sort_order, cluster.active) == (
        "生物医药",
        "Biopharma",
        15,
        True,
    )
    assert audit_count("cluster.created") == 1


def test_cluster_create_with_duplicate_code_is_refused_on_field(client, login):
    ClusterFactory(code="bio_pharma")
    before = cluster_count()
    login(make_user("admin"))
    response = client.post("/admin/clusters/new", data=cluster_data())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="code-error"' in html and 'value="生物医药"' in html
    assert cluster_count() == before


def test_cluster_create_with_duplicate_chinese_name_is_refused_on_field(client, login):
    ClusterFactory(name_zh="生物医药")
    before = cluster_count()
    login(make_user("admin"))
    response = client.post("/admin/clusters/new", data=cluster_data())
    assert response.status_code == 200
    assert 'id="name_zh-error"' in response.get_data(as_text=True)
    assert cluster_count() == before


def test_cluster_create_with_bad_code_is_refused(client, login):
    login(make_user("admin"))
    response = client.post("/admin/clusters/new", data=cluster_data(code="医药 health"))
    assert response.status_code == 200
    assert 'id="code-error"' in response.get_data(as_text=True)


def test_cluster_edit_saves_changes_and_audits_them(client, login):
    cluster = ClusterFactory(name_zh="旧名称", sort_order=5)
    login(make_user("admin"))
    assert client.get(f"/admin/clusters/{cluster.id}/edit").status_code == 200
    response = client.post(
        f"/admin/clusters/{cluster.id}/edit",
        data=cluster_data(code=cluster.code, name_zh="新名称", sort_order="5"),
    )
    assert response.status_code == 302
    db.session.refresh(cluster)
    assert cluster.name_zh == "新名称"
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "cluster.updated")
    ).one()
    assert event.before["name_zh"] == "旧名称" and event.after["name_zh"] == "新名称"
    assert "sort_order" not in event.after


def test_cluster_edit_to_another_clusters_code_is_refused(client, login):
    ClusterFactory(code="taken")
    cluster = ClusterFactory(code="mine")
    login(make_user("admin"))
    response = client.post(f"/admin/clusters/{cluster.id}/edit", data=cluster_data(code="taken"))
    assert response.status_code == 200
    assert 'id="code-error"' in response.get_data(as_text=True)
    db.session.refresh(cluster)
    assert cluster.code == "mine"


def test_cluster_in_use_cannot_be_deleted_but_can_be_deactivated(client, login):
    cluster = ClusterFactory()
    org = OrganisationFactory(cluster=cluster)
    login(make_user("admin"))
    response = client.post(f"/admin/clusters/{cluster.id}/delete")
    assert response.status_code == 302
    assert db.session.get(IndustryCluster, cluster.id) is not None
    assert audit_count("cluster.deleted") == 0
    response = client.post(f"/admin/clusters/{cluster.id}/active", data={"active": "0"})
    assert response.status_code == 302
    db.session.refresh(cluster)
    db.session.refresh(org)
    assert cluster.active is False and org.cluster_id == cluster.id
    assert audit_count("cluster.updated") == 1


def test_deactivated_cluster_is_not_offered_at_registration(client, login):
    cluster = ClusterFactory(name_zh="不再提供", active=False)
    assert "不再提供" not in client.get("/register").get_data(as_text=True)
    login(make_user("admin"))
    client.post(f"/admin/clusters/{cluster.id}/active", data={"active": "1"})
    db.session.refresh(cluster)
    assert cluster.active is True


def test_unused_cluster_is_deleted(client, login):
    cluster = ClusterFactory()
    cluster_id = cluster.id
    login(make_user("admin"))
    response = client.post(f"/admin/clusters/{cluster_id}/delete")
    assert response.status_code == 302
    assert db.session.get(IndustryCluster, cluster_id) is None
    assert audit_count("cluster.deleted") == 1


def test_clusters_admin_is_forbidden_to_bureau(client, login):
    cluster = ClusterFactory()
    login(make_user("bureau"))
    assert client.get("/admin/clusters").status_code == 403
    assert client.post("/admin/clusters/new", data=cluster_data()).status_code == 403
    assert client.post(f"/admin/clusters/{cluster.id}/delete").status_code == 403
    assert db.session.get(IndustryCluster, cluster.id) is not None


def test_cluster_pages_of_missing_cluster_are_404(client, login):
    login(make_user("admin"))
    assert client.get("/admin/clusters/999999/edit").status_code == 404
    assert client.post("/admin/clusters/999999/delete").status_code == 404


def test_cluster_targeted_by_a_call_cannot_be_deleted(client, login):
    from tests.factories import CallFactory

    cluster = ClusterFactory()
    call = CallFactory()
    call.clusters.append(cluster)
    db.session.flush()
    login(make_user("admin"))
    client.post(f"/admin/clusters/{cluster.id}/delete")
    assert db.session.get(IndustryCluster, cluster.id) is not None
    assert audit_count("cluster.deleted") == 0
