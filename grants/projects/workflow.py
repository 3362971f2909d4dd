"""State machines of project execution, coded like every other lifecycle.

Project: contracting ─sign (the bureau confirms the signed task book)→ in_progress
  ─request_acceptance→ acceptance_review
  ─pass→ accepted ─close→ closed; ─rectify→ in_progress; ─fail→ acceptance_failed ─close→ closed;
  contracting | in_progress ─terminate→ terminated.
Milestone: open ─report→ reported ─approve→ achieved; reported ─return→ open.
Progress report: draft ─submit→ submitted ─approve→ approved | ─return→ returned ─submit→ submitted.
Change request: draft ─submit→ submitted ─approve→ approved | ─reject→ rejected;
  draft | submitted ─cancel→ cancelled.
Final report: draft ─submit→ submitted ─verify→ verified (finance) | ─return→ returned ─submit→ submitted.

Guards and effects live in the verb modules (progress.py, changes.py, acceptance.py); those
of ``sign`` in the funding domain's contracting.py, provided through the ``sign_*`` hooks.
"""

from flask_babel import lazy_gettext as _l

from grants.core.permissions import is_system
from grants.core.signals import Hook
from grants.core.workflow import Transition, Workflow
from grants.projects import acceptance, changes, progress
from grants.projects.models import (
    CHANGE_STATES,
    FINAL_REPORT_STATES,
    MILESTONE_STATES,
    PROJECT_STATES,
    REPORT_STATES,
    ChangeRequest,
    FinalReport,
    Milestone,
    ProgressReport,
    Project,
)
from grants.projects.rules import finance, owner, staff


def text_required(key: str, message):
    """A guard refusing the event unless ``data[key]`` holds some text."""

    def guard(obj, actor, data):
        if not (data.get(key) or "").strip():
            return str(message)
        return None

    return guard


# Confirming a signed task book is the funding domain's verb (grants/funding/contracting.py):
# it provides the guard, effect and notification of ``sign`` (grants/funding/subscribers.py).
sign_guard = Hook("projects.sign_guard", "Why a signed task book cannot be confirmed, or None.")
sign_effect = Hook("projects.sign_effect", "What confirming a signed task book does.")
sign_notify = Hook("projects.sign_notify", "Whom confirming a signed task book tells.")

PROJECT_WORKFLOW = Workflow(
    name="project",
    model=Project,
    states=PROJECT_STATES,
    transitions=[
        Transition(
            "contracting",
            "sign",
            "in_progress",
            staff,
            guard=sign_guard.ask,
            effect=sign_effect.ask,
            notify=sign_notify.ask,
            label=_l("Confirm the signed task book"),
        ),
        Transition(
            "in_progress",
            "request_acceptance",
            "acceptance_review",
            owner,
            guard=acceptance.guard_request_acceptance,
            effect=acceptance.on_request_acceptance,
            notify=acceptance.notify_acceptance_requested,
            label=_l("Request acceptance"),
        ),
        Transition(
            "acceptance_review",
            "pass",
            "accepted",
            staff,
            guard=acceptance.guard_conclude,
            effect=acceptance.on_pass,
            notify=acceptance.notify_concluded,
            label=_l("Pass acceptance"),
        ),
        Transition(
            "acceptance_review",
            "rectify",
            "in_progress",
            staff,
            guard=acceptance.guard_rectify,
            effect=acceptance.on_rectify,
            notify=acceptance.notify_concluded,
            label=_l("Send back for rectification"),
        ),
        Transition(
            "acceptance_review",
            "fail",
            "acceptance_failed",
            staff,
            guard=acceptance.guard_fail,
            effect=acceptance.on_fail,
            notify=acceptance.notify_concluded,
            label=_l("Fail acceptance"),
        ),
        Transition(
            "accepted",
            "close",
            "closed",
            staff,
            guard=acceptance.guard_close,
            effect=acceptance.on_close,
            label=_l("Close the project"),
        ),
        Transition(
            "acceptance_failed",
            "close",
            "closed",
            staff,
            guard=acceptance.guard_close,
            effect=acceptance.on_close,
            label=_l("Close the project"),
        ),
        Transition(
            "contracting",
            "terminate",
            "terminated",
            staff | is_system,
            guard=text_required("reason", _l("Give the reason for terminating the project.")),
            effect=changes.on_terminate,
            notify=changes.notify_terminated,
            label=_l("Terminate"),
        ),
        Transition(
            "in_progress",
            "terminate",
            "terminated",
            staff | is_system,
            guard=text_required("reason", _l("Give the reason for terminating the project.")),
            effect=changes.on_terminate,
            notify=changes.notify_terminated,
            label=_l("Terminate"),
        ),
    ],
)

MILESTONE_WORKFLOW = Workflow(
    name="milestone",
    model=Milestone,
    states=MILESTONE_STATES,
    transitions=[
        Transition(
            "open", "report", "reported", owner | is_system, label=_l("Report on the milestone")
        ),
        Transition(
            "reported",
            "approve",
            "achieved",
            staff | is_system,
            effect=progress.on_milestone_achieved,
            label=_l("Approve the milestone"),
        ),
        Transition(
            "reported", "return", "open", staff | is_system, label=_l("Reopen the milestone")
        ),
    ],
)

PROGRESS_REPORT_WORKFLOW = Workflow(
    name="progress_report",
    model=ProgressReport,
    states=REPORT_STATES,
    transitions=[
        Transition(
            "draft",
            "submit",
            "submitted",
            owner,
            guard=progress.guard_submit_report,
            effect=progress.on_submit_report,
            notify=progress.notify_report_submitted,
            label=_l("Submit"),
        ),
        Transition(
            "returned",
            "submit",
            "submitted",
            owner,
            guard=progress.guard_submit_report,
            effect=progress.on_submit_report,
            notify=progress.notify_report_submitted,
            label=_l("Resubmit"),
        ),
        Transition(
            "submitted",
            "approve",
            "approved",
            staff,
            effect=progress.on_approve_report,
            notify=progress.notify_report_reviewed,
            label=_l("Approve the report"),
        ),
        Transition(
            "submitted",
            "return",
            "returned",
            staff,
            guard=text_required("note", _l("Say what is missing: the project owner will read it.")),
            effect=progress.on_return_report,
            notify=progress.notify_report_reviewed,
            label=_l("Return the report"),
        ),
    ],
)

CHANGE_WORKFLOW = Workflow(
    name="change_request",
    model=ChangeRequest,
    states=CHANGE_STATES,
    transitions=[
        Transition(
            "draft",
            "submit",
            "submitted",
            owner,
            guard=changes.guard_submit_change,
            effect=changes.on_submit_change,
            notify=changes.notify_change_submitted,
            label=_l("Submit"),
        ),
        Transition("draft", "cancel", "cancelled", owner, label=_l("Cancel")),
        Transition("submitted", "cancel", "cancelled", owner, label=_l("Cancel")),
        Transition(
            "submitted",
            "approve",
            "approved",
            staff,
            guard=changes.guard_approve_change,
            effect=changes.on_approve_change,
            notify=changes.notify_change_decided,
            label=_l("Approve the change"),
        ),
        Transition(
            "submitted",
            "reject",
            "rejected",
            staff,
            guard=text_required("note", _l("Give the reason for rejecting the change.")),
            effect=changes.on_reject_change,
            notify=changes.notify_change_decided,
            label=_l("Reject the change"),
        ),
    ],
)

FINAL_REPORT_WORKFLOW = Workflow(
    name="final_report",
    model=FinalReport,
    states=FINAL_REPORT_STATES,
    transitions=[
        Transition(
            "draft",
            "submit",
            "submitted",
            owner,
            guard=acceptance.guard_submit_final,
            effect=acceptance.on_submit_final,
            label=_l("Submit and request acceptance"),
        ),
        Transition(
            "returned",
            "submit",
            "submitted",
            owner,
            guard=acceptance.guard_submit_final,
            effect=acceptance.on_submit_final,
            label=_l("Resubmit"),
        ),
        Transition(
            "submitted",
            "verify",
            "verified",
            finance,
            effect=acceptance.on_verify_statement,
            label=_l("Verify the final statement"),
        ),
        Transition(
            "submitted",
            "return",
            "returned",
            finance,
            guard=text_required("note", _l("Say what is wrong with the statement.")),
            effect=acceptance.on_return_statement,
            notify=acceptance.notify_statement_returned,
            label=_l("Return the statement"),
        ),
    ],
)
