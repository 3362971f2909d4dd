"""The one way a view runs an operation and ends its transaction.

A view loads its object, checks the permission, validates the form and then runs the
operation inside :func:`action`::

    with action(form=form, field="name") as done:
        ops.update_profile(org, data, current_user)
    if done:
        flash(_("Saved."), "success")
        return redirect(...)
    return render_template(..., form=form)

On leaving the block the session is committed once. When the operation refuses (any
:class:`~grants.core.refusals.OperationError`, which includes the workflow engine's
errors) the session is rolled back and the message is attached to the form field the
error names (so the user keeps what they typed) or flashed. A forbidden transition
(:class:`~grants.core.workflow.TransitionForbidden`) or a ``403`` raised inside the block
is rolled back, recorded in the audit log and answered with 403. A lost race (a unique
key taken meanwhile, a row changed by someone else) is rolled back with a message asking
to reload. Once the commit has gone through, a failure of a later step (handing jobs to
the queue, deleting replaced files) is logged and the action still counts as done, so
the user is told what was saved.

``attempt`` and ``fire`` run a single operation or workflow event the same way and
return the message instead of showing it. Operations flush, never commit; the request
commits here, jobs in the jobs runner, the CLI in its commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, current_app, flash, g, has_request_context, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import Forbidden

from grants.core.audit import record_denial
from grants.core.refusals import OperationError
from grants.core.transactions import is_outermost
from grants.core.workflow import (
    TransitionForbidden,
    can_fire,
    current_state,
    transition,
    workflow_for,
)
from grants.extensions import db

__all__ = [
    "Outcome",
    "action",
    "actionable",
    "attempt",
    "event_applies",
    "fire",
]

log = logging.getLogger(__name__)

#: Lost races: the database refused the write because someone else changed the data first.
LOST_RACE = (IntegrityError, StaleDataError)
#: Requests that only read; they never commit.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Outcome:
    """What became of an action: true when it committed, else ``message`` says why not."""

    def __init__(self) -> None:
        self.ok = False
        self.message: str | None = None
        self.field: str | None = None
        self.error: BaseException | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"<Outcome ok={self.ok} message={self.message!r}>"


def lost_race_message() -> str:
    """What the user reads when a concurrent change beat theirs."""
    return _(
        "Someone else changed this record at the same moment, so nothing was saved. "
        "Please reload the page and try again."
    )


@event.listens_for(Session, "after_commit", insert=True)
def _note_commit(session) -> None:
    if has_request_context() and is_outermost(session):
        g.grants_action_committed = True


def _denial_name(obj) -> str:
    endpoint = request.endpoint or "action"
    return f"{type(obj).__name__.lower()}.{endpoint}" if obj is not None else endpoint


def _form_field(form, *names: str | None):
    for name in names:
        target = getattr(form, name, None) if (form is not None and name) else None
        if target is not None and hasattr(target, "errors"):
            return target
    return None


def _show(outcome: Outcome, form, field: str | None, show: bool) -> None:
    if not show:
        return
    target = _form_field(form, outcome.field, field)
    if target is not None:
        if isinstance(target.errors, tuple):  # WTForms keeps a tuple before validation ran
            target.errors = list(target.errors)
        target.errors.append(outcome.message)
    else:
        flash(outcome.message, "danger")


def _refuse_safe_method() -> None:
    message = f"{request.method} {request.path} tried to commit: a GET never writes"
    if current_app.testing or current_app.debug:
        raise RuntimeError(message)
    log.error(message)


def _close_committed(session, *, expire: bool) -> None:
    """End the transaction a failed after-commit step left open (committed, not yet closed)."""
    transaction = session.get_transaction()
    if transaction is not None:
        transaction.close()
    if expire:
        session.expire_all()


def _commit(*, keep_loaded: bool = False) -> None:
    """Commit; a failure after the database committed is logged, not raised."""
    g.grants_action_committed = False
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = expire and not keep_loaded
    try:
        session.commit()
    except LOST_RACE:
        raise
    except Exception:
        if not g.get("grants_action_committed"):
            raise
        log.exception("a step after the commit of %s failed; the action was saved", request.path)
        _close_committed(session, expire=session.expire_on_commit)
    finally:
        session.expire_on_commit = expire


@contextmanager
def action(
    *,
    form=None,
    field: str | None = None,
    success: str | None = None,
    denied: str | None = None,
    denied_obj=None,
    show: bool = True,
    also: tuple[type[Exception], ...] = (),
    keep_loaded: bool = False,
) -> Iterator[Outcome]:
    """Run the block as one action: commit once, or roll back and tell the user why.

    ``form`` and ``field`` say where a refusal's message goes (the error's own ``field``
    first); without them, or with no such field, it is flashed. ``show=False`` leaves the
    message to the view (``outcome.message``). ``success`` is flashed once committed.
    ``denied``/``denied_obj`` name what a 403 refused, for the audit log. ``also`` adds
    exception classes (with a user-facing ``message``) to treat as refusals, such as a refused
    upload. ``keep_loaded`` commits without expiring what the session holds.
    """
    if request.method in SAFE_METHODS:
        _refuse_safe_method()
    outcome = Outcome()
    try:
        yield outcome
        _commit(keep_loaded=keep_loaded)
    except (TransitionForbidden, Forbidden) as exc:
        db.session.rollback()
        if not g.get("grants_denial_recorded"):
            name = denied or getattr(exc, "action", None) or _denial_name(denied_obj)
            record_denial(name, denied_obj, path=request.path)
        abort(403)
    except (OperationError, *also) as exc:
        db.session.rollback()
        outcome.message = getattr(exc, "message", None) or str(exc)
        outcome.field, outcome.error = getattr(exc, "field", None), exc
        _show(outcome, form, field, show)
    except LOST_RACE as exc:
        db.session.rollback()
        log.info("lost race on %s: %s", request.path, exc.__class__.__name__)
        outcome.message, outcome.error = lost_race_message(), exc
        _show(outcome, None, None, show)
    else:
        outcome.ok = True
        if success:
            flash(success, "success")


def attempt(
    operation: Callable[..., Any], *args, denied_obj=None, **kwargs
) -> tuple[Any, str | None]:
    """Run ``operation`` as one action; returns (result, None) once committed, else (None, message)."""
    result = None
    with action(show=False, denied_obj=denied_obj) as done:
        result = operation(*args, **kwargs)
    return (result, None) if done else (None, done.message)


def fire(obj, event: str, **data) -> str | None:
    """Fire ``event`` on ``obj`` as the signed-in user and commit; None when it went through, else the message."""
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
