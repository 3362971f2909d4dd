"""The formal check (形式审查): pass, return and reject through the workflow, with reasons and history."""

import pytest
import sqlalchemy as sa

from grants.applications.models import Application, FormalCheck
from grants.core.models import AuditEvent
from grants.core.workflow import transition
from grants.extensions import db
from grants.notifications.models import Notification
from tests.applications.bureau_helpers import application_in_state, submitted_with_applicant
from tests.factories import make_user


def reload(application) -> Application:
    db.session.expire_all()
    return db.session.get(Application, application.id)


def checks_of(application) -> list[FormalCheck]:
    return db.session.scalars(
        sa.select(FormalCheck)
        .where(FormalCheck.application_id == application.id)
        .order_by(FormalCheck.id)
    ).all()


def notifications_of(user) -> list[Notification]:
    return db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)).all()


def test_check_pass_sends_application_to_review(client, login):
    application, applicant = submitted_with_applicant()
    officer = make_user("bureau")
    login(officer)
    response = client.post(f"/applications/{application.id}/check/pass")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/applications/check")
    application = reload(application)
    assert application.state == "under_review"
    [check] = checks_of(application)
    assert check.decision == "pass" and check.actor_id == officer.id
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.action == "application.pass_check",
                AuditEvent.object_id == str(application.id),
            )
        )
        == 1
    )
    assert [n.kind for n in notifications_of(applicant)] == ["application.passed_check"]


def test_check_return_stores_reasons_and_notifies_applicant(client, login):
    application, applicant = submitted_with_applicant()
    login(make_user("bureau"))
    response = client.post(
        f"/applications/{application.id}/check/return",
        data={"reasons": "营业执照扫描件不清晰，请重新上传。"},
    )
    assert response.status_code == 302
    application = reload(application)
    assert application.state == "returned"
    [check] = checks_of(application)
    assert check.decision == "return" and check.reasons == "营业执照扫描件不清晰，请重新上传。"
    [note] = notifications_of(applicant)
    assert note.kind == "application.returned"
    assert "营业执照扫描件不清晰" in note.body


def test_check_return_combines_ticked_presets_with_typed_text(client, login):
    from grants.applications.views.bureau import REASON_PRESETS

    application, _applicant = submitted_with_applicant()
    login(make_user("bureau"))
    client.post(
        f"/applications/{application.id}/check/return",
        data={
            "preset": ["licence", "self_raised_proof", "not-a-preset"],
            "reasons": "另：请补充合作协议。",
        },
    )
    [check] = checks_of(reload(application))
    with client.application.test_request_context():
        expected = "\n".join(
            [
                str(REASON_PRESETS["licence"]),
                str(REASON_PRESETS["self_raised_proof"]),
                "另：请补充合作协议。",
            ]
        )
    assert check.reasons == expected


def test_check_reject_stores_reasons(client, login):
    application, applicant = submitted_with_applicant()
    login(make_user("admin"))
    response = client.post(
        f"/applications/{application.id}/check/reject", data={"reasons": "不属于本批次支持范围。"}
    )
    assert response.status_code == 302
    application = reload(application)
    assert application.state == "rejected"
    [check] = checks_of(application)
    assert (check.decision, check.reasons) == ("reject", "不属于本批次支持范围。")
    assert [n.kind for n in notifications_of(applicant)] == ["application.rejected"]


@pytest.mark.parametrize("event", ["return", "reject"])
def test_check_without_reasons_is_refused_and_shows_the_form_again(client, login, event):
    application, applicant = submitted_with_applicant()
    login(make_user("bureau"))
    response = client.post(
        f"/applications/{application.id}/check/{event}", data={"reasons": "   \n "}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    assert f'id="{event}-reasons"' in html
    application = reload(application)
    assert application.state == "submitted"
    assert checks_of(application) == []
    assert notifications_of(applicant) == []


def test_check_refusal_keeps_ticked_presets(client, login):
    """A refused decision (the real guard: no reasons) shows the form again with what was typed."""
    application, _ = submitted_with_applicant()
    login(make_user("bureau"))
    response = client.post(
        f"/applications/{application.id}/check/reject",
        data={"reasons": "   "},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请填写理由，申报单位将看到该内容。" in html
    assert reload(application).state == "submitted"
    assert checks_of(application) == []


def test_check_failing_in_the_database_keeps_ticked_presets_and_typed_reasons(client, login):
    """The database refuses the check row (a colleague's check, a constraint): nothing is
    saved, and the form comes back with the ticked reason and the typed text."""

    def refuse(mapper, connection, target):
        raise sa.exc.IntegrityError("INSERT INTO formal_checks", {}, Exception("refused"))

    application, _ = submitted_with_applicant()
    login(make_user("bureau"))
    sa.event.listen(FormalCheck, "before_insert", refuse)
    try:
        response = client.post(
            f"/applications/{application.id}/check/return",
            data={"preset": ["seal"], "reasons": "请加盖公章后重新提交"},
        )
    finally:
        sa.event.remove(FormalCheck, "before_insert", refuse)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "请加盖公章后重新提交</textarea>" in html
    assert 'value="seal" id="return-preset-seal" checked' in html
    assert "他人刚刚修改了这条记录，本次操作未保存" in html
    application = reload(application)
    assert application.state == "submitted"
    assert checks_of(application) == []
    assert not db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "Application",
            AuditEvent.object_id == str(application.id),
            AuditEvent.action == "application.return",
        )
    )


@pytest.mark.parametrize("role", ["applicant", "finance", "expert"])
@pytest.mark.parametrize("event", ["pass", "return", "reject"])
def test_check_is_forbidden_to_others(client, login, role, event):
    application = application_in_state("submitted")
    user = (
        make_user("applicant", organisation=application.organisation)
        if role == "applicant"
        else make_user(role)
    )
    login(user)
    response = client.post(
        f"/applications/{application.id}/check/{event}", data={"reasons": "随便"}
    )
    assert response.status_code in (403, 404)
    application = reload(application)
    assert application.state == "submitted"
    assert checks_of(application) == []


def test_check_of_another_organisations_application_is_not_found(client, login):
    application = application_in_state("submitted")
    login(make_user("applicant"))
    assert client.post(f"/applications/{application.id}/check/pass").status_code == 404
    assert client.get(f"/applications/{application.id}/check").status_code == 404
    assert reload(application).state == "submitted"


def test_check_of_an_application_not_submitted_changes_nothing(client, login):
    application = application_in_state("under_review")
    login(make_user("bureau"))
    response = client.post(f"/applications/{application.id}/check/return", data={"reasons": "x"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/applications/{application.id}/check")
    assert reload(application).state == "under_review"
    assert checks_of(application) == []


def test_every_return_stays_in_the_history(client, login, monkeypatch):
    monkeypatch.setattr("grants.applications.checks.submission_problems", lambda application: [])
    application, applicant = submitted_with_applicant()
    login(make_user("bureau"))
    client.post(
        f"/applications/{application.id}/check/return", data={"reasons": "第一次退回：缺少营业执照"}
    )
    application = reload(application)
    transition(application, "submit", applicant)
    db.session.commit()
    client.post(
        f"/applications/{application.id}/check/return",
        data={"reasons": "第二次退回：自筹资金证明不足"},
    )
    application = reload(application)
    assert application.state == "returned"
    assert [(c.decision, c.reasons) for c in checks_of(application)] == [
        ("return", "第一次退回：缺少营业执照"),
        ("return", "第二次退回：自筹资金证明不足"),
    ]
    assert [n.kind for n in notifications_of(applicant)].count("application.returned") == 2
    page = client.get(f"/applications/{application.id}/check").get_data(as_text=True)
    assert "第一次退回：缺少营业执照" in page and "第二次退回：自筹资金证明不足" in page


def test_check_page_shows_buttons_only_to_those_who_may_decide(client, login):
    application = application_in_state("submitted")
    login(make_user("bureau"))
    html = client.get(f"/applications/{application.id}/check").get_data(as_text=True)
    assert f'action="/applications/{application.id}/check/pass"' in html
    assert f'action="/applications/{application.id}/check/return"' in html
    assert f'action="/applications/{application.id}/check/reject"' in html
    assert 'name="reasons"' in html and 'name="preset"' in html


def test_check_partial_renders_nothing_for_applicants_and_finance(app):
    from flask import render_template
    from flask_login import login_user

    application = application_in_state("submitted")
    for user in (
        make_user("applicant", organisation=application.organisation),
        make_user("finance"),
    ):
        with app.test_request_context():
            login_user(user)
            html = render_template(
                "applications/bureau/_check_actions.html", application=application
            )
        assert "check/pass" not in html and "<form" not in html


def test_check_page_is_forbidden_to_finance(client, login):
    application = application_in_state("submitted")
    login(make_user("finance"))
    assert client.get(f"/applications/{application.id}/check").status_code == 403


def test_check_queue_lists_submitted_oldest_first(client, login):
    from datetime import timedelta

    from grants.core.types import utcnow

    newer = application_in_state(
        "submitted", submitted_at=utcnow() - timedelta(days=1), title="较新的申报书"
    )
    older = application_in_state(
        "submitted", submitted_at=utcnow() - timedelta(days=9), title="较早的申报书"
    )
    application_in_state("under_review", title="已进入评审的申报书")
    application_in_state("draft", title="草稿申报书")
    login(make_user("bureau"))
    html = client.get("/applications/check").get_data(as_text=True)
    assert html.index(older.title) < html.index(newer.title)
    assert "已进入评审的申报书" not in html and "草稿申报书" not in html
    assert ">9</td>" in html


def test_check_queue_is_forbidden_to_applicants(client, login):
    login(make_user("applicant"))
    assert client.get("/applications/check").status_code == 403
