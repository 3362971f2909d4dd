"""The report job: versions, checksums, joining a request under way, failures that leave no file
behind (a render killed at its time limit, an error while storing files), stale versions, retries."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

import grants.core.jobs as core_jobs
from grants.core import storage
from grants.core.models import Job
from grants.core.pdf import PdfTimeout
from grants.core.types import utcnow
from grants.extensions import db
from grants.reports import document, operations
from grants.reports.models import PortfolioReport
from grants.reports.operations import (
    ReportError,
    request_report,
    retry_report,
    settle_stale_reports,
)
from grants.reports.periods import Period
from tests.factories import make_user
from tests.reports.portfolio_helpers import YEAR
from tests.reports.portfolio_helpers import build_portfolio as build_fixture

PERIOD = Period(YEAR, YEAR)


@pytest.fixture
def bureau(app, monkeypatch, tmp_path):
    """A bureau officer; report files go to a folder of this test, renders get a generous limit."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "REPORT_PDF_TIMEOUT", 300)
    return make_user("bureau")


@pytest.fixture
def no_dispatch(monkeypatch):
    """Jobs stay queued (neither run in-process nor sent to RQ)."""
    monkeypatch.setattr(core_jobs, "dispatch", lambda app, job_id: None)


def files_in_reports_dir() -> list[str]:
    return sorted(
        item.key.removeprefix("reports/") for item in storage.backend().iter_keys("reports/")
    )


def stored_path(name: str):
    return storage.backend().path(operations.file_key(name))


def reload(report) -> PortfolioReport:
    db.session.expire_all()
    return db.session.get(PortfolioReport, report.id)


def generate_now(report_id):
    """Run the generation the way the worker does (a failing one raises, as in the job)."""
    return operations.generate(report_id)


def test_request_generates_a_version_with_checksums(app, run_jobs, bureau):
    build_fixture()
    report, joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    assert not joined and report.version == 1 and report.state == "queued"
    db.session.commit()
    run_jobs()
    report = reload(report)
    assert report.state == "done", report.error
    pdf = stored_path(report.pdf_name)
    xlsx = stored_path(report.xlsx_name)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == report.pdf_sha256
    assert hashlib.sha256(xlsx.read_bytes()).hexdigest() == report.xlsx_sha256
    assert report.pdf_size == pdf.stat().st_size and report.pages >= 5
    assert report.job.status == "finished"
    assert operations.servable_key(report, "pdf") == "reports/" + report.pdf_name
    assert files_in_reports_dir() == sorted([report.pdf_name, report.xlsx_name])
    again, joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    assert not joined and again.version == 2
    english, _joined = request_report(PERIOD, "en", bureau)
    assert english.version == 1


def test_second_request_joins_the_version_under_way(app, bureau, no_dispatch):
    first, joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    db.session.commit()
    second, joined_again = request_report(PERIOD, "zh_Hans_CN", make_user("bureau"))
    assert not joined and joined_again and second.id == first.id
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(PortfolioReport.id))) == 1
    assert (
        db.session.scalar(sa.select(sa.func.count(Job.id)).where(Job.name == operations.JOB_NAME))
        == 1
    )


def test_only_one_active_version_per_period_and_language(app):
    db.session.add(
        PortfolioReport(first_year=YEAR, last_year=YEAR, locale="en", version=1, state="queued")
    )
    db.session.flush()
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.add(
            PortfolioReport(
                first_year=YEAR, last_year=YEAR, locale="en", version=2, state="running"
            )
        )
        db.session.flush()


def test_render_killed_at_its_time_limit_leaves_no_file(app, bureau, no_dispatch):
    build_fixture()
    report, _joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    db.session.commit()
    app.config["REPORT_PDF_TIMEOUT"] = (
        0.001  # the renderer is killed before it can finish (restored by monkeypatch)
    )
    with pytest.raises(PdfTimeout):
        generate_now(report.id)
    report = reload(report)
    assert report.state == "failed" and "PdfTimeout" in report.error
    assert report.pdf_name is None and report.pdf_sha256 is None
    assert files_in_reports_dir() == []
    assert operations.servable_key(report, "pdf") is None


def test_failure_while_storing_files_removes_every_file(app, bureau, no_dispatch, monkeypatch):
    build_fixture()
    report, _joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    db.session.commit()
    puts = []
    real_put = operations._put

    def put_then_die(key, data):
        puts.append(key)
        if len(puts) == 2:
            raise storage.StorageUnavailable("disk full")
        return real_put(key, data)

    monkeypatch.setattr(operations, "_put", put_then_die)
    with pytest.raises(storage.StorageUnavailable):
        generate_now(report.id)
    assert reload(report).state == "failed"
    assert files_in_reports_dir() == []


def test_an_error_in_the_job_marks_the_version_failed(app, run_jobs, bureau, monkeypatch):
    build_fixture()

    def broken(*args, **kwargs):
        raise PdfTimeout("PDF rendering exceeded 1 s")

    monkeypatch.setattr(document, "render_pdf", broken)
    report, _joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    db.session.commit()
    run_jobs()
    report = reload(report)
    assert report.state == "failed" and report.job.status == "failed"
    assert files_in_reports_dir() == []


def test_retry_makes_a_new_attempt_of_the_same_version(app, run_jobs, bureau, monkeypatch):
    build_fixture()
    original = document.render_pdf

    def broken(*args, **kwargs):
        raise PdfTimeout("PDF rendering exceeded 1 s")

    monkeypatch.setattr(document, "render_pdf", broken)
    report, _joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    db.session.commit()
    run_jobs()
    failed = reload(report)
    assert failed.state == "failed"
    first_job = failed.job_id
    monkeypatch.setattr(document, "render_pdf", original)
    retried, joined = retry_report(failed, bureau)
    assert not joined and retried.state == "queued" and retried.job_id != first_job
    db.session.commit()
    run_jobs()
    done = reload(report)
    assert done.state == "done" and done.version == 1 and done.error is None
    with pytest.raises(ReportError):
        retry_report(done, bureau)


def test_running_version_whose_job_died_is_settled_and_retried(app, bureau, no_dispatch):
    report, _joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    db.session.commit()
    left_behind = operations.file_key("0" * 32 + ".pdf")
    storage.backend().put(left_behind, io.BytesIO(b"%PDF-1.7 stored before the worker died"))
    job = report.job
    job.status = "running"
    job.started_at = utcnow() - timedelta(hours=3)  # its worker was killed long ago
    db.session.execute(
        sa.update(PortfolioReport).where(PortfolioReport.id == report.id).values(state="running")
    )
    db.session.commit()
    assert operations.stale_reason(reload(report))
    settled = settle_stale_reports()
    assert [r.id for r in settled] == [report.id]
    db.session.commit()
    report = reload(report)
    assert report.state == "failed" and "time limit" in report.error
    # The object its worker stored is an orphan: the sweep removes it once past the grace period.
    assert storage.sweep(grace=timedelta(0)) == [left_behind]
    assert not storage.backend().exists(left_behind)
    retried, joined = retry_report(report, bureau)
    assert not joined and retried.state == "queued"


def test_version_whose_job_failed_does_not_block_a_new_request(app, bureau, no_dispatch):
    report, _joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    report.job.status = "failed"
    db.session.commit()
    newer, joined = request_report(PERIOD, "zh_Hans_CN", bureau)
    assert not joined and newer.version == 2
    assert reload(report).state == "failed"


def test_tampered_file_is_not_served(app, run_jobs, bureau):
    build_fixture()
    report, _joined = request_report(PERIOD, "en", bureau)
    db.session.commit()
    run_jobs()
    report = reload(report)
    path = stored_path(report.pdf_name)
    path.write_bytes(path.read_bytes()[:100])
    assert operations.servable_key(report, "pdf") is None
    with pytest.raises(ValueError):
        operations.file_key("../secret.pdf")
