"""The workflow engine: the only code that writes a state column.

A domain declares its lifecycle once as a :class:`Workflow` — a table of
:class:`Transition` rows (source state, event, target state, who may fire it, guard,
effect, notification). :func:`transition` checks the table, applies the change, runs
the effect, writes the audit event and queues notifications; it flushes and never
commits. Templates ask :func:`can_fire` so that buttons follow the same table.

After the change, the engine sends the domain event ``"<workflow>.<target state>"``
(e.g. ``project.terminated``) through :func:`grants.core.signals.state_entered`: a blinker signal whose
receivers — other domains reacting without being imported by this one — run in the same
transaction, with the object as sender and ``actor`` and ``data`` as keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from grants.core import audit
from grants.core.permissions import Predicate
from grants.core.refusals import OperationError
from grants.core.signals import state_entered
from grants.core.states import StateSet, record_transitions
from grants.extensions import db

Guard = Callable[[Any, Any, dict], str | None]  # pragma: no mutate (a type only)
Effect = Callable[[Any, Any, dict], None]  # pragma: no mutate (a type only)


class WorkflowError(OperationError):
    """Base class of refused transitions; ``message`` is user-facing (already translated)."""

    def __init__(self, message: str):
        super().__init__(message)


class InvalidTransition(WorkflowError):
    """The event cannot fire from the object's current state."""


class TransitionForbidden(WorkflowError):
    """The actor may not fire the event on this object; ``action`` names it for the audit log."""

    action: str | None = None  # pragma: no mutate (read as `action or …`: "" is None)


class GuardFailed(WorkflowError):
    """The event is allowed but its precondition does not hold."""


@dataclass(frozen=True)
class Transition:
    """One row of a transition table."""

    source: str
    event: str
    target: str
    allowed: Predicate
    guard: Guard | None = None  # pragma: no mutate (annotation)
    effect: Effect | None = None  # pragma: no mutate (annotation)
    notify: Effect | None = None  # pragma: no mutate (annotation)
    label: str = ""


@dataclass
class Workflow:
    """A state machine for one model class, keyed by (source state, event).

    ``states`` is the entity's :class:`~grants.core.states.StateSet`; the table may name no
    other state, and the set learns from the table which transitions are allowed.
    """

    name: str
    model: type
    states: type[StateSet]
    transitions: Iterable[Transition]
    state_attr: str = "state"
    table: dict[tuple[str, str], Transition] = field(init=False)

    def __post_init__(self):
        if self.states.entity() != self.name:
            raise ValueError(f"{self.name}: states declared for {self.states.entity()!r}")
        self.table = {}
        self.add(*self.transitions)
        WORKFLOWS[self.model] = self
        sa.event.listen(getattr(self.model, self.state_attr), "set", _guard_state_write)

    def add(self, *transitions: Transition) -> None:
        """Add rows to the table (a later domain extending an earlier lifecycle)."""
        for t in transitions:
            for state in (t.source, t.target):
                if not self.states.known(state):
                    raise ValueError(f"{self.name}: unknown state {state!r}")
            key = (t.source, t.event)
            if key in self.table:
                raise ValueError(f"{self.name}: duplicate transition {key}")
            self.table[key] = t
        self.transitions = tuple(self.table.values())
        record_transitions(self.states, ((t.source, t.target) for t in self.transitions))

    def find(self, state: str, event: str) -> Transition | None:
        return self.table.get((state, event))

    def events_from(self, state: str) -> list[Transition]:
        return [t for t in self.transitions if t.source == state]


WORKFLOWS: dict[type, Workflow] = {}


_engine_writing: ContextVar[bool] = ContextVar("engine_writing", default=False)


class StateWriteOutsideEngine(RuntimeError):
    """Raised when code other than :func:`transition` changes a stored object's state."""


def _guard_state_write(target, value, oldvalue, initiator):
    if _engine_writing.get():
        return
    if sa.inspect(target).persistent:
        raise StateWriteOutsideEngine(
            f"{type(target).__name__}.{initiator.key} may only change through transition()"
        )


def workflow_for(obj) -> Workflow:
    """The workflow registered for ``obj``'s class."""
    for cls in type(obj).__mro__:
        if cls in WORKFLOWS:
            return WORKFLOWS[cls]
    raise LookupError(f"no workflow for {type(obj).__name__}")


def current_state(obj) -> str:
    return getattr(obj, workflow_for(obj).state_attr)


def can_fire(user, obj, event: str) -> bool:
    """Whether ``user`` may fire ``event`` on ``obj`` now (state and permission, not guard)."""
    t = workflow_for(obj).find(current_state(obj), event)
    return t is not None and t.allowed(user, obj)


def available_events(user, obj) -> list[Transition]:
    """The transitions ``user`` may fire on ``obj`` in its current state."""
    wf = workflow_for(obj)
    return [t for t in wf.events_from(current_state(obj)) if t.allowed(user, obj)]


def transition(obj, event: str, actor, **data) -> Transition:
    """Fire ``event`` on ``obj`` as ``actor``: check, change state, effect, audit, notify.

    Raises :class:`InvalidTransition`, :class:`TransitionForbidden` or
    :class:`GuardFailed` without changing anything. Flushes; the caller commits.
    """
    wf = workflow_for(obj)
    before = current_state(obj)
    t = wf.find(before, event)
    if t is None:
        raise InvalidTransition(_("This action is not possible in the current state."))
    if not t.allowed(actor, obj):
        audit.record(
            "permission.denied",
            obj,
            actor=actor,
            after={"action": f"{wf.name}.{event}", "state": before},
        )
        refused = TransitionForbidden(_("You are not allowed to do this."))
        refused.action = f"{wf.name}.{event}"
        raise refused
    if t.guard is not None:
        problem = t.guard(obj, actor, data)
        if problem:
            raise GuardFailed(problem)
    token = _engine_writing.set(True)
    try:
        setattr(obj, wf.state_attr, str(t.target))
    finally:
        _engine_writing.reset(token)
    if t.effect is not None:
        t.effect(obj, actor, data)
    db.session.flush()
    details = {k: _jsonable(v) for k, v in data.items() if k != "password"}
    audit.record(
        f"{wf.name}.{event}",
        obj,
        actor=actor,
        before={"state": before},
        after={"state": str(t.target), **details},
    )
    state_entered(wf.name, str(t.target)).send(obj, actor=actor, data=data)
    if t.notify is not None:
        t.notify(obj, actor, data)
    db.session.flush()
    return t


def _jsonable(value):
    if isinstance(value, str | int | bool | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
