"""Domain events and hooks: how a lower layer talks to a higher one without importing it.

The layers, bottom to top: config/extensions, core, accounts, notifications, orgs,
programmes, applications, review, projects, funding, reports, demo, cli (the import-linter
contract in pyproject.toml keeps them). A package imports only the packages below it.

**Events** (blinker signals in :data:`events`) tell the layers above that something
happened. The workflow engine sends ``"<workflow>.<state>"`` whenever an object enters a
state (``project.terminated``, ``milestone.achieved``, ``application.approved`` …; see
:func:`state_entered`), with the object as sender and ``actor`` and ``data`` as keyword
arguments; operations send the other events below. Receivers live in each package's
``subscribers.py`` and are connected by ``register_subscribers`` in ``create_app``. They
run in the sender's transaction: they flush, never commit.

**Hooks** (:class:`Hook`) serve the other direction: a lower layer that needs a *value*
only a higher one can compute (money spent on a project, a user's unread messages)
declares a hook, and the higher package provides it from its ``subscribers.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blinker import Namespace

events = Namespace()


def state_entered(workflow_name: str, state: str):
    """The signal sent when an object of ``workflow_name`` enters ``state`` (e.g. project.terminated)."""
    return events.signal(f"{workflow_name}.{state}")


# Sent by the workflow engine (core/workflow.py), named here for the receivers.
project_accepted = state_entered("project", "accepted")
project_acceptance_failed = state_entered("project", "acceptance_failed")
project_terminated = state_entered("project", "terminated")
milestone_achieved = state_entered("milestone", "achieved")
application_approved = state_entered("application", "approved")

# Sent by the accounts operations, with the user as sender.
organisation_joined = events.signal("account.organisation_joined")
"""``organisation_id``, ``actor``, ``via`` (``invitation``, ``admin`` or ``registration``)."""
organisation_left = events.signal("account.organisation_left")
"""``organisation_id``, ``actor``, ``via``; the review domain keeps conflicts of interest current."""
password_changed = events.signal("account.password_changed")
"""The user changed the password themselves; the notifications domain tells them."""
password_reset_issued = events.signal("account.password_reset_issued")
"""``link`` and ``hours``: a reset link for an active account; the notifications domain e-mails it."""


def organisation_changed(user, before: int | None, after: int | None, *, actor, via: str) -> None:
    """Send ``organisation_left`` for ``before`` and ``organisation_joined`` for ``after`` when they differ."""
    if before == after:
        return
    if before is not None:
        organisation_left.send(user, organisation_id=before, actor=actor, via=via)
    if after is not None:
        organisation_joined.send(user, organisation_id=after, actor=actor, via=via)


class HookNotProvided(LookupError):
    """A hook was asked before the package that provides it was connected (see create_app)."""


class Hook:
    """A value a lower layer asks for and a higher layer provides.

    ``ask`` calls the one provider; ``collect`` calls every provider and returns their
    answers in the order they were provided. Providing the same function again is a no-op.
    """

    def __init__(self, name: str, doc: str = ""):
        self.name = name
        self.__doc__ = doc or name
        self._providers: list[Callable[..., Any]] = []

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._providers)} provider(s)>"

    def provide(self, provider: Callable[..., Any]) -> Callable[..., Any]:
        """Register ``provider`` (usable as a decorator)."""
        if provider not in self._providers:
            self._providers.append(provider)
        return provider

    @property
    def providers(self) -> list[Callable[..., Any]]:
        return list(self._providers)

    def ask(self, *args, **kwargs):
        """The answer of the one provider."""
        if not self._providers:
            raise HookNotProvided(f"nothing provides the hook {self.name!r}")
        if len(self._providers) > 1:
            raise RuntimeError(f"the hook {self.name!r} has {len(self._providers)} providers")
        return self._providers[0](*args, **kwargs)

    def collect(self, *args, **kwargs) -> list:
        """The answers of every provider."""
        return [provider(*args, **kwargs) for provider in self._providers]
