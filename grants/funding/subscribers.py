"""What the funding domain does when the projects domain below it sends its events, and the
values it provides to it (see grants/core/signals.py).

A milestone achieved or a project accepted makes its tranches due; a project terminated
or failing acceptance cancels the tranches not yet released and the releases still
pending. Receivers run in the transaction of the transition that sent the event.
"""

from __future__ import annotations

import grants.funding.budget_changes  # noqa: F401  (registers the budget change kind)
from grants.core.signals import (
    milestone_achieved,
    project_acceptance_failed,
    project_accepted,
    project_terminated,
)
from grants.funding import contracting, triggers
from grants.funding.disbursements import on_project_stopped
from grants.funding.queries import spent_by_category
from grants.projects import hooks as project_hooks
from grants.projects import workflow as project_workflow


def milestone_tranches_due(milestone, *, actor=None, data=None) -> None:
    """The tranches triggered by the milestone fall due."""
    triggers.mark_due(milestone.project, "milestone", milestone=milestone)


def acceptance_tranches_due(project, *, actor=None, data=None) -> None:
    """The acceptance tranches of a project that passed acceptance fall due."""
    triggers.mark_due(project, "acceptance")


def terminated_project_money(project, *, actor=None, data=None) -> None:
    """Cancel the tranches without a live disbursement, then the releases still pending."""
    triggers.cancel_for_termination(project, actor)
    on_project_stopped(project, actor, data)


def failed_project_money(project, *, actor=None, data=None) -> None:
    """Cancel the acceptance tranches that never fell due, then the releases still pending."""
    triggers.cancel_acceptance_tranches(project, actor)
    on_project_stopped(project, actor, data)


def connect() -> None:
    milestone_achieved.connect(milestone_tranches_due)
    project_accepted.connect(acceptance_tranches_due)
    project_terminated.connect(terminated_project_money)
    project_acceptance_failed.connect(failed_project_money)
    project_workflow.sign_guard.provide(contracting.guard_sign)
    project_workflow.sign_effect.provide(contracting.on_sign)
    project_workflow.sign_notify.provide(contracting.notify_signed)
    project_hooks.spending.provide(spent_by_category)
    project_hooks.cancellable_tranches.provide(triggers.tranches_to_cancel)
    project_hooks.unpaid_tranches.provide(triggers.open_tranches)
