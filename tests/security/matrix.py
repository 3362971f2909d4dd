"""Shared machinery of the permission matrix and the GET-safety test: routes, requests, answer classes."""

from __future__ import annotations

from contextlib import contextmanager

from grants.extensions import db

METHODS = ("GET", "POST")
OK, LOGIN, DENIED = "ok", "login", "denied"


def routes(app) -> list[tuple[str, str, object]]:
    """Every (endpoint, method, rule) of the URL map, for GET and POST."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in METHODS:
            if method in rule.methods:
                found.append((rule.endpoint, method, rule))
    return sorted(found, key=lambda item: (item[0], item[1]))


def url_for_rule(app, rule, world) -> str:
    """The rule's path with the world's ids."""
    adapter = app.url_map.bind(app.config["SERVER_NAME"])
    return adapter.build(rule.endpoint, world.url_values(rule), method=None)


@contextmanager
def rolled_back(app):
    """Run one request inside a savepoint of the test's connection and undo whatever it wrote.

    Each request of the matrix then sees the same world, whatever the requests before it
    did (a successful POST with an empty form would otherwise change the state of the
    objects the next routes are tried on).
    """
    connection = db._app_engines[app][None]
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        if savepoint.is_active:
            savepoint.rollback()
        db.session.expire_all()


def classify(response) -> str:
    """The coarse class of a response: ok, login (redirect to the login page), denied (403/404), else the code.

    A 422 is "ok": the view let the user through and then refused the (empty) form; a 409 too:
    the user may act on the object, its current state refused the change.
    """
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        location = response.headers.get("Location", "")
        return LOGIN if "/login" in location.split("?")[0] else OK
    if 200 <= status < 300 or status in (409, 422):
        return OK
    if status in (403, 404):
        return DENIED
    return str(status)


def send(client, method: str, url: str, form: dict | None = None):
    """One request; an exception escaping the view becomes its class name (a 500 in production)."""
    try:
        if method == "GET":
            return client.get(url)
        return client.post(url, data=form or {})
    except Exception as exc:
        return exc
