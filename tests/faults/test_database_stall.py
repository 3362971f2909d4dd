"""PostgreSQL that does not answer: behind a loopback proxy that accepts and never forwards, or
a table locked by another transaction. Users get a 503 page within the database time limits
(well inside gunicorn's 30-second worker timeout), rendered without the database, with the
request id."""

from __future__ import annotations

import sqlalchemy as sa

from tests.faults.conftest import DEMO_PASSWORD, Browser, StalledProxy, database_url


def _assert_unavailable_page(status, headers, page, request_id):
    assert status == 503, page[:800]
    assert headers["Retry-After"] == "30"
    assert headers["X-Request-ID"] == request_id
    assert request_id in page
    assert "数据库暂时没有响应" in page and "The database is not answering" in page


def test_stalled_database_gives_a_503_page_with_the_request_id(stack):
    proxy = StalledProxy()
    try:
        base = stack.start_web("stalled-web", env={"DATABASE_URL": database_url(port=proxy.port)})
        browser = Browser(base)
        token = browser.csrf("/login")
        status, headers, page = browser.request(
            "POST",
            "/login",
            data={"email": "bureau@demo.example", "password": DEMO_PASSWORD, "csrf_token": token},
            headers={"X-Request-ID": "stalled-database-1"},
        )
        _assert_unavailable_page(status, headers, page, "stalled-database-1")
        assert proxy.accepted, "the app never tried the database"
        assert "database unavailable" in stack.log("stalled-web")
    finally:
        proxy.close()


def test_locked_table_gives_a_503_page_not_a_hang(stack):
    base = stack.start_web()
    browser = Browser(base)
    browser.login("bureau")
    holder = sa.create_engine(database_url().replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with holder.connect() as conn:
            conn.execute(sa.text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            status, headers, page = browser.get("/", headers={"X-Request-ID": "locked-table-01"})
            _assert_unavailable_page(status, headers, page, "locked-table-01")
            conn.rollback()
        status, _headers, page = browser.get("/")
        assert status == 200
    finally:
        holder.dispose()
