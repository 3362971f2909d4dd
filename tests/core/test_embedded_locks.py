"""SQLite's write lock in the embedded default: two connections on one database file.

The usual fixture runs a test on one shared connection, which cannot show locking; these
tests use an app on a SQLite file of its own (:func:`tests.racing.racing_database`) and a
second, plain ``sqlite3`` connection that holds the write lock as a job does.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from grants.accounts.models import UserSession
from grants.core.models import AuditEvent
from grants.core.sqlite import immediate_writes
from grants.core.types import utcnow
from grants.extensions import db
from tests.conftest import PASSWORD
from tests.factories import OrganisationFactory, make_user
from tests.racing import racing_database


@pytest.fixture
def file_app(tmp_path, monkeypatch):
    monkeypatch.setattr("grants.core.jobs.dispatch", lambda app, job_id: None)
    with racing_database("sqlite", tmp_path, pool_size=5) as app:
        app.config.update(RENDER_500_IN_TESTS=True, WTF_CSRF_ENABLED=False)
        with app.app_context(), immediate_writes():
            own = OrganisationFactory()
            other = OrganisationFactory()
            user = make_user("applicant", organisation=own)
            db.session.commit()
            app.config["TEST_IDS"] = {"user": user.id, "email": user.email, "other": other.id}
        yield app


def database_file(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


class WriteLockHolder(threading.Thread):
    """Another writer: takes the write lock, writes a row, keeps the lock ``hold`` seconds, commits."""

    def __init__(self, path: str, hold: float):
        super().__init__(daemon=True)
        self.path, self.hold = path, hold
        self.locked = threading.Event()

    def run(self):
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO audit_events (at, actor_label, action) "
                "VALUES (datetime('now'), 'job', 'test.other_writer')"
            )
            self.locked.set()
            time.sleep(self.hold)
            connection.execute("COMMIT")
        finally:
            connection.close()


def signed_in_client(app):
    client = app.test_client()
    response = client.post(
        "/login", data={"email": app.config["TEST_IDS"]["email"], "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


def denials(app) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "permission.denied")
        ).all()


def test_denied_get_is_refused_and_audited_while_another_connection_writes(file_app):
    client = signed_in_client(file_app)
    other = file_app.config["TEST_IDS"]["other"]
    holder = WriteLockHolder(database_file(file_app), hold=1.0)
    holder.start()
    assert holder.locked.wait(5)

    response = client.get(f"/organisations/{other}")
    holder.join()

    assert response.status_code == 404  # refused; 404 hides that it exists
    recorded = denials(file_app)
    assert [event.object_id for event in recorded] == [str(other)]
    assert recorded[0].actor_id == file_app.config["TEST_IDS"]["user"]


def test_denied_get_is_refused_when_the_denial_cannot_be_written(file_app, monkeypatch):
    monkeypatch.setattr("grants.core.audit.DENIAL_BUSY_TIMEOUT_MS", 200)
    client = signed_in_client(file_app)
    other = file_app.config["TEST_IDS"]["other"]
    holder = WriteLockHolder(database_file(file_app), hold=2.0)
    holder.start()
    assert holder.locked.wait(5)

    started = time.monotonic()
    response = client.get(f"/organisations/{other}")
    elapsed = time.monotonic() - started
    holder.join()

    assert response.status_code == 404  # refused; 404 hides that it exists
    assert elapsed < 1.5
    assert denials(file_app) == []  # given up after 0.2 s, logged


def age_sessions(app, minutes: int = 2) -> None:
    with app.app_context(), immediate_writes():
        db.session.execute(
            sa.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()


def last_seen(app):
    with app.app_context():
        return db.session.scalar(sa.select(UserSession.last_seen_at))


def test_post_refused_for_its_csrf_token_answers_400_at_once_and_touches_the_session(file_app):
    client = signed_in_client(file_app)
    age_sessions(file_app)
    before = last_seen(file_app)
    file_app.config["WTF_CSRF_ENABLED"] = True

    started = time.monotonic()
    response = client.post("/language", data={"locale": "en"})
    elapsed = time.monotonic() - started

    assert response.status_code == 400
    assert elapsed < 5  # the old touch waited 30 s for the request's own write lock
    assert last_seen(file_app) > before


def test_page_is_answered_when_the_touch_cannot_get_the_write_lock(file_app):
    client = signed_in_client(file_app)
    age_sessions(file_app)
    before = last_seen(file_app)
    holder = WriteLockHolder(database_file(file_app), hold=3.0)
    holder.start()
    assert holder.locked.wait(5)

    started = time.monotonic()
    response = client.get("/")
    elapsed = time.monotonic() - started
    holder.join()

    assert response.status_code == 200
    assert elapsed < 2.5  # the touch gave up after its 1 s busy timeout
    assert last_seen(file_app) == before
    client.get("/")  # the next request touches it
    assert last_seen(file_app) > before


def test_write_lock_is_free_again_after_a_refused_post(file_app):
    client = signed_in_client(file_app)
    file_app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/language", data={"locale": "en"}).status_code == 400
    connection = sqlite3.connect(database_file(file_app), timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")  # "database is locked" if the request kept it
        connection.execute("ROLLBACK")
    finally:
        connection.close()
