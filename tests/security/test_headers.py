"""Security headers on every kind of response, and the session cookie's flags."""

from __future__ import annotations

import pytest

from grants.core.types import utcnow
from tests.factories import ApplicationFactory, fill_application, make_user


def assert_security_headers(response, *, secure: bool = False) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    for directive in (
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "default-src 'self'",
    ):
        assert directive in csp, (response.status_code, response.mimetype, directive)
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"
    if secure:
        assert headers.get("Strict-Transport-Security", "").startswith("max-age=31536000")
    else:
        assert "Strict-Transport-Security" not in headers


@pytest.fixture
def bureau(client, login):
    user = make_user("bureau")
    login(user)
    return user


def test_headers_on_a_page_a_404_and_a_static_file(client):
    page = client.get("/login")
    missing = client.get("/no/such/page")
    static = client.get("/static/css/app.css")
    assert (page.status_code, missing.status_code, static.status_code) == (200, 404, 200)
    for response in (page, missing, static):
        assert_security_headers(response)


def test_headers_on_a_500_page(app, client):
    def broken():
        raise RuntimeError("boom")

    original = app.view_functions["accounts.login"]
    app.view_functions["accounts.login"] = broken
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.get("/login")
    finally:
        app.view_functions["accounts.login"] = original
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)
    assert_security_headers(response)


def test_headers_on_pdf_and_xlsx_downloads(client, bureau):
    application = fill_application(
        ApplicationFactory(state="submitted", reference_no="H-00001", submitted_at=utcnow())
    )  # a draft is its organisation's
    pdf = client.get(f"/applications/{application.id}/pdf")
    xlsx = client.get("/applications/all.xlsx")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    for response in (pdf, xlsx):
        assert_security_headers(response)


def test_headers_over_https_add_hsts_and_a_secure_session_cookie(app):
    client = app.test_client()
    user = make_user("bureau")
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        response = client.post(
            "/login",
            data={"email": user.email, "password": "Secret-pass-2026"},
            base_url="https://grants.test",
        )
        page = client.get("/login", base_url="https://grants.test")
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert_security_headers(page, secure=True)


def test_session_cookie_over_http_is_httponly_samesite_and_not_secure(client):
    user = make_user("bureau")
    response = client.post("/login", data={"email": user.email, "password": "Secret-pass-2026"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
