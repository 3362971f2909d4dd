"""The user's inbox and, in development, the administrator's view of the outbox."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from grants.core.actions import action
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.redirects import safe_next
from grants.extensions import db
from grants.notifications.models import Notification, OutboxEmail, OutboxEmailState
from grants.notifications.operations import mark_read

bp = Blueprint("notifications", __name__)


@bp.get("/inbox")
def inbox():
    require("inbox.view")
    show = request.args.get("show", "all")
    stmt = (
        sa.select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.id.desc())
    )
    if show == "unread":
        stmt = stmt.where(Notification.read_at.is_(None))
    return render_template("notifications/inbox.html", page=paginate(stmt), show=show)


@bp.post("/inbox/read")
def read():
    """Mark one message (``id``) or all messages read."""
    require("inbox.view")
    ids = None
    if request.form.get("id"):
        try:
            ids = [int(request.form["id"])]
        except ValueError:
            abort(400)
        ids = [
            i for i in ids if 0 < i < 2**31
        ]  # a larger id names no message (nor fits the column)
    with action():
        mark_read(current_user, ids)
    return redirect(url_for("notifications.inbox", show=request.form.get("show", "all")))


@bp.post("/inbox/<int:notification_id>")
def open_notification(notification_id: int):
    """Open a message (a POST, as it writes): it becomes read and the browser goes to its link."""
    require("inbox.view")
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != current_user.id:
        abort(404)
    with action():
        mark_read(current_user, [note.id])
    return redirect(safe_next(note.link, url_for("notifications.inbox")))


@bp.get("/admin/outbox")
def outbox():
    require("outbox.view")
    status = request.args.get("status", "")
    stmt = sa.select(OutboxEmail).order_by(OutboxEmail.id.desc())
    if OutboxEmailState.known(status):
        stmt = stmt.where(OutboxEmail.status == status)
    return render_template(
        "notifications/outbox.html",
        page=paginate(stmt, per_page=20),
        status=status,
        states=OutboxEmailState.choices(),
    )
