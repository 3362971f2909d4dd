"""An app on a database of its own, for tests that race real transactions against each other.

The usual fixture runs each test inside one outer transaction on one connection, which
cannot show concurrency. :func:`racing_database` builds an app on a fresh schema in the
PostgreSQL test database (or a fresh SQLite file), migrates it and drops it afterwards,
so that threads — each with its own app context, session and connection — commit for
real. On SQLite each thread's transaction takes the write lock at its start
(``immediate_writes``, as POST requests do), so the same race is serialised by the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from grants import create_app
from grants.extensions import db


@contextmanager
def racing_database(
    backend: str, folder: Path, *, pool_size: int, postgres_url: str | None = None
) -> Iterator[Flask]:
    """A migrated app on a database of its own (``backend`` 'sqlite' or 'postgresql'); dropped afterwards.

    Background jobs run in-process; callers that do not race them should stop their dispatch.
    """
    from flask_migrate import upgrade

    from grants.config import normalise_database_url

    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SERVER_NAME": "grants.test",
        "SCHEDULER_IN_PROCESS": False,
        "REDIS_URL": None,
        "JOBS_MODE": "sync",
        "RATELIMIT_STORAGE_URI": "memory://",
        "MAIL_SERVER": None,
        "INSTANCE_DIR": str(folder),
        "UPLOAD_DIR": str(folder / "uploads"),
    }
    schema = admin = None
    if backend == "postgresql":
        url = normalise_database_url(postgres_url)
        schema = f"race_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        config.update(
            SQLALCHEMY_DATABASE_URI=url,
            SQLALCHEMY_ENGINE_OPTIONS={
                "pool_size": pool_size,
                "max_overflow": 5,
                "connect_args": {"options": f"-csearch_path={schema}"},
            },
        )
    else:
        config.update(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / f'race-{uuid.uuid4().hex[:8]}.sqlite3'}",
            SQLALCHEMY_ENGINE_OPTIONS={"pool_size": pool_size, "max_overflow": 5},
        )
    app = create_app(config)
    app.config["BACKEND"] = backend
    try:
        with app.app_context():
            upgrade()
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
