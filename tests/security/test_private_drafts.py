"""Drafts are private: only the organisation sees a draft until it is submitted.

The bureau, finance, experts and the administrator get "not found" for a draft
application (its page, PDF, attachments, excluded experts, expert assignments), a draft
progress report (page, evidence), a draft change request (page, documents) and a draft
final report; lists and counts leave drafts out. Once submitted (or returned after
submission) the staff see them.
"""

from __future__ import annotations

import io
import re

import pytest
from werkzeug.datastructures import FileStorage

from grants.applications.models import Attachment
from grants.core import storage
from grants.extensions import db
from grants.projects import changes as change_ops
from grants.projects import progress as progress_ops
from tests.applications.bureau_helpers import application_in_state
from tests.conftest import PASSWORD
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    OrganisationFactory,
    fill_application,
    make_user,
)
from tests.projects.change_helpers import cast, extension
from tests.projects.tracking_helpers import PDF_BYTES, owner_of, running_project

STAFF = ("bureau", "finance", "admin", "expert")


def client_for(app, user):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def with_attachment(application) -> Attachment:
    stored = storage.save_upload(
        FileStorage(
            stream=io.BytesIO(PDF_BYTES), filename="营业执照.pdf", content_type="application/pdf"
        )
    )
    item = Attachment(
        application_id=application.id,
        requirement_code="licence",
        original_name=stored.original_name,
        stored_name=stored.stored_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
    )
    db.session.add(item)
    db.session.flush()
    return item


def application_urls(application, attachment) -> list[str]:
    base = f"/applications/{application.id}"
    return [
        base,
        f"{base}/pdf",
        f"{base}/attachments/{attachment.id}",
        f"{base}/excluded-experts",
        f"{base}/assignments",
        f"{base}/check",
    ]


@pytest.mark.parametrize("role", STAFF)
def test_staff_cannot_open_a_draft_application_or_its_files(app, role):
    organisation = OrganisationFactory()
    owner = make_user("applicant", organisation=organisation)
    draft = fill_application(ApplicationFactory(organisation=organisation, title="尚未提交的草稿"))
    attachment = with_attachment(draft)
    db.session.commit()
    staff = client_for(app, make_user(role))
    for url in application_urls(draft, attachment):
        assert staff.get(url).status_code == 404, url
    mine = client_for(app, owner)
    assert mine.get(f"/applications/{draft.id}").status_code == 200
    assert mine.get(f"/applications/{draft.id}/attachments/{attachment.id}").data == PDF_BYTES


@pytest.mark.parametrize("state", ["submitted", "returned", "under_review"])
@pytest.mark.parametrize("role", ["bureau", "finance", "admin"])
def test_staff_see_an_application_once_submitted(app, role, state):
    application = fill_application(application_in_state(state, title="已提交的申报书"))
    attachment = with_attachment(application)
    db.session.commit()
    staff = client_for(app, make_user(role))
    page = staff.get(f"/applications/{application.id}")
    assert page.status_code == 200 and "已提交的申报书" in page.get_data(as_text=True)
    assert (
        staff.get(f"/applications/{application.id}/attachments/{attachment.id}").data == PDF_BYTES
    )


def test_bureau_lists_and_counts_leave_drafts_out(app):
    call = CallFactory(code="2026-PRIV")
    ApplicationFactory(call=call, title="草稿甲")
    ApplicationFactory(call=call, title="草稿乙")
    application_in_state("submitted", call=call, title="已提交丙")
    db.session.commit()
    bureau = client_for(app, make_user("bureau"))
    calls = bureau.get("/calls/manage").get_data(as_text=True)
    row = calls[calls.index("2026-PRIV") :]
    row = row[: row.index("</tr>")]
    assert re.findall(r'<td class="text-end">(\d+)</td>', row) == ["1"]


def test_staff_cannot_read_a_draft_progress_report_or_its_evidence(app):
    project = running_project()
    owner = owner_of(project)
    report = progress_ops.save_report(
        project.milestones[0],
        "尚未提交的进展",
        {},
        [FileStorage(io.BytesIO(PDF_BYTES), "证明.pdf")],
        owner,
    )
    [evidence] = progress_ops.evidence_of(report)
    db.session.commit()
    report_url = f"/projects/{project.id}/reports/{report.id}"
    evidence_url = f"/projects/{project.id}/evidence/{evidence.id}"
    for role in ("bureau", "finance", "admin"):
        staff = client_for(app, make_user(role))
        assert staff.get(report_url).status_code == 404
        assert staff.get(evidence_url).status_code == 404
        milestones = staff.get(f"/projects/{project.id}/milestones").get_data(as_text=True)
        assert f'data-report-id="{report.id}"' not in milestones
    assert client_for(app, owner).get(report_url).status_code == 200
    progress_ops.save_report(project.milestones[0], "尚未提交的进展", {}, [], owner, submit=True)
    db.session.commit()
    bureau = client_for(app, make_user("bureau"))
    assert bureau.get(report_url).status_code == 200
    assert f'data-report-id="{report.id}"' in bureau.get(
        f"/projects/{project.id}/milestones"
    ).get_data(as_text=True)


def test_staff_cannot_read_a_draft_change_request(app):
    c = cast()
    change = change_ops.draft_change(
        c.project, "extension", c.owner, reason="尚未提交的变更", proposed=extension(c.project)
    )
    db.session.commit()
    url = f"/projects/{c.project.id}/changes/{change.id}"
    for user in (c.bureau, c.finance):
        staff = client_for(app, user)
        assert staff.get(url).status_code == 404
        assert "尚未提交的变更" not in staff.get(f"/projects/{c.project.id}/changes").get_data(
            as_text=True
        )
    assert client_for(app, c.owner).get(url).status_code == 200
