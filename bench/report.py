"""Benchmark the portfolio report: seed 1,000 and 10,000 projects, time one generation.

    .venv/bin/python bench/report.py                      # 1,000 and 10,000 projects, SQLite files
    .venv/bin/python bench/report.py --projects 2000      # one size
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/scratch .venv/bin/python bench/report.py

For each size a scratch database is migrated and seeded (SQLite file in a temporary folder by
default; with ``BENCH_DATABASE_URL`` that PostgreSQL database, whose public schema is dropped
and recreated), then a fresh process generates the report exactly as the background job does:
figures, charts, PDF (rendered in a forked child by WeasyPrint), xlsx, files moved into place.
It prints the wall time of the generation and the peak resident memory of the generating
process and of its children (the PDF renderer), against the targets for 10,000 projects:
under 30 s and under 1.5 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 30
TARGET_BYTES = int(1.5 * 1024**3)
CHUNK = 2000
LEVELS = ("district", "city", "province", "national")
CATEGORIES = ("research", "transfer", "platform", "talent")
QUALIFICATIONS = (
    "national_high_tech",
    "tech_sme",
    "provincial_little_giant",
    "provincial_innovative",
    "provincial_tech_centre",
    "provincial_key_lab",
    "municipal_tech_centre",
)
WORDS = (
    "中药提取",
    "智能装备",
    "白炭黑",
    "硅材料",
    "节能减排",
    "工业互联网",
    "冶金",
    "智慧旅游",
    "人参",
    "天麻多肽",
    "汽车部件",
    "抗菌肽",
    "在线监测",
    "数字孪生",
    "固废利用",
    "林蛙",
)
TAILS = ("关键技术研究", "产业化示范", "工艺优化", "平台建设", "成果转化", "质量控制体系研究")


def _app(database_url: str, upload_dir: str):
    from grants import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_DIR": upload_dir,
            "INSTANCE_DIR": upload_dir,
            "JOBS_MODE": "sync",
            "REDIS_URL": None,
            "SCHEDULER_IN_PROCESS": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def _insert(table, rows: list[dict]) -> None:
    from grants.extensions import db

    groups: dict[tuple, list[dict]] = {}
    for row in rows:  # executemany wants the same keys in every row
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        for start in range(0, len(group), CHUNK):
            db.session.execute(table.insert(), group[start : start + CHUNK])


def seed_portfolio(projects: int, rng: random.Random, years=range(2016, 2026)) -> dict[str, int]:
    """Insert ``projects`` projects over ``years`` with their applications, calls, organisations,
    qualifications, yearly figures, milestones, spending, outcomes and acceptance decisions."""
    import sqlalchemy as sa

    from grants.applications.models import Application
    from grants.demo import seed_clusters
    from grants.extensions import db
    from grants.funding.models import Expenditure
    from grants.orgs.models import Organisation, Qualification, YearFigure
    from grants.orgs.uscc import with_check_digit
    from grants.programmes.models import Call
    from grants.projects.models import AcceptanceDecision, Milestone, Outcome, Project

    clusters = [c.id for c in seed_clusters().values()]
    db.session.flush()
    now = datetime.now(UTC)
    years = list(years)

    org_count = max(20, projects // 8)
    orgs = [
        {
            "name": f"通化{rng.choice(WORDS)}科技有限公司{i:05d}",
            "org_type": "enterprise",
            "uscc": with_check_digit(f"91220503MB{i:07d}"),
            "cluster_id": rng.choice(clusters),
        }
        for i in range(org_count)
    ]
    _insert(Organisation.__table__, orgs)
    org_ids = db.session.scalars(
        sa.select(Organisation.id)
        .where(Organisation.uscc.like("91220503MB%"))
        .order_by(Organisation.id)
    ).all()
    org_cluster = dict(
        db.session.execute(
            sa.select(Organisation.id, Organisation.cluster_id).where(Organisation.id.in_(org_ids))
        ).all()
    )
    quals, figures = [], []
    for org_id in org_ids:
        for kind in rng.sample(QUALIFICATIONS, rng.randint(0, 2)):
            granted = date(rng.randint(2014, 2024), rng.randint(1, 12), 1)
            quals.append(
                {
                    "organisation_id": org_id,
                    "kind": kind,
                    "granted_on": granted,
                    "expires_on": granted + timedelta(days=3 * 365),
                }
            )
        base = rng.randint(500, 50000) * 10000
        for year in years:
            revenue = Decimal(base + rng.randint(0, 5000) * 10000)
            figures.append(
                {
                    "organisation_id": org_id,
                    "year": year,
                    "revenue": revenue,
                    "rd_spending": (revenue * Decimal(rng.randint(5, 60)) / 1000).quantize(
                        Decimal("1")
                    ),
                    "staff": 100,
                    "rd_staff": 10,
                }
            )
    _insert(Qualification.__table__, quals)
    _insert(YearFigure.__table__, figures)

    calls = []
    for year in years:
        for level in LEVELS:
            for category in CATEGORIES:
                calls.append(
                    {
                        "code": f"B{year}-{level[:3]}-{category[:3]}",
                        "year": year,
                        "title": f"{year}年度科技计划（{level}/{category}）",
                        "funding_level": level,
                        "category": category,
                        "opens_at": datetime(year, 3, 1, tzinfo=UTC),
                        "closes_at": datetime(year, 4, 30, tzinfo=UTC),
                        "total_budget": Decimal("50000000"),
                        "cap_per_project": Decimal("2000000"),
                        "state": "closed",
                        "published_at": datetime(year, 3, 1, tzinfo=UTC),
                    }
                )
    _insert(Call.__table__, calls)
    call_rows = db.session.execute(sa.select(Call.id, Call.year).where(Call.code.like("B%"))).all()
    calls_by_year: dict[int, list[int]] = {}
    for call_id, year in call_rows:
        calls_by_year.setdefault(year, []).append(call_id)

    applications, plan = [], []
    serial = 0
    for index in range(projects):
        year = years[index % len(years)]
        call_id = rng.choice(calls_by_year[year])
        org_id = rng.choice(org_ids)
        serial += 1
        title = f"{rng.choice(WORDS)}{rng.choice(TAILS)}（第{index + 1}号）"
        applications.append(
            {
                "call_id": call_id,
                "organisation_id": org_id,
                "cluster_id": org_cluster[org_id],
                "title": title,
                "state": "contracted",
                "reference_no": f"BA-{serial:07d}",
                "submitted_at": datetime(year, 4, 1, tzinfo=UTC),
                "fiscal_total": Decimal("300000"),
            }
        )
        plan.append((f"BA-{serial:07d}", year, call_id, org_id, title))
        for _extra in range(rng.randint(0, 2)):
            serial += 1
            applications.append(
                {
                    "call_id": call_id,
                    "organisation_id": rng.choice(org_ids),
                    "cluster_id": rng.choice(clusters),
                    "title": f"{rng.choice(WORDS)}研究",
                    "state": rng.choice(("declined", "rejected", "withdrawn")),
                    "reference_no": f"BA-{serial:07d}",
                    "submitted_at": datetime(year, 4, 1, tzinfo=UTC),
                }
            )
    _insert(Application.__table__, applications)
    app_ids = dict(
        db.session.execute(
            sa.select(Application.reference_no, Application.id).where(
                Application.reference_no.like("BA-%")
            )
        ).all()
    )

    rows = []
    for number, (reference, year, call_id, org_id, title) in enumerate(plan, start=1):
        award = Decimal(rng.randint(5, 120) * 10000)
        state = rng.choices(
            (
                "in_progress",
                "accepted",
                "closed",
                "acceptance_failed",
                "terminated",
                "acceptance_review",
            ),
            weights=(40, 25, 20, 3, 4, 8),
        )[0]
        disbursed = (award * Decimal(rng.choice(("0.3", "0.7", "1")))).quantize(Decimal("0.01"))
        conclusion = {"accepted": "pass", "closed": "pass", "acceptance_failed": "fail"}.get(state)
        rows.append(
            {
                "application_id": app_ids[reference],
                "call_id": call_id,
                "organisation_id": org_id,
                "cluster_id": org_cluster[org_id],
                "code": f"{year}-EDJ-B{number:06d}",
                "year": year,
                "title": title,
                "start_date": date(year, 5, 1),
                "end_date": date(year + 2, 4, 30),
                "award": award,
                "committed_total": disbursed,
                "disbursed_total": disbursed,
                "state": state,
                "signed_at": datetime(year, 5, 10, tzinfo=UTC),
                "conclusion": conclusion,
                "concluded_at": now if conclusion else None,
                "terminated_at": now if state == "terminated" else None,
                "termination_reason": "企业经营困难，无法继续实施" if state == "terminated" else "",
            }
        )
    _insert(Project.__table__, rows)
    project_rows = db.session.execute(
        sa.select(
            Project.id, Project.year, Project.award, Project.disbursed_total, Project.conclusion
        ).where(Project.code.like("%-EDJ-B%"))
    ).all()
    milestones, spending, outcomes, decisions = [], [], [], []
    for project_id, year, _award, disbursed, conclusion in project_rows:
        for position in (1, 2):
            due = date(year + position - 1, 12, 31)
            achieved = None
            if due < date.today() and rng.random() < 0.85:
                achieved = datetime.combine(
                    due + timedelta(days=rng.randint(-60, 40)), datetime.min.time(), UTC
                )
            milestones.append(
                {
                    "project_id": project_id,
                    "position": position,
                    "title": f"里程碑{position}",
                    "due_date": due,
                    "state": "achieved" if achieved else "open",
                    "achieved_at": achieved,
                }
            )
        if disbursed:
            spending.append(
                {
                    "project_id": project_id,
                    "category": "equipment",
                    "period_start": date(year, 5, 1),
                    "period_end": date(year, 12, 31),
                    "amount": (Decimal(disbursed) * Decimal("0.6")).quantize(Decimal("0.01"))
                    or Decimal("1"),
                    "state": "verified",
                    "verified_at": now,
                }
            )
        for kind in rng.sample(
            ("patent", "new_product", "standard", "paper", "revenue", "jobs"), 2
        ):
            quantity = {
                "revenue": Decimal(rng.randint(10, 900) * 10000),
                "jobs": Decimal(rng.randint(1, 30)),
            }
            outcomes.append(
                {
                    "project_id": project_id,
                    "kind": kind,
                    "title": "成果",
                    "quantity": quantity.get(kind, Decimal(rng.randint(1, 3))),
                }
            )
        if conclusion:
            decisions.append(
                {
                    "project_id": project_id,
                    "conclusion": conclusion,
                    "panel_score": Decimal("82.5"),
                    "reasons": "" if conclusion == "pass" else "关键指标未完成",
                }
            )
    _insert(Milestone.__table__, milestones)
    _insert(Expenditure.__table__, spending)
    _insert(Outcome.__table__, outcomes)
    _insert(AcceptanceDecision.__table__, decisions)
    return {
        "organisations": len(org_ids),
        "calls": len(calls),
        "applications": len(applications),
        "projects": len(rows),
        "milestones": len(milestones),
        "outcomes": len(outcomes),
    }


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    from grants.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def seed_step(database_url: str, upload_dir: str, projects: int, seed: int) -> dict:
    """Migrate the scratch database and seed it (run in its own process)."""
    from flask_migrate import upgrade

    from grants.extensions import db

    app = _app(database_url, upload_dir)
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        counts = seed_portfolio(projects, random.Random(seed))
        db.session.commit()
        counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def generate_step(database_url: str, upload_dir: str, period: str, locale: str) -> dict:
    """Generate one report as the job does, in this fresh process, and measure it."""
    import logging

    import sqlalchemy as sa
    from sqlalchemy import event

    from grants.extensions import db
    from grants.reports import operations
    from grants.reports.models import PortfolioReport
    from grants.reports.periods import Period

    logging.getLogger("fontTools").setLevel(logging.ERROR)
    app = _app(database_url, upload_dir)
    with app.app_context():
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
        started = time.perf_counter()
        cpu_started = time.process_time()
        report, _joined = operations.request_report(Period.parse(period), locale, None)
        db.session.commit()  # JOBS_MODE=sync: the job runs now, in this process, as the worker would
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        report = db.session.scalar(
            sa.select(PortfolioReport).where(PortfolioReport.id == report.id)
        )
        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "state": report.state,
            "error": (report.error or "")[-400:],
            "seconds": round(elapsed, 2),
            "cpu_self": round(cpu, 2),
            "cpu_children": round(children.ru_utime + children.ru_stime, 2),
            "pages": report.pages,
            "pdf_bytes": report.pdf_size,
            "self_rss": self_rss,
            "child_rss": children.ru_maxrss * 1024,
            "statements": len(statements),
        }


def _run_child(args: list[str]) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def _mib(value: int) -> str:
    return f"{value / 1024**2:,.0f} MiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, action="append", help="portfolio size (repeatable)")
    parser.add_argument("--period", default="2016-2025")
    parser.add_argument("--locale", default="zh_Hans_CN")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", metavar="FOLDER", help="copy each generated PDF into this folder")
    parser.add_argument("--step", choices=("seed", "generate"), help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--uploads", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.step == "seed":
        print(json.dumps(seed_step(args.database, args.uploads, args.projects[0], args.seed)))
        return 0
    if args.step == "generate":
        print(json.dumps(generate_step(args.database, args.uploads, args.period, args.locale)))
        return 0

    sizes = args.projects or [1000, 10000]
    postgres = os.environ.get("BENCH_DATABASE_URL")
    print(
        f"portfolio report benchmark: period {args.period}, locale {args.locale}, "
        f"database {'PostgreSQL' if postgres else 'SQLite file'}"
    )
    worst_ok = True
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="grants-bench-") as tmp:
            if postgres:
                from grants.config import normalise_database_url

                _reset_postgres(postgres)
                url = normalise_database_url(postgres)
            else:
                url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            common = ["--database", url, "--uploads", tmp]
            seeded = _run_child(
                ["--step", "seed", "--projects", str(size), "--seed", str(args.seed), *common]
            )
            result = _run_child(
                ["--step", "generate", "--period", args.period, "--locale", args.locale, *common]
            )
            if args.keep:
                for pdf in (Path(tmp) / "reports").glob("*.pdf"):
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    shutil.copy(pdf, Path(args.keep) / f"report-{size}.pdf")
        peak = max(result["self_rss"], result["child_rss"])
        print(
            f"{size:>6,} projects (seeded {seeded['applications']:,} applications, "
            f"{seeded['milestones']:,} milestones in {seeded['seconds']} s): "
            f"{result['state']}, {result['seconds']:.1f} s wall, peak RSS {_mib(result['self_rss'])} (job) / "
            f"{_mib(result['child_rss'])} (PDF child), {result['pages']} pages, "
            f"{(result['pdf_bytes'] or 0) / 1024:,.0f} KiB, {result['statements']} SQL statements, "
            f"CPU {result['cpu_self']} s (job) + {result['cpu_children']} s (PDF child)"
        )
        if result["state"] != "done":
            print("  error:", result["error"])
        if size >= 10000:
            ok = result["seconds"] < TARGET_SECONDS and peak < TARGET_BYTES
            worst_ok = worst_ok and ok
            print(
                f"  targets for 10,000: < {TARGET_SECONDS} s and < 1.5 GiB: {'met' if ok else 'NOT met'}"
            )
    return 0 if worst_ok else 1


if __name__ == "__main__":
    sys.exit(main())
