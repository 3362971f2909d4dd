"""File storage: names cleaned, types sniffed from content, both backends (local folder, S3), downloads, orphans."""

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound

from grants.applications.models import Attachment
from grants.core import storage
from grants.core.storage import UploadRefused, clean_filename, save_upload, sniff
from grants.extensions import db

pytestmark = pytest.mark.usefixtures("english_ui")  # asserts on English source text

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture
def root(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def file(content: bytes, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(content), filename=name)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\报告.pdf", "报告.pdf"),
        ("C:\\Users\\张三\\Desktop\\申报书.docx", "申报书.docx"),
        ("合\x00同\r\n书.pdf", "合同书.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("  .hidden.pdf ", "hidden.pdf"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
    ],
)
def test_clean_filename_strips_paths_and_control_characters(raw, clean):
    assert clean_filename(raw) == clean


def test_clean_filename_shortens_long_names_keeping_the_extension():
    cleaned = clean_filename("长" * 300 + ".pdf")
    assert len(cleaned) == 200 and cleaned.endswith(".pdf")


def test_sniff_recognises_office_files_by_their_entries(tmp_path):
    path = tmp_path / "late.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("docProps/app.xml", "x" * 20000)  # pushes the signature bytes out of reach
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert sniff(path) == "docx"
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("data/notes.txt", "x" * 20000)
        archive.writestr("readme.txt", "hello")
    assert sniff(plain) is None


def test_save_upload_writes_under_a_generated_name(app, root):
    stored = save_upload(file(PDF, "../申报书.pdf"))
    assert stored.original_name == "申报书.pdf"
    assert stored.kind == "pdf" and stored.content_type == "application/pdf"
    assert stored.size == len(PDF) and stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert "申报书" not in stored.stored_name
    assert files_under(root) == [root / stored.stored_name]
    assert (root / stored.stored_name).read_bytes() == PDF


@pytest.mark.parametrize(
    "content, name, message",
    [
        (PNG, "照片.pdf", "does not match its file type"),
        (PDF, "报告.txt", "is not an allowed type"),
        (PDF * 100, "大.pdf", "larger than the limit"),
    ],
)
def test_save_upload_refusals_leave_no_file(app, root, content, name, message):
    with pytest.raises(UploadRefused) as refused:
        save_upload(file(content, name), max_bytes=1000)
    assert message in refused.value.message
    assert files_under(root) == []


def test_keys_outside_the_store_are_refused(app, root):
    store = storage.backend()
    for key in (
        "../../etc/passwd",
        "/etc/passwd",
        "ab/../../x.pdf",
        "ab/cd/申报书.pdf",
        "tmp/put-1",
        "",
    ):
        with pytest.raises(ValueError):
            store.path(key)
        with pytest.raises(ValueError):
            storage.delete(key)
    with pytest.raises(ValueError):
        storage.check_stored_name("reports/" + "0" * 32 + ".pdf")


def test_delete_after_commit_waits_for_the_commit(app, root):
    stored = save_upload(file(PDF, "a.pdf"))
    db.session.commit()
    storage.delete_after_commit(stored.stored_name)
    db.session.rollback()
    assert (root / stored.stored_name).exists()
    storage.delete_after_commit(stored.stored_name)
    assert (root / stored.stored_name).exists()
    db.session.commit()
    assert not (root / stored.stored_name).exists()
    assert storage.delete(stored.stored_name) is False


def test_file_written_in_a_rolled_back_transaction_is_removed(app, root):
    stored = save_upload(file(PDF, "a.pdf"))
    assert (root / stored.stored_name).exists()
    db.session.rollback()
    assert not (root / stored.stored_name).exists()


# --- both backends: the local folder and an S3-compatible server on loopback ------------------


def test_backend_puts_opens_lists_and_deletes(app, storage_backend):
    store = storage_backend
    key = "ab/cd/" + "1" * 32 + ".pdf"
    assert not store.exists(key) and store.size(key) is None
    store.put(key, io.BytesIO(PDF))
    store.put("reports/" + "2" * 32 + ".xlsx", io.BytesIO(b"PK workbook"))
    assert store.exists(key) and store.size(key) == len(PDF)
    with store.open(key) as stream:
        assert stream.read() == PDF
    assert [o.key for o in store.iter_keys("reports/")] == ["reports/" + "2" * 32 + ".xlsx"]
    assert sorted(o.key for o in store.iter_keys()) == [key, "reports/" + "2" * 32 + ".xlsx"]
    assert store.delete(key) is True and store.delete(key) is False
    with pytest.raises(FileNotFoundError):
        store.open(key)


def test_upload_is_stored_before_the_row_and_removed_on_rollback(app, storage_backend):
    stored = save_upload(file(PDF, "申报书.pdf"))
    with storage_backend.open(stored.stored_name) as stream:
        assert stream.read() == PDF
    db.session.rollback()
    assert not storage_backend.exists(stored.stored_name)


def test_deletion_waits_for_the_commit(app, storage_backend):
    stored = save_upload(file(PDF, "a.pdf"))
    db.session.commit()
    storage.delete_after_commit(stored.stored_name)
    db.session.rollback()
    assert storage_backend.exists(stored.stored_name)
    storage.delete_after_commit(stored.stored_name)
    db.session.commit()
    assert not storage_backend.exists(stored.stored_name)


def _download(key, name="申报书.pdf"):
    with current_app.test_request_context("/"):
        return storage.download_response(key, name, "application/pdf", etag="abc")


def test_local_download_streams_the_file_as_an_attachment(app, local_storage):
    stored = save_upload(file(PDF, "申报书.pdf"))
    response = _download(stored.stored_name)
    response.direct_passthrough = False
    assert response.status_code == 200 and response.get_data() == PDF
    response.close()
    assert "attachment" in response.headers["Content-Disposition"]
    assert "%E7%94%B3%E6%8A%A5%E4%B9%A6.pdf" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    with pytest.raises(NotFound):
        _download("ab/cd/" + "0" * 32 + ".pdf")


def test_s3_download_redirects_to_a_short_lived_signed_url(app, s3_storage):
    stored = save_upload(file(PDF, "申报书.pdf"))
    response = _download(stored.stored_name)
    assert response.status_code == 302 and response.headers["Cache-Control"] == "private, no-store"
    location = response.headers["Location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    with urllib.request.urlopen(location, timeout=10) as fetched:
        assert fetched.read() == PDF
        assert "%E7%94%B3%E6%8A%A5%E4%B9%A6.pdf" in fetched.headers["Content-Disposition"]
    unsigned = location.split("?", 1)[0]
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(unsigned, timeout=10)
    with pytest.raises(NotFound):
        _download("ab/cd/" + "0" * 32 + ".pdf")


def test_s3_download_can_stream_through_the_app(app, s3_storage, monkeypatch):
    monkeypatch.setitem(app.config, "S3_DOWNLOADS", "stream")
    stored = save_upload(file(PDF, "申报书.pdf"))
    response = _download(stored.stored_name)
    assert response.status_code == 200 and response.get_data() == PDF
    assert response.headers["Content-Length"] == str(len(PDF))
    assert "attachment" in response.headers["Content-Disposition"]


def test_file_views_serve_uploads_from_s3(app, s3_storage, client, login):
    from grants.projects.models import ProjectFile
    from tests.projects.change_helpers import cast, extension

    c = cast()
    db.session.commit()
    login(c.owner)
    response = client.post(
        f"/projects/{c.project.id}/changes/new/extension",
        data={
            "reason": "设备到货延迟",
            "action": "save",
            "end_date": extension(c.project, 3)["end_date"],
            "evidence": [(io.BytesIO(PDF), "单位意见.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    item = db.session.scalar(sa.select(ProjectFile).where(ProjectFile.purpose == "change_evidence"))
    assert s3_storage.exists(item.stored_name)
    assert not (Path(app.config["UPLOAD_DIR"]) / item.stored_name).exists()
    download = client.get(f"/projects/{c.project.id}/evidence/{item.id}")
    assert download.status_code == 302
    with urllib.request.urlopen(download.headers["Location"], timeout=10) as fetched:
        assert fetched.read() == PDF


def test_sweep_removes_old_orphans_and_keeps_what_rows_name(app, storage_backend):
    from datetime import timedelta

    named = save_upload(file(PDF, "a.pdf"))
    from tests.factories import ApplicationFactory

    application = ApplicationFactory()
    db.session.add(
        Attachment(
            application_id=application.id,
            original_name="a.pdf",
            stored_name=named.stored_name,
            content_type=named.content_type,
            size=named.size,
            sha256=named.sha256,
        )
    )
    db.session.flush()
    orphan = "ee/ee/" + "e" * 32 + ".pdf"
    storage_backend.put(orphan, io.BytesIO(PDF))
    assert storage.sweep() == []  # younger than the grace period
    result = storage.check(grace=timedelta(0))
    assert [o.key for o in result.orphans] == [orphan] and result.missing == []
    assert storage.sweep(grace=timedelta(0)) == [orphan]
    assert storage_backend.exists(named.stored_name) and not storage_backend.exists(orphan)
    storage_backend.delete(named.stored_name)
    assert storage.check(grace=timedelta(0)).missing == [named.stored_name]


def test_storage_check_command_reports_missing_files(app, local_storage):
    from tests.factories import ApplicationFactory

    application = ApplicationFactory()
    db.session.add(
        Attachment(
            application_id=application.id,
            original_name="a.pdf",
            stored_name="aa/aa/" + "a" * 32 + ".pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
        )
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["storage-check"])
    assert result.exit_code == 1
    assert "missing: aa/aa/" + "a" * 32 + ".pdf" in result.output


def test_s3_client_has_timeouts_and_bounded_retries(app, s3_storage):
    config = s3_storage.client.meta.config
    assert config.connect_timeout == 2 and config.read_timeout == 5
    assert config.retries["total_max_attempts"] == 1


def test_sweep_job_is_scheduled_and_removes_orphans(app, local_storage, monkeypatch, run_jobs):
    from grants.core.jobs import enqueue
    from grants.core.scheduler import SCHEDULES

    assert "storage.sweep" in SCHEDULES
    monkeypatch.setitem(app.config, "STORAGE_ORPHAN_GRACE_HOURS", 0)
    orphan = "cc/cc/" + "c" * 32 + ".png"
    local_storage.put(orphan, io.BytesIO(PNG))
    enqueue("storage.sweep")
    db.session.commit()
    run_jobs()
    assert not local_storage.exists(orphan)


def test_sweep_job_holds_no_write_lock_while_it_touches_the_store(tmp_path, monkeypatch):
    """Issue 23, item 6: on a SQLite file another connection can write while files are removed."""
    import sqlite3

    from grants.core.jobs import SELF_LOCKING, enqueue
    from grants.core.storage import LocalBackend
    from tests.racing import racing_database

    probes = []
    real_delete = LocalBackend.delete

    def probing_delete(self, key):
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            other.close()
        return real_delete(self, key)

    monkeypatch.setattr(LocalBackend, "delete", probing_delete)
    assert "storage.sweep" in SELF_LOCKING
    with racing_database("sqlite", tmp_path, pool_size=5) as app:
        database = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        app.config["STORAGE_ORPHAN_GRACE_HOURS"] = 0
        orphan = "dd/dd/" + "d" * 32 + ".png"
        with app.app_context():
            storage.backend().put(orphan, io.BytesIO(PNG))
            enqueue("storage.sweep")
            db.session.commit()  # JOBS_MODE=sync: the job runs (in its thread) before this returns
            assert not storage.backend().exists(orphan)
    assert probes == ["free"]
