"""Test fixtures: one app per backend, schema from the migrations, rollback per test.

Every test that uses ``app`` runs on SQLite; when ``TEST_DATABASE_URL`` and
``REDIS_URL`` are set it runs again on PostgreSQL with Redis behind the rate limiter
and RQ behind the jobs. Each test runs inside an outer transaction that is rolled
back afterwards; the app's own commits become savepoints.

Under pytest-xdist (``make test`` runs two workers) each worker has its own SQLite file
(its own temporary folder), its own PostgreSQL database ``<name>_<worker>`` (made from
``TEST_DATABASE_URL`` when missing) and its own Redis database number, so that no worker
drops, flushes or drains another's data.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from flask import globals as flask_globals
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from grants import create_app
from grants.extensions import db, limiter
from tests.suite_guard import CI_REQUIRED, in_ci, missing_backends

# "gw0", "gw1", … in a pytest-xdist worker; empty in a single-process run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _per_worker_database(url: str | None) -> str | None:
    """``url`` with the database ``<name>_<worker>`` under xdist, else ``url`` itself."""
    if not url or not WORKER:
        return url
    parsed = sa.engine.make_url(url)
    return parsed.set(database=f"{parsed.database or 'test'}_{WORKER}").render_as_string(
        hide_password=False
    )


def _per_worker_redis(url: str | None) -> str | None:
    """``url`` on Redis database number ``(n + worker index) % 16`` under xdist."""
    if not url or not WORKER:
        return url
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    index = int(WORKER.removeprefix("gw") or 0)
    return urlunsplit(parts._replace(path=f"/{(number + index) % 16}"))


BASE_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_DATABASE_URL = _per_worker_database(BASE_DATABASE_URL)
REDIS_URL = _per_worker_redis(os.environ.get("REDIS_URL"))
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL and REDIS_URL else [])
EXERCISED: set[str] = set()

# Hypothesis: "ci" replays the same examples every run (derandomized, no example database);
# "dev" explores new examples each run and keeps the failing ones in .hypothesis/ to replay
# first. Example counts are set by the tests and are the same in both.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
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
        # Read the whole body and close the app's iterator (a streamed file) at once, as a
        # WSGI server does; otherwise the file stays open until garbage collection warns.
        kwargs.setdefault("buffered", True)
        token = flask_globals._cv_app.set(None)
        try:
            response = super().open(*args, **kwargs)
            # Werkzeug's builder spools a large multipart body to a temporary file that it
            # never closes; close it here rather than leave it to the garbage collector.
            for each in (*response.history, response):
                stream = each.request.environ.get("wsgi.input")
                if stream is not None:
                    stream.close()
            return response
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


def ensure_postgres_database(url: str) -> None:
    """Create the database of ``url`` if it does not exist (connecting to ``postgres``)."""
    from grants.config import normalise_database_url

    parsed = sa.engine.make_url(normalise_database_url(url))
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(5):
            with admin.connect() as conn:
                exists = conn.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": parsed.database},
                )
                if exists:
                    return
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
                    return
                except (sa.exc.OperationalError, sa.exc.ProgrammingError):
                    # another worker was copying the template at the same moment
                    if attempt == 4:
                        raise
            time.sleep(1 + attempt)
    finally:
        admin.dispose()


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


# --- session hooks: worker databases, markers, timings, backends exercised ---------------------

# Modules and folders whose tests are marked ``slow`` (``make test-fast`` leaves them out):
# Hypothesis-heavy fuzzing and properties, the stateful machine, the races (load), the browser
# and the fault-injection stacks.
SLOW_PATHS = (
    "tests/e2e/",
    "tests/faults/",
    "tests/security/test_forms_fuzz.py",
    "tests/security/test_lifecycle_stateful.py",
    "tests/security/test_cap_race.py",
    "tests/funding/test_disbursement_concurrency.py",
    "tests/review/test_solver.py",
)
TIMINGS: dict[str, float] = defaultdict(float)
SLOW_NODEIDS: set[str] = set()
STARTED = time.monotonic()
MISSING_BACKENDS = pytest.StashKey[list]()


def pytest_configure(config):
    if WORKER and TEST_DATABASE_URL:
        ensure_postgres_database(TEST_DATABASE_URL)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(SLOW_PATHS) or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)


def pytest_runtest_logreport(report):
    """Add up each test's setup, call and teardown time (on the controller under xdist)."""
    TIMINGS[report.nodeid] += report.duration
    if report.when == "call" and report.passed and "e2e" in report.keywords:
        EXERCISED.add("browser")
    if report.when == "call" and "slow" in report.keywords:
        SLOW_NODEIDS.add(report.nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """Collect the backends a worker exercised (xdist controller)."""
    EXERCISED.update(getattr(node, "workeroutput", {}).get("exercised", ()))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workeroutput"):  # an xdist worker: report to the controller
        config.workeroutput["exercised"] = sorted(EXERCISED)
        return
    missing = missing_backends(EXERCISED, configured="postgresql" in BACKENDS, ci=in_ci(os.environ))
    if missing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        config.stash[MISSING_BACKENDS] = missing


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workeroutput"):
        return
    write = terminalreporter.write_line
    if TIMINGS:
        by_file: dict[str, float] = defaultdict(float)
        by_group: dict[str, float] = defaultdict(float)
        for nodeid, seconds in TIMINGS.items():
            path = nodeid.split("::", 1)[0]
            by_file[path] += seconds
            folder = path.rsplit("/", 1)[0] if path.count("/") > 1 else path
            by_group[folder] += seconds
        slow = sum(TIMINGS[n] for n in SLOW_NODEIDS)
        total = sum(TIMINGS.values())
        terminalreporter.section("suite time")
        write(f"{'folder':<48} {'seconds':>9}")
        for folder, seconds in sorted(by_group.items(), key=lambda kv: -kv[1]):
            write(f"{folder:<48} {seconds:9.1f}")
        write("slowest files:")
        for path, seconds in sorted(by_file.items(), key=lambda kv: -kv[1])[:10]:
            write(f"  {path:<62} {seconds:7.1f}")
        workers = getattr(config.option, "numprocesses", None) or 0
        write(
            f"test time {total:.1f} s (slow tests {slow:.1f} s, others {total - slow:.1f} s); "
            f"wall time {time.monotonic() - STARTED:.1f} s on "
            + (f"{workers} xdist workers" if workers else "one process")
        )
    names = sorted(EXERCISED) or ["none"]
    write("backends exercised: " + ", ".join(names))
    missing = config.stash.get(MISSING_BACKENDS, None)
    if missing:
        lead = (
            "ERROR: in CI the run must exercise " + ", ".join(CI_REQUIRED) + "; it did not run "
            if in_ci(os.environ)
            else "ERROR: TEST_DATABASE_URL and REDIS_URL are set but no test ran on "
        )
        terminalreporter.write_line(lead + ", ".join(missing), red=True)


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
