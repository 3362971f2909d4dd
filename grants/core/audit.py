"""The audit log: every login, denial, state change and money movement is a row here.

Rows are only ever inserted. The ORM refuses updates and deletes of AuditEvent, and
the migration installs database triggers that refuse them as well.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import event

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.extensions import db


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or remove an audit event."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, target):
    raise AppendOnlyError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper, connection, target):
    raise AppendOnlyError("audit events are append-only")


def describe(obj) -> tuple[str | None, str | None]:
    """The (type, id) pair that names an object in the log."""
    if obj is None:
        return None, None
    return type(obj).__name__, str(getattr(obj, "id", "") or "")


def _actor_fields(actor) -> dict[str, Any]:
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    if (
        actor is None
        or not getattr(actor, "is_authenticated", True)
        or getattr(actor, "id", None) is None
    ):
        return {"actor_id": None, "actor_label": ""}
    return {"actor_id": actor.id, "actor_label": getattr(actor, "email", str(actor))}


def _client_ip() -> str | None:
    if not has_request_context():
        return None
    return request.remote_addr


def record(
    action: str,
    obj=None,
    *,
    actor=None,
    before: dict | None = None,
    after: dict | None = None,
    label: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session (flushed with the caller's transaction).

    The event is stamped now, when it is recorded, not when the session flushes.
    """
    object_type, object_id = describe(obj)
    fields = _actor_fields(actor)
    if label and not fields["actor_label"]:
        fields["actor_label"] = label
    entry = AuditEvent(
        at=utcnow(),
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        ip=_client_ip(),
        **fields,
    )
    db.session.add(entry)
    return entry


def record_now(action: str, obj=None, **kwargs) -> AuditEvent:
    """Record an event and commit it at once: for requests that end in an error page."""
    db.session.rollback()
    entry = record(action, obj, **kwargs)
    db.session.commit()
    return entry


def record_denial(action: str, obj=None, *, path: str = "") -> AuditEvent:
    """Log a refused permission check; the request ends right after with 403/404."""
    entry = record_now("permission.denied", obj, after={"action": action, "path": path})
    if has_request_context():
        g.grants_denial_recorded = True
    return entry
