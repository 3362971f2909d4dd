"""Attachments: sniffed by content, size-limited, stored under generated names, served only to those allowed."""

import hashlib
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from grants.applications.models import Application, Attachment
from grants.core.types import utcnow
from grants.extensions import db
from tests.applications.helpers import (
    EXE_BYTES,
    HTMX,
    JPEG_BYTES,
    PDF_BYTES,
    PNG_BYTES,
    applicant_with_draft,
    audit_actions,
    office_zip,
    reload,
)
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("untranslated_ui")  # asserts on English source text


def upload(
    client, application, name: str, content: bytes, requirement: str = "licence", htmx: bool = True
):
    data = {"requirement": requirement, "file": (io.BytesIO(content), name)}
    return client.post(
        f"/applications/{application.id}/attachments",
        data=data,
        content_type="multipart/form-data",
        headers=HTMX if htmx else {},
    )


def attachments_of(application) -> list[Attachment]:
    return db.session.scalars(
        sa.select(Attachment)
        .where(Attachment.application_id == application.id)
        .order_by(Attachment.id)
    ).all()


def stored_files(app) -> set[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def draft_owner(client, login):
    user, application = applicant_with_draft()
    login(user)
    return user, application


def test_upload_pdf_stores_generated_name_and_serves_original_name(app, client, draft_owner):
    _user, application = draft_owner
    response = upload(client, application, "营业执照（副本）.pdf", PDF_BYTES)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "营业执照（副本）.pdf" in html and 'hx-swap-oob="true"' in html
    [attachment] = attachments_of(application)
    assert (
        attachment.requirement_code,
        attachment.original_name,
        attachment.content_type,
        attachment.size,
    ) == ("licence", "营业执照（副本）.pdf", "application/pdf", len(PDF_BYTES))
    assert attachment.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\.pdf", attachment.stored_name)
    assert (Path(app.config["UPLOAD_DIR"]) / attachment.stored_name).read_bytes() == PDF_BYTES
    assert audit_actions(application) == ["application.attachment_added"]

    download = client.get(f"/applications/{application.id}/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == PDF_BYTES
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7" in disposition
    assert "private" in download.headers["Cache-Control"]


@pytest.mark.parametrize(
    "name, content, content_type",
    [
        (
            "申报书.docx",
            office_zip("docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "预算表.xlsx",
            office_zip("xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("现场照片.png", PNG_BYTES, "image/png"),
        ("现场照片.JPG", JPEG_BYTES, "image/jpeg"),
        ("现场照片.jpeg", JPEG_BYTES, "image/jpeg"),
    ],
)
def test_upload_allowed_types_are_accepted(client, draft_owner, name, content, content_type):
    _user, application = draft_owner
    assert upload(client, application, name, content, requirement="").status_code == 200
    [attachment] = attachments_of(application)
    assert (attachment.original_name, attachment.content_type, attachment.requirement_code) == (
        name,
        content_type,
        None,
    )


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("营业执照.pdf", PNG_BYTES, "does not match its file type"),
        ("营业执照.pdf", EXE_BYTES, "does not match its file type"),
        ("setup.exe", EXE_BYTES, "is not an allowed type"),
        ("营业执照.pdf.exe", PDF_BYTES, "is not an allowed type"),
        ("报告.docx", office_zip("xlsx"), "does not match its file type"),
        ("报告.docx", b"PK\x03\x04" + b"\x00" * 100, "does not match its file type"),
        ("空文件.pdf", b"", "is empty"),
    ],
)
def test_upload_wrong_type_is_refused_and_nothing_is_stored(
    app, client, draft_owner, name, content, message
):
    _user, application = draft_owner
    before = stored_files(app)
    response = upload(client, application, name, content)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert 'id="upload-licence-error"' in html and 'aria-invalid="true"' in html
    assert attachments_of(application) == []
    assert stored_files(app) == before


def test_upload_over_the_size_limit_is_refused(app, client, draft_owner, monkeypatch):
    _user, application = draft_owner
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    before = stored_files(app)
    big = PDF_BYTES + b"0" * (1024 * 1024 - len(PDF_BYTES) + 1)
    response = upload(client, application, "大文件.pdf", big)
    assert "is larger than the limit of 1 MB" in response.get_data(as_text=True)
    assert attachments_of(application) == []
    assert stored_files(app) == before
    exactly = PDF_BYTES + b"0" * (1024 * 1024 - len(PDF_BYTES))
    upload(client, application, "刚好.pdf", exactly)
    assert [a.size for a in attachments_of(application)] == [1024 * 1024]


def test_upload_over_the_request_limit_is_413(app, client, draft_owner, monkeypatch):
    _user, application = draft_owner
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    response = upload(client, application, "巨大.pdf", PDF_BYTES + b"0" * (128 * 1024), htmx=False)
    assert response.status_code == 413
    assert attachments_of(application) == []


def test_upload_path_traversal_name_is_stored_safely(app, client, draft_owner):
    _user, application = draft_owner
    upload(client, application, "../../etc/passwd.pdf", PDF_BYTES)
    upload(client, application, "/tmp/uploads/../报告.pdf", PDF_BYTES)
    first, second = attachments_of(application)
    assert (first.original_name, second.original_name) == ("passwd.pdf", "报告.pdf")
    root = Path(app.config["UPLOAD_DIR"]).resolve()
    for attachment in (first, second):
        path = (root / attachment.stored_name).resolve()
        assert path.is_file() and root in path.parents
        assert "passwd" not in attachment.stored_name and "报告" not in attachment.stored_name
        assert ".." not in attachment.stored_name
    download = client.get(f"/applications/{application.id}/attachments/{first.id}")
    assert download.headers["Content-Disposition"] == "attachment; filename=passwd.pdf"


def test_upload_control_characters_are_removed_from_the_name(client, draft_owner):
    _user, application = draft_owner
    upload(client, application, "合\t同\x7f书\u202e.pdf", PDF_BYTES)
    assert attachments_of(application)[0].original_name == "合同书.pdf"


def test_upload_without_htmx_redirects_to_the_section(client, draft_owner):
    _user, application = draft_owner
    response = upload(client, application, "营业执照.pdf", PDF_BYTES, htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#section-attachments")


def test_upload_for_unknown_requirement_is_refused(client, draft_owner):
    _user, application = draft_owner
    html = upload(client, application, "营业执照.pdf", PDF_BYTES, requirement="forged").get_data(
        as_text=True
    )
    assert 'class="alert alert-danger error-summary" role="alert"' in html
    assert attachments_of(application) == []


def test_required_attachment_completes_the_checklist(client, draft_owner):
    _user, application = draft_owner
    html = client.get(f"/applications/{application.id}/edit").get_data(as_text=True)
    assert "Upload the required attachment “营业执照”." in html
    html = upload(client, application, "营业执照.pdf", PDF_BYTES).get_data(as_text=True)
    assert "Upload the required attachment “营业执照”." not in html


def test_delete_attachment_while_editable_removes_row_and_file(app, client, draft_owner):
    _user, application = draft_owner
    upload(client, application, "营业执照.pdf", PDF_BYTES)
    [attachment] = attachments_of(application)
    path = Path(app.config["UPLOAD_DIR"]) / attachment.stored_name
    response = client.post(
        f"/applications/{application.id}/attachments/{attachment.id}/delete", headers=HTMX
    )
    assert response.status_code == 200
    assert attachments_of(application) == []
    assert not path.exists()
    assert audit_actions(application) == [
        "application.attachment_added",
        "application.attachment_removed",
    ]


def test_delete_attachment_after_submission_is_refused(app, client, draft_owner):
    _user, application = draft_owner
    upload(client, application, "营业执照.pdf", PDF_BYTES)
    client.post(f"/applications/{application.id}/submit")
    assert reload(application).state == "submitted"
    [attachment] = attachments_of(application)
    response = client.post(
        f"/applications/{application.id}/attachments/{attachment.id}/delete", headers=HTMX
    )
    assert response.status_code == 409
    response = client.post(f"/applications/{application.id}/attachments/{attachment.id}/delete")
    assert response.status_code == 302
    assert attachments_of(application) == [attachment]
    assert (Path(app.config["UPLOAD_DIR"]) / attachment.stored_name).exists()
    assert upload(client, application, "补充.pdf", PDF_BYTES, requirement="").status_code == 409


def test_other_organisation_cannot_download_upload_or_delete(client, login):
    owner, application = applicant_with_draft()
    login(owner)
    upload(client, application, "营业执照.pdf", PDF_BYTES)
    [attachment] = attachments_of(application)
    client.post("/logout")
    login(make_user("applicant"))
    assert (
        client.get(f"/applications/{application.id}/attachments/{attachment.id}").status_code == 404
    )
    assert (
        client.post(
            f"/applications/{application.id}/attachments/{attachment.id}/delete"
        ).status_code
        == 404
    )
    assert upload(client, application, "恶意.pdf", PDF_BYTES).status_code == 404
    assert attachments_of(application) == [attachment]


def test_attachment_of_another_application_is_404(client, login):
    owner, application = applicant_with_draft()
    login(owner)
    upload(client, application, "营业执照.pdf", PDF_BYTES)
    [attachment] = attachments_of(application)
    _own_other, _ = applicant_with_draft()
    mine = Application(call=application.call, organisation=owner.organisation, title="另一份")
    db.session.add(mine)
    db.session.flush()
    assert client.get(f"/applications/{mine.id}/attachments/{attachment.id}").status_code == 404


@pytest.mark.parametrize(
    "role, expected", [("bureau", 404), ("finance", 404), ("admin", 404), ("expert", 404)]
)
def test_attachment_of_a_draft_download_by_role(client, login, role, expected):
    """A draft's attachments are its organisation's until it is submitted (tests/security/test_private_drafts.py)."""
    owner, application = applicant_with_draft()
    login(owner)
    upload(client, application, "营业执照.pdf", PDF_BYTES)
    [attachment] = attachments_of(application)
    client.post("/logout")
    login(make_user(role))
    assert (
        client.get(f"/applications/{application.id}/attachments/{attachment.id}").status_code
        == expected
    )


def test_attachment_file_missing_on_disk_is_404(client, draft_owner):
    _user, application = draft_owner
    application.attachments.append(
        Attachment(
            requirement_code=None,
            original_name="丢失.pdf",
            stored_name="00/00/" + "0" * 32 + ".pdf",
            content_type="application/pdf",
            size=1,
            sha256="0" * 64,
            uploaded_at=utcnow(),
        )
    )
    db.session.flush()
    attachment = attachments_of(application)[0]
    assert (
        client.get(f"/applications/{application.id}/attachments/{attachment.id}").status_code == 404
    )
