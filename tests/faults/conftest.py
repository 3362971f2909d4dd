"""Fault injection with real processes: a private Redis, a gunicorn app server, an RQ worker, a
scheduler and a PostgreSQL database seeded with the demo data; faults are injected for real
(Redis stopped, the worker killed with SIGKILL, PostgreSQL blocked by a lock or behind a
loopback proxy that accepts connections and never answers).

Needs ``TEST_DATABASE_URL`` (the PostgreSQL server; a database ``<its name>_faults`` is made on
it) and the ``redis-server`` binary. Without ``TEST_DATABASE_URL`` the tests are skipped;
with it, a missing ``redis-server`` is an error (CI must run them).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Named after the (xdist worker's) database of TEST_DATABASE_URL, so that runs on different test
# databases (parallel checkouts, workers) do not drop each other's fault database.
FAULTS_DB = (
    f"{sa.engine.make_url(TEST_DATABASE_URL).database or 'test'}_faults"
    if TEST_DATABASE_URL
    else "test_faults_db"
)
DEMO_PASSWORD = "Grants-2026"
SECRET = "faults-secret-key"


def pytest_collection_modifyitems(config, items):
    if TEST_DATABASE_URL:
        return
    skip = pytest.mark.skip(
        reason="fault tests need TEST_DATABASE_URL (PostgreSQL) and redis-server"
    )
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float = 60.0, every: float = 0.2, what: str = "condition"):
    """Poll ``check`` until it returns something true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(every)


def wait_for_port(
    port: int, process: subprocess.Popen | None = None, timeout: float = 60.0
) -> None:
    def listening():
        if process is not None and process.poll() is not None:
            pytest.fail(f"process {process.args} exited with {process.returncode}")
        with closing(socket.socket()) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, timeout, what=f"port {port}")


class RedisServer:
    """A private redis-server on a free port that the tests stop and start again."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not installed but TEST_DATABASE_URL is set")
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class StalledProxy:
    """A loopback TCP server that accepts connections and never sends or forwards a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.stopped = True
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def database_url(name: str = FAULTS_DB, port: int | None = None) -> str:
    url = sa.engine.make_url(TEST_DATABASE_URL).set(database=name)
    if port is not None:
        url = url.set(host="127.0.0.1", port=port)
    return url.render_as_string(hide_password=False)


def admin_engine():
    return sa.create_engine(
        database_url("postgres").replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )


class Stack:
    """The processes of one installation and the environment they share."""

    def __init__(self, workdir: Path, redis: RedisServer):
        self.workdir = workdir
        self.redis = redis
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ)
        for key in ("TEST_DATABASE_URL", "FLASK_APP", "JOBS_MODE"):
            self.env.pop(key, None)
        self.env.update(
            {
                "DATABASE_URL": database_url(),
                "REDIS_URL": redis.url,
                "SECRET_KEY": SECRET,
                "GRANTS_INSTANCE_DIR": str(workdir / "instance"),
                "UPLOAD_DIR": str(workdir / "uploads"),
                "RQ_QUEUE": "faults",
                "SCHEDULER_IN_PROCESS": "0",
                "BASE_URL": "http://127.0.0.1",
                "REDIS_TIMEOUT": "1",
                "REDIS_PAUSE": "1",
                "JOB_HEARTBEAT_SECONDS": "1",
                "JOB_DEAD_AFTER": "4",
                "JOB_RETRY_BACKOFF_SECONDS": "1",
                "SCHEDULER_MAX_BACKOFF": "2",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.engine = sa.create_engine(
            database_url().replace("postgresql://", "postgresql+psycopg://", 1)
        )

    def flask(
        self, *args: str, env: dict | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=check,
            timeout=600,
        )

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        # the child keeps its own copy of the log's descriptor; this process closes its own
        with open(self.workdir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_web(self, name: str = "web", env: dict | None = None) -> str:
        port = free_port()
        argv = [
            str(BIN / "gunicorn"),
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "30",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "wsgi:app",
        ]
        process = self.start(name, argv, env)
        wait_for_port(port, process)
        return f"http://127.0.0.1:{port}"

    def start_worker(self, name: str = "worker", env: dict | None = None) -> subprocess.Popen:
        return self.start(name, [str(BIN / "flask"), "--app", "wsgi", "worker"], env)

    def start_scheduler(self, env: dict | None = None) -> subprocess.Popen:
        return self.start(
            "scheduler", [str(BIN / "flask"), "--app", "wsgi", "scheduler", "--interval", "1"], env
        )

    def kill_hard(self, name: str) -> None:
        """SIGKILL the process (and its group): no clean-up runs, as when the machine kills it."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def kill(self, name: str, sig=signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()

    def close(self):
        for name in list(self.processes):
            self.kill(name)
        self.engine.dispose()


@pytest.fixture(scope="session")
def faults_workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="session")
def redis_server(faults_workdir):
    server = RedisServer(faults_workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seeded_database(faults_workdir, redis_server):
    """The fault database (``FAULTS_DB``) made afresh: migrated and loaded with the demo data."""
    engine = admin_engine()
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{FAULTS_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{FAULTS_DB}"'))
    stack = Stack(faults_workdir, redis_server)
    stack.flask("db", "upgrade")
    stack.flask("seed-demo")
    stack.close()
    yield
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{FAULTS_DB}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def stack(faults_workdir, redis_server, seeded_database):
    """A fresh set of processes per test (Redis running at the start); all stopped afterwards."""
    if redis_server.process is None:
        redis_server.start()
    stack = Stack(faults_workdir, redis_server)
    yield stack
    stack.close()
    if redis_server.process is None:
        redis_server.start()


class Browser:
    """A cookie-keeping HTTP client that reads CSRF tokens from the pages it gets."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(
        self,
        method: str,
        path: str,
        data: dict | None = None,
        headers: dict | None = None,
        timeout: float = 25.0,
    ):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(req, timeout=timeout) as response:
                return (
                    response.status,
                    dict(response.headers),
                    response.read().decode("utf-8", "replace"),
                )
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def csrf(self, path: str) -> str:
        status, _headers, page = self.get(path)
        assert status == 200, page[:500]
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page
        )
        assert match, "no CSRF token on " + path
        return match.group(1)

    def upload(
        self,
        path: str,
        fields: dict,
        files: dict[str, tuple[str, str, bytes]],
        form_page: str,
        headers: dict | None = None,
    ):
        """POST ``multipart/form-data``: ``files`` maps a field to (file name, type, content)."""
        token = self.csrf(form_page)
        boundary = "----grants-" + os.urandom(12).hex()
        parts = []
        for name, value in {**fields, "csrf_token": token}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        for name, (filename, content_type, content) in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(
            self.base + path,
            data=body,
            method="POST",
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                **(headers or {}),
            },
        )
        try:
            with self.opener.open(req, timeout=25) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get_bytes(self, path: str, timeout: float = 60.0):
        """GET ``path`` (or an absolute URL, such as a signed storage URL) as bytes."""
        url = path if path.startswith("http") else self.base + path
        try:
            with self.opener.open(urllib.request.Request(url), timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def post(self, path: str, data: dict, form_page: str | None = None, **kwargs):
        token = self.csrf(form_page or path)
        return self.request("POST", path, data={**data, "csrf_token": token}, **kwargs)

    def login(self, handle: str = "bureau"):
        status, headers, page = self.post(
            "/login", {"email": f"{handle}@demo.example", "password": DEMO_PASSWORD}
        )
        assert status == 302, f"login answered {status}: {page[:800]}"
        return headers


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
