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

from grants.core.workflow import TransitionForbidden, WorkflowError, transition
from grants.extensions import db


class OperationError(Exception):
    """An operation refused its input; ``message`` is user-facing (already translated)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def attempt(operation: Callable[..., Any], *args, denied_obj=None, **kwargs) -> tuple[Any, str | None]:
    """Run ``operation``; returns (result, None) or (None, message) after a rollback."""
    try:
        return operation(*args, **kwargs), None
    except TransitionForbidden:
        from grants.core.audit import record_denial

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
