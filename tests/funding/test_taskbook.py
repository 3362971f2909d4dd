"""The task book (任务书): the PDF, its download, the signed copy and the signing."""

from __future__ import annotations

import hashlib
import io

import pytest
import sqlalchemy as sa

from grants.core.workflow import GuardFailed, transition
from grants.extensions import db
from grants.funding import contracting as ops
from grants.notifications.models import Notification
from grants.projects.models import ProjectFile
from tests.factories import make_user
from tests.funding.contract_helpers import (
    PDF_BYTES,
    PNG_BYTES,
    audit_actions,
    bureau,
    contracted,
    owner_of,
    pdf_text,
    ready_application,
    reload,
    upload,
)


def test_task_book_pdf_contains_the_contract_in_chinese(app, tmp_path):
    project = contracted(ready_application(amount="200000"))
    data = ops.render_task_book(project, project.task_book_issued_at.date())
    assert data.startswith(b"%PDF-")
    text = pdf_text(data, tmp_path)
    for expected in (
        project.code,
        project.title,
        project.organisation.name,
        "严建国",
        "完成中试",
        "项目名称",
        "财政资金",
        "自筹资金",
        "二道江区科学技术局",
    ):
        assert expected in text, expected
    assert "20.00" in text and "20.0000" not in text  # the award in 万元, two decimals


def test_task_book_is_kept_as_issued(app):
    project = contracted()
    issued = ops.task_book_file(project)
    assert issued.purpose == "task_book" and issued.content_type == "application/pdf"
    from grants.core.storage import backend

    with backend().open(issued.stored_name) as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == project.task_book_sha256


@pytest.mark.parametrize(
    "who, status",
    [("owner", 200), ("bureau", 200), ("finance", 200), ("stranger", 403), ("expert", 403)],
)
def test_task_book_download_rule(client, login, who, status):
    project = contracted()
    users = {
        "owner": lambda: owner_of(project),
        "bureau": bureau,
        "finance": lambda: make_user("finance"),
        "stranger": lambda: make_user("applicant"),
        "expert": lambda: make_user("expert"),
    }
    login(users[who]())
    response = client.get(f"/projects/{project.id}/task-book")
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "application/pdf"
        assert hashlib.sha256(response.data).hexdigest() == project.task_book_sha256


def test_owner_uploads_the_signed_copy(client, login):
    project = contracted()
    owner = owner_of(project)
    login(owner)
    response = client.post(
        f"/projects/{project.id}/task-book/signed",
        data={"file": (io.BytesIO(PNG_BYTES), "任务书签章页.png")},
    )
    assert response.status_code == 302
    copy = ops.signed_copy(project)
    assert (
        copy is not None and copy.purpose == "signed_task_book" and copy.content_type == "image/png"
    )
    assert copy.uploaded_by_id == owner.id
    assert "task_book.signed_copy" in audit_actions(project)
    download = client.get(f"/projects/{project.id}/task-book/signed/{copy.id}")
    assert download.status_code == 200 and download.data == PNG_BYTES


def test_signed_copy_of_wrong_type_gives_422(client, login):
    project = contracted()
    login(owner_of(project))
    response = client.post(
        f"/projects/{project.id}/task-book/signed",
        data={"file": (io.BytesIO(b"just text"), "任务书.txt")},
    )
    assert response.status_code == 422
    assert 'id="file-error"' in response.get_data(as_text=True)
    assert ops.signed_copy(project) is None


@pytest.mark.parametrize("roles", [("applicant",), ("finance",), ("expert",)])
def test_signed_copy_upload_refused_to_others(client, login, roles):
    project = contracted()
    login(make_user(*roles))
    response = client.post(
        f"/projects/{project.id}/task-book/signed",
        data={"file": (io.BytesIO(PDF_BYTES), "任务书.pdf")},
    )
    assert response.status_code == 403
    assert ops.signed_copy(project) is None


def test_signed_copy_download_refused_to_strangers(client, login):
    project = contracted()
    copy = ops.upload_signed_task_book(project, upload(), owner_of(project))
    login(make_user("applicant"))
    assert client.get(f"/projects/{project.id}/task-book/signed/{copy.id}").status_code == 403


def test_sign_needs_the_signed_copy(app):
    project = contracted()
    with pytest.raises(GuardFailed):
        transition(project, "sign", bureau())
    assert project.state == "contracting"


def test_sign_view_without_copy_warns_that_nothing_waits(client, login, english_ui):
    project = contracted()
    db.session.commit()
    login(bureau())
    response = client.post(f"/projects/{project.id}/sign")
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "No signed copy is waiting for confirmation" in page
    assert reload(project).state == "contracting"


def test_sign_starts_the_project_and_makes_the_contract_tranche_due(client, login):
    project = contracted(ready_application(amount="100000"))
    owner = owner_of(project)
    officer = bureau()
    ops.upload_signed_task_book(project, upload(), owner)
    db.session.commit()
    login(officer)
    response = client.post(f"/projects/{project.id}/sign")
    assert response.status_code == 302
    project = reload(project)
    assert project.state == "in_progress" and project.signed_at is not None
    due = {t.trigger: t.due_since is not None for t in project.tranches}
    assert due == {"contract": True, "milestone": False, "acceptance": False}
    recipients = set(
        db.session.scalars(
            sa.select(Notification.user_id).where(Notification.kind == "project.signed")
        )
    )
    assert {owner.id, officer.id} <= recipients
    assert "project.sign" in audit_actions(project) and "tranche.due" in audit_actions(
        project.tranches[0]
    )


def test_finance_cannot_confirm_the_signed_task_book(client, login):
    project = contracted()
    ops.upload_signed_task_book(project, upload(), owner_of(project))
    db.session.commit()
    login(make_user("finance"))
    assert client.post(f"/projects/{project.id}/sign").status_code == 403
    assert reload(project).state == "contracting"


def test_stranger_cannot_confirm_the_signed_task_book(client, login):
    project = contracted()
    ops.upload_signed_task_book(project, upload(), owner_of(project))
    db.session.commit()
    login(make_user("applicant"))
    assert client.post(f"/projects/{project.id}/sign").status_code == 403
    assert reload(project).state == "contracting"


def test_sign_refuses_a_copy_of_an_earlier_task_book(app):
    project = contracted(ready_application(amount="100000"))
    owner = owner_of(project)
    ops.upload_signed_task_book(project, upload(), owner)
    first_sha = project.task_book_sha256
    rows = [ops.TrancheRow(t.amount, t.trigger, t.milestone_id, t.id) for t in project.tranches]
    rows[0].amount -= 1
    rows[-1].amount += 1
    ops.replan_tranches(project, rows, bureau())
    assert project.task_book_sha256 != first_sha
    officer = bureau()
    with pytest.raises(GuardFailed):
        transition(ops.pending_signature(project), "confirm", officer)
    transition(ops.pending_signature(project), "return", officer, reason="签署的是旧版任务书")
    ops.upload_signed_task_book(project, upload(name="新任务书.pdf"), owner)
    transition(ops.pending_signature(project), "confirm", officer)
    assert project.state == "in_progress"


def test_signed_copy_upload_refused_once_signed(client, login):
    project = contracted()
    owner = owner_of(project)
    ops.upload_signed_task_book(project, upload(), owner)
    transition(ops.pending_signature(project), "confirm", bureau())
    db.session.commit()
    login(owner)
    response = client.post(
        f"/projects/{project.id}/task-book/signed",
        data={"file": (io.BytesIO(PDF_BYTES), "任务书.pdf")},
    )
    assert response.status_code == 403
    assert (
        db.session.scalar(
            sa.select(sa.func.count(ProjectFile.id)).where(
                ProjectFile.project_id == project.id, ProjectFile.purpose == "signed_task_book"
            )
        )
        == 1
    )


def test_applicant_dashboard_lists_task_books_to_sign(client, login):
    project = contracted()
    login(owner_of(project))
    html = client.get("/").get_data(as_text=True)
    assert "data-panel-to-sign" in html and project.code in html


def test_contract_tab_shows_task_book_and_upload_form_to_the_owner(client, login):
    project = contracted()
    login(owner_of(project))
    response = client.get(f"/projects/{project.id}/contract")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"/projects/{project.id}/task-book" in html and project.task_book_sha256 in html
    assert f"/projects/{project.id}/task-book/signed" in html
    assert f"/projects/{project.id}/sign" not in html  # nothing to confirm before the signed copy
    ops.upload_signed_task_book(project, upload(), owner_of(project))
    db.session.commit()
    html = client.get(f"/projects/{project.id}/contract").get_data(as_text=True)
    assert f"/projects/{project.id}/sign" not in html  # the bureau confirms it, not the applicant
    assert 'data-signature-state="signed_uploaded"' in html
