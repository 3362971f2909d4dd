import re

import sqlalchemy as sa

from grants.accounts import operations as ops
from grants.accounts.models import UserSession
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from tests.factories import make_user


def reset_link(email: str) -> str:
    mail = db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_address == email)
                              .order_by(OutboxEmail.id.desc())).first()
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
    response = other.post(path, data={"password": "Brand-new-pass-1", "confirm": "Brand-new-pass-1"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id)).where(UserSession.user_id == user.id)) == 0
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
