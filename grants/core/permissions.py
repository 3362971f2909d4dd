"""Permissions: small composable predicates, one registered rule per action.

Each domain's ``rules.py`` registers its actions with :func:`rule`; views call
:func:`require` and templates call ``can(action, obj)``, so both ask the same rule.
A predicate is called as ``pred(user, obj)`` and combines with ``&``, ``|`` and ``~``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, request
from flask_login import current_user

from grants.core.audit import record_denial


class Predicate:
    """A named yes/no question about a user and an object."""

    def __init__(self, fn: Callable[[Any, Any], bool], name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "predicate")

    def __call__(self, user, obj=None) -> bool:
        return bool(self.fn(user, obj))

    def __and__(self, other: Predicate) -> Predicate:
        return Predicate(lambda u, o: self(u, o) and other(u, o), f"({self.name} & {other.name})")

    def __or__(self, other: Predicate) -> Predicate:
        return Predicate(lambda u, o: self(u, o) or other(u, o), f"({self.name} | {other.name})")

    def __invert__(self) -> Predicate:
        return Predicate(lambda u, o: not self(u, o), f"~{self.name}")

    def __repr__(self) -> str:
        return f"<Predicate {self.name}>"


def predicate(fn: Callable[[Any, Any], bool]) -> Predicate:
    """Decorator turning ``fn(user, obj) -> bool`` into a composable predicate."""
    return Predicate(fn)


@predicate
def is_authenticated(user, obj) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


@predicate
def is_system(user, obj) -> bool:
    """True only for the system itself (scheduled jobs fire events with actor None)."""
    return user is None


def has_role(*roles: str) -> Predicate:
    """True when the user is signed in and holds any of ``roles``."""
    wanted = frozenset(roles)
    return Predicate(
        lambda u, o: is_authenticated(u, o) and bool(wanted & u.role_names),
        "has_role(" + ",".join(sorted(wanted)) + ")",
    )


def in_state(*states: str, attr: str = "state") -> Predicate:
    """True when the object's state column is one of ``states``."""
    wanted = frozenset(states)
    return Predicate(
        lambda u, o: getattr(o, attr, None) in wanted, "in_state(" + ",".join(sorted(wanted)) + ")"
    )


RULES: dict[str, Predicate] = {}


def rule(action: str, pred: Predicate) -> Predicate:
    """Register the one rule for ``action``; registering an action twice is a bug."""
    if action in RULES:
        raise ValueError(f"permission rule {action!r} is already registered")
    RULES[action] = pred
    return pred


def can(user, action: str, obj=None) -> bool:
    """Whether ``user`` may perform ``action`` on ``obj``."""
    try:
        pred = RULES[action]
    except KeyError as exc:
        raise LookupError(f"no permission rule for {action!r}") from exc
    return pred(user, obj)


def require(action: str, obj=None, *, not_found: bool = False) -> None:
    """Abort unless the current user may perform ``action``.

    Anonymous users are sent to the login page; others get 403 (or 404 when
    ``not_found`` is set, to hide that the object exists). Denials are audited.
    """
    if can(current_user, action, obj):
        return
    if not current_user.is_authenticated:
        login_manager = current_app.login_manager
        abort(login_manager.unauthorized())

    record_denial(action, obj, path=request.path)
    abort(404 if not_found else 403)
