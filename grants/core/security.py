"""Security headers (flask-talisman) with a CSP that allows no inline script."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_babel import force_locale
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from grants.core.i18n import html_lang
from grants.extensions import talisman

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


class IdConverter(IntegerConverter):
    """``<int:…>`` in URLs, bounded to the database's integer range (1 … 2³¹−1).

    An id past the range is no row: the URL does not match and answers 404, where
    PostgreSQL would refuse the query ("integer out of range") with a 500.
    """

    def __init__(self, map, fixed_digits=0, min=0, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_url_converters(app: Flask) -> None:
    """Before any route is added: ``int`` in every URL rule is :class:`IdConverter`."""
    app.url_map.converters["int"] = IdConverter


PROXY_FIX_SETTINGS = {
    "x_for": "PROXY_FIX_X_FOR",
    "x_proto": "PROXY_FIX_X_PROTO",
    "x_host": "PROXY_FIX_X_HOST",
    "x_port": "PROXY_FIX_X_PORT",
    "x_prefix": "PROXY_FIX_X_PREFIX",
}


def init_proxy_fix(app: Flask) -> None:
    """Believe ``X-Forwarded-*`` headers only as far as configured (``PROXY_FIX_*``; none by default)."""
    hops = {arg: int(app.config.get(key) or 0) for arg, key in PROXY_FIX_SETTINGS.items()}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)


def refuse_untrusted_host():
    """First thing in a request: a Host header outside ``TRUSTED_HOSTS`` gets 400 and nothing else runs.

    Flask checks the host when it binds the request's URL adapter and keeps the failure
    as the routing exception; without this, the before-request hooks would still run.
    """
    if not isinstance(request.routing_exception, SecurityError):
        return None

    current_app.logger.warning(
        "request for an untrusted host refused: %r", request.environ.get("HTTP_HOST", "")[:200]
    )
    # no cookie of this site reaches a foreign host, so there is no chosen language: the default
    locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        page = render_template("errors/untrusted_host.html", lang=html_lang(locale))
    return page, 400, {"Cache-Control": "no-store"}


def init_security(app: Flask) -> None:
    """Bind talisman: CSP, nosniff, referrer policy, frame denial, HSTS over HTTPS."""
    talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=True,
        strict_transport_security_max_age=31536000,
        content_security_policy=CSP,
        content_security_policy_nonce_in=[],
        referrer_policy="strict-origin-when-cross-origin",
        frame_options="DENY",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        force_file_save=False,
        permissions_policy={"geolocation": "()", "camera": "()", "microphone": "()"},
    )

    app.before_request(drop_control_characters)
    # before every other hook (CSRF, rate limits, HTTPS redirect, session loading)
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_untrusted_host)

    @app.after_request
    def _no_store_for_pages(response):
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


# C0 control characters other than tab, newline and carriage return: nobody types them, and
# PostgreSQL refuses NUL in text. They are removed from query strings and form fields (names
# and values); a field the multipart parser could not name is dropped.
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _clean(values: MultiDict) -> ImmutableMultiDict | None:
    """The values without control characters (and without nameless fields), or None if clean."""
    pairs = list(values.items(multi=True))
    if not any(
        k is None
        or k.translate(_CONTROL) != k
        or (isinstance(v, str) and v.translate(_CONTROL) != v)
        for k, v in pairs
    ):
        return None
    return ImmutableMultiDict(
        [
            (k.translate(_CONTROL), v.translate(_CONTROL) if isinstance(v, str) else v)
            for k, v in pairs
            if k is not None
        ]
    )


def drop_control_characters() -> None:
    """Before each request: strip control characters from ``request.args`` and ``request.form``."""
    if request.args:
        cleaned = _clean(request.args)
        if cleaned is not None:
            request.__dict__["args"] = cleaned
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        cleaned = _clean(request.form)
        if cleaned is not None:
            request.__dict__["form"] = cleaned
