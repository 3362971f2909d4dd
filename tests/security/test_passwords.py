"""Password storage: argon2id at OWASP's parameters; old werkzeug hashes rehashed at sign-in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import Type as Argon2Type
from argon2 import extract_parameters
from werkzeug.security import generate_password_hash

from grants.accounts import operations as ops
from grants.accounts import passwords
from grants.config import Config, parse_argon2
from grants.core.models import AuditEvent
from grants.extensions import db
from tests.factories import PASSWORD, make_user


def rehash_events(user) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action == "password.rehashed", AuditEvent.object_id == str(user.id)
        )
    )


def test_passwords_default_setting_is_owasp_argon2id(monkeypatch):
    monkeypatch.delenv("PASSWORD_ARGON2", raising=False)
    assert Config(SECRET_KEY="x").PASSWORD_ARGON2 == {
        "memory_cost": 19456,
        "time_cost": 2,
        "parallelism": 1,
    }
    stored = passwords._hasher(19456, 2, 1).hash("Secret-pass-2026")
    params = extract_parameters(stored)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (
        Argon2Type.ID,
        19456,
        2,
        1,
    )


def test_passwords_setting_read_from_the_environment():
    assert parse_argon2("m=65536,t=3,p=4") == {
        "memory_cost": 65536,
        "time_cost": 3,
        "parallelism": 4,
    }
    assert parse_argon2("t=4") == {"memory_cost": 19456, "time_cost": 4, "parallelism": 1}
    with pytest.raises(ValueError):
        parse_argon2("memory=lots")


def test_passwords_new_hash_is_argon2id_with_the_configured_parameters(app):
    user = make_user("expert")
    params = extract_parameters(user.password_hash)
    configured = app.config["PASSWORD_ARGON2"]
    assert user.password_hash.startswith("$argon2id$")
    assert (params.memory_cost, params.time_cost, params.parallelism) == (
        configured["memory_cost"],
        configured["time_cost"],
        configured["parallelism"],
    )
    assert user.check_password(PASSWORD)
    assert not user.check_password(PASSWORD + "x")


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:600000"])
def test_passwords_old_werkzeug_hash_is_rehashed_at_sign_in(client, method):
    user = make_user("bureau")
    user.password_hash = generate_password_hash(PASSWORD, method=method)
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.password_hash.startswith("$argon2id$")
    assert user.check_password(PASSWORD)
    assert rehash_events(user) == 1
    client.post("/logout")
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    )
    assert rehash_events(user) == 1  # the new hash is kept


def test_passwords_old_hash_is_kept_after_a_wrong_password(client):
    user = make_user("bureau")
    old = generate_password_hash(PASSWORD, method="scrypt")
    user.password_hash = old
    db.session.commit()
    assert (
        client.post("/login", data={"email": user.email, "password": "Wrong-pass-123"}).status_code
        == 200
    )
    db.session.refresh(user)
    assert user.password_hash == old
    assert rehash_events(user) == 0


def test_passwords_argon2_hash_with_weaker_parameters_is_rehashed(client):
    user = make_user("finance")
    user.password_hash = passwords._hasher(16, 1, 2).hash(PASSWORD)
    db.session.commit()
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    )
    db.session.refresh(user)
    assert extract_parameters(user.password_hash).parallelism == 1
    assert rehash_events(user) == 1


def test_passwords_rehash_keeps_password_changed_at(client):
    user = make_user("finance")
    changed = user.password_changed_at
    user.password_hash = generate_password_hash(PASSWORD, method="scrypt")
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    db.session.refresh(user)
    assert user.password_changed_at == changed


def test_passwords_unknown_email_spends_one_verification(app, monkeypatch):
    spent = []
    monkeypatch.setattr(ops, "dummy_verify", lambda password: spent.append(password))
    assert ops.authenticate("nobody@test.example", "Some-guess-123") is None
    assert spent == ["Some-guess-123"]


def test_passwords_dummy_verification_uses_the_configured_argon2(app, monkeypatch):
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(
        passwords, "verify_password", lambda stored, pw: calls.append(stored) or real(stored, pw)
    )
    passwords.dummy_verify("Some-guess-123")
    configured = app.config["PASSWORD_ARGON2"]
    assert extract_parameters(calls[0]).memory_cost == configured["memory_cost"]


def test_passwords_account_without_password_matches_nothing(app):
    assert not passwords.verify_password("!" + "0" * 32, "")
    assert not passwords.verify_password("", "anything")
    assert not passwords.verify_password("$argon2id$garbage", "anything")
