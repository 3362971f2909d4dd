"""What thin views share when they run an operation or fire a workflow event.

``attempt`` runs one operation; when it refuses (an :class:`OperationError` or a
:class:`~grants.core.workflow.WorkflowError`) the session is rolled back and the
user-facing message is returned for the view to show beside the form, which keeps
what the user typed. A forbidden transition is audited and answered with 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, request
from flask_login import current_user

from grants.core.audit import record_denial
from grants.core.workflow import (
    TransitionForbidden,
    WorkflowError,
    can_fire,
    current_state,
    transition,
    workflow_for,
)
from grants.extensions import db


class OperationError(Exception):
    """An operation refused its input; ``message`` is user-facing (already translated)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def attempt(
    operation: Callable[..., Any], *args, denied_obj=None, **kwargs
) -> tuple[Any, str | None]:
    """Run ``operation``; returns (result, None) or (None, message) after a rollback."""
    try:
        return operation(*args, **kwargs), None
    except TransitionForbidden:
        db.session.rollback()
        record_denial(getattr(operation, "__name__", "operation"), denied_obj, path=request.path)
        abort(403)
    except (OperationError, WorkflowError) as exc:
        db.session.rollback()
        return None, exc.message


def fire(obj, event: str, **data) -> str | None:
    """Fire ``event`` on ``obj`` as the signed-in user; None when it went through, else the message."""
    _, problem = attempt(transition, obj, event, current_user, denied_obj=obj, **data)
    return problem


def event_applies(obj, event: str) -> bool:
    """Whether ``event`` can fire from ``obj``'s current state at all, whoever asks."""
    return workflow_for(obj).find(current_state(obj), event) is not None


def actionable(obj, event: str, *, action: str | None = None) -> bool:
    """Ask before reading a form: may the signed-in user fire ``event`` on ``obj`` now?

    False when the event no longer applies to the object's state (a colleague acted
    first, the invitation was answered): the view then flashes why and redirects to the
    page that shows the object, instead of re-rendering a form that is not shown any
    more. When the state allows the event but the user may not fire it, the refusal is
    audited and answered with 403, as :func:`attempt` does.
    """
    if not event_applies(obj, event):
        return False
    if not can_fire(current_user, obj, event):
        record_denial(action or f"{workflow_for(obj).name}.{event}", obj, path=request.path)
        abort(403)
    return True
