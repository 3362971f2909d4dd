import sqlalchemy as sa

from grants.accounts.models import User
from grants.core.models import AuditEvent
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from tests.factories import OrganisationFactory, make_user


def test_admin_creates_user_with_several_roles(client, login):
    login(make_user("admin"))
    org = OrganisationFactory()
    response = client.post(
        "/admin/users/new",
        data={
            "email": "Officer@Test.example",
            "name": "赵科员",
            "phone": "",
            "roles": ["bureau", "admin"],
            "organisation_id": "0",
            "password": "Initial-pass-1",
        },
    )
    assert response.status_code == 302
    user = db.session.scalars(sa.select(User).where(User.email == "officer@test.example")).one()
    assert user.role_names == {"bureau", "admin"}
    assert org.id != user.organisation_id
    assert db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "user.created")
    ).one()


def test_admin_created_user_without_password_gets_a_link(client, login, run_jobs):
    login(make_user("admin"))
    client.post(
        "/admin/users/new",
        data={
            "email": "new@test.example",
            "name": "新专家",
            "roles": ["expert"],
            "organisation_id": "0",
        },
    )
    run_jobs()
    mail = db.session.scalars(
        sa.select(OutboxEmail).where(OutboxEmail.to_address == "new@test.example")
    ).one()
    assert "/password/reset/" in mail.body


def test_duplicate_email_is_refused_and_input_kept(client, login):
    login(make_user("admin"))
    existing = make_user("expert")
    response = client.post(
        "/admin/users/new",
        data={
            "email": existing.email,
            "name": "重复的名字",
            "roles": ["expert"],
            "organisation_id": "0",
        },
    )
    assert response.status_code == 200
    assert "重复的名字" in response.get_data(as_text=True)
    assert (
        db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email == existing.email))
        == 1
    )


def test_granting_roles_is_audited_with_before_and_after(client, login):
    login(make_user("admin"))
    user = make_user("expert")
    response = client.post(
        f"/admin/users/{user.id}",
        data={
            "email": user.email,
            "name": user.name,
            "phone": "",
            "roles": ["expert", "bureau"],
            "organisation_id": "0",
        },
    )
    assert response.status_code == 302
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "user.roles_changed")
    ).one()
    assert event.before == {"roles": ["expert"]}
    assert event.after == {"roles": ["bureau", "expert"]}


def test_user_admin_is_forbidden_to_other_roles(client, login):
    login(make_user("bureau"))
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users/new", data={}).status_code == 403
    denial = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "permission.denied")
    ).first()
    assert denial.after["action"] == "users.manage"


def test_user_admin_sends_anonymous_visitors_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_user_list_filters_by_role_and_status(client, login):
    login(make_user("admin"))
    expert = make_user("expert", name="甲专家")
    make_user("finance", name="乙会计", active=False)
    html = client.get("/admin/users?role=expert").get_data(as_text=True)
    assert expert.name in html and "乙会计" not in html
    html = client.get("/admin/users?status=disabled").get_data(as_text=True)
    assert "乙会计" in html and expert.name not in html
