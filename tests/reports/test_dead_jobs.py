"""A version whose worker died follows its job: queued again while the job is retried (the
progress shows it), failed with the reason when the job is given up; a new request never joins
a dead version."""

from __future__ import annotations

from datetime import timedelta

import pytest

import grants.core.jobs as core_jobs
from grants.core.jobs import sweep_dead_jobs
from grants.core.models import Job
from grants.core.types import utcnow
from grants.extensions import db
from grants.reports import operations
from grants.reports.models import PortfolioReport
from grants.reports.operations import request_report
from grants.reports.periods import Period
from tests.factories import make_user

PERIOD = Period(2023, 2023)


@pytest.fixture
def bureau(app, monkeypatch):
    monkeypatch.setattr(core_jobs, "dispatch", lambda app, job_id: False)  # jobs stay in the outbox
    return make_user("bureau")


def running_version_with_dead_worker(bureau, attempts: int = 1) -> PortfolioReport:
    """A version in generation whose worker stopped beating ten minutes ago."""
    now = utcnow()
    job = Job(
        name=operations.JOB_NAME,
        args=[],
        status="running",
        attempts=attempts,
        progress=40,
        started_at=now - timedelta(minutes=11),
        heartbeat_at=now - timedelta(minutes=10),
        dispatched_at=now - timedelta(minutes=11),
        queue_ref="lost",
    )
    db.session.add(job)
    db.session.flush()
    report = PortfolioReport(
        first_year=PERIOD.first_year,
        last_year=PERIOD.last_year,
        locale="zh_Hans_CN",
        version=1,
        state="running",
        job_id=job.id,
        requested_by_id=bureau.id,
    )
    db.session.add(report)
    db.session.flush()
    job.args = [report.id]
    db.session.commit()
    return report


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def test_version_of_a_requeued_job_waits_again_and_says_it_is_retrying(bureau, client, login):
    report = running_version_with_dead_worker(bureau)
    sweep_dead_jobs()
    db.session.commit()
    report = reload(report)
    assert report.state == "queued" and report.job.status == "queued" and report.job.progress == 0
    login(bureau)
    fragment = client.get(f"/reports/{report.id}/status").get_data(as_text=True)
    assert "正在重试（第 2 次尝试）" in fragment
    assert 'hx-trigger="every 1s"' in fragment


def test_version_of_a_given_up_job_fails_with_the_reason_and_offers_retry(
    app, bureau, client, login
):
    report = running_version_with_dead_worker(bureau, attempts=app.config["JOB_MAX_ATTEMPTS"])
    sweep_dead_jobs()
    db.session.commit()
    report = reload(report)
    assert report.state == "failed" and "stopped responding" in report.error
    login(bureau)
    page = client.get("/reports/").get_data(as_text=True)
    assert f"/reports/{report.id}/retry" in page


def test_a_new_request_does_not_join_a_dead_version_but_the_retry_of_it(bureau):
    report = running_version_with_dead_worker(bureau)
    joined_report, joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    db.session.commit()
    assert joined and joined_report.id == report.id
    report = reload(report)
    assert (
        report.state == "queued"
        and report.job.status == "queued"
        and report.job.run_after is not None
    )
