"""Grants: science-programme funding from call to closure.

``create_app`` builds the app in named steps; every extension is created unbound in
``grants.extensions`` and bound here.
"""

from __future__ import annotations

import os

from flask import Flask

from grants.config import BASE_DIR, Config, engine_options
from grants.core.security import init_url_converters


def create_app(config: dict | None = None) -> Flask:
    """Build the app; ``config`` overrides settings (tests inject theirs here)."""
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=os.environ.get("GRANTS_INSTANCE_DIR", str(BASE_DIR / "instance")),
    )
    app.config.from_object(Config(**(config or {})))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    app.json.ensure_ascii = False
    register_logging(app)
    init_url_converters(app)
    register_models(app)
    register_extensions(app)
    register_database(app)
    register_login(app)
    register_i18n(app)
    register_security(app)
    register_blueprints(app)
    register_domains(app)
    register_subscribers(app)
    register_scheduler(app)
    register_template_helpers(app)
    register_errors(app)
    register_commands(app)
    register_proxy_fix(app)
    return app


def register_logging(app: Flask) -> None:
    """Log to stderr at ``LOG_LEVEL``, each line with the request id when there is one."""
    from grants.core.errors import init_logging

    init_logging(app)


def register_models(app: Flask) -> None:
    """Import every domain's models so that the metadata is complete."""
    import grants.accounts.models
    import grants.applications.models
    import grants.core.models
    import grants.funding.models
    import grants.notifications.models
    import grants.orgs.models
    import grants.programmes.models
    import grants.projects.models
    import grants.reports.models
    import grants.review.models  # noqa: F401


def register_extensions(app: Flask) -> None:
    from grants.extensions import bootstrap, csrf, db, limiter, migrate

    os.makedirs(app.config["INSTANCE_DIR"], exist_ok=True)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(BASE_DIR / "migrations"), compare_type=True, render_as_batch=True
    )
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)


def register_database(app: Flask) -> None:
    """SQLite: foreign keys on, WAL, a busy timeout, and real SAVEPOINT support."""
    from grants.extensions import db

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from grants.core.sqlite import BUSY_TIMEOUT_MS

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if ":memory:" not in app.config["SQLALCHEMY_DATABASE_URI"]:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _writes_expected() else "BEGIN")


def _writes_expected() -> bool:
    """Whether this transaction should take SQLite's write lock at once (BEGIN IMMEDIATE).

    Requests that change data (any method but GET, HEAD, OPTIONS) do, so that two writers
    queue on the busy timeout instead of one failing when it upgrades a read snapshot;
    reads stay concurrent under WAL. Code outside a request (jobs, commands) may ask for it
    with :func:`grants.core.sqlite.immediate_writes`; an error page of a POST, which only
    reads, asks for the opposite with :func:`grants.core.sqlite.reads_only`.
    """
    from flask import has_request_context, request

    from grants.core.sqlite import deferred_requested, immediate_requested

    if immediate_requested():
        return True
    if deferred_requested():
        return False
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


def register_login(app: Flask) -> None:
    from grants.accounts.sessions import init_sessions, load_session_user
    from grants.extensions import login_manager

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = None  # server-side sessions do this job
    login_manager.user_loader(load_session_user)
    init_sessions(app)

    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please sign in to open this page.")


def register_i18n(app: Flask) -> None:
    from grants.core.i18n import select_locale, select_timezone
    from grants.extensions import babel

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)


def register_security(app: Flask) -> None:
    from grants.core.security import init_security

    init_security(app)


def register_proxy_fix(app: Flask) -> None:
    """Last: the WSGI wrapper that reads proxy headers, when ``PROXY_FIX_*`` says how many to trust."""
    from grants.core.security import init_proxy_fix

    init_proxy_fix(app)


def register_blueprints(app: Flask) -> None:
    from grants.accounts.views import bp as accounts_bp
    from grants.applications.views import bp as applications_bp
    from grants.core.views import bp as core_bp
    from grants.funding.views import bp as funding_bp
    from grants.notifications.views import bp as notifications_bp
    from grants.orgs.views import bp as orgs_bp
    from grants.programmes.views import bp as programmes_bp
    from grants.projects.views import bp as projects_bp
    from grants.reports.views import bp as reports_bp
    from grants.review.views import bp as review_bp

    for blueprint in (
        core_bp,
        accounts_bp,
        orgs_bp,
        notifications_bp,
        programmes_bp,
        applications_bp,
        review_bp,
        funding_bp,
        projects_bp,
        reports_bp,
    ):
        app.register_blueprint(blueprint)


def register_domains(app: Flask) -> None:
    """Import each domain's rules, workflows, dashboard panels and jobs (they self-register)."""
    import grants.accounts.rules
    import grants.accounts.throttle
    import grants.applications.bureau_panels
    import grants.applications.panels
    import grants.applications.rules
    import grants.applications.workflow
    import grants.core.panels
    import grants.core.rules
    import grants.core.storage_jobs
    import grants.funding.setup
    import grants.notifications.operations
    import grants.notifications.panels
    import grants.notifications.rules
    import grants.orgs.jobs
    import grants.orgs.panels
    import grants.orgs.rules
    import grants.orgs.workflow
    import grants.programmes.operations
    import grants.programmes.panels
    import grants.programmes.rules
    import grants.programmes.workflow
    import grants.projects.setup
    import grants.reports.setup
    import grants.review.assign_panels
    import grants.review.decision_panels
    import grants.review.membership
    import grants.review.pool_panels
    import grants.review.reminders
    import grants.review.rules
    import grants.review.scoring_panels
    import grants.review.workflow  # noqa: F401


def register_subscribers(app: Flask) -> None:
    """Connect each domain's receivers of domain events and its providers of hooks
    (``subscribers.py``; see grants/core/signals.py). Connecting twice changes nothing."""
    from grants.applications import subscribers as applications
    from grants.funding import subscribers as funding
    from grants.notifications import subscribers as notifications
    from grants.orgs import subscribers as orgs
    from grants.programmes import subscribers as programmes
    from grants.projects import subscribers as projects
    from grants.review import subscribers as review

    for domain in (notifications, orgs, programmes, applications, review, projects, funding):
        domain.connect()


def register_scheduler(app: Flask) -> None:
    """Without Redis, run periodic jobs in a thread of the serving process (first request)."""
    if not app.config["SCHEDULER_IN_PROCESS"]:
        return
    from grants.core.scheduler import start_in_process

    @app.before_request
    def _start_scheduler():
        start_in_process(app)


def register_template_helpers(app: Flask) -> None:
    from grants.core.links import init_links
    from grants.core.templating import init_templating

    init_templating(app)
    init_links(app)


def register_errors(app: Flask) -> None:
    from grants.core.errors import init_errors

    init_errors(app)


def register_commands(app: Flask) -> None:
    from grants.cli import init_cli

    init_cli(app)
