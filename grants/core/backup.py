"""Backup and restore of the database and the uploaded files, the same on SQLite and PostgreSQL.

A backup is one ``.tar.gz``: ``manifest.json`` (format, schema revision, time, row
counts, SHA-256 of every file), ``data/<table>.jsonl`` (every row of every table, typed
values as text) and ``uploads/…`` (the upload folder). It is read inside one transaction
(REPEATABLE READ on PostgreSQL, a read transaction on SQLite: a consistent snapshot) and written under a temporary name that is renamed when complete.

A restore goes into an empty database: it migrates the schema to the backup's revision,
inserts the rows in foreign-key order in one transaction, resets PostgreSQL's id
sequences, checks the row counts, and puts the files back after checking their digests.
Because the dump is logical, a backup taken on SQLite restores on PostgreSQL and back.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath

import sqlalchemy as sa

from grants.core.types import utcnow
from grants.extensions import db

FORMAT = 1
BATCH = 1000


class BackupError(RuntimeError):
    """The backup cannot be read or does not fit the target."""


@dataclass
class BackupSummary:
    path: Path
    revision: str
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _revision(connection) -> str:
    try:
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError("the database has no schema revision: run `flask db upgrade` first") from exc


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(utcnow().timestamp())
    archive.addfile(info, io.BytesIO(data))


def backup(target: Path, upload_dir: str | os.PathLike) -> BackupSummary:
    """Write a backup of the app's database and upload folder to ``target`` (atomically)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    uploads = Path(upload_dir)
    session = db.session()
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, sa.Engine) and not session.in_transaction():
        connection = session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        connection = session.connection()
    revision = _revision(connection)
    summary = BackupSummary(path=target, revision=revision)
    manifest = {"format": FORMAT, "revision": revision, "created_at": utcnow().isoformat(),
                "backend": connection.dialect.name, "tables": {}, "files": {}}
    handle, tmp_name = tempfile.mkstemp(prefix=".backup-", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        with tarfile.open(tmp_name, "w:gz") as archive:
            for table in db.metadata.sorted_tables:
                count = 0
                with tempfile.TemporaryFile() as rows:
                    order = list(table.primary_key.columns) or list(table.columns)
                    result = connection.execute(sa.select(table).order_by(*order).execution_options(yield_per=BATCH))
                    for row in result.mappings():
                        rows.write(json.dumps({k: _encode(v) for k, v in row.items()},
                                              ensure_ascii=False).encode("utf-8") + b"\n")
                        count += 1
                    info = tarfile.TarInfo(f"data/{table.name}.jsonl")
                    info.size = rows.tell()
                    info.mtime = int(utcnow().timestamp())
                    rows.seek(0)
                    archive.addfile(info, rows)
                manifest["tables"][table.name] = count
            if uploads.is_dir():
                for path in sorted(p for p in uploads.rglob("*") if p.is_file() and not p.is_symlink()):
                    relative = path.relative_to(uploads).as_posix()
                    manifest["files"][relative] = _sha256(path)
                    archive.add(str(path), arcname=f"uploads/{relative}", recursive=False)
            _add_bytes(archive, "manifest.json",
                       json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    summary.tables = manifest["tables"]
    summary.files = len(manifest["files"])
    return summary


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
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"refusing the file name {name!r} in the backup")
    return path


def restore(archive_path: Path, upload_dir: str | os.PathLike) -> BackupSummary:
    """Restore a backup into the app's (empty) database and upload folder.

    The schema is migrated to the backup's revision first; a database that holds any
    row is refused, so a restore never mixes two data sets.
    """
    from flask_migrate import upgrade

    archive_path = Path(archive_path)
    manifest = read_manifest(archive_path)
    revision = manifest["revision"]
    upgrade(revision=revision)
    session = db.session
    connection = session.connection()
    if _revision(connection) != revision:
        raise BackupError(f"the database is at a later schema revision than the backup ({revision})")
    for table in db.metadata.sorted_tables:
        if connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            raise BackupError(f"the database is not empty (table {table.name} has rows): restore into a new one")
    uploads = Path(upload_dir)
    summary = BackupSummary(path=archive_path, revision=revision)
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
                raise BackupError(f"table {table.name}: {count} rows restored, the manifest says {expected}")
            summary.tables[table.name] = count
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection)
        session.commit()
        for name, digest in manifest["files"].items():
            relative = _safe_relative(name)
            member = archive.extractfile(f"uploads/{relative.as_posix()}")
            if member is None:
                raise BackupError(f"the file {name} is missing from the backup")
            destination = uploads.joinpath(*relative.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            tmp = destination.with_name(destination.name + ".restoring")
            with tmp.open("wb") as out:
                while chunk := member.read(1 << 20):
                    out.write(chunk)
            if _sha256(tmp) != digest:
                tmp.unlink()
                raise BackupError(f"the file {name} does not match its checksum")
            os.replace(tmp, destination)
            summary.files += 1
    return summary


def _reset_sequences(connection) -> None:
    for table in db.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer) or pk[0].autoincrement is False:
            continue
        sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": table.name, "c": pk[0].name}).scalar()
        if sequence:
            connection.execute(sa.text(
                f"SELECT setval(:s, COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"),
                {"s": sequence})
