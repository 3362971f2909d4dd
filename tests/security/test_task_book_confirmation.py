"""The bureau confirms the signed task book before any money falls due.

Before, an applicant could upload any image — a blank one — as the signed task book and
confirm it themselves: the project started and its first tranche fell due with nobody at
the bureau having looked. Now the upload waits in ``signed_uploaded``; only the bureau
confirms it (the project starts, the tranche on signing falls due) or returns it with a
reason the applicant reads, after which the applicant uploads a new copy.
"""

from __future__ import annotations

import io

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.extensions import db
from grants.funding import contracting as ops
from grants.funding.models import TaskBookSignature, Tranche
from grants.notifications.models import Notification
from grants.projects.models import Project
from tests.funding.contract_helpers import (
    PNG_BYTES,
    bureau,
    contracted,
    owner_of,
    ready_application,
)


def due_tranches(project_id: int) -> list[Tranche]:
    return list(
        db.session.scalars(
            sa.select(Tranche).where(
                Tranche.project_id == project_id, Tranche.due_since.is_not(None)
            )
        )
    )


def upload_blank_image(client, project_id: int):
    return client.post(
        f"/projects/{project_id}/task-book/signed",
        data={"file": (io.BytesIO(PNG_BYTES), "空白.png")},
    )


def test_an_uploaded_copy_waits_for_the_bureau_and_makes_nothing_due(client, login):
    project = contracted(ready_application(amount="100000"))
    owner = owner_of(project)
    db.session.commit()
    login(owner)
    assert upload_blank_image(client, project.id).status_code == 302
    assert (
        client.post(f"/projects/{project.id}/sign").status_code == 403
    )  # the applicant cannot confirm

    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert project.state == "contracting" and project.signed_at is None
    assert due_tranches(project.id) == []
    signature = ops.pending_signature(project)
    assert signature is not None and signature.state == "signed_uploaded"
    page = client.get(f"/projects/{project.id}/contract").get_data(as_text=True)
    assert "待科技局确认" in page and f"/projects/{project.id}/sign" not in page
    assert upload_blank_image(client, project.id).status_code == 422  # one copy waits at a time
    assert (
        db.session.scalar(
            sa.select(sa.func.count(TaskBookSignature.id)).where(
                TaskBookSignature.project_id == project.id
            )
        )
        == 1
    )


def test_the_bureau_returns_a_blank_copy_with_a_reason_the_applicant_reads(client, login):
    project = contracted(ready_application(amount="100000"))
    owner = owner_of(project)
    officer = bureau()
    ops.upload_signed_task_book(project, ops_upload(), owner)
    db.session.commit()
    login(officer)
    page = client.get(f"/projects/{project.id}/contract").get_data(as_text=True)
    assert f"/projects/{project.id}/sign" in page and "data-return-form" in page

    empty = client.post(f"/projects/{project.id}/task-book/signed/return", data={"reason": "  "})
    assert empty.status_code == 422
    assert ops.pending_signature(project) is not None

    response = client.post(
        f"/projects/{project.id}/task-book/signed/return",
        data={"reason": "上传的是空白图片，未见签字盖章"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert project.state == "contracting" and due_tranches(project.id) == []
    signature = ops.latest_signature(project)
    assert (
        signature.state == "returned"
        and signature.return_reason == "上传的是空白图片，未见签字盖章"
    )
    assert signature.decided_by_id == officer.id
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "task_book_signature.return")
    )
    assert event is not None and event.after["reason"] == "上传的是空白图片，未见签字盖章"
    notice = db.session.scalar(
        sa.select(Notification).where(
            Notification.user_id == owner.id, Notification.kind == "project.signed_copy_returned"
        )
    )
    assert notice is not None

    client.post("/logout")
    login(owner)
    page = client.get(f"/projects/{project.id}/contract").get_data(as_text=True)
    assert "上传的是空白图片，未见签字盖章" in page
    assert upload_blank_image(client, project.id).status_code == 302  # a new copy may be uploaded


def test_the_bureau_confirms_the_copy_then_the_first_tranche_falls_due(client, login):
    project = contracted(ready_application(amount="100000"))
    ops.upload_signed_task_book(project, ops_upload(), owner_of(project))
    officer = bureau()
    db.session.commit()
    login(officer)
    response = client.post(f"/projects/{project.id}/sign")
    assert response.status_code == 302
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert project.state == "in_progress" and project.signed_at is not None
    assert [t.trigger for t in due_tranches(project.id)] == ["contract"]
    assert ops.latest_signature(project).state == "confirmed"
    actions = list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(
                AuditEvent.action.in_(
                    ("task_book_signature.confirm", "project.sign", "tranche.due")
                )
            )
            .order_by(AuditEvent.id)
        )
    )
    assert sorted(actions) == ["project.sign", "task_book_signature.confirm", "tranche.due"]


def ops_upload():
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(PNG_BYTES), filename="签署件.png")
