"""The embedded default holds (issue 23, item 6): one visitor walks every page of ``make run``.

The app is set up as ``make run`` sets it up: a SQLite file, background jobs in threads of
the serving process and the scheduler in-process (here ticking every second so that its jobs
run while the visitor walks), the migrations and the demo data. Each demo account signs in
through the real login form, follows every same-origin link it can reach (breadth first,
bounded) and posts every form it finds once without its CSRF token. No answer may be a 5xx
and none may take longer than a few seconds: the old code answered ``database is locked``
after the 30 s busy timeout once a denial, a session touch or a refused form left SQLite's
write lock behind.
"""

from __future__ import annotations

import http.cookiejar
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from html.parser import HTMLParser

import pytest

from grants.extensions import db

pytestmark = pytest.mark.slow

#: Pages each account opens at most, and the slowest answer allowed (seconds).
PAGES_PER_ACCOUNT = 45
SLOWEST_ALLOWED = 5.0
#: Links not followed: signing out, static assets and file downloads.
#: Pages of other people that most accounts are refused (each refusal is audited).
PROBED = [f"/organisations/{n}" for n in (1, 2, 5)] + [
    f"/expert/assignments/{n}/review" for n in (1, 2, 3)
]
SKIPPED = ("/logout", "/static/", "/download/", "/pdf", ".pdf", ".xlsx", "/files/", "/evidence/")


class PageParser(HTMLParser):
    """The links and the POST forms of a page (fields with their values, the CSRF token too)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form":
            self._form = {
                "method": (attrs.get("method") or "get").lower(),
                "action": attrs.get("action") or "",
                "fields": {},
            }
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea") and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind == "file":
                return
            self._form["fields"].setdefault(attrs["name"], attrs.get("value") or "")
        elif self._form is not None and tag == "select":
            self._select = attrs.get("name")
        elif self._form is not None and tag == "option" and self._select:
            self._form["fields"].setdefault(self._select, attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Visitor:
    """One browser: a cookie jar, every answer timed and counted."""

    def __init__(self, base: str, stats: dict):
        self.base = base
        self.stats = stats
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )

    def open(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        """(status, body, Location) of one request; counted and timed."""
        url = urllib.parse.urljoin(self.base, path)
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers={"Accept": "text/html"})
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=60) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
                location = response.headers.get("Location", "")
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode("utf-8", "replace")
            location = error.headers.get("Location", "")
        elapsed = time.monotonic() - started
        method = "POST" if data is not None else "GET"
        self.stats["requests"] += 1
        if elapsed > self.stats["slowest"][0]:
            self.stats["slowest"] = (elapsed, f"{method} {path}")
        if status >= 500:
            self.stats["errors"].append(f"{status} {method} {path}")
        if elapsed > SLOWEST_ALLOWED:
            self.stats["slow"].append(f"{elapsed:.1f}s {method} {path}")
        return status, text, location

    def sign_in(self, email: str, password: str) -> None:
        _, page, _ = self.open("/login")
        parser = PageParser()
        parser.feed(page)
        form = next(f for f in parser.forms if "password" in f["fields"])
        fields = {**form["fields"], "email": email, "password": password}
        status, _, _ = self.open("/login", fields)
        assert status == 302, f"{email} could not sign in ({status})"


def _same_origin_path(base: str, page: str, href: str) -> str | None:
    url = urllib.parse.urljoin(urllib.parse.urljoin(base, page), href)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != urllib.parse.urlsplit(base).netloc:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if any(marker in parts.path for marker in SKIPPED):
        return None
    return path


def walk(visitor: Visitor, posted: set[str]) -> None:
    """Open every reachable page (bounded) and post each form found once without its token.

    The walk starts with pages of others (denied to most accounts), then follows links.
    """
    queue, seen, opened = deque(["/"]), {"/"}, 0
    for path in PROBED:
        visitor.open(path)
    while queue and opened < PAGES_PER_ACCOUNT:
        path = queue.popleft()
        status, text, location = visitor.open(path)
        opened += 1
        if status in (301, 302, 303) and location:
            target = _same_origin_path(visitor.base, path, location)
            if target and target not in seen:
                seen.add(target)
                queue.append(target)
            continue
        if status != 200 or "<html" not in text[:500].lower():
            continue
        parser = PageParser()
        parser.feed(text)
        for href in parser.links:
            target = _same_origin_path(visitor.base, path, href)
            if target and target not in seen:
                seen.add(target)
                queue.append(target)
        for form in parser.forms:
            if form["method"] != "post":
                continue
            action = _same_origin_path(visitor.base, path, form["action"] or path)
            if not action or action in posted:
                continue
            posted.add(action)
            # Flask-WTF takes the token from any field ending in csrf_token (prefixed forms).
            fields = {k: v for k, v in form["fields"].items() if not k.endswith("csrf_token")}
            status, _, _ = visitor.open(action, fields)
            visitor.stats["forms"] += 1
            visitor.stats["refused"] += status == 400
            if status != 400:
                visitor.stats.setdefault("other", []).append(f"{status} {action}")


class BusyWriter:
    """Another writer, as a job is: every 0.3 s a short write transaction on its own connection.

    It also ages every session by two minutes, so that each request of the walk finds its
    session due for a touch.
    """

    def __init__(self, path):
        self.path = path
        self.stop = threading.Event()
        self.rounds = 0
        self.thread = threading.Thread(target=self.run, name="busy-writer", daemon=True)

    def run(self):
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while not self.stop.wait(0.3):
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "UPDATE user_sessions SET last_seen_at = datetime('now', '-2 minutes')"
                )
                time.sleep(0.05)
                connection.execute("COMMIT")
                self.rounds += 1
        finally:
            connection.close()


@pytest.fixture
def embedded_server(tmp_path, monkeypatch):
    """The app as ``make run`` serves it, on a free port, from a thread; stopped afterwards."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from grants import create_app
    from grants.core import scheduler
    from grants.demo import seed_demo

    stop = threading.Event()
    real_loop = scheduler.loop
    monkeypatch.setattr(scheduler, "_started", False)
    monkeypatch.setattr(
        scheduler, "loop", lambda app, interval=30.0, stop_=None: real_loop(app, 1.0, stop)
    )
    monkeypatch.setenv("GRANTS_INSTANCE_DIR", str(tmp_path))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'grants.sqlite3'}",
            "INSTANCE_DIR": str(tmp_path),
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "REDIS_URL": None,
            "JOBS_MODE": "thread",
            "SCHEDULER_IN_PROCESS": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "MAIL_SERVER": None,
            "SECRET_KEY": "embedded-walk",
            "LOG_LEVEL": "WARNING",
        }
    )
    assert app.config["WTF_CSRF_ENABLED"] is not False and not app.testing
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    writer = BusyWriter(tmp_path / "grants.sqlite3")
    writer.thread.start()
    try:
        yield app, writer
    finally:
        writer.stop.set()
        writer.thread.join(timeout=10)
        stop.set()
        server.shutdown()
        thread.join(timeout=10)
        for worker in threading.enumerate():
            if worker.name.startswith(("grants-job-", "grants-scheduler")):
                worker.join(timeout=30)
        with app.app_context():
            db.engine.dispose()


def test_every_page_and_refused_form_answers_without_5xx_while_the_scheduler_runs(
    embedded_server,
):
    from grants.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USERS

    app, writer = embedded_server
    base = app.config["BASE_URL"]
    stats = {
        "requests": 0,
        "forms": 0,
        "refused": 0,
        "errors": [],
        "slow": [],
        "slowest": (0.0, ""),
    }
    started = time.monotonic()
    posted: set[str] = set()
    for handle, *_ in DEMO_USERS:
        visitor = Visitor(base, stats)
        visitor.sign_in(f"{handle}@{DEMO_DOMAIN}", DEMO_PASSWORD)
        walk(visitor, posted)
    slowest, where = stats["slowest"]
    print(
        f"\nembedded walk: {stats['requests']} requests, {stats['forms']} forms posted without "
        f"CSRF token ({stats['refused']} refused with 400), {len(stats['errors'])} 5xx, "
        f"slowest {slowest:.2f} s ({where}), {time.monotonic() - started:.0f} s in all, "
        f"{writer.rounds} rounds of the other writer"
    )
    assert stats["errors"] == []
    assert stats["slow"] == []
    assert stats["forms"] > 0 and stats["refused"] == stats["forms"], stats.get("other")
