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

Guards and effects live in the verb modules (progress.py, changes.py, acceptance.py,
and the funding domain's contracting.py) and are imported when first used.
"""

from flask_babel import lazy_gettext as _l

from grants.core.permissions import is_system
from grants.core.workflow import Transition, Workflow
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


def _lazy(module: str, name: str):
    """A guard or effect implemented in a domain module, imported when first used."""

    def call(obj, actor, data):
        import importlib

        return getattr(importlib.import_module(module), name)(obj, actor, data)

    call.__name__ = name
    return call


def text_required(key: str, message):
    """A guard refusing the event unless ``data[key]`` holds some text."""

    def guard(obj, actor, data):
        if not (data.get(key) or "").strip():
            return str(message)
        return None

    return guard


CONTRACTING = "grants.funding.contracting"
PROGRESS = "grants.projects.progress"
CHANGES = "grants.projects.changes"
ACCEPTANCE = "grants.projects.acceptance"

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
            guard=_lazy(CONTRACTING, "guard_sign"),
            effect=_lazy(CONTRACTING, "on_sign"),
            notify=_lazy(CONTRACTING, "notify_signed"),
            label=_l("Confirm the signed task book"),
        ),
        Transition(
            ProjectState.IN_PROGRESS,
            "request_acceptance",
            ProjectState.ACCEPTANCE_REVIEW,
            owner,
            guard=_lazy(ACCEPTANCE, "guard_request_acceptance"),
            effect=_lazy(ACCEPTANCE, "on_request_acceptance"),
            notify=_lazy(ACCEPTANCE, "notify_acceptance_requested"),
            label=_l("Request acceptance"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_REVIEW,
            "pass",
            ProjectState.ACCEPTED,
            staff,
            guard=_lazy(ACCEPTANCE, "guard_conclude"),
            effect=_lazy(ACCEPTANCE, "on_pass"),
            notify=_lazy(ACCEPTANCE, "notify_concluded"),
            label=_l("Pass acceptance"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_REVIEW,
            "rectify",
            ProjectState.IN_PROGRESS,
            staff,
            guard=_lazy(ACCEPTANCE, "guard_rectify"),
            effect=_lazy(ACCEPTANCE, "on_rectify"),
            notify=_lazy(ACCEPTANCE, "notify_concluded"),
            label=_l("Send back for rectification"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_REVIEW,
            "fail",
            ProjectState.ACCEPTANCE_FAILED,
            staff,
            guard=_lazy(ACCEPTANCE, "guard_fail"),
            effect=_lazy(ACCEPTANCE, "on_fail"),
            notify=_lazy(ACCEPTANCE, "notify_concluded"),
            label=_l("Fail acceptance"),
        ),
        Transition(
            ProjectState.ACCEPTED,
            "close",
            ProjectState.CLOSED,
            staff,
            guard=_lazy(ACCEPTANCE, "guard_close"),
            effect=_lazy(ACCEPTANCE, "on_close"),
            label=_l("Close the project"),
        ),
        Transition(
            ProjectState.ACCEPTANCE_FAILED,
            "close",
            ProjectState.CLOSED,
            staff,
            guard=_lazy(ACCEPTANCE, "guard_close"),
            effect=_lazy(ACCEPTANCE, "on_close"),
            label=_l("Close the project"),
        ),
        Transition(
            ProjectState.CONTRACTING,
            "terminate",
            ProjectState.TERMINATED,
            staff | is_system,
            guard=text_required("reason", _l("Give the reason for terminating the project.")),
            effect=_lazy(CHANGES, "on_terminate"),
            notify=_lazy(CHANGES, "notify_terminated"),
            label=_l("Terminate"),
        ),
        Transition(
            ProjectState.IN_PROGRESS,
            "terminate",
            ProjectState.TERMINATED,
            staff | is_system,
            guard=text_required("reason", _l("Give the reason for terminating the project.")),
            effect=_lazy(CHANGES, "on_terminate"),
            notify=_lazy(CHANGES, "notify_terminated"),
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
            effect=_lazy(PROGRESS, "on_milestone_achieved"),
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
            guard=_lazy(PROGRESS, "guard_submit_report"),
            effect=_lazy(PROGRESS, "on_submit_report"),
            notify=_lazy(PROGRESS, "notify_report_submitted"),
            label=_l("Submit"),
        ),
        Transition(
            ProgressReportState.RETURNED,
            "submit",
            ProgressReportState.SUBMITTED,
            owner,
            guard=_lazy(PROGRESS, "guard_submit_report"),
            effect=_lazy(PROGRESS, "on_submit_report"),
            notify=_lazy(PROGRESS, "notify_report_submitted"),
            label=_l("Resubmit"),
        ),
        Transition(
            ProgressReportState.SUBMITTED,
            "approve",
            ProgressReportState.APPROVED,
            staff,
            effect=_lazy(PROGRESS, "on_approve_report"),
            notify=_lazy(PROGRESS, "notify_report_reviewed"),
            label=_l("Approve the report"),
        ),
        Transition(
            ProgressReportState.SUBMITTED,
            "return",
            ProgressReportState.RETURNED,
            staff,
            guard=text_required("note", _l("Say what is missing: the project owner will read it.")),
            effect=_lazy(PROGRESS, "on_return_report"),
            notify=_lazy(PROGRESS, "notify_report_reviewed"),
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
            guard=_lazy(CHANGES, "guard_submit_change"),
            effect=_lazy(CHANGES, "on_submit_change"),
            notify=_lazy(CHANGES, "notify_change_submitted"),
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
            guard=_lazy(CHANGES, "guard_approve_change"),
            effect=_lazy(CHANGES, "on_approve_change"),
            notify=_lazy(CHANGES, "notify_change_decided"),
            label=_l("Approve the change"),
        ),
        Transition(
            ChangeRequestState.SUBMITTED,
            "reject",
            ChangeRequestState.REJECTED,
            staff,
            guard=text_required("note", _l("Give the reason for rejecting the change.")),
            effect=_lazy(CHANGES, "on_reject_change"),
            notify=_lazy(CHANGES, "notify_change_decided"),
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
            guard=_lazy(ACCEPTANCE, "guard_submit_final"),
            effect=_lazy(ACCEPTANCE, "on_submit_final"),
            label=_l("Submit and request acceptance"),
        ),
        Transition(
            FinalReportState.RETURNED,
            "submit",
            FinalReportState.SUBMITTED,
            owner,
            guard=_lazy(ACCEPTANCE, "guard_submit_final"),
            effect=_lazy(ACCEPTANCE, "on_submit_final"),
            label=_l("Resubmit"),
        ),
        Transition(
            FinalReportState.SUBMITTED,
            "verify",
            FinalReportState.VERIFIED,
            finance,
            effect=_lazy(ACCEPTANCE, "on_verify_statement"),
            label=_l("Verify the final statement"),
        ),
        Transition(
            FinalReportState.SUBMITTED,
            "return",
            FinalReportState.RETURNED,
            finance,
            guard=text_required("note", _l("Say what is wrong with the statement.")),
            effect=_lazy(ACCEPTANCE, "on_return_statement"),
            notify=_lazy(ACCEPTANCE, "notify_statement_returned"),
            label=_l("Return the statement"),
        ),
    ],
)
