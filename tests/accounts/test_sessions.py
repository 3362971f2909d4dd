from datetime import timedelta

import sqlalchemy as sa

from grants.accounts import operations as ops
from grants.accounts.models import UserSession
from grants.core.models import AuditEvent
from grants.extensions import db
from tests.factories import PASSWORD, make_user


def test_disabling_a_user_ends_their_sessions(client, app, login):
    victim = make_user("applicant")
    admin = make_user("admin")
    login(victim)
    assert client.get("/").status_code == 200
    admin_client = app.test_client()
    admin_client.post("/login", data={"email": admin.email, "password": PASSWORD})
    response = admin_client.post(f"/admin/users/{victim.id}/active", data={"active": "0"})
    assert response.status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count(UserSession.id)).where(UserSession.user_id == victim.id)
        )
        == 0
    )
    assert client.get("/").status_code == 302
    assert db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action == "user.disabled")
    ).one()


def test_admin_cannot_disable_themselves(client, login):
    admin = make_user("admin")
    login(admin)
    assert client.post(f"/admin/users/{admin.id}/active", data={"active": "0"}).status_code == 403
    db.session.refresh(admin)
    assert admin.active


def test_new_login_gets_a_new_session_token(client, login):
    user = make_user("expert")
    login(user)
    first = client.session_cookie()
    client.post("/logout")
    login(user)
    assert client.session_cookie() not in (None, first)


def test_idle_session_expires(client, app, login):
    user = make_user("bureau")
    login(user)
    row = db.session.scalars(sa.select(UserSession)).one()
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id == row.id)
        .values(last_seen_at=row.last_seen_at - idle)
    )
    db.session.commit()
    assert client.get("/").status_code == 302
    login(user)
    assert (
        db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 1
    )  # the dead one was purged


def test_absolute_session_lifetime_expires_even_when_active(client, app, login):
    user = make_user("bureau")
    login(user)
    row = db.session.scalars(sa.select(UserSession)).one()
    old = timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"] + 1)
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id == row.id)
        .values(created_at=row.created_at - old)
    )
    db.session.commit()
    assert client.get("/").status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(client, app, login):
    user = make_user("applicant")
    login(user)
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    assert other.get("/").status_code == 200
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": "Another-pass-99", "confirm": "Another-pass-99"},
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert ops.authenticate(user.email, "Another-pass-99") is not None


def test_password_change_with_wrong_current_password_keeps_the_old_one(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        "/account/password",
        data={"current": "not-it-123", "password": "Another-pass-99", "confirm": "Another-pass-99"},
    )
    assert response.status_code == 200
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_weak_new_password_is_refused(client, login):
    user = make_user("applicant")
    login(user)
    response = client.post(
        "/account/password", data={"current": PASSWORD, "password": "short", "confirm": "short"}
    )
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
