"""The migrations build the models' schema from an empty database, on every backend.

Each test makes a scratch database of its backend (a new PostgreSQL database, or a
SQLite file), points a second app at it and runs the migrations there, so the shared
test database is never touched.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from grants import create_app
from grants.extensions import db


@pytest.fixture
def empty_database_url(app, tmp_path):
    """The URL of a new, empty database on the test's backend, dropped afterwards."""
    if app.config["BACKEND"] == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    admin = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")
    name = f"grants_migrations_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_app(app, empty_database_url, tmp_path, monkeypatch):
    """An app like the test's, on the empty database; its context is pushed."""
    monkeypatch.setenv("GRANTS_INSTANCE_DIR", str(tmp_path))
    config = {key: value for key, value in app.config.items() if key.isupper()}
    config.update(
        SQLALCHEMY_DATABASE_URI=empty_database_url,
        SQLALCHEMY_ENGINE_OPTIONS=dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"]),
    )
    scratch = create_app(config)
    with scratch.app_context():
        yield scratch
        db.session.remove()
        db.engine.dispose()


def schema_differences() -> list:
    """What autogenerate would write: the diff between the database and the models."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def table_names() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_migrations_upgrade_from_empty_gives_models_schema(scratch_app):
    assert table_names() == set()
    assert schema_differences(), "an empty database should differ from the models"

    upgrade()

    assert table_names() == set(db.metadata.tables) | {"alembic_version"}
    assert schema_differences() == []


def test_migrations_db_check_finds_nothing_to_generate(scratch_app, monkeypatch):
    upgrade()
    printed: list[str] = []
    monkeypatch.setattr(
        AlembicConfig,
        "print_stdout",
        lambda self, text, *args: printed.append(text % args if args else text),
    )

    result = scratch_app.test_cli_runner().invoke(args=["db", "check"])

    assert result.exit_code == 0, (result.output, result.exception)
    assert printed == ["No new upgrade operations detected."]


def test_migrations_audit_trigger_refuses_update_and_delete(scratch_app):
    upgrade()
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_events (at, actor_label, action) "
                "VALUES (CURRENT_TIMESTAMP, 'migration test', 'test.appended')"
            )
        )

    for statement in (
        "UPDATE audit_events SET action = 'test.changed'",
        "DELETE FROM audit_events",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text(statement))

    with db.engine.connect() as conn:
        actions = conn.scalars(sa.text("SELECT action FROM audit_events")).all()
    assert actions == ["test.appended"]


def test_migrations_downgrade_and_upgrade_round_trip(scratch_app):
    upgrade()
    downgrade(revision="base")

    assert table_names() == {"alembic_version"}
    if scratch_app.config["BACKEND"] == "postgresql":
        with db.engine.connect() as conn:
            leftover = conn.scalar(
                sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_events_append_only'")
            )
        assert leftover == 0

    upgrade()

    assert table_names() == set(db.metadata.tables) | {"alembic_version"}
    assert schema_differences() == []
