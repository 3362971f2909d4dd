import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.extensions import db
from grants.notifications.models import Notification, OutboxEmail
from grants.notifications.operations import mark_read, notify, unread_count
from tests.factories import make_user


def test_notify_writes_inbox_and_outbox_in_each_recipients_language(app, run_jobs):
    zh = make_user("bureau")
    en = make_user("bureau", locale="en")
    notify([zh, en, zh], "test.kind", _l("Your password was changed"), link="/inbox")
    db.session.commit()
    run_jobs()
    subjects = dict(db.session.execute(sa.select(Notification.user_id, Notification.subject)).all())
    assert subjects[en.id] == "Your password was changed"
    assert subjects[zh.id] != "Your password was changed"
    mails = db.session.scalars(sa.select(OutboxEmail)).all()
    assert len(mails) == 2
    assert all(m.status == "held" for m in mails)
    assert all("http://grants.test/inbox" in m.body for m in mails)


def test_rolled_back_notification_sends_nothing(app):
    user = make_user("expert")
    notify([user], "test.kind", "subject")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0
    assert unread_count(user) == 0


def test_unread_count_shows_in_navigation_and_clears(client, login):
    user = make_user("finance")
    login(user)
    notify([user], "test.kind", "甲消息")
    notify([user], "test.kind", "乙消息")
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert 'badge rounded-pill text-bg-warning ms-1">2' in html
    client.post("/inbox/read", data={})
    assert unread_count(user) == 0


def test_inbox_shows_only_own_messages(client, login):
    me, other = make_user("bureau"), make_user("bureau")
    notify([other], "test.kind", "别人的消息")
    notify([me], "test.kind", "我的消息")
    db.session.commit()
    login(me)
    html = client.get("/inbox").get_data(as_text=True)
    assert "我的消息" in html and "别人的消息" not in html
    foreign = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == other.id)
    ).one()
    assert client.post(f"/inbox/{foreign.id}").status_code == 404


def test_mark_read_marks_only_given_ids(app):
    user = make_user("bureau")
    first, second = notify([user], "k", "a")[0], notify([user], "k", "b")[0]
    assert mark_read(user, [first.id]) == 1
    assert unread_count(user) == 1
    assert second.id


def test_outbox_is_admin_only(client, login):
    login(make_user("bureau"))
    assert client.get("/admin/outbox").status_code == 403
