"""Error pages in the user's language for every status the app produces."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from grants.extensions import db


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood.")),
        403: (_("Not allowed"), _("You do not have permission to open this page.")),
        404: (_("Not found"), _("The page or record you asked for does not exist.")),
        405: (_("Not allowed"), _("This page cannot be used that way.")),
        413: (_("File too large"), _("The upload is larger than the limit allowed.")),
        429: (_("Too many attempts"),
              _("Too many attempts in a short time. Please wait a few minutes and try again.")),
        500: (_("Something went wrong"),
              _("An unexpected error occurred. Nothing was saved; please try again.")),
    }


def render_error(code: int, detail: str | None = None):
    title, text = _messages().get(code, (str(code), ""))
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/healthz"):
        return jsonify(error=title, detail=detail or text), code
    return render_template("errors/error.html", code=code, title=title,
                           text=detail or text), code


def init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error):
        return render_error(400, _("Your form expired or was sent from elsewhere. "
                                   "Please go back, reload the page and send it again."))

    @app.errorhandler(HTTPException)
    def _http(error):
        code = error.code or 500
        if code == 429 and request.endpoint == "accounts.login":
            from grants.core.audit import record_now

            record_now("login.throttled", after={"email": (request.form.get("email") or "")[:255]})
        return render_error(code)

    from grants.core.storage import StorageUnavailable

    @app.errorhandler(StorageUnavailable)
    def _storage_unavailable(error):
        app.logger.warning("file store unavailable on %s: %s", request.path, error.detail)
        db.session.rollback()
        title = _("File store unavailable")
        text = _("The file store is not answering at the moment. Nothing was changed; "
                 "please try again in a few minutes.")
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=title, detail=text), 503
        return render_template("errors/error.html", code=503, title=title, text=text), 503

    @app.errorhandler(Exception)
    def _unexpected(error):
        if app.testing and not app.config.get("RENDER_500_IN_TESTS"):
            raise error
        app.logger.exception("unhandled error on %s", request.path)
        db.session.rollback()
        return render_error(500)
