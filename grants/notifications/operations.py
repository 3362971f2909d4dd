"""The one notification service that every domain calls on a state change.

:func:`notify` writes an inbox row per recipient and, for recipients with an e-mail
address, an outbox row; both belong to the caller's transaction. A send job is
queued to run after that transaction commits. Subjects and bodies may be lazy
strings: each is rendered in the recipient's own language.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from grants.core.jobs import enqueue, job
from grants.core.links import absolute_url
from grants.core.scheduler import schedule
from grants.core.sqlite import immediate_writes
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.models import Notification, OutboxEmail

_QUEUED_KEY = "grants_outbox_job_queued"
_replaying_the_past: ContextVar[bool] = ContextVar("replaying_the_past", default=False)


@contextmanager
def past_notifications() -> Iterator[None]:
    """Notify as of a replayed past (the demo history): inbox rows already read, no e-mail.

    The messages of events long gone were read at the time; e-mailing them now would
    announce the past as news.
    """
    token = _replaying_the_past.set(True)
    try:
        yield
    finally:
        _replaying_the_past.reset(token)


def _render(text, locale: str, params: dict | None = None) -> str:
    with force_locale(locale):
        rendered = str(text)
    # Only translated (lazy) strings carry placeholders; plain text such as reasons typed
    # by a person is used as it is, so a stray "%" cannot break it.
    return rendered % params if params and not isinstance(text, str) else rendered


def notify(
    recipients: Iterable,
    kind: str,
    subject,
    body="",
    link: str = "",
    email: bool = True,
    params: dict | None = None,
) -> list[Notification]:
    """Put a message in each recipient's inbox and, if ``email``, in the outbox.

    ``subject`` and ``body`` may be lazy strings with ``%(name)s`` placeholders filled
    from ``params`` after translation into each recipient's language.
    """
    default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    past = _replaying_the_past.get()
    created = []
    seen = set()
    for user in recipients:
        if user is None or user.id in seen:
            continue
        seen.add(user.id)
        locale = user.locale or default_locale
        subject_text = _render(subject, locale, params)[:300]
        body_text = _render(body, locale, params)
        note = Notification(
            user_id=user.id, kind=kind, subject=subject_text, body=body_text, link=link
        )
        if past:
            note.read_at = utcnow()
        db.session.add(note)
        created.append(note)
        if email and user.email and user.active and not past:
            queue_email(user.email, subject_text, _email_body(body_text, link), user_id=user.id)
    db.session.flush()
    return created


def _email_body(body: str, link: str) -> str:
    if not link:
        return body
    try:
        absolute = absolute_url(link)
    except ValueError:
        current_app.logger.warning(
            "notification link left out of an e-mail, not a site path: %r", link[:100]
        )
        return body
    return f"{body}\n\n{absolute}".strip()


def queue_email(
    to_address: str, subject: str, body: str, user_id: int | None = None
) -> OutboxEmail:
    """Add an e-mail to the outbox and make sure one send job runs after commit."""
    mail = OutboxEmail(
        to_address=to_address, subject=subject, body=body, user_id=user_id, status="pending"
    )
    db.session.add(mail)
    db.session.flush()
    if not db.session.info.get(_QUEUED_KEY):
        enqueue("notifications.send_outbox")
        db.session.info[_QUEUED_KEY] = True
    return mail


@sa.event.listens_for(sa.orm.Session, "after_commit")
@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _reset_queued_flag(session):
    session.info.pop(_QUEUED_KEY, None)


def unread_count(user) -> int:
    """How many inbox messages the user has not read."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.user_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark some (or all) of the user's unread messages read; returns how many."""
    stmt = (
        sa.update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(list(notification_ids)))
    return db.session.execute(stmt).rowcount


@dataclass(frozen=True)
class _PendingMail:
    id: int
    to_address: str
    subject: str
    body: str
    attempts: int


#: Outbox rows marked held per short write transaction when no SMTP server is configured.
HOLD_BATCH = 50


@job("notifications.send_outbox", immediate=False, label=_l("Send e-mails"))
def send_outbox(ctx) -> dict:
    """Send every pending e-mail over SMTP; without SMTP settings they are held.

    No database transaction is open while the SMTP server is spoken to (it may take its
    20 s time-out): the pending mails are read and that read transaction ended; then each
    mail is claimed (its attempt counted, so two runs never send it twice), sent, and its
    outcome written, each write in a short transaction of its own.
    """
    config = current_app.config
    pending = [
        _PendingMail(mail.id, mail.to_address, mail.subject, mail.body, mail.attempts)
        for mail in db.session.scalars(
            sa.select(OutboxEmail).where(OutboxEmail.status == "pending").order_by(OutboxEmail.id)
        )
    ]
    db.session.rollback()
    if not config.get("MAIL_SERVER"):
        for start in range(0, len(pending), HOLD_BATCH):
            ids = [mail.id for mail in pending[start : start + HOLD_BATCH]]
            _write_outbox(ids, status="held")
        return {"held": len(pending), "sent": 0, "failed": 0}
    sent = failed = 0
    with _smtp(config) as smtp:
        for index, mail in enumerate(pending, start=1):
            if not _claim_mail(mail):
                continue
            try:
                smtp.send_message(_message(config, mail))
            except (smtplib.SMTPException, OSError) as exc:
                gave_up = mail.attempts + 1 >= config["MAIL_MAX_ATTEMPTS"]
                values = {"last_error": str(exc)[:1000]}
                _write_outbox([mail.id], **values, **({"status": "failed"} if gave_up else {}))
                failed += 1
            else:
                _write_outbox([mail.id], status="sent", sent_at=utcnow())
                sent += 1
            ctx.progress(index * 100 // max(1, len(pending)))
    return {"held": 0, "sent": sent, "failed": failed}


def _claim_mail(mail: _PendingMail) -> bool:
    """Count an attempt at ``mail`` if it is still pending as read; False if another run took it."""
    with immediate_writes():
        claimed = db.session.execute(
            sa.update(OutboxEmail)
            .where(
                OutboxEmail.id == mail.id,
                OutboxEmail.status == "pending",
                OutboxEmail.attempts == mail.attempts,
            )
            .values(attempts=mail.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
    return claimed == 1


def _write_outbox(ids: list[int], **values) -> None:
    """Write ``values`` to the outbox rows ``ids`` still pending, in a short transaction."""
    with immediate_writes():
        db.session.execute(
            sa.update(OutboxEmail)
            .where(OutboxEmail.id.in_(ids), OutboxEmail.status == "pending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def _smtp(config):
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20)
    if config.get("MAIL_USE_TLS"):
        smtp.starttls()
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    return smtp


def _message(config, mail: _PendingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("Grants", config["MAIL_SENDER"]))
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    return message


schedule("notifications.send_outbox", every=timedelta(minutes=10))
