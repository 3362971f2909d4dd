"""Security headers (flask-talisman) with a CSP that allows no inline script."""

from __future__ import annotations

from flask import Flask

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

    @app.after_request
    def _no_store_for_pages(response):
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
