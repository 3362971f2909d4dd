from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa

from grants.accounts import operations as ops
from grants.accounts.models import UserSession
from grants.core.models import AuditEvent
from grants.core.types import utcnow
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


# --- the touch of last_seen_at (issue 23, item 6) ---------------------------------------------


def _age_session(user, minutes: int) -> None:
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(last_seen_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def _last_seen(user):
    db.session.expire_all()
    return db.session.scalar(
        sa.select(UserSession.last_seen_at).where(UserSession.user_id == user.id)
    )


def test_session_touch_runs_after_the_response_is_built(client, app, login):
    user = make_user("applicant")
    login(user)
    _age_session(user, 5)
    order = []

    def note_update(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE USER_SESSIONS"):
            order.append("touch")

    def note_response(response):
        order.append("response")
        return response

    app.after_request_funcs.setdefault(None, []).append(note_response)
    sa.event.listen(db.engine, "before_cursor_execute", note_update)
    try:
        assert client.get("/").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note_update)
        app.after_request_funcs[None].remove(note_response)
    assert order == ["response", "touch"]
    assert utcnow() - _last_seen(user) < timedelta(seconds=30)


def test_session_touch_waits_for_session_touch_seconds(client, app, login, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_TOUCH_SECONDS", 300)
    user = make_user("applicant")
    login(user)
    _age_session(user, 2)
    before = _last_seen(user)
    assert client.get("/").status_code == 200
    assert _last_seen(user) == before  # two minutes old: not yet
    _age_session(user, 6)
    assert client.get("/").status_code == 200
    assert utcnow() - _last_seen(user) < timedelta(seconds=30)


def test_failed_session_touch_does_not_fail_the_page(client, login, monkeypatch, caplog):
    user = make_user("applicant")
    login(user)
    _age_session(user, 5)
    before = _last_seen(user)

    @contextmanager
    def locked(**kwargs):
        raise sa.exc.OperationalError("UPDATE user_sessions", {}, Exception("database is locked"))
        yield  # pragma: no cover

    monkeypatch.setattr("grants.accounts.sessions.own_transaction", locked)
    response = client.get("/")
    assert response.status_code == 200
    assert _last_seen(user) == before
    assert "not touched" in caplog.text
