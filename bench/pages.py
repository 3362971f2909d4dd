"""Page benchmark: the bureau's application list, the expert's review queue and the finance ledger
at 100 and at 10,000 applications, against a bare Flask + SQLAlchemy endpoint.

    .venv/bin/python bench/pages.py                  # PostgreSQL (PAGES_DATABASE_URL), 200 requests a page
    .venv/bin/python bench/pages.py --sqlite         # a SQLite file in a temporary folder
    .venv/bin/python bench/pages.py --requests 500 --small 100 --large 10000

The scratch database (PAGES_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/grants_pages)
is dropped, created and migrated, then seeded with bulk inserts: first ``--small`` applications
(with their expert assignments, projects, tranches and disbursements), measured, then grown to
``--large`` and measured again. One expert holds up to 300 assignments.

For each page it prints the requests per second of the real page (Flask test client, signed in,
with sessions, permissions, the base layout and translations) and of a bare endpoint (a minimal
Flask app defined below, on the same database, running the same queries into a minimal Jinja
template that renders the same rows), their ratio (target >= 0.5), and the number of SQL
statements one request of the real page executes at each size (targets: equal, at most 10).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import scratch_database  # noqa: E402  (bench/scratch.py)

PASSWORD = "Pages-bench-2026"
CHUNK = 2000
CALLS = 20
ORGANISATIONS = 400
EXPERTS = 60
QUEUE_SIZE = 300  # assignments of the measured expert (at most one per application)
TARGET_RATIO = 0.5
TARGET_STATEMENTS = 10
STATES = (
    "submitted",
    "under_review",
    "reviewed",
    "approved",
    "declined",
    "rejected",
    "returned",
    "withdrawn",
    "contracted",
    "contracted",
    "contracted",
    "draft",
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


# --- the app on the scratch database ---------------------------------------------------------------


def make_app(url: str, folder: str):
    from grants import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_DIR": folder,
            "INSTANCE_DIR": folder,
            "SECRET_KEY": "pages-bench-secret",
            "WTF_CSRF_ENABLED": False,
            "JOBS_MODE": "sync",
            "REDIS_URL": None,
            "SCHEDULER_IN_PROCESS": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_ENABLED": False,
            "MAIL_SERVER": None,
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


def seed_base() -> dict[str, int]:
    """Clusters, organisations, calls, the three signed-in users and the expert pool."""
    import sqlalchemy as sa

    from grants.accounts.models import User, UserRole
    from grants.demo import seed_clusters
    from grants.extensions import db
    from grants.orgs.models import Organisation
    from grants.orgs.uscc import with_check_digit
    from grants.programmes.models import Call
    from grants.review.models import Expert

    seed_clusters()
    db.session.flush()
    hasher = User(email="x", name="x")
    hasher.set_password(PASSWORD)
    now = datetime.now(UTC)
    people = {"bureau": "科技局", "finance": "财务", "expert": "专家", "requester": "经办"}
    _insert(
        User.__table__,
        [
            {
                "email": f"{key}@pages.example",
                "name": f"{name}{key}",
                "active": True,
                "password_hash": hasher.password_hash,
                "password_changed_at": now,
            }
            for key, name in people.items()
        ],
    )
    users = dict(
        db.session.execute(
            sa.select(User.email, User.id).where(User.email.like("%@pages.example"))
        ).all()
    )
    roles = {"bureau": "bureau", "finance": "finance", "expert": "expert", "requester": "bureau"}
    _insert(
        UserRole.__table__,
        [{"user_id": users[f"{key}@pages.example"], "role": role} for key, role in roles.items()],
    )
    _insert(
        Organisation.__table__,
        [
            {
                "name": f"通化{WORDS[i % len(WORDS)]}科技有限公司{i:04d}",
                "org_type": "enterprise",
                "uscc": with_check_digit(f"91220503PG{i:07d}"),
            }
            for i in range(ORGANISATIONS)
        ],
    )
    _insert(
        Call.__table__,
        [
            {
                "code": f"P2026-{i:02d}",
                "year": 2020 + i % 7,
                "title": f"{2020 + i % 7}年度科技计划第{i}批",
                "funding_level": "district",
                "category": "research",
                "opens_at": datetime(2020 + i % 7, 3, 1, tzinfo=UTC),
                "closes_at": datetime(2020 + i % 7, 4, 30, tzinfo=UTC),
                "total_budget": Decimal("50000000"),
                "cap_per_project": Decimal("2000000"),
                "state": "closed",
                "published_at": datetime(2020 + i % 7, 3, 1, tzinfo=UTC),
            }
            for i in range(CALLS)
        ],
    )
    _insert(
        Expert.__table__,
        [
            {
                "name": f"专家{i:03d}",
                "title": "教授",
                "employer_name": "吉林大学",
                "user_id": users["expert@pages.example"] if i == 0 else None,
            }
            for i in range(EXPERTS)
        ],
    )
    return users


def seed_applications(
    start: int, stop: int, users: dict[str, int], rng: random.Random
) -> dict[str, int]:
    """Applications ``start`` … ``stop - 1`` with their assignments; contracted ones get a project,
    two tranches and one or two disbursements."""
    import sqlalchemy as sa

    from grants.applications.models import Application
    from grants.extensions import db
    from grants.funding.models import Disbursement, Tranche
    from grants.orgs.models import IndustryCluster, Organisation
    from grants.programmes.models import Call
    from grants.projects.models import Project
    from grants.review.models import Assignment, Expert

    clusters = list(db.session.scalars(sa.select(IndustryCluster.id)))
    orgs = list(
        db.session.scalars(sa.select(Organisation.id).where(Organisation.uscc.like("91220503PG%")))
    )
    calls = dict(
        db.session.execute(sa.select(Call.id, Call.year).where(Call.code.like("P2026-%"))).all()
    )
    call_ids = sorted(calls)
    experts = list(db.session.scalars(sa.select(Expert.id).order_by(Expert.id)))
    now = datetime.now(UTC)

    applications = []
    for i in range(start, stop):
        state = STATES[i % len(STATES)]
        call_id = call_ids[i % len(call_ids)]
        applications.append(
            {
                "call_id": call_id,
                "organisation_id": rng.choice(orgs),
                "cluster_id": rng.choice([*clusters, None]),
                "title": f"{rng.choice(WORDS)}{rng.choice(TAILS)}（第{i + 1}号）",
                "summary": "项目摘要。" * 20,
                "state": state,
                "fiscal_total": Decimal(rng.randint(10, 200) * 10000),
                "self_raised_total": Decimal(rng.randint(10, 400) * 10000),
                "reference_no": None if state == "draft" else f"PG-{i:07d}",
                "submitted_at": None if state == "draft" else now - timedelta(minutes=7 * i + 1),
            }
        )
    _insert(Application.__table__, applications)
    ids = dict(
        db.session.execute(
            sa.select(Application.reference_no, Application.id).where(
                Application.reference_no.like("PG-%")
            )
        ).all()
    )

    assignments, projects = [], []
    for i in range(start, stop):
        if STATES[i % len(STATES)] == "draft":
            continue
        app_id = ids[f"PG-{i:07d}"]
        panel = rng.sample(experts[1:], 3)
        if i < QUEUE_SIZE:
            panel[0] = experts[0]
        for expert_id in panel:
            accepted = rng.random() < 0.6
            assignments.append(
                {
                    "application_id": app_id,
                    "expert_id": expert_id,
                    "source": "auto",
                    "state": "accepted" if accepted else "invited",
                    "due_at": now + timedelta(days=rng.randint(-5, 20), hours=rng.randint(0, 23)),
                    "responded_at": now if accepted else None,
                    "no_conflict_declared_at": now if accepted else None,
                }
            )
        if STATES[i % len(STATES)] == "contracted":
            row = applications[i - start]
            year = calls[row["call_id"]]
            projects.append(
                {
                    "application_id": app_id,
                    "call_id": row["call_id"],
                    "organisation_id": row["organisation_id"],
                    "cluster_id": row["cluster_id"],
                    "code": f"{year}-EDJ-P{i:06d}",
                    "year": year,
                    "title": row["title"],
                    "start_date": date(year, 5, 1),
                    "end_date": date(year + 2, 4, 30),
                    "award": row["fiscal_total"],
                    "state": "in_progress",
                    "signed_at": datetime(year, 5, 10, tzinfo=UTC),
                }
            )
    _insert(Assignment.__table__, assignments)
    _insert(Project.__table__, projects)

    codes = [p["code"] for p in projects]
    project_rows = (
        db.session.execute(
            sa.select(Project.id, Project.award).where(Project.code.in_(codes))
        ).all()
        if codes
        else []
    )
    tranches = []
    for project_id, award in project_rows:
        first = (award * Decimal("0.3")).quantize(Decimal("0.01"))
        tranches.append(
            {
                "project_id": project_id,
                "position": 1,
                "amount": first,
                "trigger": "contract",
                "due_since": now,
            }
        )
        tranches.append(
            {
                "project_id": project_id,
                "position": 2,
                "amount": award - first,
                "trigger": "acceptance",
            }
        )
    _insert(Tranche.__table__, tranches)
    tranche_rows = (
        db.session.execute(
            sa.select(Tranche.id, Tranche.project_id, Tranche.position, Tranche.amount).where(
                Tranche.project_id.in_([p for p, _a in project_rows])
            )
        ).all()
        if project_rows
        else []
    )
    disbursements, totals = [], {}
    for tranche_id, project_id, position, amount in tranche_rows:
        if position == 2 and rng.random() < 0.7:
            continue
        state = rng.choices(
            ("paid", "approved", "requested", "rejected"), weights=(60, 10, 20, 10)
        )[0]
        row = {
            "project_id": project_id,
            "tranche_id": tranche_id,
            "amount": amount,
            "state": state,
            "idempotency_key": f"pages-{tranche_id}",
            "requested_by_id": users["requester@pages.example"],
            "requested_at": now - timedelta(days=rng.randint(0, 900), minutes=tranche_id),
            "payee_name": "收款单位",
            "payee_bank": "吉林银行通化分行",
        }
        if state in ("approved", "paid"):
            row.update(
                approved_by_id=users["finance@pages.example"],
                approved_at=now,
                payee_account="0123456789",
                voucher_no=f"PZ-{tranche_id:07d}",
                voucher_date=date.today(),
            )
        if state == "paid":
            row.update(paid_by_id=users["finance@pages.example"], paid_at=now)
        if state == "rejected":
            row.update(rejected_by_id=users["finance@pages.example"], rejection_reason="材料不全")
        disbursements.append(row)
        committed, paid = totals.get(project_id, (Decimal(0), Decimal(0)))
        if state != "rejected":
            committed += amount
        if state == "paid":
            paid += amount
        totals[project_id] = (committed, paid)
    _insert(Disbursement.__table__, disbursements)
    if totals:
        db.session.execute(
            sa.update(Project.__table__).where(Project.__table__.c.id == sa.bindparam("pid")),
            [
                {"pid": pid, "committed_total": c, "disbursed_total": p}
                for pid, (c, p) in totals.items()
            ],
        )
    return {
        "applications": len(applications),
        "assignments": len(assignments),
        "projects": len(projects),
        "disbursements": len(disbursements),
    }


def seed(app, start: int, stop: int, users: dict | None, rng: random.Random):
    from grants.extensions import db

    with app.app_context():
        began = time.perf_counter()
        if users is None:
            users = seed_base()
        counts = seed_applications(start, stop, users, rng)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        counts["seconds"] = time.perf_counter() - began
    return users, counts


# --- the bare endpoints ----------------------------------------------------------------------------

BARE_LIST = """<!doctype html><html lang="zh"><head><title>applications</title></head><body><main>
<form><select name="call">{% for c in calls %}<option value="{{ c.id }}">{{ c.year }} · {{ c.title }}</option>{% endfor %}</select>
<select name="cluster">{% for c in clusters %}<option value="{{ c.id }}">{{ c.name_zh }}</option>{% endfor %}</select></form>
<table><thead><tr><th scope="col">ref</th><th scope="col">title</th><th scope="col">organisation</th>
<th scope="col">cluster</th><th scope="col">fiscal</th><th scope="col">self-raised</th><th scope="col">state</th>
<th scope="col">submitted</th></tr></thead><tbody>
{% for a in items %}<tr><td>{{ a.reference_no }}</td><td><a href="/applications/{{ a.id }}">{{ a.title }}</a></td>
<td>{{ a.organisation.name }}</td><td>{{ a.cluster.name_zh if a.cluster else '—' }}</td><td>{{ wan(a.fiscal_total) }}</td>
<td>{{ wan(a.self_raised_total) }}</td><td>{{ a.state }}</td><td>{{ a.submitted_at.strftime('%Y-%m-%d %H:%M') }}</td></tr>
{% endfor %}</tbody></table><p>{{ total }}</p></main></body></html>"""

BARE_QUEUE = """<!doctype html><html lang="zh"><head><title>reviews</title></head><body><main>
{% for title, rows in (("invited", invitations), ("accepted", accepted), ("closed", closed)) %}
<h2>{{ title }} {{ rows|length }}</h2><table><tbody>
{% for a in rows %}<tr><td>{{ a.application.title }}</td><td>{{ a.application.cluster.name_zh if a.application.cluster else '—' }}</td>
<td>{{ a.application.call.title }}</td><td>{{ a.due_at.strftime('%Y-%m-%d %H:%M') }}</td>
<td>{{ 'submitted' if a.review and a.review.state == 'submitted' else 'draft' if a.review else 'not started' }}</td>
<td><a href="/expert/assignments/{{ a.id }}">open</a></td></tr>{% endfor %}
</tbody></table>{% endfor %}</main></body></html>"""

BARE_LEDGER = """<!doctype html><html lang="zh"><head><title>ledger</title></head><body><main>
<form><select name="call">{% for c in calls %}<option value="{{ c.id }}">{{ c.year }} · {{ c.title }}</option>{% endfor %}</select>
<select name="cluster">{% for c in clusters %}<option value="{{ c.id }}">{{ c.name_zh }}</option>{% endfor %}</select>
<select name="year">{% for y in years %}<option>{{ y }}</option>{% endfor %}</select></form>
{% for name, rows in totals.items() %}<table><caption>{{ name }}</caption><tbody>
{% for r in rows %}<tr><th scope="row">{{ r[0] }}</th>{% for v in r[1:] %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{% endfor %}
<table><tbody>{% for d in items %}<tr><td><a href="/projects/{{ d.project_id }}/money">{{ d.project.code }}</a>
<div>{{ d.project.title }}</div><div>{{ d.project.organisation.name }}</div></td><td>{{ d.tranche.position }}</td>
<td>{{ d.amount }}</td><td>{{ d.state }}</td><td>{{ d.requested_at.strftime('%Y-%m-%d %H:%M') }} {{ d.requested_by.name }}</td>
<td>{{ d.approved_by.name if d.approved_by else '—' }}</td><td>{{ d.voucher_no }} {{ d.voucher_date or '' }}</td>
<td>{{ d.paid_at.strftime('%Y-%m-%d %H:%M') if d.paid_at else '—' }}</td></tr>{% endfor %}</tbody></table>
<p>{{ total }}</p></main></body></html>"""


def bare_app(url: str, expert_user_id: int, page_size: int):
    """A minimal Flask app on the same database: the pages' queries (copied from the views), no
    sessions, sign-in, permissions, layout or translations."""
    import sqlalchemy as sa
    from flask import Flask
    from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, selectinload

    from grants.accounts.models import User
    from grants.applications.models import APPLICATION_STATES, Application
    from grants.funding.models import Disbursement, Tranche
    from grants.orgs.models import IndustryCluster, Organisation
    from grants.programmes.models import Call
    from grants.projects.models import Project
    from grants.review.models import Assignment, Expert

    engine = sa.create_engine(url)
    bare = Flask("bare")
    templates = {
        name: bare.jinja_env.from_string(text)
        for name, text in (("list", BARE_LIST), ("queue", BARE_QUEUE), ("ledger", BARE_LEDGER))
    }
    listed = tuple(s for s in APPLICATION_STATES if s != "draft")

    def wan(amount):
        return f"{(amount / 10000).quantize(Decimal('0.01')):,}"

    def page(session, stmt):
        total = session.scalar(
            sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
        )
        return session.scalars(stmt.limit(page_size).offset(0)).all(), total

    def clusters(session):
        return session.scalars(
            sa.select(IndustryCluster).order_by(IndustryCluster.sort_order, IndustryCluster.id)
        ).all()

    @bare.get("/applications")
    def application_list():
        with Session(engine) as session:
            stmt = (
                sa.select(Application)
                .join(Application.organisation)
                .join(Application.call)
                .outerjoin(Application.cluster)
                .options(
                    contains_eager(Application.organisation),
                    contains_eager(Application.call),
                    contains_eager(Application.cluster),
                )
                .where(Application.state.in_(listed))
                .order_by(Application.submitted_at.desc(), Application.id)
            )
            items, total = page(session, stmt)
            calls = session.scalars(
                sa.select(Call).order_by(Call.year.desc(), Call.opens_at.desc(), Call.id.desc())
            ).all()
            return templates["list"].render(
                items=items, total=total, calls=calls, clusters=clusters(session), wan=wan
            )

    @bare.get("/reviews")
    def review_queue():
        with Session(engine) as session:
            expert = session.scalar(
                sa.select(Expert).where(Expert.user_id == expert_user_id, Expert.active.is_(True))
            )
            items = (
                session.scalars(
                    sa.select(Assignment)
                    .where(Assignment.expert_id == expert.id)
                    .options(
                        joinedload(Assignment.application).joinedload(Application.call),
                        joinedload(Assignment.application).joinedload(Application.cluster),
                        selectinload(Assignment.review),
                    )
                    .order_by(Assignment.due_at, Assignment.id)
                )
                .unique()
                .all()
            )
            return templates["queue"].render(
                invitations=[a for a in items if a.state == "invited"],
                accepted=[a for a in items if a.state == "accepted"],
                closed=[a for a in items if a.state in ("declined", "withdrawn")],
            )

    @bare.get("/ledger")
    def ledger():
        with Session(engine) as session:

            def joined(stmt):
                return (
                    stmt.select_from(Disbursement)
                    .join(Project, Disbursement.project_id == Project.id)
                    .join(Organisation, Project.organisation_id == Organisation.id)
                    .join(Call, Project.call_id == Call.id)
                    .outerjoin(IndustryCluster, Project.cluster_id == IndustryCluster.id)
                    .join(Tranche, Disbursement.tranche_id == Tranche.id)
                )

            live = Disbursement.state != "rejected"
            pending = Disbursement.state.in_(("requested", "approved"))
            sums = (
                sa.func.count(sa.case((live, Disbursement.id))),
                sa.func.sum(sa.case((pending, Disbursement.amount), else_=0)),
                sa.func.sum(sa.case((Disbursement.state == "paid", Disbursement.amount), else_=0)),
            )
            totals = {
                "call": [
                    (c.title, *r)
                    for c, *r in session.execute(
                        joined(sa.select(Call, *sums))
                        .group_by(Call.id)
                        .order_by(Call.year.desc(), Call.id)
                    )
                ],
                "cluster": [
                    (c.name_zh if c else "—", *r)
                    for c, *r in session.execute(
                        joined(sa.select(IndustryCluster, *sums))
                        .group_by(IndustryCluster.id)
                        .order_by(IndustryCluster.sort_order, IndustryCluster.id)
                    )
                ],
                "year": session.execute(
                    joined(sa.select(Project.year, *sums))
                    .group_by(Project.year)
                    .order_by(Project.year)
                ).all(),
                "state": session.execute(
                    joined(
                        sa.select(
                            Disbursement.state,
                            sa.func.count(Disbursement.id),
                            sa.func.sum(Disbursement.amount),
                        )
                    ).group_by(Disbursement.state)
                ).all(),
            }
            requester, approver = aliased(User, name="requester"), aliased(User, name="approver")
            stmt = (
                joined(sa.select(Disbursement))
                .join(requester, Disbursement.requested_by_id == requester.id)
                .outerjoin(approver, Disbursement.approved_by_id == approver.id)
                .options(
                    contains_eager(Disbursement.project).contains_eager(Project.organisation),
                    contains_eager(Disbursement.project).contains_eager(Project.call),
                    contains_eager(Disbursement.project).contains_eager(Project.cluster),
                    contains_eager(Disbursement.tranche),
                    contains_eager(Disbursement.requested_by.of_type(requester)).lazyload(
                        requester.roles
                    ),
                    contains_eager(Disbursement.approved_by.of_type(approver)).lazyload(
                        approver.roles
                    ),
                )
                .order_by(Disbursement.requested_at.desc(), Disbursement.id.desc())
            )
            items, total = page(session, stmt)
            calls = session.scalars(
                sa.select(Call)
                .where(Call.id.in_(sa.select(Project.call_id)))
                .order_by(Call.year.desc(), Call.id.desc())
            ).all()
            years = session.scalars(
                sa.select(Project.year)
                .join(Disbursement, Disbursement.project_id == Project.id)
                .distinct()
                .order_by(Project.year.desc())
            ).all()
            return templates["ledger"].render(
                items=items,
                total=total,
                totals=totals,
                calls=calls,
                clusters=clusters(session),
                years=years,
            )

    return bare, engine


# --- measuring -----------------------------------------------------------------------------------

PAGES = (  # (label, real path, signed-in user, bare path)
    ("bureau list (applications.bureau_list)", "/applications/all", "bureau", "/applications"),
    ("expert queue (review.my_reviews)", "/expert/reviews", "expert", "/reviews"),
    ("finance ledger (funding.ledger)", "/finance/ledger", "finance", "/ledger"),
)


def signed_in_clients(app) -> dict:
    clients = {}
    for who in ("bureau", "expert", "finance"):
        client = app.test_client()
        response = client.post(
            "/login", data={"email": f"{who}@pages.example", "password": PASSWORD}
        )
        if response.status_code != 302:
            raise SystemExit(f"sign-in of {who} failed: {response.status_code}")
        clients[who] = client
    return clients


def statements_of(app, client, path: str) -> tuple[int, list[str]]:
    """The SQL statements one request of ``path`` executes (call it right after another request of the
    same session: the session's last-seen time is written at most once a minute, one UPDATE more)."""
    from sqlalchemy import event

    from grants.extensions import db

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}")
    return len(seen), seen


def timed(client, path: str, requests: int) -> float:
    """Seconds taken by ``requests`` requests of ``path``, one after the other."""
    began = time.perf_counter()
    for _ in range(requests):
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        response.close()
    return time.perf_counter() - began


def measure(app, clients, bare, requests: int, warmup: int, rounds: int) -> dict:
    """Statement count and requests per second of each real page and its bare endpoint; the timed
    requests alternate in ``rounds`` blocks so that both see the same load of the machine."""
    results = {}
    bare_client = bare.test_client()
    for label, path, who, bare_path in PAGES:
        timed(clients[who], path, warmup)
        timed(bare_client, bare_path, warmup)
        count, seen = statements_of(app, clients[who], path)
        real = plain = 0.0
        block = max(1, requests // rounds)
        for _ in range(rounds):
            real += timed(clients[who], path, block)
            plain += timed(bare_client, bare_path, block)
        done = block * rounds
        results[label] = {
            "statements": count,
            "sql": seen,
            "real": done / real,
            "bare": done / plain,
        }
    return results


def print_size(title: str, counts: dict, results: dict) -> None:
    print(
        f"\n{title}: {counts['applications']:,} applications, {counts['assignments']:,} assignments, "
        f"{counts['projects']:,} projects, {counts['disbursements']:,} disbursements "
        f"(seeded in {counts['seconds']:.1f} s)"
    )
    print(f"  {'page':<42}{'real req/s':>11}{'bare req/s':>11}{'ratio':>7}{'SQL':>5}")
    for label, r in results.items():
        print(
            f"  {label:<42}{r['real']:>11.1f}{r['bare']:>11.1f}{r['real'] / r['bare']:>7.2f}{r['statements']:>5}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument(
        "--requests", type=int, default=200, help="timed requests per page and endpoint"
    )
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating blocks of real and bare requests"
    )
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--show-sql", action="store_true", help="print the statements of each real page"
    )
    args = parser.parse_args(argv)

    import logging

    from flask_migrate import upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    folder = tempfile.mkdtemp(prefix="grants-pages-")
    url = scratch_database(
        folder,
        sqlite=args.sqlite,
        file_name="pages.sqlite3",
        env="PAGES_DATABASE_URL",
        default="postgresql://postgres@127.0.0.1:5432/grants_pages",
    )
    app = make_app(url, folder)
    with app.app_context():
        upgrade()
        page_size = app.config["PAGE_SIZE"]
    print(
        f"page benchmark on {'SQLite' if args.sqlite else 'PostgreSQL'} ({url.rsplit('@', 1)[-1]}); "
        f"{args.requests} requests per page after {args.warmup} warm-up, Flask test client, one process"
    )

    rng = random.Random(args.seed)
    users, small_counts = seed(app, 0, args.small, None, rng)
    clients = signed_in_clients(app)
    bare, engine = bare_app(url, users["expert@pages.example"], page_size)
    small = measure(app, clients, bare, args.requests, args.warmup, args.rounds)
    print_size("at small size", small_counts, small)

    _users, grown = seed(app, args.small, args.large, users, rng)
    large_counts = {
        k: small_counts[k] + grown[k]
        for k in ("applications", "assignments", "projects", "disbursements")
    }
    large_counts["seconds"] = grown["seconds"]
    large = measure(app, clients, bare, args.requests, args.warmup, args.rounds)
    print_size("at large size", large_counts, large)

    print(
        f"\ntargets: ratio >= {TARGET_RATIO} at the large size; SQL statements equal at both sizes and "
        f"<= {TARGET_STATEMENTS}"
    )
    ok = True
    for label in large:
        s, b = small[label]["statements"], large[label]["statements"]
        ratio = large[label]["real"] / large[label]["bare"]
        met = ratio >= TARGET_RATIO and s == b and b <= TARGET_STATEMENTS
        ok = ok and met
        small_ratio = small[label]["real"] / small[label]["bare"]
        print(
            f"  {label:<42} ratio {ratio:.2f} (at the small size {small_ratio:.2f}), SQL {s} → {b}: "
            f"{'met' if met else 'NOT met'}"
        )
        if args.show_sql or s != b or b > TARGET_STATEMENTS:
            for statement in large[label]["sql"]:
                print("      " + " ".join(statement.split())[:160])
    engine.dispose()
    with app.app_context():
        from grants.extensions import db

        db.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
