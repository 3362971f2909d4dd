"""Backup and restore: the database rows and the files they name come back whole, on each database
and each storage backend."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants import create_app
from grants.accounts.models import User
from grants.core.backup import BackupError, backup, read_manifest, restore
from grants.core.storage import LocalBackend
from grants.extensions import db
from grants.projects.models import Project, ProjectFile
from tests.conftest import TEST_DATABASE_URL
from tests.factories import make_project, make_user


@pytest.fixture
def scratch_target(app, tmp_path):
    """A second app on a new, empty database of the same backend (dropped afterwards)."""
    from grants.config import normalise_database_url

    if app.config["BACKEND"] == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        admin_engine, name = None, None
    else:
        name = f"grants_restore_{uuid.uuid4().hex[:8]}"
        admin_engine = sa.create_engine(
            normalise_database_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT"
        )
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = normalise_database_url(TEST_DATABASE_URL).rsplit("/", 1)[0] + f"/{name}"
    target = create_app(
        {
            **{k: app.config[k] for k in ("SECRET_KEY", "SERVER_NAME")},
            "TESTING": True,
            "SCHEDULER_IN_PROCESS": False,
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_DIR": str(tmp_path / "restored-uploads"),
            "INSTANCE_DIR": str(tmp_path),
            "REDIS_URL": None,
            "JOBS_MODE": "sync",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    yield target
    with target.app_context():
        db.session.remove()
        db.engine.dispose()
    if admin_engine is not None:
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


@pytest.fixture
def uploads(tmp_path):
    """A file store of the test's own (the app's folder is shared by the whole session)."""
    folder = tmp_path / "uploads-source"
    folder.mkdir()
    return LocalBackend(folder)


SIGNED = b"%PDF-1.4 signed \xe4\xbb\xbb\xe5\x8a\xa1\xe4\xb9\xa6"


def stored_file(
    store, project, content: bytes = SIGNED, purpose: str = "signed_task_book"
) -> ProjectFile:
    """A file put in ``store`` and the row that names it."""
    token = uuid.uuid4().hex
    key = f"{token[:2]}/{token[2:4]}/{token}.pdf"
    store.put(key, io.BytesIO(content))
    item = ProjectFile(
        project_id=project.id,
        purpose=purpose,
        original_name="任务书.pdf",
        stored_name=key,
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    db.session.add(item)
    db.session.flush()
    return item


def _data_with_a_file(store):
    project = make_project(award="123456.78")
    make_user("applicant", organisation=project.organisation, name="严建国")
    item = stored_file(store, project)
    return project, item.stored_name


def test_backup_restore_brings_rows_and_files_back(app, scratch_target, tmp_path, uploads):
    project, key = _data_with_a_file(uploads)
    expected = {
        "code": project.code,
        "award": project.award,
        "signed_at": project.signed_at,
        "title": project.title,
    }
    users = db.session.scalar(sa.select(sa.func.count(User.id)))
    archive = tmp_path / "backup.tar.gz"

    summary = backup(archive, uploads)

    assert summary.tables["projects"] == 1 and summary.files == 1
    assert read_manifest(archive)["tables"]["users"] == users
    with scratch_target.app_context():
        restored = restore(archive)
        assert restored.tables == summary.tables
        again = db.session.scalars(sa.select(Project)).one()
        assert again.code == expected["code"] and again.title == expected["title"]
        assert again.award == Decimal("123456.78") and isinstance(again.award, Decimal)
        assert again.signed_at == expected["signed_at"]
        assert sum(t.amount for t in again.tranches) == again.award
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == users
        # New rows get fresh ids after a restore (PostgreSQL sequences are moved on).
        newcomer = make_user("bureau")
        db.session.commit()
        assert newcomer.id > max(
            db.session.scalars(sa.select(User.id).where(User.id != newcomer.id))
        )
    from pathlib import Path

    copy = Path(scratch_target.config["UPLOAD_DIR"]) / key
    assert copy.read_bytes() == SIGNED


def test_restore_refuses_a_database_with_rows(app, scratch_target, tmp_path, uploads):
    _data_with_a_file(uploads)
    archive = tmp_path / "backup.tar.gz"
    backup(archive, uploads)
    with scratch_target.app_context():
        restore(archive)
        with pytest.raises(BackupError, match="not empty"):
            restore(archive)


def _rewrite(archive, out, change):
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            name, data = change(member.name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_restore_refuses_a_file_that_does_not_match_its_checksum(
    app, scratch_target, tmp_path, uploads
):
    _data_with_a_file(uploads)
    archive = tmp_path / "backup.tar.gz"
    backup(archive, uploads)
    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(archive, tampered, lambda n, d: (n, b"forged" if n.startswith("uploads/") else d))
    with scratch_target.app_context(), pytest.raises(BackupError, match="checksum"):
        restore(tampered)


def test_restore_refuses_a_path_outside_the_upload_folder(app, scratch_target, tmp_path, uploads):
    archive = tmp_path / "backup.tar.gz"
    backup(archive, uploads)

    def escape(name, data):
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"]["../outside.txt"] = "0" * 64
            return name, json.dumps(manifest).encode()
        return name, data

    crafted = tmp_path / "crafted.tar.gz"
    _rewrite(archive, crafted, escape)
    with scratch_target.app_context(), pytest.raises(BackupError, match="refusing"):
        restore(crafted)
    assert not (tmp_path / "outside.txt").exists()


def test_read_manifest_refuses_a_file_that_is_not_a_backup(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(BackupError):
        read_manifest(junk)


def test_backup_holds_the_files_rows_name_and_lists_missing_ones(app, tmp_path, uploads):
    project, key = _data_with_a_file(uploads)
    uploads.put("ff/ff/" + "f" * 32 + ".pdf", io.BytesIO(b"%PDF-1.4 orphan"))  # no row names it
    lost = stored_file(uploads, project, b"%PDF-1.4 lost", purpose="final_report")
    uploads.delete(lost.stored_name)
    archive = tmp_path / "backup.tar.gz"

    summary = backup(archive, uploads)

    manifest = read_manifest(archive)
    assert manifest["format"] == 2 and manifest["storage"] == "local"
    assert manifest["files"] == {key: hashlib.sha256(SIGNED).hexdigest()}
    assert manifest["missing"] == summary.missing == [lost.stored_name]
    with tarfile.open(archive) as tar:
        assert sorted(n for n in tar.getnames() if n.startswith("uploads/")) == [f"uploads/{key}"]


def test_restore_verifies_the_archive_before_touching_anything(
    app, scratch_target, tmp_path, uploads
):
    _data_with_a_file(uploads)
    archive = tmp_path / "backup.tar.gz"
    backup(archive, uploads)
    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(archive, tampered, lambda n, d: (n, d + b"\n" if n == "data/users.jsonl" else d))
    with scratch_target.app_context():
        with pytest.raises(BackupError, match=r"data/users\.jsonl does not match its checksum"):
            restore(tampered)
        assert "users" not in sa.inspect(db.engine).get_table_names()
    assert not (tmp_path / "restored-uploads").exists()


def test_backup_from_s3_restores_into_a_local_folder(app, s3_storage, scratch_target, tmp_path):
    _project, key = _data_with_a_file(s3_storage)
    archive = tmp_path / "backup.tar.gz"

    summary = backup(archive)

    assert (
        summary.files == 1 and summary.missing == [] and read_manifest(archive)["storage"] == "s3"
    )
    with scratch_target.app_context():
        restore(archive)
        assert db.session.scalars(sa.select(ProjectFile.stored_name)).all() == [key]
    assert (tmp_path / "restored-uploads" / key).read_bytes() == SIGNED


def test_postgresql_backup_holds_a_pg_dump_of_the_same_snapshot(app, scratch_target, tmp_path):
    """On PostgreSQL the archive also holds pg_dump's custom-format dump, taken with --snapshot."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("pg_dump is for PostgreSQL")
    import shutil
    import subprocess

    from flask_migrate import upgrade

    assert shutil.which("pg_dump") and shutil.which("pg_restore"), "install postgresql-client"
    archive = tmp_path / "backup.tar.gz"
    with scratch_target.app_context():
        upgrade()
        make_user("bureau", email="pgdump-probe@example.org")
        db.session.commit()
        db.session.remove()
        summary = backup(archive, LocalBackend(tmp_path / "files"))
        assert summary.tables["users"] == 1
    manifest = read_manifest(archive)
    assert manifest["pg_dump"]["file"] == "database.pgdump" and manifest["pg_dump"]["snapshot"]
    with tarfile.open(archive) as tar:
        (tmp_path / "database.pgdump").write_bytes(tar.extractfile("database.pgdump").read())
    listed = subprocess.run(
        [
            "pg_restore",
            "--data-only",
            "--table=users",
            "--file=-",
            str(tmp_path / "database.pgdump"),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert b"pgdump-probe@example.org" in listed.stdout
