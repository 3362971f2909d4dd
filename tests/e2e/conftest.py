"""Browser end-to-end fixtures: a live server on its own SQLite file and Debian's Chromium.

The server runs the real app (CSRF on, Chinese UI) in a background thread on a free
port (or on E2E_PORT, to watch it); the database is migrated and seeded with the minimum the lifecycle needs. The
tests are skipped when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "E2e-pass-2026"
SCREENSHOTS = Path(__file__).parent / "screenshots"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None


def pytest_collection_modifyitems(config, items):
    reason = None
    if sync_playwright is None:
        reason = "the python package playwright is not installed"
    elif not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason:
        for item in items:
            if item.get_closest_marker("e2e"):
                item.add_marker(pytest.mark.skip(reason=reason))


def seed_minimum() -> dict:
    """Clusters, a bureau officer, two finance officers, three experts and an open call with rubrics."""

    from grants.accounts import operations as account_ops
    from grants.core.types import utcnow
    from grants.demo import seed_clusters
    from grants.extensions import db
    from grants.programmes.models import Call, RubricCriterion
    from grants.review.models import Expert

    clusters = seed_clusters()
    people = {}
    for handle, name, roles in [
        ("bureau", "王科长", ["bureau"]),
        ("finance", "李会计", ["finance"]),
        ("finance2", "周出纳", ["finance"]),
        ("expert1", "张教授", ["expert"]),
        ("expert2", "王研究员", ["expert"]),
        ("expert3", "李教授", ["expert"]),
    ]:
        people[handle] = account_ops.create_user(
            email=f"{handle}@e2e.example", name=name, password=PASSWORD, roles=roles
        )
    for index, handle in enumerate(["expert1", "expert2", "expert3"], start=1):
        user = people[handle]
        db.session.add(
            Expert(
                user_id=user.id,
                name=user.name,
                title="教授",
                employer_name=f"吉林大学第{index}研究所",
                keywords="中药, 提取工艺",
                email=user.email,
                active=True,
                clusters=[clusters["pharma"]],
            )
        )
    now = utcnow()
    call = Call(
        code="2026-EDJ-E2E",
        year=now.year,
        title=f"{now.year}年度二道江区科技攻关计划（端到端）",
        funding_level="district",
        category="research",
        guide="申报指南正文",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
        total_budget=Decimal("5000000.00"),
        cap_per_project=Decimal("500000.00"),
        min_self_raised_ratio=Decimal("0.5000"),
        indirect_cost_ratio=Decimal("0.2000"),
        max_duration_months=36,
        reviewers_per_application=2,
        trimmed_mean_min_reviews=5,
        blind_review=True,
        state="published",
        published_at=now - timedelta(days=1),
        clusters=[clusters["pharma"]],
    )
    call.criteria.append(
        RubricCriterion(
            position=1,
            name_zh="技术先进性",
            name_en="Technical merit",
            weight=Decimal("60"),
            min_score=Decimal("0"),
            max_score=Decimal("10"),
        )
    )
    call.criteria.append(
        RubricCriterion(
            position=2,
            name_zh="经济社会效益",
            name_en="Impact",
            weight=Decimal("40"),
            min_score=Decimal("0"),
            max_score=Decimal("10"),
        )
    )
    call.acceptance_criteria.append(
        RubricCriterion(
            position=1,
            name_zh="目标完成情况",
            name_en="Objectives met",
            weight=Decimal("100"),
            min_score=Decimal("0"),
            max_score=Decimal("10"),
            purpose="acceptance",
        )
    )
    db.session.add(call)
    db.session.flush()
    return {"call_id": call.id, "call_year": call.year, "cluster_id": clusters["pharma"].id}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The app served on 127.0.0.1:<free port> from a thread, with its own migrated SQLite database."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from grants import create_app
    from grants.extensions import db

    tmp = tmp_path_factory.mktemp("e2e")
    app = create_app(
        {
            "TESTING": False,
            "SECRET_KEY": "e2e-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'e2e.sqlite3'}",
            "REDIS_URL": None,
            "JOBS_MODE": "sync",
            "SCHEDULER_IN_PROCESS": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "WTF_CSRF_ENABLED": True,
            "UPLOAD_DIR": str(tmp / "uploads"),
            "INSTANCE_DIR": str(tmp),
            "MAIL_SERVER": None,
            "SHOW_OUTBOX": True,
            "PASSWORD_ARGON2": {
                "memory_cost": 8,
                "time_cost": 1,
                "parallelism": 1,
            },  # cheap hashing in tests
        }
    )
    with app.app_context():
        upgrade()
        seeded = seed_minimum()
        db.session.commit()
    server = make_server("127.0.0.1", int(os.environ.get("E2E_PORT", "0")), app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": app.config["BASE_URL"], "app": app, **seeded}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshots():
    """The folder the steps' screenshots go to (emptied first; git ignores it)."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
