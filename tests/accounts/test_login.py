import sqlalchemy as sa

from grants.accounts.models import UserSession
from grants.core.models import AuditEvent
from grants.extensions import db
from tests.factories import PASSWORD, make_user


def audit_actions():
    return db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_login_page_renders_in_chinese_by_default(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录" in html


def test_login_with_right_password_opens_dashboard(client):
    user = make_user("bureau")
    response = client.post("/login", data={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
    assert (
        db.session.scalar(
            sa.select(sa.func.count(UserSession.id)).where(UserSession.user_id == user.id)
        )
        == 1
    )
    assert "login" in audit_actions()
    page = client.get("/")
    assert page.status_code == 200
    assert user.name in page.get_data(as_text=True)


def test_login_with_wrong_password_is_refused_and_audited(client):
    user = make_user("applicant")
    response = client.post("/login", data={"email": user.email, "password": "wrong-password-1"})
    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 0
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "login.failed")
    ).one()
    assert event.after["reason"] == "password"
    assert client.get("/").status_code == 302


def test_login_of_unknown_email_is_audited_without_user(client):
    client.post("/login", data={"email": "nobody@test.example", "password": "whatever-123"})
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "login.failed")
    ).one()
    assert event.after == {"email": "nobody@test.example", "reason": "unknown"}
    assert event.actor_id is None


def test_login_of_disabled_user_is_refused(client):
    user = make_user("expert", active=False)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    reasons = db.session.scalars(
        sa.select(AuditEvent.after).where(AuditEvent.action == "login.failed")
    ).all()
    assert reasons == [{"email": user.email, "reason": "disabled"}]


def test_login_successes_do_not_count_towards_the_limit(client):
    user = make_user("finance")
    for _ in range(7):
        assert (
            client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code
            == 302
        )
        client.post("/logout")


def test_login_next_parameter_only_allows_local_paths(client):
    user = make_user("bureau")
    response = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] in ("/", "http://grants.test/")
    client.post("/logout")
    response = client.post("/login?next=/inbox", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/inbox")


def test_logout_deletes_the_server_side_session(client, login):
    user = make_user("bureau")
    login(user)
    cookie = client.session_cookie()
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 1
    client.post("/logout")
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 0
    replay = client.application.test_client()
    replay.set_cookie("grants_session", cookie, domain="grants.test")
    assert replay.get("/").status_code == 302
