"""Deadline-day rush: many applicants saving and submitting at once, against gunicorn + PostgreSQL.

    .venv/bin/python bench/load.py                      # 200 applicants, 3 saves each, then submit
    .venv/bin/python bench/load.py --users 50 --saves 5 --workers 4 --threads 4
    .venv/bin/python bench/load.py --think 0             # everyone clicks back-to-back: saturation

Creates a scratch PostgreSQL database (LOAD_DATABASE_URL, default grants_load on the
local server; dropped and created afresh), migrates it, seeds one open call and one
organisation per applicant with a complete draft application, starts gunicorn on a
loopback port (jobs go to Redis: LOAD_REDIS_URL, default db 11, so nothing waits on
e-mail), and lets every applicant at the same moment: sign in, open the application,
autosave its first section ``--saves`` times (htmx posts, as the browser does) and
submit, pausing ``--think`` seconds (±50 %, default 5) between its own requests as a
person filling a form does. Prints p50/p95/max latency per kind of request and overall, the error count,
and checks in the database that every application was submitted exactly once with a
unique reference number. Targets: 0 errors, p95 under 500 ms.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import recreate_postgres  # noqa: E402  (bench/scratch.py)

PASSWORD = "Load-test-2026"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
HX_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str, users: int) -> list[tuple[str, int, int]]:
    """One open call; per applicant an organisation, an account and a complete draft."""
    os.environ["DATABASE_URL"] = url
    from flask_migrate import upgrade

    from grants import create_app
    from grants.extensions import db
    from tests.factories import ApplicationFactory, CallFactory, fill_application, make_user

    app = create_app({"SCHEDULER_IN_PROCESS": False, "JOBS_MODE": "sync", "REDIS_URL": None})
    accounts = []
    with app.app_context():
        upgrade()
        call = CallFactory(rubric=False, title="2026年度二道江区科技攻关计划（压力测试）")
        for n in range(users):
            user = make_user("applicant", email=f"load{n}@load.example", password=PASSWORD)
            application = fill_application(
                ApplicationFactory(call=call, organisation=user.organisation)
            )
            accounts.append((user.email, application.id, application.cluster_id))
        db.session.commit()
        db.engine.dispose()
    return accounts


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.times[kind].append(seconds)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


class Applicant:
    """One browser: a cookie jar, the CSRF token of its pages, and its draft."""

    def __init__(
        self, base: str, email: str, application_id: int, cluster_id: int, recorder: Recorder
    ):
        self.base, self.email, self.application_id, self.cluster_id = (
            base,
            email,
            application_id,
            cluster_id,
        )
        self.recorder = recorder
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.failed = False
        self.rng = random.Random(email)

    def call(
        self,
        kind: str,
        path: str,
        data: dict | None = None,
        headers: dict | None = None,
        expect=(200, 302),
    ) -> str:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        began = time.perf_counter()
        try:
            with self.opener.open(request, timeout=60) as response:
                text = response.read().decode("utf-8", "replace")
                status = response.status
        except urllib.error.HTTPError as exc:
            text, status = exc.read().decode("utf-8", "replace"), exc.code
        except OSError as exc:
            self.recorder.error(f"{kind} {self.email}: {exc}")
            raise
        self.recorder.add(kind, time.perf_counter() - began)
        if status not in expect:
            self.recorder.error(f"{kind} {self.email}: HTTP {status}")
            raise RuntimeError(status)
        return text

    def sign_in(self) -> None:
        try:
            page = self.call("login page", "/login")
            self.call(
                "login",
                "/login",
                {
                    "csrf_token": TOKEN.search(page).group(1),
                    "email": self.email,
                    "password": PASSWORD,
                },
            )
        except Exception:
            self.failed = True

    def pause(self, think: float) -> None:
        if think > 0:
            time.sleep(think * self.rng.uniform(0.5, 1.5))

    def rush(self, saves: int, think: float) -> None:
        """Open the draft, autosave its first section ``saves`` times, submit."""
        if self.failed:
            return
        path = f"/applications/{self.application_id}"
        try:
            self.pause(think)
            edit = self.call("open application", f"{path}/edit")
            token = HX_TOKEN.search(edit).group(1)
            for n in range(saves):
                self.pause(think)
                self.call(
                    "autosave",
                    f"{path}/sections/basic",
                    {
                        "csrf_token": token,
                        "basic-title": f"中药提取自动化关键技术研究（第{n + 1}稿）",
                        "basic-cluster_id": str(self.cluster_id),
                        "basic-start_date": "2026-01-01",
                        "basic-end_date": "2027-12-31",
                        "basic-summary": "针对中药提取过程自动化控制的关键技术开展研究。" * 3,
                        "basic-objectives": "实现提取过程在线监测与自动控制。",
                        "basic-technical_route": "建立过程模型，开发控制系统，中试验证。",
                    },
                    headers={"HX-Request": "true", "X-CSRFToken": token},
                )
            self.pause(think)
            self.call("submit", f"{path}/submit", {"csrf_token": token})
        except Exception:
            pass


def all_at_once(targets, fn) -> float:
    """Run ``fn(target)`` in one thread per target, released together; the wall time."""
    start = threading.Event()

    def run(target):
        start.wait()
        fn(target)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    began = time.perf_counter()
    start.set()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def report(title: str, recorder: Recorder, kinds: tuple[str, ...], wall: float) -> list[float]:
    every = [t for kind in kinds for t in recorder.times.get(kind, [])]
    print(f"{title}: {len(every)} requests in {wall:.1f} s ({len(every) / wall:.0f} req/s)")
    print(f"  {'request':<18}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for kind in (*kinds, "all"):
        values = every if kind == "all" else recorder.times.get(kind, [])
        if values:
            print(
                f"  {kind:<18}{len(values):>7}{statistics.median(values) * 1000:>9.0f}"
                f"{percentile(values, 0.95) * 1000:>9.0f}{max(values) * 1000:>9.0f}"
            )
    return every


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--saves", type=int, default=3)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) * 2 + 1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--think",
        type=float,
        default=5.0,
        help="seconds an applicant pauses between requests (0: back-to-back)",
    )
    args = parser.parse_args()

    url = os.environ.get("LOAD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/grants_load")
    redis_url = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/11")
    recreate_postgres(url)
    began = time.perf_counter()
    accounts = seed(url, args.users)
    print(
        f"seeded {len(accounts)} applicants with complete drafts in {time.perf_counter() - began:.1f} s"
    )

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "RQ_QUEUE": "grants-load",
        "SCHEDULER_IN_PROCESS": "0",
        "SECRET_KEY": "load-test-secret",
        "LOGIN_LIMIT_PER_IP": "100000 per minute",
        "GRANTS_INSTANCE_DIR": str(ROOT / "instance" / "load"),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            str(args.workers),
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            print("gunicorn did not come up")
            return 1
        for _ in range(
            args.workers * args.threads * 2
        ):  # every worker imports and loads its catalogues
            urllib.request.urlopen(base + "/login", timeout=30).read()
        sign_in, rush = Recorder(), Recorder()
        browsers = [
            Applicant(base, email, app_id, cluster_id, sign_in)
            for email, app_id, cluster_id in accounts
        ]
        sign_in_wall = all_at_once(browsers, Applicant.sign_in)
        for browser in browsers:
            browser.recorder = rush
        rush_wall = all_at_once(browsers, lambda b: b.rush(args.saves, args.think))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(
        f"{args.users} applicants on gunicorn -w {args.workers} --threads {args.threads}, "
        f"think time {args.think:g} s"
    )
    report(
        "sign-in (argon2id password check, all at once)",
        sign_in,
        ("login page", "login"),
        sign_in_wall,
    )
    report(
        "deadline rush (open, autosave, submit)",
        rush,
        ("open application", "autosave", "submit"),
        rush_wall,
    )
    errors = sign_in.errors + rush.errors
    print(f"errors: {len(errors)}")
    for line in errors[:10]:
        print("  " + line)

    import sqlalchemy as sa

    from grants.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        submitted, references = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT reference_no) FROM applications WHERE state = 'submitted'"
            )
        ).one()
    engine.dispose()
    print(
        f"database: {submitted} of {len(accounts)} applications submitted, {references} distinct reference numbers"
    )
    return 0 if not errors and submitted == references == len(accounts) else 1


if __name__ == "__main__":
    sys.exit(main())
