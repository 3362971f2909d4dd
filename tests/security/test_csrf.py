"""CSRF: every route that accepts a state-changing method refuses a request without a valid token."""

from __future__ import annotations

import pytest
from werkzeug.routing.converters import NumberConverter

from tests.factories import make_user

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _url(app, rule) -> str:
    """The rule's path with a plausible value for each argument (the CSRF check runs before the view)."""
    values = {}
    for argument in rule.arguments:
        converter = rule._converters[argument]
        if hasattr(converter, "items"):
            values[argument] = sorted(converter.items)[0]
        elif isinstance(converter, NumberConverter):
            values[argument] = 1
        else:
            values[argument] = "x"
    return app.url_map.bind("grants.test").build(rule.endpoint, values, method=None)


def _state_changing_routes(app) -> list[tuple[str, str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & STATE_CHANGING):
            routes.append((rule.endpoint, method, _url(app, rule)))
    return routes


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_csrf_every_state_changing_route_refuses_a_request_without_token(
    app, client, login, csrf_on
):
    app.config["WTF_CSRF_ENABLED"] = False
    login(make_user("admin", "bureau", "finance"))
    app.config["WTF_CSRF_ENABLED"] = True
    routes = _state_changing_routes(app)
    assert len(routes) > 50, "the route table looks incomplete"
    accepted = []
    for endpoint, method, url in routes:
        response = client.open(url, method=method, data={"anything": "1"})
        if response.status_code != 400:
            accepted.append((endpoint, method, url, response.status_code))
    assert not accepted, f"routes that did not refuse a missing CSRF token: {accepted}"


def test_csrf_a_wrong_token_in_the_htmx_header_is_refused(app, client, login, csrf_on):
    app.config["WTF_CSRF_ENABLED"] = False
    login(make_user("bureau"))
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        "/language", data={"locale": "en"}, headers={"X-CSRFToken": "forged", "HX-Request": "true"}
    )
    assert response.status_code == 400


def test_csrf_anonymous_login_post_without_token_is_refused(app, csrf_on):
    response = app.test_client().post("/login", data={"email": "a@test.example", "password": "x"})
    assert response.status_code == 400
