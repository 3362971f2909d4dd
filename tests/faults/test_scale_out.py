"""Scale-out: two app servers (gunicorn on two ports), two RQ workers, the scheduler, PostgreSQL,
Redis and an S3 service (moto's server) on loopback, ``STORAGE_BACKEND=s3`` for every process.

Nothing may depend on which app server or worker a request or job lands on: an attachment
uploaded through server A downloads through server B with the same bytes, and a portfolio
report requested on A is built by one of the workers and its one PDF downloads through B.
The browser's session, signed on A, is used unchanged on B (same ``SECRET_KEY``)."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import pytest

from tests.faults.conftest import Browser, wait_until
from tests.storage_fixtures import S3_KEY_ID, S3_SECRET

PDF = (
    b"%PDF-1.4\n% scale-out " + uuid.uuid4().hex.encode() + b"\n"
    b"1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


@pytest.fixture
def s3_bucket(s3_server):
    bucket = f"grants-scale-{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )
    client.create_bucket(Bucket=bucket)
    env = {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_server,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": S3_KEY_ID,
        "S3_SECRET_ACCESS_KEY": S3_SECRET,
        "S3_DOWNLOADS": "stream",
    }
    return client, bucket, env


def _keys(client, bucket) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _on(browser: Browser, base: str) -> Browser:
    """The same browser (cookie jar, so the same session) talking to another app server."""
    other = Browser(base)
    other.jar, other.opener = browser.jar, browser.opener
    return other


@pytest.fixture
def two_servers(stack, s3_bucket):
    client, bucket, env = s3_bucket
    stack.env.update(env)
    base_a = stack.start_web("web-a")
    base_b = stack.start_web("web-b")
    assert base_a != base_b
    return stack, client, bucket, base_a, base_b


def test_attachment_uploaded_through_a_downloads_through_b(two_servers):
    stack, client, bucket, base_a, base_b = two_servers
    application_id = stack.query(
        "SELECT a.id FROM applications a JOIN users u ON u.organisation_id = a.organisation_id "
        "WHERE u.email = 'applicant@demo.example' AND a.state = 'draft' ORDER BY a.id LIMIT 1"
    )[0].id
    before = _keys(client, bucket)
    on_a = Browser(base_a)
    on_a.login("applicant")
    path = f"/applications/{application_id}"
    status, _headers, body = on_a.upload(
        f"{path}/attachments",
        {"requirement": ""},
        {"file": ("可行性研究报告.pdf", "application/pdf", PDF)},
        form_page=f"{path}/edit",
    )
    assert status == 302, body[:800]
    row = stack.query(
        "SELECT id, stored_name, sha256 FROM attachments WHERE application_id = :id "
        "ORDER BY id DESC LIMIT 1",
        id=application_id,
    )[0]
    assert row.sha256 == hashlib.sha256(PDF).hexdigest()
    assert [key for key in _keys(client, bucket) if key not in before] == [row.stored_name]
    assert not (stack.workdir / "uploads" / row.stored_name).exists()

    on_b = _on(on_a, base_b)
    status, headers, data = on_b.get_bytes(f"{path}/attachments/{row.id}")
    assert status == 200, data[:800]
    assert data == PDF and headers["Content-Type"].startswith("application/pdf")
    status, _headers, page = on_b.get(f"{path}/edit")
    assert status == 200 and "可行性研究报告.pdf" in page


def test_report_requested_on_a_built_by_a_worker_downloads_through_b(two_servers):
    stack, client, bucket, base_a, base_b = two_servers
    stack.start_scheduler()
    stack.start_worker("worker-1")
    stack.start_worker("worker-2")
    on_a = Browser(base_a)
    on_a.login("bureau")
    status, _headers, page = on_a.post("/reports/", {"period": "2021-2025", "locale": "zh_Hans_CN"})
    assert status == 302, page[:800]
    report_id = stack.query("SELECT id FROM portfolio_reports ORDER BY id DESC LIMIT 1")[0].id

    def state():
        return stack.query("SELECT state FROM portfolio_reports WHERE id = :id", id=report_id)[
            0
        ].state

    wait_until(lambda: state() in ("done", "failed"), 300, every=1, what="the report")
    report = stack.query(
        "SELECT state, error, job_id, pdf_name, pdf_sha256 FROM portfolio_reports WHERE id = :id",
        id=report_id,
    )[0]
    assert report.state == "done", report.error
    job = stack.query("SELECT status, attempts FROM jobs WHERE id = :id", id=report.job_id)[0]
    assert (job.status, job.attempts) == ("finished", 1)  # one worker ran it, once
    assert [key for key in _keys(client, bucket) if key.endswith(".pdf")] == [
        f"reports/{report.pdf_name}"
    ]
    assert not (stack.workdir / "uploads" / "reports" / report.pdf_name).exists()

    on_b = _on(on_a, base_b)
    status, headers, data = on_b.get_bytes(f"/reports/{report_id}/download/pdf")
    assert status == 200, data[:800]
    assert headers["Content-Type"].startswith("application/pdf")
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    assert hashlib.sha256(data).hexdigest() == report.pdf_sha256
    status, _headers, _fragment = on_b.get(f"/reports/{report_id}/status")
    assert status == 200
