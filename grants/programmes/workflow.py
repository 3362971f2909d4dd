"""The call lifecycle: draft → published → closed (→ published again with a later close time)."""

from flask_babel import lazy_gettext as _l

from grants.core.permissions import has_role, is_system
from grants.core.types import utcnow
from grants.core.workflow import Transition, Workflow
from grants.programmes.models import Call, CallState

staff = has_role("bureau", "admin")


def _ready_to_publish(call, actor, data):
    """A call needs a rubric, target clusters and a close time in the future."""
    problems = []
    if not call.criteria:
        problems.append(str(_l("Add at least one review criterion.")))
    if not call.clusters:
        problems.append(str(_l("Choose the industry clusters the call targets.")))
    if call.closes_at <= utcnow():
        problems.append(str(_l("The close time is already past.")))
    return " ".join(problems) or None


def _close_time_in_future(call, actor, data):
    if call.closes_at <= utcnow():
        return str(_l("Set a close time in the future before reopening the call."))
    return None


def _stamp_published(call, actor, data):
    call.published_at = call.published_at or utcnow()
    call.closed_at = None


def _stamp_closed(call, actor, data):
    call.closed_at = utcnow()


CALL_WORKFLOW = Workflow(
    name="call",
    model=Call,
    states=CallState,
    transitions=[
        Transition(
            CallState.DRAFT,
            "publish",
            CallState.PUBLISHED,
            staff,
            guard=_ready_to_publish,
            effect=_stamp_published,
            label=_l("Publish"),
        ),
        Transition(
            CallState.PUBLISHED,
            "close",
            CallState.CLOSED,
            staff | is_system,
            effect=_stamp_closed,
            label=_l("Close"),
        ),
        Transition(
            CallState.CLOSED,
            "reopen",
            CallState.PUBLISHED,
            staff,
            guard=_close_time_in_future,
            effect=_stamp_published,
            label=_l("Reopen"),
        ),
    ],
)
