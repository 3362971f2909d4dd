"""The expert's own profile: expertise, declared relations, the dashboard reminder, access."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import grants.review.pool_panels  # noqa: F401  (registers the dashboard panel)
from grants.extensions import db
from grants.review.models import Expert, ExpertRelation
from tests.factories import ClusterFactory, ExpertFactory, OrganisationFactory, make_user, next_uscc
from tests.review.pool_helpers import as_rendered, audit_count, last_audit, relation

pytestmark = pytest.mark.usefixtures("english_ui")  # asserts on English source text


@pytest.fixture
def expert(login):
    expert = ExpertFactory(name="张教授", employer_name="长春中医药大学", keywords="")
    login(expert.user)
    return expert


def relation_data(**overrides) -> dict:
    data = {
        "relation-kind": "shareholding",
        "relation-organisation_uscc": "",
        "relation-organisation_name": "",
        "relation-note": "持股 2%",
        "relation-since": "2021-03-01",
        "relation-until": "",
    }
    data.update(overrides)
    return data


def relations_of(expert: Expert) -> list[ExpertRelation]:
    return db.session.scalars(
        sa.select(ExpertRelation)
        .where(ExpertRelation.expert_id == expert.id)
        .order_by(ExpertRelation.id)
    ).all()


def test_profile_explains_what_to_declare_and_prefills_the_employer(client, expert):
    response = client.get("/expert/profile")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert as_rendered("shareholdings and other financial interests in an organisation;") in html
    assert as_rendered("You have not declared any relation yet.") in html
    assert 'value="长春中医药大学"' in html
    assert '<option selected value="employer">' in html


def test_profile_saves_title_keywords_clusters_and_phone(client, expert):
    pharma = ClusterFactory(name_zh="医药健康")
    response = client.post(
        "/expert/profile",
        data={
            "profile-title": "二级教授",
            "profile-keywords": "中药, 人参、 提取工艺",
            "profile-cluster_ids": [str(pharma.id)],
            "profile-phone": "0435-3210000",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Expert, expert.id)
    assert (saved.title, saved.keywords, saved.phone) == (
        "二级教授",
        "中药、人参、提取工艺",
        "0435-3210000",
    )
    assert [c.id for c in saved.clusters] == [pharma.id]
    assert last_audit("expert.profile_updated").after["title"] == "二级教授"


def test_profile_relation_by_registered_uscc_links_the_organisation(client, expert):
    org = OrganisationFactory(name="通化金马药业集团股份有限公司")
    response = client.post(
        "/expert/profile/relations", data=relation_data(**{"relation-organisation_uscc": org.uscc})
    )
    assert response.status_code == 302
    [declared] = relations_of(expert)
    assert (declared.kind, declared.organisation_id, declared.organisation_name, declared.note) == (
        "shareholding",
        org.id,
        org.name,
        "持股 2%",
    )
    assert str(declared.since) == "2021-03-01" and declared.until is None
    assert audit_count("expert.relation_declared") == 1
    assert org.name in client.get("/expert/profile").get_data(as_text=True)


def test_profile_relation_by_exact_registered_name_links_the_organisation(client, expert):
    org = OrganisationFactory(name="通化东宝实业集团有限公司")
    client.post(
        "/expert/profile/relations", data=relation_data(**{"relation-organisation_name": org.name})
    )
    assert [r.organisation_id for r in relations_of(expert)] == [org.id]


def test_profile_relation_by_typed_name_only(client, expert):
    client.post(
        "/expert/profile/relations",
        data=relation_data(
            **{"relation-kind": "family", "relation-organisation_name": "修正药业（通化）有限公司"}
        ),
    )
    [declared] = relations_of(expert)
    assert (declared.kind, declared.organisation_id, declared.organisation_name) == (
        "family",
        None,
        "修正药业（通化）有限公司",
    )


def test_profile_relation_with_unregistered_uscc_needs_a_name(client, expert):
    response = client.post(
        "/expert/profile/relations",
        data=relation_data(**{"relation-organisation_uscc": next_uscc()}),
    )
    assert response.status_code == 200
    assert 'id="relation-organisation_name-error"' in response.get_data(as_text=True)
    assert relations_of(expert) == []


def test_profile_relation_errors_keep_what_was_typed(client, expert):
    response = client.post(
        "/expert/profile/relations",
        data=relation_data(
            **{
                "relation-organisation_uscc": "91220503MA00000010",
                "relation-organisation_name": "某公司",
                "relation-until": "2020-01-01",
            }
        ),
    )
    html = response.get_data(as_text=True)
    assert 'id="relation-until-error"' in html
    assert 'value="某公司"' in html and 'value="持股 2%"' in html and 'value="2021-03-01"' in html
    assert relations_of(expert) == []


def test_profile_relation_remove(client, expert):
    declared = relation(expert, "collaboration", name="吉林大学")
    response = client.post(f"/expert/profile/relations/{declared.id}/remove")
    assert response.status_code == 302
    assert relations_of(expert) == []
    assert last_audit("expert.relation_removed").before["organisation_name"] == "吉林大学"


def test_profile_relation_of_another_expert_cannot_be_removed(client, expert):
    other = ExpertFactory()
    declared = relation(other, "collaboration", name="吉林大学")
    assert client.post(f"/expert/profile/relations/{declared.id}/remove").status_code == 404
    assert len(relations_of(other)) == 1


def test_profile_refuses_an_expert_without_a_record(client, login):
    login(make_user("expert"))
    assert client.get("/expert/profile").status_code == 403
    assert client.post("/expert/profile/relations", data=relation_data()).status_code == 403


def test_profile_refuses_an_inactive_expert_and_an_applicant(client, login):
    inactive = ExpertFactory(active=False)
    login(inactive.user)
    assert client.get("/expert/profile").status_code == 403
    client.post("/logout")
    login(make_user("applicant"))
    assert client.get("/expert/profile").status_code == 403


def test_dashboard_asks_for_keywords_and_relations_until_given(client, expert):
    html = client.get("/").get_data(as_text=True)
    assert as_rendered("Complete your expert profile") in html
    assert "/expert/profile" in html
    relation(expert, "employer", name="长春中医药大学")
    expert.keywords = "中药"
    db.session.flush()
    html = client.get("/").get_data(as_text=True)
    assert as_rendered("Complete your expert profile") not in html
