"""Supporting documents of change requests: uploaded with the draft, shown with the request,
downloadable by whoever may see the project's files, removable only while the request is a draft."""

from __future__ import annotations

import io

import sqlalchemy as sa

from grants.core.storage import backend
from grants.extensions import db
from grants.projects import changes as ops
from grants.projects.models import ChangeRequest, ProjectFile
from tests.projects.change_helpers import cast, extension
from tests.projects.tracking_helpers import PDF_BYTES, pdf_upload


def stored_path(key):
    return backend().path(key)


def extension_form(project, *files, action="save") -> dict:
    new_end = ops.add_months(project.end_date, 3).isoformat()
    return {
        "reason": "设备到货延迟，申请延期",
        "action": action,
        "end_date": new_end,
        "evidence": [(io.BytesIO(content), name) for name, content in files],
    }


def documents(change) -> list[ProjectFile]:
    return list(
        db.session.scalars(sa.select(ProjectFile).where(ProjectFile.change_request_id == change.id))
    )


def test_documents_uploaded_with_the_draft_are_listed_and_downloadable(app, client, login):
    c = cast()
    db.session.commit()
    login(c.owner)
    response = client.post(
        f"/projects/{c.project.id}/changes/new/extension",
        data=extension_form(c.project, ("单位意见.pdf", PDF_BYTES), ("到货证明.pdf", PDF_BYTES)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    change = db.session.scalar(sa.select(ChangeRequest))
    files = documents(change)
    assert sorted(f.original_name for f in files) == ["到货证明.pdf", "单位意见.pdf"]
    assert {f.purpose for f in files} == {"change_evidence"} and all(
        stored_path(f.stored_name).is_file() for f in files
    )
    edit = client.get(f"/projects/{c.project.id}/changes/{change.id}/edit").get_data(as_text=True)
    assert "单位意见.pdf" in edit and f"/changes/{change.id}/documents/{files[0].id}/delete" in edit
    client.post("/logout")
    login(c.bureau)  # the draft is the owner's: neither it nor its documents are found
    assert client.get(f"/projects/{c.project.id}/changes/{change.id}").status_code == 404
    assert client.get(f"/projects/{c.project.id}/evidence/{files[0].id}").status_code == 404
    client.post("/logout")
    login(c.owner)
    assert client.post(f"/projects/{c.project.id}/changes/{change.id}/submit").status_code == 302
    client.post("/logout")
    login(c.bureau)
    detail = client.get(f"/projects/{c.project.id}/changes/{change.id}").get_data(as_text=True)
    assert "单位意见.pdf" in detail and "/delete" not in detail
    download = client.get(f"/projects/{c.project.id}/evidence/{files[0].id}")
    assert download.status_code == 200 and download.data == PDF_BYTES
    client.post("/logout")
    login(c.outsider)
    assert client.get(f"/projects/{c.project.id}/evidence/{files[0].id}").status_code in (403, 404)


def test_a_refused_file_is_named_beside_the_field_and_nothing_is_saved(app, client, login):
    c = cast()
    db.session.commit()
    login(c.owner)
    response = client.post(
        f"/projects/{c.project.id}/changes/new/extension",
        data=extension_form(c.project, ("病毒.exe", b"MZ\x90\x00")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="evidence-error"' in html and "病毒.exe" in html
    assert "设备到货延迟，申请延期" in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count(ChangeRequest.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(ProjectFile.id))) == 0


def test_documents_added_when_editing_and_removed_while_draft(app, client, login):
    c = cast()
    change = ops.draft_change(
        c.project, "extension", c.owner, reason="延期", proposed=extension(c.project, 3)
    )
    db.session.commit()
    login(c.owner)
    base = f"/projects/{c.project.id}/changes/{change.id}"
    response = client.post(
        f"{base}/edit",
        data=extension_form(c.project, ("报价单.pdf", PDF_BYTES)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    [item] = documents(change)
    stored = stored_path(item.stored_name)
    response = client.post(f"{base}/documents/{item.id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{base}/edit")
    assert documents(change) == [] and not stored.exists()


def test_documents_stay_once_submitted(app, client, login):
    c = cast()
    change = ops.draft_change(
        c.project, "extension", c.owner, reason="延期", proposed=extension(c.project, 3)
    )
    db.session.flush()
    item = ops.add_evidence(change, pdf_upload("单位意见.pdf"), c.owner)
    ops.submit_change(change, c.owner)
    db.session.commit()
    login(c.owner)
    base = f"/projects/{c.project.id}/changes/{change.id}"
    response = client.post(f"{base}/documents/{item.id}/delete", follow_redirects=True)
    assert response.status_code == 200 and response.request.path == base
    assert "只能在变更申请为草稿时删除文件。" in response.get_data(as_text=True)
    assert documents(change) == [item] and stored_path(item.stored_name).is_file()
    client.post("/logout")
    login(c.bureau)
    assert client.post(f"{base}/documents/{item.id}/delete").status_code == 403
    other = ops.draft_change(c.project, "budget", c.owner, reason="调整", proposed={})
    db.session.commit()
    client.post("/logout")
    login(c.owner)
    assert (
        client.post(
            f"/projects/{c.project.id}/changes/{other.id}/documents/{item.id}/delete"
        ).status_code
        == 404
    )
