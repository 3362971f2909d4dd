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
    ChangeRequest,
    ChangeRequestState,
    FinalReport,
    FinalReportState,
    Milestone,
    MilestoneState,
    ProgressReport,
    ProgressReportState,
    Project,
    ProjectState,
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
    states=ProjectState,
    transitions=[
        Transition(
            ProjectState.CONTRACTING,
            "sign",
            ProjectState.IN_PROGRESS,
            staff,
            guard=sign_guard.ask,
            effect=sign_effect.ask,
            notify=sign_notify.ask,
            label=_l("Confirm the signed task book"),
        ),
        Transition(
            ProjectState.IN_PROGRESS,
            "request_acceptance",
            ProjectState.ACCEPTANCE_REVIEW,
            owner,
            guard=acceptance.guard_request_acceptance,
            effect=acceptance.on_request_acceptance,
            notify=acceptance.notify_acceptance_requested,
            label=_l("Request acceptance"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_REVIEW,
            "pass",
            ProjectState.ACCEPTED,
            staff,
            guard=acceptance.guard_conclude,
            effect=acceptance.on_pass,
            notify=acceptance.notify_concluded,
            label=_l("Pass acceptance"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_REVIEW,
            "rectify",
            ProjectState.IN_PROGRESS,
            staff,
            guard=acceptance.guard_rectify,
            effect=acceptance.on_rectify,
            notify=acceptance.notify_concluded,
            label=_l("Send back for rectification"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_REVIEW,
            "fail",
            ProjectState.ACCEPTANCE_FAILED,
            staff,
            guard=acceptance.guard_fail,
            effect=acceptance.on_fail,
            notify=acceptance.notify_concluded,
            label=_l("Fail acceptance"),
        ),
        Transition(
            ProjectState.ACCEPTED,
            "close",
            ProjectState.CLOSED,
            staff,
            guard=acceptance.guard_close,
            effect=acceptance.on_close,
            label=_l("Close the project"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_FAILED,
            "close",
            ProjectState.CLOSED,
            staff,
            guard=acceptance.guard_close,
            effect=acceptance.on_close,
            label=_l("Close the project"),
        ),
        Transition(
            ProjectState.CONTRACTING,
            "terminate",
            ProjectState.TERMINATED,
            staff | is_system,
            guard=text_required("reason", _l("Give the reason for terminating the project.")),
            effect=changes.on_terminate,
            notify=changes.notify_terminated,
            label=_l("Terminate"),
        ),
        Transition(
            ProjectState.IN_PROGRESS,
            "terminate",
            ProjectState.TERMINATED,
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
    states=MilestoneState,
    transitions=[
        Transition(
            MilestoneState.OPEN,
            "report",
            MilestoneState.REPORTED,
            owner | is_system,
            label=_l("Report on the milestone"),
        ),
        Transition(
            MilestoneState.REPORTED,
            "approve",
            MilestoneState.ACHIEVED,
            staff | is_system,
            effect=progress.on_milestone_achieved,
            label=_l("Approve the milestone"),
        ),
        Transition(
            MilestoneState.REPORTED,
            "return",
            MilestoneState.OPEN,
            staff | is_system,
            label=_l("Reopen the milestone"),
        ),
    ],
)

PROGRESS_REPORT_WORKFLOW = Workflow(
    name="progress_report",
    model=ProgressReport,
    states=ProgressReportState,
    transitions=[
        Transition(
            ProgressReportState.DRAFT,
            "submit",
            ProgressReportState.SUBMITTED,
            owner,
            guard=progress.guard_submit_report,
            effect=progress.on_submit_report,
            notify=progress.notify_report_submitted,
            label=_l("Submit"),
        ),
        Transition(
            ProgressReportState.RETURNED,
            "submit",
            ProgressReportState.SUBMITTED,
            owner,
            guard=progress.guard_submit_report,
            effect=progress.on_submit_report,
            notify=progress.notify_report_submitted,
            label=_l("Resubmit"),
        ),
        Transition(
            ProgressReportState.SUBMITTED,
            "approve",
            ProgressReportState.APPROVED,
            staff,
            effect=progress.on_approve_report,
            notify=progress.notify_report_reviewed,
            label=_l("Approve the report"),
        ),
        Transition(
            ProgressReportState.SUBMITTED,
            "return",
            ProgressReportState.RETURNED,
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
    states=ChangeRequestState,
    transitions=[
        Transition(
            ChangeRequestState.DRAFT,
            "submit",
            ChangeRequestState.SUBMITTED,
            owner,
            guard=changes.guard_submit_change,
            effect=changes.on_submit_change,
            notify=changes.notify_change_submitted,
            label=_l("Submit"),
        ),
        Transition(
            ChangeRequestState.DRAFT,
            "cancel",
            ChangeRequestState.CANCELLED,
            owner,
            label=_l("Cancel"),
        ),
        Transition(
            ChangeRequestState.SUBMITTED,
            "cancel",
            ChangeRequestState.CANCELLED,
            owner,
            label=_l("Cancel"),
        ),
        Transition(
            ChangeRequestState.SUBMITTED,
            "approve",
            ChangeRequestState.APPROVED,
            staff,
            guard=changes.guard_approve_change,
            effect=changes.on_approve_change,
            notify=changes.notify_change_decided,
            label=_l("Approve the change"),
        ),
        Transition(
            ChangeRequestState.SUBMITTED,
            "reject",
            ChangeRequestState.REJECTED,
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
    states=FinalReportState,
    transitions=[
        Transition(
            FinalReportState.DRAFT,
            "submit",
            FinalReportState.SUBMITTED,
            owner,
            guard=acceptance.guard_submit_final,
            effect=acceptance.on_submit_final,
            label=_l("Submit and request acceptance"),
        ),
        Transition(
            FinalReportState.RETURNED,
            "submit",
            FinalReportState.SUBMITTED,
            owner,
            guard=acceptance.guard_submit_final,
            effect=acceptance.on_submit_final,
            label=_l("Resubmit"),
        ),
        Transition(
            FinalReportState.SUBMITTED,
            "verify",
            FinalReportState.VERIFIED,
            finance,
            effect=acceptance.on_verify_statement,
            label=_l("Verify the final statement"),
        ),
        Transition(
            FinalReportState.SUBMITTED,
            "return",
            FinalReportState.RETURNED,
            finance,
            guard=text_required("note", _l("Say what is wrong with the statement.")),
            effect=acceptance.on_return_statement,
            notify=acceptance.notify_statement_returned,
            label=_l("Return the statement"),
        ),
    ],
)
