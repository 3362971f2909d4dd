"""CPU cost of the deadline-rush requests of bench/load.py, one process, no concurrency.

    .venv/bin/python bench/cpu.py                   # 40 applicants on PostgreSQL (CPU_DATABASE_URL)
    .venv/bin/python bench/cpu.py --sqlite          # a SQLite file in a temporary folder
    .venv/bin/python bench/cpu.py --profile edit    # and a cProfile of one kind of request

Seeds ``--users`` applicants with complete drafts as bench/load.py does (scratch database
CPU_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/grants_load, dropped and
created afresh), then runs each applicant's rush through the Flask test client with CSRF
on: open the application, autosave its first section ``--saves`` times as htmx does, submit
(following the redirect to the submitted application, as a browser does). Jobs go to Redis
(CPU_REDIS_URL, default db 11, queue ``grants-cpu``, emptied at the end) as in bench/load.py.
Prints per kind of request the mean process CPU time and wall time in milliseconds and the
number of SQL statements; the CPU time is what saturates gunicorn's cores in the rush.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import load  # noqa: E402  (bench/load.py: its seeding, password and form data)
from scratch import scratch_database  # noqa: E402  (bench/scratch.py)

KINDS = ("open application", "autosave", "submit")
HX_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


def basic_section(n: int, cluster_id: int, token: str) -> dict:
    return {
        "csrf_token": token,
        "basic-title": f"中药提取自动化关键技术研究（第{n + 1}稿）",
        "basic-cluster_id": str(cluster_id),
        "basic-start_date": "2026-01-01",
        "basic-end_date": "2027-12-31",
        "basic-summary": "针对中药提取过程自动化控制的关键技术开展研究。" * 3,
        "basic-objectives": "实现提取过程在线监测与自动控制。",
        "basic-technical_route": "建立过程模型，开发控制系统，中试验证。",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--saves", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument(
        "--show-sql", action="store_true", help="print the statements of one request of each kind"
    )
    parser.add_argument(
        "--profile",
        choices=("edit", "autosave", "submit"),
        help="print a cProfile of this kind of request",
    )
    args = parser.parse_args(argv)

    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    folder = tempfile.mkdtemp(prefix="grants-cpu-")
    url = scratch_database(
        folder,
        sqlite=args.sqlite,
        file_name="cpu.sqlite3",
        env="CPU_DATABASE_URL",
        default="postgresql://postgres@127.0.0.1:5432/grants_load",
    )
    accounts = load.seed(url, args.users)

    from sqlalchemy import event

    from grants import create_app
    from grants.extensions import db

    redis_url = os.environ.get("CPU_REDIS_URL", "redis://127.0.0.1:6379/11")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_DIR": folder,
            "INSTANCE_DIR": folder,
            "SECRET_KEY": "cpu-bench-secret",
            "JOBS_MODE": "rq",
            "REDIS_URL": redis_url,
            "RQ_QUEUE": "grants-cpu",
            "SCHEDULER_IN_PROCESS": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_ENABLED": False,
            "MAIL_SERVER": None,
        }
    )
    with app.app_context():
        engine = db.engine
    statements = [0]
    seen: dict[str, list[str]] = {}
    current: list[str] = []

    def count(conn, cursor, statement, *_args):
        statements[0] += 1
        current.append(" ".join(statement.split())[:150])

    event.listen(engine, "before_cursor_execute", count)
    cpu, wall, sql = defaultdict(list), defaultdict(list), defaultdict(list)
    profiler = cProfile.Profile() if args.profile else None
    profiled = {"edit": "open application", "autosave": "autosave", "submit": "submit"}.get(
        args.profile
    )

    def timed(kind, client, method, path, **kwargs):
        statements[0] = 0
        current.clear()
        if kind == profiled:
            profiler.enable()
        began_cpu, began = time.process_time(), time.perf_counter()
        response = getattr(client, method)(path, **kwargs)
        text = response.get_data(as_text=True)
        cpu[kind].append(time.process_time() - began_cpu)
        wall[kind].append(time.perf_counter() - began)
        if kind == profiled:
            profiler.disable()
        sql[kind].append(statements[0])
        seen[kind] = list(current)
        if response.status_code not in (200, 302):
            raise SystemExit(f"{kind} {path}: HTTP {response.status_code}\n{text[:500]}")
        return text

    for round_ in (0, 1):  # the first round warms up templates and caches; the second is measured
        if round_ == 1:
            cpu.clear(), wall.clear(), sql.clear()
        for email, application_id, cluster_id in (
            accounts[: args.users // 2] if round_ == 0 else accounts[args.users // 2 :]
        ):
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            client.post(
                "/login",
                data={
                    "csrf_token": load.TOKEN.search(page).group(1),
                    "email": email,
                    "password": load.PASSWORD,
                },
            )
            path = f"/applications/{application_id}"
            edit = timed("open application", client, "get", f"{path}/edit")
            token = HX_TOKEN.search(edit).group(1)
            for n in range(args.saves):
                timed(
                    "autosave",
                    client,
                    "post",
                    f"{path}/sections/basic",
                    data=basic_section(n, cluster_id, token),
                    headers={"HX-Request": "true", "X-CSRFToken": token},
                )
            timed(
                "submit",
                client,
                "post",
                f"{path}/submit",
                data={"csrf_token": token},
                follow_redirects=True,
            )  # as the browser (and bench/load.py) does

    print(
        f"{len(accounts) - args.users // 2} applicants measured on {'SQLite' if args.sqlite else 'PostgreSQL'} "
        f"(after {args.users // 2} to warm up), Flask test client, one process"
    )
    print(f"  {'request':<18}{'count':>7}{'CPU ms':>9}{'wall ms':>9}{'SQL':>6}")
    for kind in KINDS:
        print(
            f"  {kind:<18}{len(cpu[kind]):>7}{statistics.mean(cpu[kind]) * 1000:>9.1f}"
            f"{statistics.mean(wall[kind]) * 1000:>9.1f}{statistics.mean(sql[kind]):>6.1f}"
        )
    if args.show_sql:
        for kind in KINDS:
            print(f"\n{kind}:")
            for statement in seen[kind]:
                print("    " + statement)
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(70)
        stats.sort_stats("tottime").print_stats(30)
    event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        from grants.core.jobs import rq_queue

        rq_queue(app).empty()  # nobody works this queue: the jobs of the submissions are dropped
        db.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
