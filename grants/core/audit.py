"""The audit log: every login, denial, state change and money movement is a row here.

Rows are only ever inserted. The ORM refuses updates and deletes of AuditEvent, and
the migration installs database triggers that refuse them as well.

A denial is written by :func:`record_denial` outside the request's transaction: the
request's (read) transaction is rolled back first and the row goes in a short transaction
of its own, so that a refused GET never upgrades a read snapshot to a write (which SQLite
refuses at once with ``database is locked`` when another connection wrote meanwhile). If
even that fails, the failure is logged and the request still answers 403.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g, has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event

from grants.core.models import AuditEvent
from grants.core.transactions import own_transaction
from grants.core.types import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)

#: How long the record of a denial waits for SQLite's write lock before it is given up (ms).
DENIAL_BUSY_TIMEOUT_MS = 5000


#: What the audit log calls the kinds of object (the model class names :func:`describe` records).
OBJECT_TYPE_LABELS = {
    "User": _l("User account"),
    "UserRole": _l("Role of a user"),
    "UserSession": _l("Sign-in session"),
    "LoginThrottle": _l("Sign-in back-off"),
    "Organisation": _l("Organisation"),
    "Qualification": _l("Qualification"),
    "YearFigure": _l("Yearly figures"),
    "Invitation": _l("Invitation"),
    "PendingRegistration": _l("Pending registration"),
    "IndustryCluster": _l("Industry cluster"),
    "Call": _l("Call"),
    "RubricCriterion": _l("Rubric criterion"),
    "AttachmentRequirement": _l("Required attachment"),
    "Application": _l("Application"),
    "TeamMember": _l("Team member"),
    "BudgetLine": _l("Budget line"),
    "PlannedMilestone": _l("Planned milestone"),
    "KpiTarget": _l("KPI target"),
    "Attachment": _l("Attachment"),
    "FormalCheck": _l("Formal check"),
    "Expert": _l("Expert"),
    "ExpertRelation": _l("Expert's relation"),
    "ExcludedExpert": _l("Excluded expert"),
    "ConflictRuling": _l("Conflict ruling"),
    "Assignment": _l("Review assignment"),
    "Review": _l("Review"),
    "Score": _l("Score"),
    "Decision": _l("Decision"),
    "PublicNotice": _l("Public notice"),
    "Objection": _l("Objection"),
    "Project": _l("Project"),
    "ProjectMember": _l("Project member"),
    "ProjectKpi": _l("Project KPI"),
    "Milestone": _l("Milestone"),
    "ProgressReport": _l("Progress report"),
    "MidtermCheck": _l("Mid-term check"),
    "ChangeRequest": _l("Change request"),
    "FinalReport": _l("Final report"),
    "Outcome": _l("Outcome"),
    "AcceptanceDecision": _l("Acceptance decision"),
    "ProjectFile": _l("Project file"),
    "ProjectCodeCounter": _l("Project code counter"),
    "ProjectBudgetLine": _l("Project budget line"),
    "Tranche": _l("Tranche"),
    "Disbursement": _l("Disbursement"),
    "Expenditure": _l("Expenditure"),
    "FundRecovery": _l("Fund recovery"),
    "TaskBookSignature": _l("Task book signature"),
    "PortfolioReport": _l("Portfolio report"),
    "Notification": _l("Notification"),
    "OutboxEmail": _l("Outgoing e-mail"),
    "Job": _l("Background job"),
    "ScheduledRun": _l("Scheduled run"),
    "AuditEvent": _l("Audit event"),
}


#: What the audit log calls the actions of signing in, access and accounts; other actions
#: (the workflow's events, recorded as ``<entity>.<event>``) are shown as their code.
ACTION_LABELS = {
    "login": _l("Signed in"),
    "logout": _l("Signed out"),
    "login.failed": _l("Sign-in failed"),
    "login.throttled": _l("Sign-in held back"),
    "permission.denied": _l("Access denied"),
    "password.changed": _l("Password changed"),
    "password.change_failed": _l("Password change failed"),
    "password.rehashed": _l("Password hash renewed"),
    "password.reset": _l("Password reset"),
    "password.reset_requested": _l("Password reset requested"),
    "user.created": _l("User account created"),
    "user.updated": _l("User account changed"),
    "user.disabled": _l("User account disabled"),
    "user.enabled": _l("User account enabled"),
    "user.roles_changed": _l("Roles changed"),
    "registration.requested": _l("Registration requested"),
    "registration.existing_email": _l("Registration with a known e-mail address"),
    "organisation.registered": _l("Organisation registered"),
}


def action_label(action: str | None) -> str:
    """The action in the reader's language where it has a label, else its code."""
    label = ACTION_LABELS.get(action or "")
    return str(label) if label is not None else (action or "")


def object_type_label(name: str | None) -> str:
    """The kind of object in the reader's language; an unknown class name as it is."""
    if not name:
        return ""
    label = OBJECT_TYPE_LABELS.get(name)
    return str(label) if label is not None else name


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


def _event(action, obj, actor, before, after, label) -> AuditEvent:
    object_type, object_id = describe(obj)
    fields = _actor_fields(actor)
    if label and not fields["actor_label"]:
        fields["actor_label"] = label
    return AuditEvent(
        at=utcnow(),
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        ip=_client_ip(),
        **fields,
    )


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
    entry = _event(action, obj, actor, before, after, label)
    db.session.add(entry)
    return entry


def record_denial(action: str, obj=None, *, path: str = "") -> AuditEvent | None:
    """Log a refused permission check; the request ends right after with 403/404.

    The request's transaction is rolled back, then the event is written in a short
    transaction of its own; None (and a warning in the log) when that could not be done.
    """
    entry = _event("permission.denied", obj, None, None, {"action": action, "path": path}, None)
    if has_request_context():
        g.grants_denial_recorded = True
    try:
        db.session.rollback()
        with own_transaction(busy_timeout_ms=DENIAL_BUSY_TIMEOUT_MS) as side:
            side.add(entry)
    except Exception as exc:
        log.warning("denial of %s on %s not recorded: %s", action, path, exc.__class__.__name__)
        return None
    return entry
