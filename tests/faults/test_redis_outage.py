"""Redis stopped for real: sign-in works, a committed action shows its success page, its job
waits in the outbox and runs once Redis is back; the scheduler process lives through it."""

from __future__ import annotations

from tests.faults.conftest import Browser, wait_until


def test_sign_in_works_with_redis_stopped(stack):
    base = stack.start_web()
    stack.redis.stop()
    browser = Browser(base)
    browser.login("bureau")
    status, _headers, page = browser.get("/")
    assert status == 200
    assert "王科长" in page
    # A rate-limited form still answers: the limiter counts in memory and says so once.
    status, _headers, _page = browser.post("/password/forgot", {"email": "nobody@example.cn"})
    assert status == 302
    assert "falling back to in-memory storage" in stack.log("web")


def test_committed_request_shows_success_and_its_job_runs_after_redis_returns(stack):
    base = stack.start_web()
    scheduler = stack.start_scheduler()
    browser = Browser(base)
    browser.login("bureau")
    stack.redis.stop()

    status, headers, page = browser.post("/reports/", {"period": "2023", "locale": "en"})
    assert status == 302, page[:800]
    status, _headers, page = browser.get(headers["Location"].replace(base, ""))
    assert status == 200
    assert "已加入生成队列" in page
    report = stack.query(
        "SELECT id, state, job_id FROM portfolio_reports ORDER BY id DESC LIMIT 1"
    )[0]
    assert report.state == "queued"
    job = stack.query("SELECT status, dispatched_at FROM jobs WHERE id = :id", id=report.job_id)[0]
    assert (job.status, job.dispatched_at) == ("queued", None)

    wait_until(
        lambda: (
            "scheduler dispatch failed" in stack.log("scheduler")
            or "Redis is unreachable" in stack.log("scheduler")
        ),
        30,
        what="the scheduler to notice Redis is gone",
    )
    assert scheduler.poll() is None, stack.log("scheduler")[-3000:]

    stack.redis.start()
    stack.start_worker()
    wait_until(
        lambda: (
            stack.query("SELECT state FROM portfolio_reports WHERE id = :id", id=report.id)[0].state
            in ("done", "failed")
        ),
        240,
        every=1,
        what="the report to be generated",
    )
    final = stack.query("SELECT state, error FROM portfolio_reports WHERE id = :id", id=report.id)[
        0
    ]
    assert final.state == "done", final.error
    job = stack.query(
        "SELECT status, attempts, dispatched_at FROM jobs WHERE id = :id", id=report.job_id
    )[0]
    assert (job.status, job.attempts) == ("finished", 1) and job.dispatched_at is not None
    assert scheduler.poll() is None
