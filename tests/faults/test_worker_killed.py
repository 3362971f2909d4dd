"""The RQ worker killed with SIGKILL in the middle of a report: the sweeper finds the job dead,
queues it again (the user's progress bar says it is retrying) and the next worker writes exactly
one valid PDF; when the attempts are used up the report fails with its reason and can be retried."""

from __future__ import annotations

import hashlib

from tests.faults.conftest import Browser, wait_until

RETRYING = "后台进程已中断，正在重试（第 2 次尝试）"


def _report(stack, report_id):
    return stack.query(
        "SELECT id, state, job_id, error, pdf_name, pdf_sha256 FROM portfolio_reports "
        "WHERE id = :id",
        id=report_id,
    )[0]


def _job(stack, job_id):
    return stack.query(
        "SELECT status, attempts, error, progress FROM jobs WHERE id = :id", id=job_id
    )[0]


def _request_report(stack, browser, period):
    status, _headers, page = browser.post("/reports/", {"period": period, "locale": "zh_Hans_CN"})
    assert status == 302, page[:800]
    return stack.query("SELECT id FROM portfolio_reports ORDER BY id DESC LIMIT 1")[0].id


def _kill_worker_while_running(stack, report_id):
    wait_until(
        lambda: _report(stack, report_id).state == "running",
        120,
        every=0.05,
        what="the report job to start",
    )
    stack.kill_hard("worker")
    assert _report(stack, report_id).state == "running"


def _pdfs(stack):
    folder = stack.workdir / "uploads" / "reports"
    return sorted(folder.glob("*.pdf")), sorted(folder.glob(".part-*"))


def test_killed_report_job_is_retried_and_gives_one_valid_pdf(stack):
    base = stack.start_web()
    stack.start_scheduler()
    stack.start_worker()
    browser = Browser(base)
    browser.login("bureau")
    before, _parts = _pdfs(stack)
    report_id = _request_report(stack, browser, "2021-2025")
    _kill_worker_while_running(stack, report_id)
    job_id = _report(stack, report_id).job_id

    wait_until(
        lambda: _job(stack, job_id).status == "queued",
        60,
        what="the sweeper to queue the dead job again",
    )
    assert _report(stack, report_id).state == "queued"
    job = _job(stack, job_id)
    assert job.attempts == 1 and "stopped responding" in job.error
    status, _headers, fragment = browser.get(f"/reports/{report_id}/status")
    assert status == 200 and RETRYING in fragment

    stack.start_worker()
    wait_until(
        lambda: _report(stack, report_id).state in ("done", "failed"),
        300,
        every=1,
        what="the retried report",
    )
    report = _report(stack, report_id)
    assert report.state == "done", report.error
    assert (_job(stack, job_id).status, _job(stack, job_id).attempts) == ("finished", 2)

    after, parts = _pdfs(stack)
    new = [path for path in after if path not in before]
    assert [path.name for path in new] == [report.pdf_name] and parts == []
    data = new[0].read_bytes()
    assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == report.pdf_sha256
    status, headers, _body = browser.get(f"/reports/{report_id}/download/pdf")
    assert status == 200 and headers["Content-Type"].startswith("application/pdf")


def test_report_whose_attempts_are_used_up_fails_with_its_reason_and_can_be_retried(stack):
    base = stack.start_web()
    stack.start_scheduler(env={"JOB_MAX_ATTEMPTS": "1"})
    stack.start_worker()
    browser = Browser(base)
    browser.login("bureau")
    report_id = _request_report(stack, browser, "2016-2020")
    _kill_worker_while_running(stack, report_id)
    job_id = _report(stack, report_id).job_id

    wait_until(
        lambda: _report(stack, report_id).state == "failed",
        60,
        what="the sweeper to give the job up",
    )
    job = _job(stack, job_id)
    assert job.status == "failed" and "Gave up after 1 attempts" in job.error
    assert "stopped responding" in _report(stack, report_id).error
    status, _headers, page = browser.get("/admin/jobs?state=failed")
    assert status == 200 and "Gave up after 1 attempts" in page and f"/jobs/{job_id}/retry" in page
    status, _headers, page = browser.get("/reports/")
    assert f"/reports/{report_id}/retry" in page

    status, _headers, page = browser.post(f"/reports/{report_id}/retry", {}, form_page="/reports/")
    assert status == 302, page[:800]
    stack.start_worker()
    wait_until(
        lambda: _report(stack, report_id).state in ("done", "failed"),
        300,
        every=1,
        what="the retried report",
    )
    report = _report(stack, report_id)
    assert report.state == "done", report.error
    assert (
        (stack.workdir / "uploads" / "reports" / report.pdf_name).read_bytes().startswith(b"%PDF-")
    )
