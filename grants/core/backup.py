"""Backup and restore of the database and the stored files, the same on SQLite and PostgreSQL
and with either storage backend (local folder or S3).

A backup is one ``.tar.gz``: ``manifest.json`` (format 2: schema revision, time, row counts,
the SHA-256 of every table dump and of every file, and the files that were missing),
``data/<table>.jsonl`` (every row of every table, typed values as text) and ``uploads/<key>``
(the stored objects). The rows *and the list of files they refer to* are read inside one
transaction (REPEATABLE READ on PostgreSQL, a read transaction on SQLite: one consistent
snapshot), so the backup holds exactly the files its rows name, never a file written after
the snapshot or an orphan. A file deleted while the backup runs (its row deleted after the
snapshot) is recorded under ``missing`` in the manifest instead of failing the run; the
command then exits with status 2. The archive is written under a temporary name that is
renamed when complete. On PostgreSQL, when ``pg_dump`` is at hand (``BACKUP_PG_DUMP``), the
archive also holds ``database.pgdump``: ``pg_dump --format=custom`` run with the snapshot
exported by the backup's own transaction (``--snapshot``), so it shows the database exactly
as the rows and the file list do; an operator can load it with ``pg_restore``.

A restore first verifies the whole archive against its manifest (every table dump and
file present with its checksum) and touches nothing if anything is off. It then goes into
an empty database: it migrates the schema to the backup's revision, inserts the rows in
foreign-key order in one transaction, resets PostgreSQL's id sequences, checks the row
counts, and puts the files into the configured store. Because the dump is logical, a
backup taken on SQLite restores on PostgreSQL and back, and from one storage backend into
the other.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from flask import current_app
from flask_migrate import upgrade

from grants.core import storage
from grants.core.types import utcnow
from grants.extensions import db

FORMAT = 2
READABLE_FORMATS = (1, 2)
BATCH = 1000


class BackupError(RuntimeError):
    """The backup cannot be read or does not fit the target."""


@dataclass
class BackupSummary:
    path: Path
    revision: str
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    missing: list[str] = field(default_factory=list)


def _encode(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decoder(column: sa.Column):
    kind = column.type
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl if isinstance(kind.impl, sa.types.TypeEngine) else kind.impl()
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return lambda v: None if v is None else Decimal(v)
    if isinstance(kind, sa.DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(kind, sa.Date):
        return lambda v: None if v is None else date.fromisoformat(v)
    if isinstance(kind, sa.LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    return lambda v: v


def _copy_hashing(source, out) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def _sha256_of(stream) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _revision(connection) -> str:
    try:
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(
            "the database has no schema revision: run `flask db upgrade` first"
        ) from exc


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(utcnow().timestamp())
    archive.addfile(info, io.BytesIO(data))


def backup(target: Path, store=None, on_file: Callable[[str], None] | None = None) -> BackupSummary:
    """Write a backup of the database and of the files its rows refer to to ``target`` (atomically).

    ``store`` is the storage backend (the app's by default). ``on_file(key)`` is called before
    each file is copied (progress, and the fault tests' hook). A file gone by then is listed
    in ``summary.missing`` and in the manifest; the backup is still written.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    store = store or storage.backend()
    session = db.session()
    bind = session.get_bind()
    own_snapshot = (
        bind.dialect.name == "postgresql"
        and isinstance(bind, sa.Engine)
        and not session.in_transaction()
    )
    if own_snapshot:
        connection = session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        connection = session.connection()
    revision = _revision(connection)  # the first statement: it fixes the snapshot
    summary = BackupSummary(path=target, revision=revision)
    manifest = {
        "format": FORMAT,
        "revision": revision,
        "created_at": utcnow().isoformat(),
        "backend": connection.dialect.name,
        "storage": store.name,
        "tables": {},
        "table_sha256": {},
        "files": {},
        "missing": [],
    }
    handle, tmp_name = tempfile.mkstemp(prefix=".backup-", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        with tarfile.open(tmp_name, "w:gz") as archive:
            if own_snapshot and pg_dump_program():
                manifest["pg_dump"] = _add_pg_dump(archive, connection, bind)
            for table in db.metadata.sorted_tables:
                count = 0
                digest = hashlib.sha256()
                with tempfile.TemporaryFile() as rows:
                    order = list(table.primary_key.columns) or list(table.columns)
                    result = connection.execute(
                        sa.select(table).order_by(*order).execution_options(yield_per=BATCH)
                    )
                    for row in result.mappings():
                        line = (
                            json.dumps(
                                {k: _encode(v) for k, v in row.items()}, ensure_ascii=False
                            ).encode("utf-8")
                            + b"\n"
                        )
                        digest.update(line)
                        rows.write(line)
                        count += 1
                    _add_stream(archive, f"data/{table.name}.jsonl", rows)
                manifest["tables"][table.name] = count
                manifest["table_sha256"][table.name] = digest.hexdigest()
            keys = sorted(storage.referenced_keys(connection))  # the same snapshot as the rows
            for key in keys:
                if on_file is not None:
                    on_file(key)
                digest = _add_object(archive, store, key)
                if digest is None:
                    manifest["missing"].append(key)
                else:
                    manifest["files"][key] = digest
            _add_bytes(
                archive,
                "manifest.json",
                json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"),
            )
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    summary.tables = manifest["tables"]
    summary.files = len(manifest["files"])
    summary.missing = manifest["missing"]
    return summary


PG_DUMP_MEMBER = "database.pgdump"


def pg_dump_program() -> str | None:
    """The pg_dump to run (config ``BACKUP_PG_DUMP``: ``auto`` finds it on PATH, ``0`` turns it off)."""
    setting = str(current_app.config.get("BACKUP_PG_DUMP", "auto")).strip()
    if setting.lower() in ("0", "false", "no", "off", ""):
        return None
    if setting.lower() == "auto":
        return shutil.which("pg_dump")
    return setting


def _add_pg_dump(archive: tarfile.TarFile, connection, engine: sa.Engine) -> dict:
    """Add a ``pg_dump --format=custom`` of the very snapshot the rows are read in.

    The snapshot of the backup's REPEATABLE READ transaction is exported and pg_dump imports
    it (``--snapshot``), so the native dump, the rows and the file list agree exactly.
    """
    snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
    url = engine.url
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password:
        env["PGPASSWORD"] = url.password
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    timeout = int(current_app.config.get("BACKUP_PG_DUMP_TIMEOUT", 3600))
    with tempfile.NamedTemporaryFile(suffix=".pgdump") as dump:
        command = [
            pg_dump_program(),
            f"--snapshot={snapshot}",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={dump.name}",
            f"--dbname={dsn}",
        ]
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackupError(f"pg_dump did not finish: {exc}") from exc
        if done.returncode != 0:
            raise BackupError(
                "pg_dump failed: " + done.stderr.decode("utf-8", "replace").strip()[-2000:]
            )
        with open(dump.name, "rb") as source, tempfile.TemporaryFile() as spool:
            digest = _copy_hashing(source, spool)
            _add_stream(archive, PG_DUMP_MEMBER, spool)
    version = (
        subprocess.run(
            [pg_dump_program(), "--version"], capture_output=True, timeout=30, check=False
        )
        .stdout.decode()
        .strip()
    )
    return {"file": PG_DUMP_MEMBER, "sha256": digest, "snapshot": snapshot, "version": version}


def _add_stream(archive: tarfile.TarFile, name: str, spool) -> None:
    info = tarfile.TarInfo(name)
    info.size = spool.tell()
    info.mtime = int(utcnow().timestamp())
    spool.seek(0)
    archive.addfile(info, spool)


def _add_object(archive: tarfile.TarFile, store, key: str) -> str | None:
    """Copy one stored object into the archive; its SHA-256, or None when it is gone."""
    with tempfile.TemporaryFile() as spool:
        try:
            with store.open(key) as source:
                digest = _copy_hashing(source, spool)
        except FileNotFoundError:
            return None
        _add_stream(archive, f"uploads/{key}", spool)
    return digest


def read_manifest(archive_path: Path) -> dict:
    """The manifest of a backup file."""
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            member = archive.extractfile("manifest.json")
            if member is None:
                raise BackupError("the backup has no manifest")
            manifest = json.loads(member.read().decode("utf-8"))
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"not a readable backup: {exc}") from exc
    if manifest.get("format") not in READABLE_FORMATS:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def verify(archive_path: Path, manifest: dict | None = None) -> dict:
    """Check every table dump and file of the archive against the manifest; the manifest.

    Raises :class:`BackupError` naming the first entry that is absent, unnamed in the
    manifest or does not match its checksum.
    """
    manifest = manifest or read_manifest(archive_path)
    for name in manifest["files"]:
        _safe_key(name)
    expected = {f"uploads/{key}": digest for key, digest in manifest["files"].items()}
    if manifest.get("pg_dump"):
        expected[PG_DUMP_MEMBER] = manifest["pg_dump"]["sha256"]
    expected.update(
        {
            f"data/{table}.jsonl": digest
            for table, digest in manifest.get("table_sha256", {}).items()
        }
    )
    seen: set[str] = set()
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            for member in archive:
                if member.name == "manifest.json":
                    continue
                if not member.isfile():
                    raise BackupError(f"unexpected entry {member.name!r} in the backup")
                if member.name.startswith("uploads/") and member.name not in expected:
                    raise BackupError(f"the file {member.name} is not in the manifest")
                if member.name in expected:
                    stream = archive.extractfile(member)
                    if _sha256_of(stream) != expected[member.name]:
                        raise BackupError(f"{member.name} does not match its checksum")
                    seen.add(member.name)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"not a readable backup: {exc}") from exc
    absent = sorted(set(expected) - seen)
    if absent:
        raise BackupError(f"{absent[0]} is missing from the backup")
    return manifest


def _safe_key(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or not storage.valid_key(name):
        raise BackupError(f"refusing the file name {name!r} in the backup")
    return name


def restore(archive_path: Path, store=None) -> BackupSummary:
    """Restore a backup into the app's (empty) database and file store.

    The archive is verified against its manifest before anything is touched. The schema is
    migrated to the backup's revision; a database that holds any row is refused, so a
    restore never mixes two data sets.
    """
    archive_path = Path(archive_path)
    manifest = verify(archive_path)
    store = store or storage.backend()
    revision = manifest["revision"]
    upgrade(revision=revision)
    session = db.session
    connection = session.connection()
    if _revision(connection) != revision:
        raise BackupError(
            f"the database is at a later schema revision than the backup ({revision})"
        )
    for table in db.metadata.sorted_tables:
        if connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            raise BackupError(
                f"the database is not empty (table {table.name} has rows): restore into a new one"
            )
    summary = BackupSummary(
        path=archive_path, revision=revision, missing=list(manifest.get("missing", []))
    )
    with tarfile.open(archive_path, "r:gz") as archive:
        for table in db.metadata.sorted_tables:
            expected = manifest["tables"].get(table.name, 0)
            member = archive.extractfile(f"data/{table.name}.jsonl") if expected else None
            decoders = {c.name: _decoder(c) for c in table.columns}
            count = 0
            if member is not None:
                batch: list[dict] = []
                for line in member:
                    raw = json.loads(line)
                    batch.append({k: decoders[k](v) for k, v in raw.items() if k in decoders})
                    if len(batch) >= BATCH:
                        connection.execute(table.insert(), batch)
                        count += len(batch)
                        batch = []
                if batch:
                    connection.execute(table.insert(), batch)
                    count += len(batch)
            if count != expected:
                raise BackupError(
                    f"table {table.name}: {count} rows restored, the manifest says {expected}"
                )
            summary.tables[table.name] = count
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection)
        for name in manifest["files"]:  # the files go in before the rows that name them commit
            member = archive.extractfile(f"uploads/{_safe_key(name)}")
            if member is None:
                raise BackupError(f"the file {name} is missing from the backup")
            try:
                store.put(name, member)
            except storage.StorageUnavailable as exc:
                raise BackupError(f"the file store refused {name}: {exc.detail}") from exc
            summary.files += 1
        session.commit()
    return summary


def _reset_sequences(connection) -> None:
    for table in db.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer) or pk[0].autoincrement is False:
            continue
        sequence = connection.execute(
            sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
        ).scalar()
        if sequence:
            connection.execute(
                sa.text(
                    f"SELECT setval(:s, COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"
                ),
                {"s": sequence},
            )
