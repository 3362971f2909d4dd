"""The outbox job sends over a real SMTP connection (a local aiosmtpd server)."""

import socket

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from grants.core.jobs import JobContext, enqueue
from grants.core.models import Job
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from grants.notifications.operations import queue_email, send_outbox


class Recorder(Sink):
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    try:
        yield recorder
    finally:
        app.config.update(MAIL_SERVER=None, MAIL_PORT=25)
        controller.stop()


def test_outbox_job_sends_pending_mail_over_smtp(app, smtp_server, run_jobs):
    queue_email("a@test.example", "测试主题", "正文内容")
    queue_email("b@test.example", "Second", "Body")
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    mails = db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)).all()
    assert [m.status for m in mails] == ["sent", "sent"]
    assert all(m.sent_at is not None for m in mails)
    assert sorted(e.rcpt_tos[0] for e in smtp_server.messages) == [
        "a@test.example",
        "b@test.example",
    ]
    assert "测试主题" in smtp_server.messages[0].content.decode(
        "utf-8", "replace"
    ) or "=?utf-8?" in smtp_server.messages[0].content.decode("ascii", "replace")
    job = db.session.scalars(sa.select(Job).where(Job.name == "notifications.send_outbox")).first()
    assert job.status == "finished" and job.result == {"held": 0, "sent": 2, "failed": 0}


def test_unreachable_smtp_keeps_mail_pending_for_a_retry(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    try:
        mail = queue_email("c@test.example", "s", "b")
        db.session.commit()
        record = enqueue("notifications.send_outbox")
        with pytest.raises(OSError):
            send_outbox(JobContext(record.id))
        db.session.rollback()
        db.session.refresh(mail)
        assert mail.status == "pending"
    finally:
        app.config.update(MAIL_SERVER=None, MAIL_PORT=25)


def test_outbox_job_holds_no_transaction_while_it_speaks_to_smtp(
    app, smtp_server, run_jobs, monkeypatch
):
    import smtplib

    open_transactions = []
    send = smtplib.SMTP.send_message

    def checked_send(self, *args, **kwargs):
        open_transactions.append(db.session().in_transaction())
        return send(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "send_message", checked_send)
    queue_email("a@test.example", "one", "Body")
    queue_email("b@test.example", "two", "Body")
    db.session.commit()
    run_jobs()
    assert open_transactions == [False, False]
    db.session.expire_all()
    mails = db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)).all()
    assert [(m.status, m.attempts) for m in mails] == [("sent", 1), ("sent", 1)]


def test_outbox_mail_is_claimed_once_by_the_attempt_count_read(app):
    from grants.notifications.operations import _claim_mail, _PendingMail

    row = OutboxEmail(to_address="c@test.example", subject="s", body="b", status="pending")
    row.attempts = 1  # another run counted its attempt after this one read the outbox
    db.session.add(row)
    db.session.commit()
    stale = _PendingMail(row.id, row.to_address, row.subject, row.body, 0)
    assert _claim_mail(stale) is False
    fresh = _PendingMail(row.id, row.to_address, row.subject, row.body, 1)
    assert _claim_mail(fresh) is True
    db.session.expire_all()
    assert db.session.get(OutboxEmail, row.id).attempts == 2
