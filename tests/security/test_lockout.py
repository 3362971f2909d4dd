"""Sign-in back-off instead of a lock: nobody can lock another person out of their account.

Failed sign-ins back off per e-mail address and per client address; the owner always gets
in through a password reset; known and unknown addresses get the same answer.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from grants.accounts import throttle
from grants.accounts.models import LoginThrottle, UserSession
from grants.core.models import AuditEvent, Job
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from tests.factories import PASSWORD, make_user

ATTACKER = "203.0.113.5"
OWNER = "198.51.100.7"
WAIT_TEXT = "登录失败次数过多"


def attempt(client, email: str, password: str, address: str = ATTACKER):
    return client.post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def fail(client, email: str, times: int, address: str = ATTACKER) -> None:
    """``times`` failed sign-ins; waits already earned are ended first (as if the attacker waited)."""
    for _ in range(times):
        end_waits(throttle.account_key(email), throttle.address_key(address))
        assert attempt(client, email, "Wrong-guess-123", address).status_code == 200


def end_waits(*keys: str) -> None:
    """End the waits of ``keys`` (of every key when none is named)."""
    stmt = sa.update(LoginThrottle).where(LoginThrottle.next_allowed_at.is_not(None))
    if keys:
        stmt = stmt.where(LoginThrottle.key.in_(keys))
    db.session.execute(stmt.values(next_allowed_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def sessions_of(user) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(UserSession.id)).where(UserSession.user_id == user.id)
    )


def page_text(response) -> str:
    """The page without the per-request parts (CSRF token, nonce-free markup only)."""
    html = response.get_data(as_text=True)
    return re.sub(r'name="csrf_token"[^>]*', "", html)


def test_lockout_free_failures_do_not_delay_the_owner(client):
    user = make_user("applicant")
    fail(client, user.email, 5)
    response = attempt(client, user.email, PASSWORD, OWNER)
    assert response.status_code == 302
    assert sessions_of(user) == 1


def test_lockout_failures_past_the_free_ones_back_off_with_a_chinese_message(client):
    user = make_user("applicant")
    fail(client, user.email, 6)
    response = attempt(client, user.email, PASSWORD, OWNER)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert WAIT_TEXT in html and "重置密码" in html
    assert f'value="{user.email}"' in html  # what was typed is kept
    assert sessions_of(user) == 0
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "login.throttled")
    ).one()
    assert event.after["email"] == user.email
    assert 1 <= event.after["wait_seconds"] <= 30


def test_lockout_password_reset_always_lets_the_owner_in(client, app, run_jobs):
    user = make_user("applicant")
    fail(client, user.email, 12)
    assert attempt(client, user.email, PASSWORD, OWNER).status_code == 429
    owner = app.test_client()
    assert (
        owner.post(
            "/password/forgot", data={"email": user.email}, environ_base={"REMOTE_ADDR": OWNER}
        ).status_code
        == 302
    )
    run_jobs()
    body = db.session.scalars(
        sa.select(OutboxEmail.body).where(OutboxEmail.to_address == user.email)
    ).one()
    path = re.search(r"https?://[^/\s]+(/password/reset/\S+)", body).group(1)
    response = owner.post(
        path,
        data={"password": "Owner-new-pass-9", "confirm": "Owner-new-pass-9"},
        environ_base={"REMOTE_ADDR": OWNER},
    )
    assert response.status_code == 302
    assert attempt(owner, user.email, "Owner-new-pass-9", OWNER).status_code == 302
    assert sessions_of(user) == 1


def test_lockout_backoff_ends_when_the_wait_is_over(client):
    user = make_user("expert")
    fail(client, user.email, 6)
    assert attempt(client, user.email, PASSWORD, OWNER).status_code == 429
    end_waits()
    assert attempt(client, user.email, PASSWORD, OWNER).status_code == 302


def test_lockout_attempts_during_the_wait_do_not_check_the_password(client, monkeypatch):
    user = make_user("expert")
    fail(client, user.email, 6)
    checked = []
    monkeypatch.setattr(type(user), "check_password", lambda self, pw: checked.append(pw) or True)
    assert attempt(client, user.email, PASSWORD).status_code == 429
    assert checked == []


def test_lockout_known_and_unknown_addresses_get_the_same_answer(client):
    user = make_user("applicant", email="known@test.example")
    fail(client, user.email, 6)
    fail(client, "unknown@test.example", 6, address="192.0.2.9")
    known = attempt(client, user.email, "Another-guess-1")
    unknown = attempt(client, "unknown@test.example", "Another-guess-1", "192.0.2.9")
    assert known.status_code == unknown.status_code == 429
    assert page_text(known).replace("known@", "X@") == page_text(unknown).replace("unknown@", "X@")


def test_lockout_success_clears_the_account_count(client):
    user = make_user("finance")
    fail(client, user.email, 4)
    assert attempt(client, user.email, PASSWORD, OWNER).status_code == 302
    client.post("/logout")
    assert db.session.get(LoginThrottle, throttle.account_key(user.email)) is None
    fail(client, user.email, 5)
    assert attempt(client, user.email, PASSWORD, OWNER).status_code == 302


def test_lockout_one_address_backs_off_across_accounts(client, app):
    free = app.config["LOGIN_BACKOFF_IP_FREE_ATTEMPTS"]
    for n in range(free + 1):
        assert attempt(client, f"guess{n}@test.example", "Wrong-guess-123").status_code == 200
    user = make_user("bureau")
    assert attempt(client, user.email, PASSWORD).status_code == 429
    assert attempt(client, user.email, PASSWORD, OWNER).status_code == 302


def test_lockout_backoff_doubles_up_to_the_maximum(app):
    app_config = app.config
    base, ceiling = (
        app_config["LOGIN_BACKOFF_BASE_SECONDS"],
        app_config["LOGIN_BACKOFF_MAX_SECONDS"],
    )
    free = app_config["LOGIN_BACKOFF_FREE_ATTEMPTS"]
    key = throttle.account_key("someone@test.example")
    assert [throttle.backoff_seconds(key, free + n) for n in range(4)] == [
        0,
        base,
        base * 2,
        base * 4,
    ]
    assert throttle.backoff_seconds(key, free + 100) == ceiling
    assert throttle.backoff_seconds(throttle.address_key("192.0.2.1"), free + 1) == 0


def test_lockout_counts_each_failure_in_the_table(client):
    fail(client, "Counted@Test.example", 7)
    row = db.session.get(LoginThrottle, "account:counted@test.example")
    assert row.failures == 7
    base = client.application.config["LOGIN_BACKOFF_BASE_SECONDS"]
    wait = (row.next_allowed_at - row.updated_at).total_seconds()
    assert wait == pytest.approx(base * 2, abs=1)
    assert db.session.get(LoginThrottle, f"ip:{ATTACKER}").failures == 7


def test_lockout_purge_job_forgets_quiet_keys_only(app, client, run_jobs):
    old = utcnow() - timedelta(hours=app.config["LOGIN_THROTTLE_RETENTION_HOURS"] + 1)
    db.session.add_all(
        [
            LoginThrottle(key="account:quiet@test.example", failures=3, updated_at=old),
            LoginThrottle(
                key="account:waiting@test.example",
                failures=40,
                updated_at=old,
                next_allowed_at=utcnow() + timedelta(minutes=5),
            ),
            LoginThrottle(key="account:recent@test.example", failures=2, updated_at=utcnow()),
        ]
    )
    db.session.commit()
    from grants.core.jobs import enqueue

    job = enqueue("accounts.purge_login_throttles")
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Job, job.id).result == {"purged": 1}
    keys = set(db.session.scalars(sa.select(LoginThrottle.key)))
    assert keys == {"account:waiting@test.example", "account:recent@test.example"}


def test_lockout_no_rate_limiter_refuses_the_owner_after_many_successes(client):
    user = make_user("bureau")
    for _ in range(25):
        assert attempt(client, user.email, PASSWORD).status_code == 302
        client.post("/logout")


def test_lockout_change_password_guesses_back_off_too(client, login, app):
    user = make_user("applicant")
    login(user)
    free = app.config["LOGIN_BACKOFF_FREE_ATTEMPTS"]
    guess = {
        "current": "Wrong-guess-123",
        "password": "Brand-new-pass-1",
        "confirm": "Brand-new-pass-1",
    }
    for _ in range(free + 1):
        assert client.post("/account/password", data=guess).status_code == 200
    right = dict(guess, current=PASSWORD)
    response = client.post("/account/password", data=right)
    assert response.status_code == 429
    assert WAIT_TEXT in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(PASSWORD)
    assert db.session.get(LoginThrottle, throttle.account_key(user.email)).failures == free + 1
