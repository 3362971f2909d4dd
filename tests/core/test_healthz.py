"""/healthz: the database and Redis status as JSON, 503 when a configured service is down."""

from __future__ import annotations

import socket


def closed_port() -> int:
    """A local TCP port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_reports_database_and_redis(app, client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["jobs"] == app.config["JOBS_MODE"]
    if app.config["BACKEND"] == "postgresql":
        assert body["redis"] == "ok"
    else:
        assert body["redis"] == "not configured"


def test_healthz_unreachable_redis_gives_503(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")


def test_healthz_needs_no_login(app, client):
    response = client.get("/healthz", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"
