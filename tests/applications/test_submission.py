"""Submission (idempotent, with reasons when refused), withdrawal, return and resubmission, the read-only view."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from grants.applications.models import Application
from grants.core.timeutil import local_to_utc
from grants.core.workflow import transition
from grants.extensions import db
from grants.notifications.models import Notification
from grants.programmes.models import Call
from tests.applications.helpers import applicant_with_draft, audit_actions, ready_to_submit, reload
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("untranslated_ui")  # asserts on English source text


def last_reference_no(call_id: int) -> int:
    return db.session.scalar(sa.select(Call.last_reference_no).where(Call.id == call_id))


def test_submit_complete_application_shows_reference_number(client, login):
    user, application = ready_to_submit()
    login(user)
    response = client.post(f"/applications/{application.id}/submit")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/applications/{application.id}")
    saved = reload(application)
    assert saved.state == "submitted"
    assert saved.reference_no == f"{saved.call.code}-001"
    assert saved.submitted_at is not None
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Its reference number is {saved.reference_no}." in html
    assert f'<span class="font-monospace" data-reference>{saved.reference_no}</span>' in html
    assert audit_actions(saved, "application.submit") == ["application.submit"]
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(Notification.user_id == user.id)
        )
        == 1
    )


def test_submit_twice_gives_one_reference_and_one_audit_row(client, login):
    user, application = ready_to_submit()
    login(user)
    first = client.post(f"/applications/{application.id}/submit")
    second = client.post(f"/applications/{application.id}/submit", follow_redirects=True)
    assert first.status_code == 302 and second.status_code == 200
    saved = reload(application)
    assert (
        f"already been submitted. Its reference number is {saved.reference_no}."
        in second.get_data(as_text=True)
    )
    assert last_reference_no(saved.call_id) == 1
    assert audit_actions(saved, "application.submit") == ["application.submit"]


# The lost race of two submissions of one draft runs for real, without stubs, in
# tests/security/test_cap_race.py::test_one_draft_submitted_twice_at_once_gets_one_reference.


def test_submit_incomplete_application_is_refused_with_every_reason(client, login):
    user, application = applicant_with_draft(filled=False)
    login(user)
    response = client.post(f"/applications/{application.id}/submit")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="submit-problems"' in html
    for reason in (
        "Give the start and end dates of the project period.",
        "Describe the objectives.",
        "Add the team, starting with the principal investigator.",
        "Enter the budget: the total budget must be more than zero.",
        "Add the milestones of the plan.",
        "Set at least one KPI target above zero.",
        "Upload the required attachment “营业执照”.",
    ):
        assert reason in html, reason
    saved = reload(application)
    assert (saved.state, saved.reference_no) == ("draft", None)
    assert last_reference_no(saved.call_id) == 0
    assert audit_actions(saved, "application.submit") == []


CLOSES = local_to_utc(datetime(2026, 3, 31, 17, 0))


@pytest.mark.parametrize(
    "clock, accepted",
    [
        (datetime(2026, 3, 31, 16, 59, 59), True),
        (datetime(2026, 3, 31, 17, 0, 0), False),
    ],
)
def test_submit_at_the_close_time_in_beijing(client, login, monkeypatch, clock, accepted):
    from grants.applications import checks

    user, application = ready_to_submit(
        opens_at=local_to_utc(datetime(2026, 3, 1, 9, 0)), closes_at=CLOSES
    )
    monkeypatch.setattr(checks, "utcnow", lambda: local_to_utc(clock))
    login(user)
    response = client.post(f"/applications/{application.id}/submit")
    saved = reload(application)
    if accepted:
        assert response.status_code == 302 and saved.state == "submitted"
    else:
        assert response.status_code == 422 and saved.state == "draft"
        assert (
            "The call closed on 2026-03-31 17:00 (Beijing time); applications can no longer be submitted."
            in response.get_data(as_text=True)
        )


def test_submit_of_a_draft_by_expert_or_bureau_is_404(client, login):
    _user, application = ready_to_submit()
    login(make_user("expert"))
    assert client.post(f"/applications/{application.id}/submit").status_code == 404
    client.post("/logout")
    login(make_user("bureau"))  # a draft is its organisation's: not even found
    assert client.post(f"/applications/{application.id}/submit").status_code == 404
    assert reload(application).state == "draft"


def test_withdraw_submitted_application(client, login):
    user, application = ready_to_submit()
    login(user)
    client.post(f"/applications/{application.id}/submit")
    response = client.post(f"/applications/{application.id}/withdraw", follow_redirects=True)
    assert response.status_code == 200
    saved = reload(application)
    assert saved.state == "withdrawn"
    html = response.get_data(as_text=True)
    assert f"The application {saved.reference_no} has been withdrawn." in html
    assert f"/applications/{application.id}/withdraw" not in html
    assert audit_actions(saved, "application.withdraw") == ["application.withdraw"]
    again = client.post(f"/applications/{application.id}/withdraw", follow_redirects=True)
    assert again.status_code == 200 and reload(application).state == "withdrawn"


def test_withdraw_after_formal_check_is_refused(client, login):
    user, application = ready_to_submit()
    login(user)
    client.post(f"/applications/{application.id}/submit")
    transition(reload(application), "pass_check", make_user("bureau"))
    db.session.commit()
    response = client.post(f"/applications/{application.id}/withdraw", follow_redirects=True)
    assert response.status_code == 200
    assert reload(application).state == "under_review"


def test_return_edit_and_resubmit_keeps_reference_and_history(client, login):
    user, application = ready_to_submit()
    bureau = make_user("bureau")
    login(user)
    client.post(f"/applications/{application.id}/submit")
    reference = reload(application).reference_no
    transition(reload(application), "return", bureau, reasons="请补充设备费测算依据")
    db.session.commit()

    edit = client.get(f"/applications/{application.id}/edit")
    assert edit.status_code == 200 and "请补充设备费测算依据" in edit.get_data(as_text=True)
    mine = client.get("/applications").get_data(as_text=True)
    assert "请补充设备费测算依据" in mine and "table-warning" in mine
    saved = client.post(
        f"/applications/{application.id}/sections/basic",
        data={
            "basic-title": "修改后的标题",
            "basic-cluster_id": str(application.cluster_id),
            "basic-start_date": "2026-01-01",
            "basic-end_date": "2027-12-31",
            "basic-summary": "摘要",
            "basic-objectives": "目标",
            "basic-technical_route": "路线",
        },
        headers={"HX-Request": "true"},
    )
    assert saved.headers["X-Section-Saved"] == "basic"

    response = client.post(f"/applications/{application.id}/submit")
    assert response.status_code == 302
    resubmitted = reload(application)
    assert (resubmitted.state, resubmitted.reference_no, resubmitted.title) == (
        "submitted",
        reference,
        "修改后的标题",
    )
    assert last_reference_no(resubmitted.call_id) == 1

    transition(resubmitted, "return", bureau, reasons="请补充知识产权说明")
    db.session.commit()
    detail = client.get(f"/applications/{application.id}").get_data(as_text=True)
    assert "请补充设备费测算依据" in detail and "请补充知识产权说明" in detail
    assert detail.index("请补充设备费测算依据") < detail.index("请补充知识产权说明")
    assert [c.decision for c in reload(application).checks] == ["return", "return"]
    assert audit_actions(application, "application.submit") == [
        "application.submit",
        "application.submit",
    ]


def test_detail_shows_all_sections_totals_and_actions(client, login):
    user, application = ready_to_submit()
    login(user)
    response = client.get(f"/applications/{application.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (
        application.title,
        "严建国",
        ">62.00<",
        "27.00 万元",
        "35.00 万元",
        "完成中试",
        "50 %",
        "营业执照.pdf",
        f"/applications/{application.id}/attachments/",
        f"/applications/{application.id}/edit",
        f"/applications/{application.id}/submit",
        f"/applications/{application.id}/pdf",
    ):
        assert text in html, text
    assert f"/applications/{application.id}/withdraw" not in html


def test_detail_for_bureau_shows_formal_check_actions(client, login):
    user, application = ready_to_submit()
    login(user)
    client.post(f"/applications/{application.id}/submit")
    client.post("/logout")
    login(make_user("bureau"))
    html = client.get(f"/applications/{application.id}").get_data(as_text=True)
    assert f"/applications/{application.id}/edit" not in html
    assert f"/applications/{application.id}/submit" not in html
    assert f"/applications/{application.id}/check/return" in html


def test_pdf_download_is_a_pdf_for_the_organisation(client, login):
    user, application = ready_to_submit()
    login(user)
    response = client.get(f"/applications/{application.id}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]


def test_submitted_application_edit_redirects_to_detail(client, login):
    user, application = ready_to_submit()
    login(user)
    client.post(f"/applications/{application.id}/submit")
    response = client.get(f"/applications/{application.id}/edit")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/applications/{application.id}")
    assert reload(application).state == "submitted"
    assert db.session.scalar(sa.select(sa.func.count(Application.id))) == 1
