"""Error pages in the user's language for every status the app produces.

Each request carries an id (the ``X-Request-ID`` header it came with, else a new one),
sent back in the response, written on every log line and shown on error pages. The
request remembers whether its transaction committed (``saved_state``), so the page of a
failure says what was saved: nothing, everything (a later step failed), or unknown (the
connection broke during the commit). A database that does not answer (connect or
statement timeout, lost connection) gives a 503 with ``Retry-After``. The 500 and 503
pages are rendered from ``errors/plain.html`` straight through the Jinja environment:
no database, no signed-in user, no context processors.

An error path always ends its transaction first: a refused form (CSRF), a 4xx and a 5xx
roll the request's session back before the page is drawn, and the page's own reads (the
signed-in user, the menu) run in a plain read transaction, never under the write lock a
POST would take. So a refused POST cannot keep SQLite's write lock while its page renders.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid

import sqlalchemy as sa
from flask import (
    Flask,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    session,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from grants.core.sqlite import reads_only
from grants.core.storage import StorageUnavailable
from grants.core.transactions import is_outermost
from grants.extensions import db

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
RETRY_AFTER_SECONDS = 30
# Failures of the database itself (not of the request): answered with 503.
DATABASE_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.TimeoutError, sa.exc.DisconnectionError)


# --- request id and logging ----------------------------------------------------------------------


def request_id() -> str | None:
    """This request's id, or None outside a request."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        rid = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        g.request_id = rid
    return rid


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record ("-" outside a request)."""

    def filter(self, record):
        record.request_id = request_id() or "-"
        return True


def init_logging(app: Flask) -> None:
    """Log the app's loggers to stderr at ``LOG_LEVEL`` with the request id (once per process)."""
    level = logging.getLevelName(str(app.config.get("LOG_LEVEL", "INFO")).upper())
    level = level if isinstance(level, int) else logging.INFO
    for name in ("grants", "flask-limiter", "rq.worker"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if any(getattr(handler, "grants_handler", False) for handler in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.grants_handler = True
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
        logger.addHandler(handler)


# --- what the request saved --------------------------------------------------------------------------


def _is_request_session(session) -> bool:
    if not has_request_context():
        return False
    registry = db.session.registry
    return registry.has() and registry() is session


@event.listens_for(Session, "before_commit")
def _commit_starts(session):
    if _is_request_session(session) and is_outermost(session):
        g.grants_committing = True


@event.listens_for(Session, "after_commit")
def _commit_done(session):
    if _is_request_session(session) and is_outermost(session):
        g.grants_committing = False
        g.grants_saved = True


def saved_state() -> str:
    """``saved`` if this request committed, ``unknown`` if a commit broke off, else ``nothing``."""
    if not has_request_context():
        return "nothing"
    if g.get("grants_committing"):
        return "unknown"
    return "saved" if g.get("grants_saved") else "nothing"


# --- pages -----------------------------------------------------------------------------------------


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood.")),
        403: (_("Not allowed"), _("You do not have permission to open this page.")),
        404: (_("Not found"), _("The page or record you asked for does not exist.")),
        405: (_("Request method not allowed"), _("This page cannot be used that way.")),
        413: (_("File too large"), _("The upload is larger than the limit allowed.")),
        429: (
            _("Too many attempts"),
            _("Too many attempts in a short time. Please wait a few minutes and try again."),
        ),
        500: (_("Something went wrong"), _("An unexpected error occurred.")),
        503: (
            _("Service temporarily unavailable"),
            _("The database is not answering at the moment. Please try again in a minute."),
        ),
    }


def _saved_text(state: str) -> str:
    if state == "saved":
        return _(
            "Your change was saved. A later step failed; please check the result "
            "before you try again."
        )
    if state == "unknown":
        return _(
            "The connection broke while your change was being saved, so it may or may "
            "not have been saved. Please check before you try again."
        )
    return _("Nothing was saved; please try again.")


def render_error(code: int, detail: str | None = None):
    title, text = _messages().get(code, (str(code), ""))
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/healthz"):
        return jsonify(error=title, detail=detail or text), code
    return render_template("errors/error.html", code=code, title=title, text=detail or text), code


def _plain_locale() -> str:
    """The page's language without asking the database: the browser's choice, else the default."""
    languages = current_app.config["LANGUAGES"]
    try:
        chosen = session.get("locale")
    except Exception:
        chosen = None
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def render_failure(app: Flask, code: int):
    """The 500 or 503 page (or JSON): what was saved and the request id; needs no database."""
    state = saved_state()
    rid = request_id()
    locale = _plain_locale()
    texts = []
    for each in [locale] + [other for other in app.config["LANGUAGES"] if other != locale]:
        with force_locale(each):
            title, text = _messages()[code]
            texts.append(
                {
                    "locale": each,
                    "lang": "zh-CN" if each.startswith("zh") else "en",
                    "title": title,
                    "text": text,
                    "saved": _saved_text(state),
                    "reference": _("Reference: %(id)s", id=rid),
                    "home": _("Back to the dashboard"),
                }
            )
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        response = jsonify(
            error=texts[0]["title"], detail=texts[0]["text"], saved=state, request_id=rid
        )
    else:
        html = app.jinja_env.get_template("errors/plain.html").render(code=code, texts=texts)
        response = app.response_class(html, mimetype="text/html")
    response.status_code = code
    response.headers[REQUEST_ID_HEADER] = rid
    if code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _database_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, DATABASE_UNAVAILABLE)


def _forget_session() -> None:
    try:
        db.session.rollback()
    except Exception:
        log.warning("rollback after an error failed", exc_info=True)


def init_errors(app: Flask) -> None:
    @app.before_request
    def _start_request():
        request_id()
        g.grants_saved = False
        g.grants_committing = False

    @app.after_request
    def _tag_response(response):
        response.headers.setdefault(REQUEST_ID_HEADER, request_id())
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error):
        _forget_session()
        with reads_only():
            return render_error(
                400,
                _(
                    "Your form expired or was sent from elsewhere. "
                    "Please go back, reload the page and send it again."
                ),
            )

    @app.errorhandler(HTTPException)
    def _http(error):
        code = error.code or 500
        original = getattr(error, "original_exception", None)
        _forget_session()
        if code >= 500:
            if original is not None:
                log.error("unhandled error on %s", request.path, exc_info=original)
            if _database_unavailable(original):
                code = 503
            return render_failure(app, code if code in (500, 503) else 500)
        with reads_only():
            return render_error(code)

    def _database_down(error):
        if app.testing and not app.config.get("RENDER_500_IN_TESTS"):
            raise error
        log.error(
            "database unavailable on %s: %s", request.path, error.__class__.__name__, exc_info=error
        )
        _forget_session()
        return render_failure(app, 503)

    for kind in DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, _database_down)

    @app.errorhandler(StorageUnavailable)
    def _storage_unavailable(error):
        app.logger.warning("file store unavailable on %s: %s", request.path, error.detail)
        db.session.rollback()
        title = _("File store unavailable")
        text = _(
            "The file store is not answering at the moment. Nothing was changed; "
            "please try again in a few minutes."
        )
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=title, detail=text), 503
        return render_template("errors/error.html", code=503, title=title, text=text), 503

    @app.errorhandler(Exception)
    def _unexpected(error):
        if app.testing and not app.config.get("RENDER_500_IN_TESTS"):
            raise error
        log.exception("unhandled error on %s", request.path)
        _forget_session()
        return render_failure(app, 500)
