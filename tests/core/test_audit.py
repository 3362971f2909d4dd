import pytest
import sqlalchemy as sa

from grants.core import audit
from grants.core.audit import AppendOnlyError
from grants.core.models import AuditEvent
from grants.extensions import db
from tests.factories import make_user


def test_audit_event_cannot_be_changed_through_the_orm(app):
    entry = audit.record("test.event", after={"x": 1})
    db.session.flush()
    entry.action = "tampered"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()


def test_audit_event_cannot_be_deleted_through_the_orm(app):
    entry = audit.record("test.event")
    db.session.flush()
    db.session.delete(entry)
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()


def test_database_refuses_update_and_delete_of_audit_rows(app):
    audit.record("test.event")
    db.session.flush()
    with pytest.raises(sa.exc.DatabaseError), db.session.begin_nested():
        db.session.execute(sa.text("UPDATE audit_events SET action = 'x'"))
    with pytest.raises(sa.exc.DatabaseError), db.session.begin_nested():
        db.session.execute(sa.text("DELETE FROM audit_events"))
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 1


def test_audit_page_lists_and_filters_events(client, login):
    admin = make_user("admin")
    login(admin)
    audit.record("organisation.updated", after={"name": "甲公司"})
    audit.record("test.other")
    db.session.commit()
    html = client.get("/admin/audit?action=organisation.").get_data(as_text=True)
    assert "organisation.updated" in html and "甲公司" in html
    assert "test.other" not in html.split("<tbody>")[1]


def test_audit_page_reports_a_bad_date_instead_of_failing(client, login):
    login(make_user("admin"))
    response = client.get("/admin/audit?date_from=2026-13-45")
    assert response.status_code == 200
    assert "is-invalid" in response.get_data(as_text=True)


def test_audit_page_is_for_admins_only(client, login):
    login(make_user("bureau"))
    assert client.get("/admin/audit").status_code == 403


# --- denials outside the request's transaction (issue 23, item 6) ---------------------------


def test_denial_rolls_back_the_request_transaction_and_commits_its_own(app):
    from grants.core.audit import record_denial

    user = make_user("applicant")
    db.session.commit()
    with app.test_request_context("/organisations/1"):
        audit.record("test.unsaved_change")  # pending in the request's transaction
        db.session.flush()
        entry = record_denial("org.view", user, path="/organisations/1")
        assert not db.session().in_transaction()  # the request's transaction has ended
    db.session.rollback()
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions == ["permission.denied"]
    assert entry.after == {"action": "org.view", "path": "/organisations/1"}
    assert entry.object_type == "User" and entry.object_id == str(user.id)


def test_denied_page_is_refused_even_when_the_denial_cannot_be_written(
    client, login, monkeypatch, caplog
):
    from contextlib import contextmanager

    from tests.factories import OrganisationFactory

    other = OrganisationFactory()
    login(make_user("applicant"))

    @contextmanager
    def locked(**kwargs):
        raise sa.exc.OperationalError("INSERT INTO audit_events", {}, Exception("locked"))
        yield  # pragma: no cover

    monkeypatch.setattr("grants.core.audit.own_transaction", locked)
    response = client.get(f"/organisations/{other.id}")
    assert response.status_code == 404  # refused (404 hides that it exists), not 500/503
    assert "not recorded" in caplog.text
    assert (
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "permission.denied")
        ).all()
        == []
    )


def test_audit_log_names_kinds_of_object_and_account_actions_in_chinese(app):
    from grants.core.audit import action_label, object_type_label

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert object_type_label("User") == "用户"
        assert object_type_label("MidtermCheck") == "中期检查"
        assert object_type_label("Unknown") == "Unknown"  # a class name without a label, as it is
        assert action_label("login") == "登录"
        assert action_label("application.submit") == "application.submit"  # a workflow code


def test_file_sizes_read_in_chinese(app):
    from grants.core.templating import file_size

    with app.test_request_context():
        assert file_size(77) == "77 字节"
        assert file_size(12_800) == "12.5 KB"
        assert file_size(3 * 1024 * 1024) == "3 MB"


def test_constant_state_labels_follow_the_reader_language(app):
    """Jinja folds a filter on constants when it compiles: a state label must not be folded."""
    from flask import session

    with app.app_context(), app.test_request_context():
        session["locale"] = "en"
        template = app.jinja_env.from_string("{{ 'invited'|state_label('assignment') }}")
        english = template.render()
    with app.app_context(), app.test_request_context():
        chinese = template.render()
    assert english == "Invited" and chinese == "已邀请"
