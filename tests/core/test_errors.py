"""Error pages: a request id on every answer, the 500 page says what was saved, a database that
does not answer gives a 503 rendered without the database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from grants.accounts.models import User
from grants.extensions import db
from tests.factories import make_user


@pytest.fixture
def rendered_errors(app):
    """Error handlers answer with their pages (as in production) instead of raising in tests."""
    app.config["RENDER_500_IN_TESTS"] = True
    try:
        yield
    finally:
        app.config["RENDER_500_IN_TESTS"] = False


@pytest.fixture
def database_down(app):
    """From the moment it is switched on, every SQL statement fails as if the server went away."""
    state = {"on": False, "refused": 0}

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if state["on"]:
            state["refused"] += 1
            raise sa.exc.OperationalError(
                statement, parameters, Exception("server closed the connection")
            )

    event.listen(sa.engine.Engine, "before_cursor_execute", refuse)
    try:
        yield state
    finally:
        state["on"] = False
        event.remove(sa.engine.Engine, "before_cursor_execute", refuse)


def test_every_answer_carries_a_request_id(client):
    fresh = client.get("/login")
    assert len(fresh.headers["X-Request-ID"]) == 32
    sent = client.get("/login", headers={"X-Request-ID": "edge-proxy-1234"})
    assert sent.headers["X-Request-ID"] == "edge-proxy-1234"
    forged = client.get("/login", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert forged.headers["X-Request-ID"] != "<script>alert(1)</script>"


def test_failure_after_the_commit_says_the_change_was_saved(
    app, client, login, rendered_errors, monkeypatch
):
    user = make_user("bureau")
    login(user)

    def broken_redirect(*args, **kwargs):
        raise RuntimeError("a step after the commit failed")

    monkeypatch.setattr("grants.core.views.redirect", broken_redirect)
    response = client.post(
        "/language", data={"locale": "en"}, headers={"X-Request-ID": "req-after-commit"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "您的更改已保存" in page and "Your change was saved" in page
    assert "Nothing was saved" not in page and "没有保存任何内容" not in page
    assert "req-after-commit" in page
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "en"


def test_failure_before_any_commit_says_nothing_was_saved(
    client, login, rendered_errors, monkeypatch
):
    login(make_user("bureau"))

    def broken_panels(*args, **kwargs):
        raise RuntimeError("the dashboard failed")

    monkeypatch.setattr("grants.core.views.panels_for", broken_panels)
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "没有保存任何内容" in page and "Nothing was saved" in page
    assert response.headers["X-Request-ID"] in page


def test_commit_that_breaks_off_says_the_change_may_not_be_saved(
    app, client, login, rendered_errors
):
    user = make_user("bureau")
    login(user)

    def connection_lost(session):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost during commit"))

    event.listen(db.session, "before_commit", connection_lost)
    try:
        response = client.post("/language", data={"locale": "en"})
    finally:
        event.remove(db.session, "before_commit", connection_lost)
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "可能已保存，也可能没有保存" in page and "may or may not have been saved" in page


def test_database_that_does_not_answer_gives_a_503_rendered_without_it(
    client, login, rendered_errors, database_down
):
    login(make_user("bureau"))
    database_down["on"] = True
    response = client.get("/", headers={"X-Request-ID": "stalled-db-request"})
    page = response.get_data(as_text=True)
    assert database_down["refused"] >= 1
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "数据库暂时没有响应" in page and "The database is not answering" in page
    assert "stalled-db-request" in page
    assert '<html lang="zh-CN">' in page


def test_database_failure_answers_json_to_api_clients(
    client, login, rendered_errors, database_down
):
    login(make_user("bureau"))
    database_down["on"] = True
    response = client.get(
        "/", headers={"Accept": "application/json", "X-Request-ID": "json-client-001"}
    )
    assert response.status_code == 503
    body = response.get_json()
    assert body["request_id"] == "json-client-001" and body["saved"] == "nothing"


def test_statement_cut_by_its_time_limit_gives_a_503(
    app, client, login, rendered_errors, monkeypatch
):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("statement_timeout is a PostgreSQL setting")
    login(make_user("bureau"))

    def slow_panels(*args, **kwargs):
        db.session.execute(sa.text("SET LOCAL statement_timeout = '50ms'"))
        db.session.execute(sa.text("SELECT pg_sleep(5)"))

    monkeypatch.setattr("grants.core.views.panels_for", slow_panels)
    response = client.get("/")
    assert response.status_code == 503
    assert "The database is not answering" in response.get_data(as_text=True)


def test_a_wrong_method_is_not_called_a_refusal(client):
    """405 said 无权访问 (no access), as if the user lacked a right; it is the method."""
    response = client.put("/login")  # the sign-in page takes GET and POST only
    assert response.status_code == 405
    page = response.get_data(as_text=True)
    assert "不支持此请求方式" in page
    assert "无权访问" not in page
