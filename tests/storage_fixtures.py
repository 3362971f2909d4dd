"""Fixtures of the storage backends: the local folder and an S3-compatible server on loopback.

``s3_server`` starts moto's standalone server (``python -m moto.server``) on a free port of
127.0.0.1 once per session; ``s3_storage`` points the app at a new bucket of it for one test;
``storage_backend`` runs a test once per backend (local folder, S3).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

S3_KEY_ID = "grants-test"
S3_SECRET = "grants-test-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a moto S3 server on loopback (stopped at the end of the session)."""
    port = _free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY_ID, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(200):
            if process.poll() is not None:
                pytest.fail("the moto S3 server did not start")
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        else:
            pytest.fail("the moto S3 server did not answer")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def point_at_s3(app, monkeypatch, endpoint: str, bucket: str | None = None) -> str:
    """Configure ``app`` for the S3 backend on ``endpoint`` with a new bucket; its name."""
    import boto3

    bucket = bucket or f"grants-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    ).create_bucket(Bucket=bucket)
    for key, value in {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": S3_KEY_ID,
        "S3_SECRET_ACCESS_KEY": S3_SECRET,
        "S3_CONNECT_TIMEOUT": 2,
        "S3_READ_TIMEOUT": 5,
        "S3_MAX_ATTEMPTS": 1,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    return bucket


@pytest.fixture
def s3_storage(app, monkeypatch, s3_server):
    """The app stores its files in a new bucket of the loopback S3 server for this test."""
    point_at_s3(app, monkeypatch, s3_server)
    from grants.core.storage import backend

    return backend()


@pytest.fixture
def local_storage(app, monkeypatch, tmp_path):
    """The app stores its files in a folder of this test."""
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "local")
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    from grants.core.storage import backend

    return backend()


@pytest.fixture(params=["local", "s3"])
def storage_backend(request):
    """The test runs once with the local folder and once with the S3 server."""
    return request.getfixturevalue(f"{request.param}_storage")
