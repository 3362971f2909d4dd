"""Faults injected for real while a scripted load runs; one row per fault.

The installation: gunicorn + PostgreSQL (its own database ``grants_faults_bench``, dropped and
made afresh) + a private redis-server + two RQ workers + the scheduler, all on loopback, built
with the harness of ``tests/faults/conftest.py``. Workers and the scheduler are kept running
the way systemd's ``Restart=always`` would (restarted 1 s after they exit). The load: a few
applicant threads that sign in, open their draft, autosave it (a numbered title) and load the
home page, and a bureau thread loading the reports and jobs pages; each fault phase also
requests portfolio reports (a write with a background job).

Faults, one after the other:

- ``redis``: redis-server stopped for ``--outage`` seconds (a report requested meanwhile), restarted;
- ``worker-kill``: both workers killed with SIGKILL while a report is being generated, restarted;
- ``pg-lock``: ``LOCK TABLE users IN ACCESS EXCLUSIVE MODE`` held for ``--outage`` seconds
  (every signed-in request waits for it), then released;
- ``backup-delete``: ``flask backup`` run while a stored attachment is deleted from the file store.

Columns: requests answered during the phase, how many were 5xx (connection errors in
brackets), acknowledged autosaves the database no longer shows (writes lost), acknowledged
report requests without a finished job (jobs lost: no row, or the job failed), jobs still
queued or running ``--drain`` seconds after the dependency is back (jobs stuck), and the time
from the dependency being back until /healthz answers 200, a signed-in page loads and every
job of the phase has finished (time to recover). Target: 0 lost, 0 stuck, recovery < 60 s.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/faults.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

import sqlalchemy as sa  # noqa: E402

from tests.faults.conftest import (  # noqa: E402
    DEMO_PASSWORD,
    Browser,
    RedisServer,
    Stack,
    admin_engine,
    database_url,
)

BENCH_DB = "grants_faults_bench"
APPLICANT_PASSWORD = "Faults-bench-2026"
HX_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
TITLE = re.compile(r"第(\d+)稿")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FINAL = ("finished", "failed")


def poll(check, timeout: float, every: float = 0.25):
    """``check()`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors_5xx = 0
        self.connection_errors = 0
        self.acks: dict[int, int] = {}  # application id → last acknowledged autosave number
        self.reports_acked = 0

    def answer(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            if status >= 500:
                self.errors_5xx += 1

    def failed(self) -> None:
        with self.lock:
            self.connection_errors += 1

    def snapshot(self) -> tuple[int, int, int, int]:
        with self.lock:
            return self.requests, self.errors_5xx, self.connection_errors, self.reports_acked


class Client(Browser):
    """A Browser whose every answer is counted."""

    def __init__(self, base: str, counters: Counters):
        super().__init__(base)
        self.counters = counters

    def request(self, method, path, data=None, headers=None, timeout=30.0):
        try:
            status, response_headers, body = super().request(method, path, data, headers, timeout)
        except OSError:
            self.counters.failed()
            raise
        self.counters.answer(status)
        return status, response_headers, body

    def sign_in(self, email: str, password: str) -> bool:
        status, _headers, page = self.get("/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or token is None:
            return False
        status, _headers, _page = self.request(
            "POST",
            "/login",
            data={"email": email, "password": password, "csrf_token": token.group(1)},
        )
        return status == 302


class Load:
    """Applicant threads autosaving their drafts and a bureau thread loading pages."""

    def __init__(self, base: str, accounts: list[tuple[str, int, int]], think: float):
        self.base = base
        self.accounts = accounts
        self.think = think
        self.counters = Counters()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.applicant, args=account, daemon=True)
            for account in accounts
        ] + [threading.Thread(target=self.bureau, daemon=True)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def applicant(self, email: str, application_id: int, cluster_id: int):
        client = Client(self.base, self.counters)
        signed_in = False
        number = 0
        path = f"/applications/{application_id}"
        while not self.stop.is_set():
            try:
                if not signed_in:
                    signed_in = client.sign_in(email, APPLICANT_PASSWORD)
                    if not signed_in:
                        self.stop.wait(1)
                        continue
                status, _headers, page = client.get(f"{path}/edit")
                if status == 302:
                    signed_in = False
                    continue
                token = HX_TOKEN.search(page) if status == 200 else None
                if token is not None:
                    number += 1
                    status, _headers, _page = client.request(
                        "POST",
                        f"{path}/sections/basic",
                        data={
                            "csrf_token": token.group(1),
                            "basic-title": f"中药提取自动化关键技术研究（第{number}稿）",
                            "basic-cluster_id": str(cluster_id),
                            "basic-start_date": "2026-01-01",
                            "basic-end_date": "2027-12-31",
                            "basic-summary": "针对中药提取过程自动化控制的关键技术开展研究。" * 3,
                            "basic-objectives": "实现提取过程在线监测与自动控制。",
                            "basic-technical_route": "建立过程模型，开发控制系统，中试验证。",
                        },
                        headers={"HX-Request": "true", "X-CSRFToken": token.group(1)},
                    )
                    if status == 200:
                        with self.counters.lock:
                            self.counters.acks[application_id] = number
                client.get("/")
            except OSError:
                pass
            self.stop.wait(self.think)

    def bureau(self):
        client = Client(self.base, self.counters)
        signed_in = False
        while not self.stop.is_set():
            try:
                if not signed_in:
                    signed_in = client.sign_in("bureau@demo.example", DEMO_PASSWORD)
                for page in ("/reports/", "/admin/jobs"):
                    status, _headers, _page = client.get(page)
                    if status == 302:
                        signed_in = False
            except OSError:
                pass
            self.stop.wait(self.think)


class Bench:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.redis = RedisServer(workdir)
        self.redis.start()
        self.stack = Stack(workdir, self.redis)
        self.stack.env["DATABASE_URL"] = database_url(BENCH_DB)
        self.stack.engine.dispose()
        self.stack.engine = sa.create_engine(
            database_url(BENCH_DB).replace("postgresql://", "postgresql+psycopg://", 1)
        )
        self.kept: set[str] = set()
        self.supervising = threading.Event()
        self.restarts = 0
        self.start_lock = threading.Lock()

    # --- installation ------------------------------------------------------------------------

    def seed(self) -> list[tuple[str, int, int]]:
        engine = admin_engine()
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{BENCH_DB}"'))
        engine.dispose()
        self.stack.flask("db", "upgrade")
        self.stack.flask("seed-demo")
        os.environ.update(
            {
                "DATABASE_URL": database_url(BENCH_DB),
                "GRANTS_INSTANCE_DIR": str(self.workdir / "instance"),
                "UPLOAD_DIR": str(self.workdir / "uploads"),
                "SECRET_KEY": "faults-secret-key",
            }
        )
        import itertools

        from grants import create_app
        from grants.extensions import db
        from tests import factories
        from tests.factories import ApplicationFactory, CallFactory, fill_application, make_user

        factories._uscc_serial = itertools.count(900000)  # clear of the demo's codes

        app = create_app({"SCHEDULER_IN_PROCESS": False, "JOBS_MODE": "sync", "REDIS_URL": None})
        accounts = []
        with app.app_context():
            call = CallFactory(rubric=False, title="2026年度二道江区科技攻关计划（故障压测）")
            for n in range(self.args.users):
                user = make_user(
                    "applicant", email=f"fault{n}@faults.example", password=APPLICANT_PASSWORD
                )
                application = fill_application(
                    ApplicationFactory(call=call, organisation=user.organisation)
                )
                accounts.append((user.email, application.id, application.cluster_id))
            db.session.commit()
            db.engine.dispose()
        return accounts

    def keep(self, name: str) -> None:
        """Start ``name`` (worker1, worker2, scheduler) and restart it whenever it exits."""
        self.kept.add(name)
        self._start(name)

    def _start(self, name: str) -> None:
        with self.start_lock:
            if name == "scheduler":
                self.stack.start_scheduler()
            else:
                self.stack.start_worker(name)

    def supervise(self) -> None:
        while not self.supervising.is_set():
            for name in sorted(self.kept):
                process = self.stack.processes.get(name)
                if process is None or process.poll() is not None:
                    time.sleep(1)  # RestartSec=1
                    self._start(name)
                    self.restarts += 1
            self.supervising.wait(0.5)

    def upload_attachments(self, base: str, accounts) -> None:
        for email, application_id, _cluster in accounts[:2]:
            browser = Browser(base)
            status, _h, _p = browser.post(
                "/login", {"email": email, "password": APPLICANT_PASSWORD}
            )
            assert status == 302, status
            path = f"/applications/{application_id}"
            status, _headers, body = browser.upload(
                f"{path}/attachments",
                {"requirement": ""},
                {"file": ("可行性报告.pdf", "application/pdf", PDF)},
                form_page=f"{path}/edit",
            )
            assert status in (200, 302), body[:400]

    # --- measurements ------------------------------------------------------------------------

    def max_id(self, table: str) -> int:
        return self.stack.query(f"SELECT coalesce(max(id), 0) AS n FROM {table}")[0].n

    def lost_writes(self) -> int:
        with self.load.counters.lock:
            acks = dict(self.load.counters.acks)
        rows = self.stack.query(
            "SELECT id, title FROM applications WHERE id = ANY(:ids)", ids=list(acks)
        )
        saved = {}
        for row in rows:
            match = TITLE.search(row.title or "")
            saved[row.id] = int(match.group(1)) if match else 0
        return sum(max(0, last - saved.get(app_id, 0)) for app_id, last in acks.items())

    def jobs_since(self, first_job: int):
        return self.stack.query(
            "SELECT id, status FROM jobs WHERE id > :first ORDER BY id", first=first_job
        )

    def healthy(self) -> bool:
        status, _headers, _page = self.probe.get("/healthz")
        if status != 200:
            return False
        status, _headers, _page = self.probe.get("/")
        return status == 200

    def request_report(self) -> bool:
        try:
            status, _headers, _page = self.reporter.post(
                "/reports/", {"period": "2021-2025", "locale": "zh_Hans_CN"}
            )
        except (OSError, AssertionError, Exception):
            return False
        if status == 302:
            with self.load.counters.lock:
                self.load.counters.reports_acked += 1
            return True
        return False

    def phase(self, name: str, inject) -> dict:
        first_job = self.max_id("jobs")
        first_report = self.max_id("portfolio_reports")
        before = self.load.counters.snapshot()
        lost_before = self.lost_writes()
        back = inject()  # returns time.monotonic() when the dependency is back (or None)
        recovered_at = poll(
            lambda: (
                self.healthy()
                and all(job.status in FINAL for job in self.jobs_since(first_job))
                and time.monotonic()
            ),
            self.args.drain,
            every=0.5,
        )
        jobs = self.jobs_since(first_job)
        time.sleep(2)  # a little load after recovery, in the counts
        after = self.load.counters.snapshot()
        acked = after[3] - before[3]
        reports = self.stack.query(
            "SELECT r.id, j.status FROM portfolio_reports r LEFT JOIN jobs j ON j.id = r.job_id "
            "WHERE r.id > :first",
            first=first_report,
        )
        finished = sum(1 for report in reports if report.status == "finished")
        return {
            "fault": name,
            "requests": after[0] - before[0],
            "5xx": after[1] - before[1],
            "conn": after[2] - before[2],
            "writes lost": self.lost_writes() - lost_before,
            "jobs lost": max(0, acked - finished),
            "jobs stuck": sum(1 for job in jobs if job.status not in FINAL),
            "recover s": (
                f"{recovered_at - back:.1f}" if recovered_at and back is not None else "-"
            )
            if back is not None
            else "n/a",
            "note": "",
        }

    # --- faults ------------------------------------------------------------------------------

    def redis_outage(self):
        self.request_report()
        time.sleep(2)
        self.redis.stop()
        time.sleep(self.args.outage / 2)
        self.request_report()
        time.sleep(self.args.outage / 2)
        self.redis.start()
        return time.monotonic()

    def worker_kill(self):
        first = self.max_id("portfolio_reports")
        self.request_report()
        running = poll(
            lambda: self.stack.query(
                "SELECT 1 FROM portfolio_reports WHERE id > :first AND state = 'running'",
                first=first,
            ),
            120,
            every=0.05,
        )
        if not running:
            raise SystemExit("the report never started running")
        for name in ("worker1", "worker2"):
            self.stack.kill_hard(name)
        # The supervisor restarts both after RestartSec; they are back when they run again.
        poll(
            lambda: all(
                name in self.stack.processes and self.stack.processes[name].poll() is None
                for name in ("worker1", "worker2")
            ),
            30,
            every=0.1,
        )
        return time.monotonic()

    def pg_lock(self):
        holder = sa.create_engine(
            database_url(BENCH_DB).replace("postgresql://", "postgresql+psycopg://", 1)
        )
        try:
            with holder.connect() as conn:
                conn.execute(sa.text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
                time.sleep(self.args.outage / 2)
                self.request_report()
                time.sleep(self.args.outage / 2)
                conn.rollback()
            back = time.monotonic()
        finally:
            holder.dispose()
        return back

    def backup_delete(self):
        victim = self.stack.query("SELECT stored_name FROM attachments ORDER BY id LIMIT 1")[
            0
        ].stored_name
        archive = self.workdir / "backup.tar.gz"
        self.request_report()
        began = time.monotonic()
        process = self.stack.start(
            "backup",
            [
                str(Path(sys.executable).parent / "flask"),
                "--app",
                "wsgi",
                "backup",
                "--output",
                str(archive),
            ],
        )
        time.sleep(1)  # the backup process is up and reading; the file goes now
        (self.workdir / "uploads" / victim).unlink()
        code = process.wait(timeout=600)
        self.stack.processes.pop("backup", None)
        missing = []
        if archive.exists():
            with tarfile.open(archive) as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith("manifest.json"))
                missing = json.load(tar.extractfile(member)).get("missing", [])
        self.backup_note = (
            f"backup exit {code} in {time.monotonic() - began:.0f} s, "
            f"missing listed: {missing == [victim]}"
        )
        return None

    def run(self) -> list[dict]:
        accounts = self.seed()
        base = self.stack.start_web()
        for name in ("worker1", "worker2", "scheduler"):
            self.keep(name)
        supervisor = threading.Thread(target=self.supervise, daemon=True)
        supervisor.start()
        self.upload_attachments(base, accounts)
        self.probe = Browser(base)
        self.probe.login("bureau")
        self.reporter = Browser(base)
        self.reporter.login("bureau")
        self.load = Load(base, accounts, self.args.think)
        self.load.start()
        time.sleep(3)
        rows = []
        try:
            for name, inject in (
                ("redis stopped", self.redis_outage),
                ("worker kill -9", self.worker_kill),
                ("postgres locked", self.pg_lock),
                ("file deleted in backup", self.backup_delete),
            ):
                if self.args.only and self.args.only not in name:
                    continue
                row = self.phase(name, inject)
                if name.startswith("file"):
                    row["note"] = self.backup_note
                rows.append(row)
                print_row(row, header=len(rows) == 1)
        finally:
            self.load.finish()
            self.supervising.set()
            supervisor.join(timeout=10)
            self.stack.close()
            self.redis.stop()
        return rows


COLUMNS = (
    "fault",
    "requests",
    "5xx",
    "conn",
    "writes lost",
    "jobs lost",
    "jobs stuck",
    "recover s",
    "note",
)
WIDTHS = (24, 9, 5, 5, 12, 10, 11, 10, 0)


def print_row(row: dict, header: bool = False) -> None:
    if header:
        print(" ".join(f"{c:<{w}}" if w else c for c, w in zip(COLUMNS, WIDTHS, strict=True)))
    print(
        " ".join(
            f"{row[c]!s:<{w}}" if w else str(row[c]) for c, w in zip(COLUMNS, WIDTHS, strict=True)
        ),
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=4, help="applicant threads")
    parser.add_argument(
        "--think", type=float, default=0.5, help="seconds between a thread's rounds"
    )
    parser.add_argument("--outage", type=float, default=12.0, help="seconds a dependency is away")
    parser.add_argument("--drain", type=float, default=180.0, help="seconds to wait for recovery")
    parser.add_argument("--only", default="", help="run the faults whose name contains this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grants-faults-") as workdir:
        bench = Bench(args, Path(workdir))
        rows = bench.run()
        print(f"process restarts by the supervisor: {bench.restarts}")
    bad = [row for row in rows if row["writes lost"] or row["jobs lost"] or row["jobs stuck"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
