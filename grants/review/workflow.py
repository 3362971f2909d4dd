"""State machines of the review domain, and the application events it adds.

Assignment: invited → accepted | declined | withdrawn (accepted → withdrawn); an invited or
accepted assignment is also withdrawn when its expert recuses (``recuse``) or a re-check finds
a conflict of interest (``conflict_found``).
Review: draft → submitted → (reopened by the bureau, with a reason) draft.
Public notice: draft → published → closed.  Objection: open → upheld | dismissed.
Application: under_review → reviewed → approved | declined; approved → declined when an
objection is upheld.
"""

from flask_babel import lazy_gettext as _l

from grants.applications.models import ApplicationState
from grants.applications.workflow import APPLICATION_WORKFLOW
from grants.core.permissions import has_role, is_system
from grants.core.workflow import Transition, Workflow
from grants.review import assignments, decisions, scoring
from grants.review.models import (
    Assignment,
    AssignmentState,
    NoticeState,
    Objection,
    ObjectionState,
    PublicNotice,
    Review,
    ReviewState,
)
from grants.review.rules import expert, is_expert_of, is_review_author

staff = has_role("bureau", "admin")


def _text_required(key: str, message):
    def guard(obj, actor, data):
        if not (data.get(key) or "").strip():
            return str(message)
        return None

    return guard


ASSIGNMENT_WORKFLOW = Workflow(
    name="assignment",
    model=Assignment,
    states=AssignmentState,
    transitions=[
        Transition(
            AssignmentState.INVITED,
            "accept",
            AssignmentState.ACCEPTED,
            expert & is_expert_of,
            guard=assignments.guard_accept,
            effect=assignments.on_accept,
            label=_l("Accept"),
        ),
        Transition(
            AssignmentState.INVITED,
            "decline",
            AssignmentState.DECLINED,
            expert & is_expert_of,
            guard=_text_required("reason", _l("Say why you decline, so that the bureau can plan.")),
            effect=assignments.on_decline,
            notify=assignments.notify_declined,
            label=_l("Decline"),
        ),
        Transition(
            AssignmentState.INVITED,
            "withdraw",
            AssignmentState.WITHDRAWN,
            staff,
            effect=assignments.on_withdraw,
            label=_l("Withdraw invitation"),
        ),
        Transition(
            AssignmentState.ACCEPTED,
            "withdraw",
            AssignmentState.WITHDRAWN,
            staff,
            effect=assignments.on_withdraw,
            label=_l("Withdraw invitation"),
        ),
        *[
            Transition(
                source,
                "recuse",
                AssignmentState.WITHDRAWN,
                expert & is_expert_of,
                guard=_text_required(
                    "reason",
                    _l("Say what the conflict of interest is, so that the bureau can record it."),
                ),
                effect=assignments.on_conflict,
                notify=assignments.notify_conflict,
                label=_l("Declare a conflict and withdraw"),
            )
            for source in (AssignmentState.INVITED, AssignmentState.ACCEPTED)
        ],
        *[
            Transition(
                source,
                "conflict_found",
                AssignmentState.WITHDRAWN,
                (expert & is_expert_of) | staff | is_system,
                guard=assignments.guard_conflict_found,
                effect=assignments.on_conflict,
                notify=assignments.notify_conflict,
            )
            for source in (AssignmentState.INVITED, AssignmentState.ACCEPTED)
        ],
    ],
)

REVIEW_WORKFLOW = Workflow(
    name="review",
    model=Review,
    states=ReviewState,
    transitions=[
        Transition(
            ReviewState.DRAFT,
            "submit",
            ReviewState.SUBMITTED,
            expert & is_review_author,
            guard=scoring.guard_submit,
            effect=scoring.on_submit,
            label=_l("Submit review"),
        ),
        Transition(
            ReviewState.SUBMITTED,
            "reopen",
            ReviewState.DRAFT,
            staff,
            guard=_text_required(
                "reason", _l("Give the reason for reopening: it is kept in the audit log.")
            ),
            effect=scoring.on_reopen,
            notify=scoring.notify_reopened,
            label=_l("Reopen"),
        ),
    ],
)

NOTICE_WORKFLOW = Workflow(
    name="notice",
    model=PublicNotice,
    states=NoticeState,
    transitions=[
        Transition(
            NoticeState.DRAFT,
            "publish",
            NoticeState.PUBLISHED,
            staff,
            guard=decisions.guard_publish_notice,
            effect=decisions.on_publish_notice,
            label=_l("Publish"),
        ),
        Transition(
            NoticeState.PUBLISHED,
            "close",
            NoticeState.CLOSED,
            staff | is_system,
            guard=decisions.guard_close_notice,
            label=_l("Close"),
        ),
    ],
)

OBJECTION_WORKFLOW = Workflow(
    name="objection",
    model=Objection,
    states=ObjectionState,
    transitions=[
        Transition(
            ObjectionState.OPEN,
            "uphold",
            ObjectionState.UPHELD,
            staff,
            guard=_text_required("resolution", _l("Write down how the objection was resolved.")),
            effect=decisions.on_resolve_objection,
            label=_l("Uphold"),
        ),
        Transition(
            ObjectionState.OPEN,
            "dismiss",
            ObjectionState.DISMISSED,
            staff,
            guard=_text_required("resolution", _l("Write down how the objection was resolved.")),
            effect=decisions.on_resolve_objection,
            label=_l("Dismiss"),
        ),
    ],
)

# The application's review and decision events, added to the one application table.
APPLICATION_WORKFLOW.add(
    Transition(
        ApplicationState.UNDER_REVIEW,
        "finish_review",
        ApplicationState.REVIEWED,
        staff,
        guard=scoring.guard_finish_review,
        label=_l("Close the review"),
    ),
    Transition(
        ApplicationState.REVIEWED,
        "approve",
        ApplicationState.APPROVED,
        staff,
        guard=decisions.guard_approve,
        effect=decisions.on_approve,
        label=_l("Approve"),
    ),
    Transition(
        ApplicationState.REVIEWED,
        "decline",
        ApplicationState.DECLINED,
        staff,
        guard=_text_required("reasons", _l("Give the reasons for declining.")),
        effect=decisions.on_decline,
        label=_l("Decline"),
    ),
    Transition(
        ApplicationState.APPROVED,
        "overturn",
        ApplicationState.DECLINED,
        staff,
        guard=decisions.guard_overturn,
        effect=decisions.on_overturn,
        label=_l("Overturn the approval"),
    ),
)
