import re

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from grants.accounts import operations as ops
from grants.accounts.models import User, UserSession
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from tests.conftest import PASSWORD
from tests.factories import make_user


def reset_link(email: str) -> str:
    mail = db.session.scalars(
        sa.select(OutboxEmail)
        .where(OutboxEmail.to_address == email)
        .order_by(OutboxEmail.id.desc())
    ).first()
    assert mail is not None
    return re.search(r"https?://[^/\s]+(/password/reset/\S+)", mail.body).group(1)


def test_reset_flow_sets_new_password_and_ends_sessions(client, app, login, run_jobs):
    user = make_user("applicant")
    login(user)
    other = app.test_client()
    response = other.post("/password/forgot", data={"email": user.email})
    assert response.status_code == 302
    run_jobs()
    path = reset_link(user.email)
    assert other.get(path).status_code == 200
    response = other.post(
        path, data={"password": "Brand-new-pass-1", "confirm": "Brand-new-pass-1"}
    )
    assert response.status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count(UserSession.id)).where(UserSession.user_id == user.id)
        )
        == 0
    )
    assert client.get("/").status_code == 302
    assert ops.authenticate(user.email, "Brand-new-pass-1") is not None


def test_reset_link_works_only_once(client, run_jobs):
    user = make_user("expert")
    client.post("/password/forgot", data={"email": user.email})
    run_jobs()
    path = reset_link(user.email)
    client.post(path, data={"password": "Brand-new-pass-1", "confirm": "Brand-new-pass-1"})
    response = client.post(path, data={"password": "Second-pass-22", "confirm": "Second-pass-22"})
    assert response.status_code == 302
    assert "/password/forgot" in response.headers["Location"]
    assert ops.authenticate(user.email, "Second-pass-22") is None


def test_reset_request_for_unknown_address_looks_the_same_and_sends_nothing(client, run_jobs):
    response = client.post("/password/forgot", data={"email": "ghost@test.example"})
    assert response.status_code == 302
    run_jobs()
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0


def test_tampered_reset_token_is_refused(client):
    response = client.get("/password/reset/not-a-token")
    assert response.status_code == 302
    assert "/password/forgot" in response.headers["Location"]


def test_outbox_mail_is_held_without_smtp(client, run_jobs):
    user = make_user("finance")
    client.post("/password/forgot", data={"email": user.email})
    run_jobs()
    db.session.expire_all()
    mail = db.session.scalars(sa.select(OutboxEmail)).one()
    assert mail.status == "held"


def test_reset_link_is_refused_after_the_password_changed_in_settings(client, login, run_jobs):
    user = make_user("applicant")
    client.post("/password/forgot", data={"email": user.email})
    run_jobs()
    path = reset_link(user.email)
    login(user)
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": "Changed-pass-2026", "confirm": "Changed-pass-2026"},
    )
    assert response.status_code == 302
    client.post("/logout")
    response = client.get(path)
    assert response.status_code == 302 and "/password/forgot" in response.headers["Location"]
    response = client.post(path, data={"password": "Attacker-pass-1", "confirm": "Attacker-pass-1"})
    assert "/password/forgot" in response.headers["Location"]
    assert ops.authenticate(user.email, "Attacker-pass-1") is None
    assert ops.authenticate(user.email, "Changed-pass-2026") is not None


def test_second_use_of_a_reset_link_is_refused_with_a_message(client, run_jobs):
    user = make_user("expert")
    client.post("/password/forgot", data={"email": user.email})
    run_jobs()
    path = reset_link(user.email)
    client.post(path, data={"password": "Brand-new-pass-1", "confirm": "Brand-new-pass-1"})
    response = client.post(
        path,
        data={"password": "Second-pass-22", "confirm": "Second-pass-22"},
        follow_redirects=True,
    )
    assert "该链接已使用过或已失效" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_version == 2


def test_reset_claim_fails_when_the_link_was_used_meanwhile(app):
    """Two uses at once: the second finds the version moved on by the first and changes nothing."""
    user = make_user("finance")
    token = ops.make_reset_token(user)
    assert ops.user_for_reset_token(token) is user  # both requests have checked the link…
    hash_of_first = generate_password_hash("First-use-pass-1", method="scrypt")
    db.session.execute(
        sa.update(User)
        .where(User.id == user.id)  # …and the first one wins
        .values(password_hash=hash_of_first, password_version=User.password_version + 1)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(ops.AccountError):
        ops.reset_password(token, "Second-use-pass-2")
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == hash_of_first
    assert ops.authenticate(user.email, "First-use-pass-1") is not None


def test_reset_token_of_the_old_format_is_refused(app):
    user = make_user("bureau")
    old = ops._serializer().dumps({"uid": user.id, "ph": user.password_hash[-16:]})
    with pytest.raises(ops.AccountError):
        ops.user_for_reset_token(old)


def test_password_version_moves_with_every_password_change(app):
    user = make_user("expert")
    before = user.password_version
    token = ops.make_reset_token(user)
    ops.change_password(user, PASSWORD, "Changed-pass-2026")
    assert user.password_version == before + 1
    with pytest.raises(ops.AccountError):
        ops.user_for_reset_token(token)
