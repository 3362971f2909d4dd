from tests.factories import make_user


def test_pages_carry_a_strict_csp_and_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_no_page_contains_inline_script_or_cdn(client, login):
    login(make_user("admin", "bureau"))
    for path in ("/", "/admin/users", "/admin/audit", "/inbox", "/account/password"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "onclick=" not in html, path
        assert "cdn." not in html and "://" not in html.split("<body")[0], path


def test_session_cookie_is_httponly_and_samesite(client):
    user = make_user("bureau")
    response = client.post("/login", data={"email": user.email, "password": "Secret-pass-2026"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_csrf_is_enforced_when_enabled(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        response = client.post("/login", data={"email": "a@test.example", "password": "x"})
        assert response.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_not_found_page_is_html_in_the_shell(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Content-Security-Policy" in response.headers
    assert "<main" in response.get_data(as_text=True)


def test_control_characters_are_dropped_from_form_fields_and_query_strings(app):
    from flask import request

    from grants.core.security import drop_control_characters

    with app.test_request_context(
        "/calls?q=a%00b", method="POST", data={"note": "整改\x00说明\x0b\t完毕\r\n"}
    ):
        drop_control_characters()
        assert request.args["q"] == "ab"
        assert request.form["note"] == "整改说明\t完毕\r\n"


def test_a_nul_byte_in_a_query_string_does_not_reach_the_database(client, login):
    login(make_user("bureau"))
    response = client.get("/applications/all?q=%00")
    assert response.status_code == 200
