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
    states=PROJECT_STATES,
    transitions=[
        Transition(
            "contracting",
            "sign",
            "in_progress",
            staff,
            guard=_lazy(CONTRACTING, "guard_sign"),
            effect=_lazy(CONTRACTING, "on_sign"),
            notify=_lazy(CONTRACTING, "notify_signed"),
            label=_l("Confirm the signed task book"),
        ),
        Transition(
            "in_progress",
            "request_acceptance",
            "acceptance_review",
            owner,
            guard=_lazy(ACCEPTANCE, "guard_request_acceptance"),
            effect=_lazy(ACCEPTANCE, "on_request_acceptance"),
            notify=_lazy(ACCEPTANCE, "notify_acceptance_requested"),
            label=_l("Request acceptance"),
        ),
        Transition(
            "acceptance_review",
            "pass",
            "accepted",
            staff,
            guard=_lazy(ACCEPTANCE, "guard_conclude"),
            effect=_lazy(ACCEPTANCE, "on_pass"),
            notify=_lazy(ACCEPTANCE, "notify_concluded"),
            label=_l("Pass acceptance"),
        ),
        Transition(
            "acceptance_review",
            "rectify",
            "in_progress",
            staff,
            guard=_lazy(ACCEPTANCE, "guard_rectify"),
            effect=_lazy(ACCEPTANCE, "on_rectify"),
            notify=_lazy(ACCEPTANCE, "notify_concluded"),
            label=_l("Send back for rectification"),
        ),
        Transition(
            "acceptance_review",
            "fail",
            "acceptance_failed",
            staff,
            guard=_lazy(ACCEPTANCE, "guard_fail"),
            effect=_lazy(ACCEPTANCE, "on_fail"),
            notify=_lazy(ACCEPTANCE, "notify_concluded"),
            label=_l("Fail acceptance"),
        ),
        Transition(
            "accepted",
            "close",
            "closed",
            staff,
            guard=_lazy(ACCEPTANCE, "guard_close"),
            effect=_lazy(ACCEPTANCE, "on_close"),
            label=_l("Close the project"),
        ),
        Transition(
            "acceptance_failed",
            "close",
            "closed",
            staff,
            guard=_lazy(ACCEPTANCE, "guard_close"),
            effect=_lazy(ACCEPTANCE, "on_close"),
            label=_l("Close the project"),
        ),
        Transition(
            "contracting",
            "terminate",
            "terminated",
            staff | is_system,
            guard=text_required("reason", _l("Give the reason for terminating the project.")),
            effect=_lazy(CHANGES, "on_terminate"),
            notify=_lazy(CHANGES, "notify_terminated"),
            label=_l("Terminate"),
        ),
        Transition(
            "in_progress",
            "terminate",
            "terminated",
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
            effect=_lazy(PROGRESS, "on_milestone_achieved"),
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
            guard=_lazy(PROGRESS, "guard_submit_report"),
            effect=_lazy(PROGRESS, "on_submit_report"),
            notify=_lazy(PROGRESS, "notify_report_submitted"),
            label=_l("Submit"),
        ),
        Transition(
            "returned",
            "submit",
            "submitted",
            owner,
            guard=_lazy(PROGRESS, "guard_submit_report"),
            effect=_lazy(PROGRESS, "on_submit_report"),
            notify=_lazy(PROGRESS, "notify_report_submitted"),
            label=_l("Resubmit"),
        ),
        Transition(
            "submitted",
            "approve",
            "approved",
            staff,
            effect=_lazy(PROGRESS, "on_approve_report"),
            notify=_lazy(PROGRESS, "notify_report_reviewed"),
            label=_l("Approve the report"),
        ),
        Transition(
            "submitted",
            "return",
            "returned",
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
    states=CHANGE_STATES,
    transitions=[
        Transition(
            "draft",
            "submit",
            "submitted",
            owner,
            guard=_lazy(CHANGES, "guard_submit_change"),
            effect=_lazy(CHANGES, "on_submit_change"),
            notify=_lazy(CHANGES, "notify_change_submitted"),
            label=_l("Submit"),
        ),
        Transition("draft", "cancel", "cancelled", owner, label=_l("Cancel")),
        Transition("submitted", "cancel", "cancelled", owner, label=_l("Cancel")),
        Transition(
            "submitted",
            "approve",
            "approved",
            staff,
            guard=_lazy(CHANGES, "guard_approve_change"),
            effect=_lazy(CHANGES, "on_approve_change"),
            notify=_lazy(CHANGES, "notify_change_decided"),
            label=_l("Approve the change"),
        ),
        Transition(
            "submitted",
            "reject",
            "rejected",
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
    states=FINAL_REPORT_STATES,
    transitions=[
        Transition(
            "draft",
            "submit",
            "submitted",
            owner,
            guard=_lazy(ACCEPTANCE, "guard_submit_final"),
            effect=_lazy(ACCEPTANCE, "on_submit_final"),
            label=_l("Submit and request acceptance"),
        ),
        Transition(
            "returned",
            "submit",
            "submitted",
            owner,
            guard=_lazy(ACCEPTANCE, "guard_submit_final"),
            effect=_lazy(ACCEPTANCE, "on_submit_final"),
            label=_l("Resubmit"),
        ),
        Transition(
            "submitted",
            "verify",
            "verified",
            finance,
            effect=_lazy(ACCEPTANCE, "on_verify_statement"),
            label=_l("Verify the final statement"),
        ),
        Transition(
            "submitted",
            "return",
            "returned",
            finance,
            guard=text_required("note", _l("Say what is wrong with the statement.")),
            effect=_lazy(ACCEPTANCE, "on_return_statement"),
            notify=_lazy(ACCEPTANCE, "notify_statement_returned"),
            label=_l("Return the statement"),
        ),
    ],
)
