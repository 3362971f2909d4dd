"""What an applicant may see of an application's progress: the one place that says so.

The bureau closes the expert review and decides (approve, decline) long before the
applicant may know: the decisions of a call are released together. Until then every
page, badge, list, count, time and message the applicant can reach reads the same for
every internal outcome. Templates ask ``shown_state`` and ``shown_last_change``; code
that writes for the applicant (flash messages, notifications) asks :func:`applicant_state`.

Whether a decision is released is known to the review domain, which registers the
question here (:func:`register_release_lookup`) as it adds its transitions to the
application's workflow; without it nothing hidden is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from grants.applications.models import Application, ApplicationState
from grants.core.states import label_of

# States the applicant reads as "under_review" until the decision is released.
HIDDEN_UNTIL_RELEASE = (
    ApplicationState.REVIEWED,
    ApplicationState.APPROVED,
    ApplicationState.DECLINED,
)

_release_lookup: Callable[[Application], bool] | None = None
_internal_viewer: Callable[[object, Application], bool] | None = None


def register_release_lookup(
    is_released: Callable[[Application], bool],
    sees_internal_state: Callable[[object, Application], bool],
) -> None:
    """Install the review domain's answers: is the decision released, may this user see internal states."""
    global _release_lookup, _internal_viewer
    _release_lookup, _internal_viewer = is_released, sees_internal_state


def is_released(application: Application) -> bool:
    return _release_lookup is not None and _release_lookup(application)


def applicant_state(application: Application) -> str:
    """The state the applicant is shown: every state after the expert review reads "under_review" until release."""
    if application.state in HIDDEN_UNTIL_RELEASE and not is_released(application):
        return "under_review"
    return application.state


def applicant_state_label(application: Application) -> str:
    return label_of(ApplicationState, applicant_state(application))


def applicant_last_change(application: Application) -> datetime | None:
    """The "last change" time the applicant is shown: frozen at the formal check while the outcome is hidden.

    Closing the review and recording a decision move ``updated_at``; before release the
    applicant sees the time the application went to the experts instead.
    """
    if applicant_state(application) == "under_review":
        passed = [c.at for c in application.checks if c.decision == "pass"]
        return passed[-1] if passed else application.submitted_at
    return application.updated_at


def sees_internal_state(viewer, application: Application) -> bool:
    """Whether ``viewer`` may see the internal state (the bureau deciding); applicants never do."""
    if viewer is None or not getattr(viewer, "is_authenticated", False) or _internal_viewer is None:
        return False
    return _internal_viewer(viewer, application)


def shown_state(application: Application, viewer=None) -> str:
    """The state key ``viewer`` should see: the real one for the bureau, :func:`applicant_state` for anyone else."""
    if sees_internal_state(viewer, application):
        return application.state
    return applicant_state(application)


def shown_state_label(application: Application, viewer=None) -> str:
    return label_of(ApplicationState, shown_state(application, viewer))


def shown_last_change(application: Application, viewer=None) -> datetime | None:
    if sees_internal_state(viewer, application):
        return application.updated_at
    return applicant_last_change(application)
