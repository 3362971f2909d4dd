"""The scratch database of a benchmark: a SQLite file in its temporary folder, or a PostgreSQL
database dropped and created afresh (the URL from an environment variable, else a default)."""

from __future__ import annotations

import os
from pathlib import Path


def recreate_postgres(url: str) -> str:
    """Drop and create the PostgreSQL database of ``url``; its normalised URL."""
    import sqlalchemy as sa

    from grants.config import normalise_database_url

    url = normalise_database_url(url)
    base, name = url.rsplit("/", 1)
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def scratch_database(folder: str, *, sqlite: bool, file_name: str, env: str, default: str) -> str:
    """``folder``/``file_name`` as SQLite when ``sqlite``, else the PostgreSQL database named by
    the variable ``env`` (or ``default``), emptied."""
    if sqlite:
        return f"sqlite:///{Path(folder) / file_name}"
    return recreate_postgres(os.environ.get(env, default))
