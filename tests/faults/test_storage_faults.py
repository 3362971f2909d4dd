"""Faults of the file store: a file deleted while a backup runs, an object store that does not
answer. Each fault is really injected (the object is deleted from the store, the endpoint is a
closed port) and the test checks what the user or the operator then gets."""

from __future__ import annotations

import io
import json
import tarfile
import threading

import pytest
import sqlalchemy as sa

from grants.core import backup as backup_module
from grants.core import storage
from grants.core.backup import backup, read_manifest
from grants.extensions import db
from grants.projects.models import ChangeRequest, ProjectFile
from tests.core.test_backup import SIGNED, stored_file
from tests.factories import make_project
from tests.projects.change_helpers import cast, extension
from tests.storage_fixtures import _free_port, point_at_s3

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_file_deleted_during_backup_is_reported_and_the_backup_completes(
    app, storage_backend, tmp_path
):
    project = make_project()
    contents = {}
    for content in (SIGNED, b"%PDF-1.4 second", b"%PDF-1.4 third"):
        contents[
            stored_file(storage_backend, project, content, purpose="final_report").stored_name
        ] = content
    order = sorted(contents)
    victim = order[1]
    deleted = []

    def delete_the_next_file(key):
        # While the first file is being copied, another process deletes the second one.
        if key == order[0]:
            assert storage_backend.delete(victim)
            deleted.append(victim)

    archive = tmp_path / "backup.tar.gz"
    summary = backup(archive, storage_backend, on_file=delete_the_next_file)

    assert deleted == [victim] and not storage_backend.exists(victim)
    assert summary.missing == [victim] and summary.files == 2
    manifest = read_manifest(archive)
    assert manifest["missing"] == [victim] and set(manifest["files"]) == set(order) - {victim}
    with tarfile.open(archive) as tar:
        assert f"uploads/{victim}" not in tar.getnames()
        for key in (order[0], order[2]):
            assert tar.extractfile(f"uploads/{key}").read() == contents[key]
    backup_module.verify(archive)  # what it holds matches its manifest


def test_file_deleted_by_a_concurrent_thread_during_backup(app, local_storage, tmp_path):
    project = make_project()
    items = [
        stored_file(local_storage, project, b"%PDF-1.4 " + bytes([65 + n]) * 2000) for n in range(4)
    ]
    keys = sorted(item.stored_name for item in items)
    started, done = threading.Event(), threading.Event()

    def deleter():
        started.wait(timeout=30)
        local_storage.path(keys[-1]).unlink()
        done.set()

    thread = threading.Thread(target=deleter)
    thread.start()

    def hand_over(key):
        if key == keys[0]:
            started.set()
            assert done.wait(timeout=30)  # the deleting thread has run before the next copy

    summary = backup(tmp_path / "backup.tar.gz", local_storage, on_file=hand_over)
    thread.join(timeout=30)
    assert summary.missing == [keys[-1]] and summary.files == 3


def test_backup_command_exits_2_and_names_the_missing_file(app, local_storage, tmp_path):
    project = make_project()
    kept = stored_file(local_storage, project, SIGNED)
    lost = stored_file(local_storage, project, b"%PDF-1.4 lost", purpose="final_report")
    local_storage.delete(lost.stored_name)
    db.session.commit()
    target = tmp_path / "cli-backup.tar.gz"

    result = app.test_cli_runner().invoke(args=["backup", "--output", str(target)])

    assert result.exit_code == 2
    assert lost.stored_name in result.output and "missing" in result.output
    manifest = read_manifest(target)
    assert manifest["missing"] == [lost.stored_name] and list(manifest["files"]) == [
        kept.stored_name
    ]


@pytest.fixture
def store_down(app, monkeypatch, s3_server):
    """The app's S3 endpoint is a loopback port where nothing listens."""
    point_at_s3(app, monkeypatch, s3_server)
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")


def test_upload_while_the_object_store_is_down_saves_nothing(app, store_down, client, login):
    c = cast()
    db.session.commit()
    login(c.owner)
    response = client.post(
        f"/projects/{c.project.id}/changes/new/extension",
        data={
            "reason": "设备到货延迟，申请延期",
            "action": "save",
            "end_date": extension(c.project, 3)["end_date"],
            "evidence": [(io.BytesIO(PDF), "单位意见.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "文件存储暂时不可用" in html
    assert "设备到货延迟，申请延期" in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count(ChangeRequest.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(ProjectFile.id))) == 0


def test_download_while_the_object_store_is_down_says_so(
    app, s3_storage, monkeypatch, client, login
):
    c = cast()
    item = stored_file(s3_storage, c.project, PDF, purpose="progress_evidence")
    db.session.commit()
    login(c.owner)
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    response = client.get(f"/projects/{c.project.id}/evidence/{item.id}")
    assert response.status_code == 503
    assert "文件存储" in response.get_data(as_text=True)


def test_delete_while_the_object_store_is_down_commits_and_leaves_an_orphan(
    app, s3_storage, monkeypatch
):
    from datetime import timedelta

    key = "dd/dd/" + "d" * 32 + ".pdf"
    s3_storage.put(key, io.BytesIO(PDF))
    endpoint = app.config["S3_ENDPOINT_URL"]
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    storage.delete_after_commit(key)
    db.session.commit()  # the row's change stands although the file could not be removed
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", endpoint)
    assert storage.backend().exists(key)
    assert storage.sweep(grace=timedelta(0)) == [key]


def test_restore_refuses_an_archive_whose_manifest_was_edited(app, local_storage, tmp_path):
    project = make_project()
    item = stored_file(local_storage, project, SIGNED)
    archive = tmp_path / "backup.tar.gz"
    backup(archive, local_storage)
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(forged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["files"][item.stored_name] = "0" * 64
                data = json.dumps(manifest).encode()
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    with pytest.raises(backup_module.BackupError, match="checksum"):
        backup_module.verify(forged)
