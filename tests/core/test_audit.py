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
