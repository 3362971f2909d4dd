"""Test fixtures: one app per backend, schema from the migrations, rollback per test.

Every test that uses ``app`` runs on SQLite; when ``TEST_DATABASE_URL`` and
``REDIS_URL`` are set it runs again on PostgreSQL with Redis behind the rate limiter
and RQ behind the jobs. Each test runs inside an outer transaction that is rolled
back afterwards; the app's own commits become savepoints.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import globals as flask_globals
from flask.testing import FlaskClient

from grants import create_app
from grants.extensions import db, limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL and REDIS_URL else [])
EXERCISED: set[str] = set()
PASSWORD = "Secret-pass-2026"
# Item "throttle": tests hash passwords with a cheap argon2id setting (production uses OWASP's).
CHEAP_ARGON2 = {"memory_cost": 8, "time_cost": 1, "parallelism": 1}


def _base_config(tmp: Path) -> dict:
    return {
        "TESTING": True,
        "SCHEDULER_IN_PROCESS": False,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret",
        "SERVER_NAME": "grants.test",
        # links (issue 15): absolute links come from BASE_URL; the test client's host is trusted
        "BASE_URL": "http://grants.test",
        "UPLOAD_DIR": str(tmp / "uploads"),
        "INSTANCE_DIR": str(tmp),
        "MAIL_SERVER": None,
        "SHOW_OUTBOX": True,
        "PASSWORD_ARGON2": CHEAP_ARGON2,
        # faults: no heartbeat thread in tests (tests/core/test_jobs_outbox.py drives it by hand)
        "JOB_HEARTBEAT_SECONDS": 0,
    }


def _config_for(backend: str, tmp: Path) -> dict:
    config = _base_config(tmp)
    if backend == "sqlite":
        config.update(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp / 'test.sqlite3'}",
            REDIS_URL=None,
            JOBS_MODE="sync",
            RATELIMIT_STORAGE_URI="memory://",
        )
    else:
        from grants.config import normalise_database_url

        config.update(
            SQLALCHEMY_DATABASE_URI=normalise_database_url(TEST_DATABASE_URL),
            REDIS_URL=REDIS_URL,
            JOBS_MODE="rq",
            RQ_QUEUE=f"grants-test-{uuid.uuid4().hex[:8]}",
            RATELIMIT_STORAGE_URI=REDIS_URL,
            RATELIMIT_KEY_PREFIX=f"grants-test-{uuid.uuid4().hex[:8]}",
        )
    return config


def reset_postgres_schema(url: str) -> None:
    """Drop and recreate the public schema so the migrations start from empty."""
    from grants.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


class RequestIsolatingClient(FlaskClient):
    """Each request gets its own app context (its own db session and ``g``), as in production.

    Without this, a request would reuse the test's app context, so Flask-Login's cached
    user and the test's identity map would leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        token = flask_globals._cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            flask_globals._cv_app.reset(token)
            if flask_globals._cv_app.get(None) is not None:
                db.session.expire_all()

    def session_cookie(self):
        """The value of the session cookie, or None."""
        cookie = self.get_cookie(
            self.application.config["SESSION_COOKIE_NAME"],
            domain=self.application.config["SERVER_NAME"],
        )
        return cookie.value if cookie else None


@pytest.fixture(scope="session", params=BACKENDS)
def backend_app(request, tmp_path_factory):
    """A migrated app per backend, shared by the tests of the session."""
    from flask_migrate import upgrade

    backend = request.param
    tmp = tmp_path_factory.mktemp(backend)
    if backend == "postgresql":
        reset_postgres_schema(TEST_DATABASE_URL)
    app = create_app(_config_for(backend, tmp))
    app.test_client_class = RequestIsolatingClient
    with app.app_context():
        upgrade()
    app.config["BACKEND"] = backend
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(backend_app):
    """The app, with every database write of the test rolled back afterwards."""
    app = backend_app
    EXERCISED.add(app.config["BACKEND"])
    if app.config.get("REDIS_URL"):
        EXERCISED.add("redis")
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        db.session.remove()
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
        limiter.reset()
        try:
            yield app
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()
            if app.config.get("REDIS_URL"):
                _empty_queue(app)


def _empty_queue(app) -> None:
    from grants.core.jobs import rq_queue

    rq_queue(app).empty()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def run_jobs(app):
    """Run queued jobs now: drains RQ with a worker in this process (no-op in sync mode)."""

    def drain() -> int:
        if app.config["JOBS_MODE"] != "rq":
            return 0
        from rq import SimpleWorker

        from grants.core.jobs import rq_queue

        queue = rq_queue(app)
        count = queue.count
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)
        db.session.expire_all()
        return count

    return drain


@pytest.fixture
def login(client):
    """Sign a user in through the real login form."""

    def do_login(user, password: str = PASSWORD):
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return do_login


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    names = sorted(EXERCISED) or ["none"]
    terminalreporter.write_line("backends exercised: " + ", ".join(names))


@pytest.fixture
def english_ui(app):
    """Render pages and messages in English for tests that assert on the English source text."""
    default = app.config["BABEL_DEFAULT_LOCALE"]
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    try:
        yield
    finally:
        app.config["BABEL_DEFAULT_LOCALE"] = default


@pytest.fixture
def untranslated_ui(app, monkeypatch):
    """Chinese locale (money in 万元, Chinese names) but messages in their English source text."""
    import flask_babel
    from babel import support

    monkeypatch.setattr(
        flask_babel.Domain, "get_translations", lambda self: support.NullTranslations()
    )


# --- storage (issue 16, items 4-5): fixtures of the local and the S3 backend ------------------
from tests.storage_fixtures import local_storage, s3_server, s3_storage, storage_backend  # noqa: E402,F401
