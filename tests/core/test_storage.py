"""Upload storage: names cleaned, types sniffed from content, atomic writes, deletion with the transaction."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

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


@pytest.mark.parametrize("raw, clean", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\报告.pdf", "报告.pdf"),
    ("C:\\Users\\张三\\Desktop\\申报书.docx", "申报书.docx"),
    ("合\x00同\r\n书.pdf", "合同书.pdf"),
    ("evil\u202efdp.exe", "evilfdp.exe"),
    ("  .hidden.pdf ", "hidden.pdf"),
    ("..", "file"),
    ("", "file"),
    (None, "file"),
])
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


@pytest.mark.parametrize("content, name, message", [
    (PNG, "照片.pdf", "does not match its file type"),
    (PDF, "报告.txt", "is not an allowed type"),
    (PDF * 100, "大.pdf", "larger than the limit"),
])
def test_save_upload_refusals_leave_no_file(app, root, content, name, message):
    with pytest.raises(UploadRefused) as refused:
        save_upload(file(content, name), max_bytes=1000)
    assert message in refused.value.message
    assert files_under(root) == []


def test_keys_outside_the_store_are_refused(app, root):
    store = storage.backend()
    for key in ("../../etc/passwd", "/etc/passwd", "ab/../../x.pdf", "ab/cd/申报书.pdf", "tmp/put-1", ""):
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
