"""Benchmark the demo seeding that ``make run`` does on first start: time and memory.

    .venv/bin/python bench/demo_seed.py            # 5 runs
    .venv/bin/python bench/demo_seed.py --runs 9 --task-books

Each run is a forked child that creates a fresh SQLite file, migrates it (not timed) and
then loads the demo as ``flask seed-demo`` does (``seed_demo()`` and one commit, timed). A
second load into the same file checks that the demo is idempotent (no table gains a row)
and is timed too. The bench prints the median of the runs' seconds and the peak resident
memory of a child (``ru_maxrss``: imports, migrations and seeding) and how much of it the
seeding added. Task books (PDFs, seconds each) are left out unless ``--task-books``. It
measures whatever code is checked out, so running it before and after a change gives the
before/after figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def row_counts() -> dict[str, int]:
    import sqlalchemy as sa

    from grants.extensions import db

    counts = {}
    for table in db.metadata.sorted_tables:
        counts[table.name] = db.session.scalar(sa.select(sa.func.count()).select_from(table))
    return counts


def one_run(task_books: bool, results) -> None:
    """Seed a fresh SQLite file twice; put (first s, second s, rss before, rss after, grown) on ``results``."""
    from flask_migrate import upgrade

    from grants import create_app
    from grants.demo import seed_demo
    from grants.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/demo.sqlite3",
                "UPLOAD_DIR": folder,
                "INSTANCE_DIR": folder,
                "JOBS_MODE": "sync",
                "REDIS_URL": None,
                "SCHEDULER_IN_PROCESS": False,
                "RATELIMIT_STORAGE_URI": "memory://",
                "DEMO_TASK_BOOKS": task_books,
            }
        )
        with app.app_context():
            with contextlib.redirect_stderr(io.StringIO()):
                upgrade(directory=str(ROOT / "migrations"))
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            seed_demo()
            db.session.commit()
            first = time.perf_counter() - started
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            loaded = row_counts()
            started = time.perf_counter()
            seed_demo()
            db.session.commit()
            second = time.perf_counter() - started
            again = row_counts()
            db.session.remove()
            db.engine.dispose()
    grown = {name: again[name] - loaded[name] for name in loaded if again[name] != loaded[name]}
    results.put((first, second, rss_before, rss_after, grown, loaded))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--task-books", action="store_true", help="also render the task books")
    args = parser.parse_args()

    context = multiprocessing.get_context("fork")
    firsts, seconds, peaks, added = [], [], [], []
    for run in range(1, args.runs + 1):
        results = context.Queue()
        child = context.Process(target=one_run, args=(args.task_books, results))
        child.start()
        first, second, rss_before, rss_after, grown, loaded = results.get()
        child.join()
        firsts.append(first)
        seconds.append(second)
        peaks.append(rss_after)
        added.append(rss_after - rss_before)
        print(
            f"run {run}: seed {first:.2f} s, again {second:.2f} s, "
            f"peak {rss_after / 1024:.0f} MB (+{(rss_after - rss_before) / 1024:.0f} MB seeding)"
            + (f", NOT idempotent: {grown}" if grown else "")
        )
    print(
        f"rows: calls {loaded['calls']}, applications {loaded['applications']}, "
        f"projects {loaded['projects']}, audit events {loaded['audit_events']}"
    )
    print(
        f"median of {args.runs}: seed {statistics.median(firsts):.2f} s, "
        f"second load {statistics.median(seconds):.2f} s, "
        f"peak RSS {statistics.median(peaks) / 1024:.0f} MB "
        f"(+{statistics.median(added) / 1024:.0f} MB while seeding)"
    )


if __name__ == "__main__":
    main()
