"""The bureau's expert pool: list, search, add and edit, accounts, permissions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grants.accounts.models import User
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from grants.review.models import Expert
from tests.factories import ClusterFactory, ExpertFactory, OrganisationFactory, make_user, next_uscc
from tests.review.pool_helpers import as_rendered, audit_count, last_audit, plain_expert

pytestmark = pytest.mark.usefixtures("english_ui")  # asserts on English source text


def expert_data(**overrides) -> dict:
    data = {
        "name": "严建国",
        "title": "研究员",
        "employer_name": "长春中医药大学",
        "employer_uscc": "",
        "keywords": "中药，提取工艺、质量控制, 中药",
        "email": "Yan.JG@Example.com",
        "phone": "13800000000",
        "max_load": "6",
        "active": "y",
    }
    data.update(overrides)
    return data


def expert_named(name: str) -> Expert:
    return db.session.scalars(sa.select(Expert).where(Expert.name == name)).one()


@pytest.fixture
def bureau(login):
    user = make_user("bureau")
    login(user)
    return user


def test_experts_list_searches_name_employer_and_keyword(client, bureau):
    pharma = ClusterFactory(name_zh="医药健康")
    ExpertFactory(
        name="王研究员", employer_name="中国科学院长春应用化学研究所", keywords="新材料、白炭黑"
    )
    ExpertFactory(name="李教授", employer_name="吉林大学", keywords="多肽", clusters=[pharma])
    ExpertFactory(name="赵高工", employer_name="一汽解放", keywords="汽车部件", active=False)
    for q, shown, hidden in (
        ("王研究员", "王研究员", "李教授"),
        ("吉林大学", "李教授", "王研究员"),
        ("白炭黑", "王研究员", "李教授"),
    ):
        html = client.get("/experts", query_string={"q": q}).get_data(as_text=True)
        assert shown in html and hidden not in html
    html = client.get("/experts", query_string={"cluster": pharma.id}).get_data(as_text=True)
    assert "李教授" in html and "王研究员" not in html
    html = client.get("/experts", query_string={"active": "0"}).get_data(as_text=True)
    assert "赵高工" in html and "李教授" not in html


@pytest.mark.parametrize(
    "url", ["/experts", "/experts/new", "/experts/import", "/experts/import/template.xlsx"]
)
@pytest.mark.parametrize("role", ["applicant", "expert", "finance"])
def test_pool_pages_refuse_applicants_experts_and_finance(client, login, url, role):
    login(make_user(role))
    assert client.get(url).status_code == 403


def test_pool_edit_refuses_an_expert_with_403(client, login):
    expert = ExpertFactory()
    login(expert.user)
    assert client.get(f"/experts/{expert.id}/edit").status_code == 403
    assert client.post(f"/experts/{expert.id}/edit", data=expert_data()).status_code == 403
    assert db.session.get(Expert, expert.id).name != "严建国"


def test_new_expert_creates_an_account_with_the_expert_role_and_a_link(client, bureau, run_jobs):
    pharma = ClusterFactory(name_zh="医药健康")
    response = client.post("/experts/new", data=expert_data(cluster_ids=[str(pharma.id)]))
    assert response.status_code == 302
    expert = expert_named("严建国")
    assert (expert.title, expert.employer_name, expert.phone, expert.max_load, expert.active) == (
        "研究员",
        "长春中医药大学",
        "13800000000",
        6,
        True,
    )
    assert expert.keywords == "中药、提取工艺、质量控制"
    assert [c.name_zh for c in expert.clusters] == ["医药健康"]
    assert expert.email == "yan.jg@example.com"
    user = expert.user
    assert user is not None and user.email == "yan.jg@example.com" and user.role_names == {"expert"}
    run_jobs()
    mails = db.session.scalars(
        sa.select(OutboxEmail).where(OutboxEmail.to_address == "yan.jg@example.com")
    ).all()
    assert len(mails) == 1 and "/password/reset/" in mails[0].body
    assert audit_count("expert.created") == 1 and audit_count("expert.account_linked") == 1
    assert last_audit("expert.created").after["clusters"] == [pharma.code]


def test_new_expert_adds_the_role_to_an_existing_account(client, bureau):
    applicant = make_user("applicant", email="yan.jg@example.com")
    assert client.post("/experts/new", data=expert_data()).status_code == 302
    expert = expert_named("严建国")
    db.session.refresh(applicant)
    assert expert.user_id == applicant.id
    assert applicant.role_names == {"applicant", "expert"}
    assert (
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.email == "yan.jg@example.com")
        )
        == 1
    )


def test_new_expert_with_registered_uscc_links_the_employer(client, bureau):
    org = OrganisationFactory(name="通化金马药业集团股份有限公司")
    response = client.post(
        "/experts/new", data=expert_data(employer_name="", employer_uscc=org.uscc.lower())
    )
    assert response.status_code == 302
    expert = expert_named("严建国")
    assert (expert.employer_id, expert.employer_uscc, expert.employer_name) == (
        org.id,
        org.uscc,
        org.name,
    )


def test_new_expert_with_unregistered_uscc_keeps_the_code_only(client, bureau):
    code = next_uscc()
    assert client.post("/experts/new", data=expert_data(employer_uscc=code)).status_code == 302
    expert = expert_named("严建国")
    assert (expert.employer_id, expert.employer_uscc) == (None, code)


def test_new_expert_with_invalid_uscc_is_refused_with_everything_kept(client, bureau):
    response = client.post("/experts/new", data=expert_data(employer_uscc="91220503MA00000010"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="employer_uscc-error"' in html
    assert 'value="严建国"' in html and 'value="91220503MA00000010"' in html and "提取工艺" in html
    assert db.session.scalar(sa.select(sa.func.count(Expert.id))) == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.email == "yan.jg@example.com")
        )
        == 0
    )


def test_new_expert_with_an_email_of_another_expert_is_refused(client, bureau):
    ExpertFactory(name="严建国", email="yan.jg@example.com")
    response = client.post("/experts/new", data=expert_data(name="严建国二"))
    assert response.status_code == 200
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert (
        db.session.scalar(sa.select(sa.func.count(Expert.id)).where(Expert.name == "严建国二")) == 0
    )


def test_new_expert_without_email_has_no_account(client, bureau):
    assert client.post("/experts/new", data=expert_data(email="")).status_code == 302
    assert expert_named("严建国").user_id is None


def test_edit_expert_saves_changes_and_audits_them(client, bureau):
    expert = ExpertFactory(name="李教授", employer_name="吉林大学", email="li@test.example")
    page = client.get(f"/experts/{expert.id}/edit").get_data(as_text=True)
    assert 'value="李教授"' in page
    assert (
        as_rendered("None declared yet. The expert declares relations on their own profile page.")
        in page
    )
    response = client.post(
        f"/experts/{expert.id}/edit",
        data=expert_data(
            name="李教授",
            email="li@test.example",
            employer_name="吉林大学白求恩第一医院",
            active="",
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    expert = db.session.get(Expert, expert.id)
    assert expert.employer_name == "吉林大学白求恩第一医院" and expert.active is False
    event = last_audit("expert.updated")
    assert event.before["employer_name"] == "吉林大学" and event.after["active"] is False
    assert "name" not in event.after


def test_edit_expert_new_email_links_another_account(client, bureau):
    expert = ExpertFactory(email="old@test.example")
    old_user_id = expert.user_id
    response = client.post(
        f"/experts/{expert.id}/edit", data=expert_data(name=expert.name, email="new@test.example")
    )
    assert response.status_code == 302
    db.session.expire_all()
    expert = db.session.get(Expert, expert.id)
    assert expert.user_id != old_user_id and expert.user.email == "new@test.example"
    assert "expert" in expert.user.role_names


def test_edit_expert_refuses_an_account_that_belongs_to_another_expert(client, bureau):
    other = ExpertFactory(email="taken@test.example")
    other.email = "changed@test.example"  # the account keeps its address, the record moved on
    expert = plain_expert(name="孙教授")
    db.session.flush()
    response = client.post(
        f"/experts/{expert.id}/edit", data=expert_data(name="孙教授", email="taken@test.example")
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html and other.name in html
    db.session.expire_all()
    assert db.session.get(Expert, expert.id).user_id is None


def test_edit_expert_of_unknown_id_is_404(client, bureau):
    assert client.get("/experts/999999/edit").status_code == 404
