"""State machines of money: disbursements (maker-checker) and spending reports.

Disbursement: requested ─approve→ approved ─pay→ paid; requested ─reject→ rejected.
The approver is a finance officer other than the requester (the rule here and a
database CHECK). Requesting is an operation (disbursements.request_disbursement): it
creates the row with its idempotency key and reserves the money atomically.
Disbursements still requested or approved when their project is terminated are cancelled
(requested | approved ─cancel→ cancelled, releasing the reservation, audited).
Expenditure: submitted ─verify→ verified; submitted ─return→ returned ─resubmit→ submitted.
Signed task book: signed_uploaded ─confirm→ confirmed (the bureau; the project is signed and
its tranche on signing falls due); signed_uploaded ─return→ returned (with the reason).
Application: approved ─contract→ contracted (the project and its task book are created).
"""

from flask_babel import lazy_gettext as _l

from grants.applications.workflow import APPLICATION_WORKFLOW
from grants.core.permissions import is_system
from grants.core.workflow import Transition, Workflow
from grants.funding.models import (
    DISBURSEMENT_STATES,
    EXPENDITURE_STATES,
    SIGNATURE_STATES,
    Disbursement,
    Expenditure,
    TaskBookSignature,
)
from grants.funding.rules import is_requester
from grants.projects.rules import finance, owner, staff
from grants.projects.workflow import _lazy, text_required

CONTRACTING = "grants.funding.contracting"
DISBURSEMENTS = "grants.funding.disbursements"
SPENDING = "grants.funding.spending"

DISBURSEMENT_WORKFLOW = Workflow(
    name="disbursement",
    model=Disbursement,
    states=DISBURSEMENT_STATES,
    transitions=[
        Transition(
            "requested",
            "approve",
            "approved",
            finance & ~is_requester,
            guard=_lazy(DISBURSEMENTS, "guard_approve"),
            effect=_lazy(DISBURSEMENTS, "on_approve"),
            label=_l("Check and approve"),
        ),
        Transition(
            "approved",
            "pay",
            "paid",
            finance,
            guard=_lazy(DISBURSEMENTS, "guard_pay"),
            effect=_lazy(DISBURSEMENTS, "on_pay"),
            notify=_lazy(DISBURSEMENTS, "notify_paid"),
            label=_l("Mark as paid"),
        ),
        Transition(
            "requested",
            "reject",
            "rejected",
            finance,
            guard=_lazy(DISBURSEMENTS, "guard_reject"),
            effect=_lazy(DISBURSEMENTS, "on_reject"),
            notify=_lazy(DISBURSEMENTS, "notify_rejected"),
            label=_l("Reject the release"),
        ),
        Transition(
            "requested",
            "cancel",
            "cancelled",
            staff | is_system,
            guard=_lazy(DISBURSEMENTS, "guard_cancel"),
            effect=_lazy(DISBURSEMENTS, "on_cancel"),
            label=_l("Cancel the release"),
        ),
        Transition(
            "approved",
            "cancel",
            "cancelled",
            staff | is_system,
            guard=_lazy(DISBURSEMENTS, "guard_cancel"),
            effect=_lazy(DISBURSEMENTS, "on_cancel"),
            label=_l("Cancel the release"),
        ),
    ],
)

SIGNATURE_WORKFLOW = Workflow(
    name="task_book_signature",
    model=TaskBookSignature,
    states=SIGNATURE_STATES,
    transitions=[
        Transition(
            "signed_uploaded",
            "confirm",
            "confirmed",
            staff,
            guard=_lazy(CONTRACTING, "guard_confirm_signature"),
            effect=_lazy(CONTRACTING, "on_confirm_signature"),
            label=_l("Confirm the signed task book"),
        ),
        Transition(
            "signed_uploaded",
            "return",
            "returned",
            staff,
            guard=text_required(
                "reason", _l("Say what is wrong with the signed copy: the applicant will read it.")
            ),
            effect=_lazy(CONTRACTING, "on_return_signature"),
            notify=_lazy(CONTRACTING, "notify_signature_returned"),
            label=_l("Return the signed copy"),
        ),
    ],
)

EXPENDITURE_WORKFLOW = Workflow(
    name="expenditure",
    model=Expenditure,
    states=EXPENDITURE_STATES,
    transitions=[
        Transition(
            "submitted",
            "verify",
            "verified",
            finance,
            guard=_lazy(SPENDING, "guard_verify"),
            effect=_lazy(SPENDING, "on_verify"),
            label=_l("Verify the spending report"),
        ),
        Transition(
            "submitted",
            "return",
            "returned",
            finance,
            guard=text_required("note", _l("Say what is wrong: the project owner will read it.")),
            effect=_lazy(SPENDING, "on_return"),
            notify=_lazy(SPENDING, "notify_returned"),
            label=_l("Return the spending report"),
        ),
        Transition(
            "returned",
            "resubmit",
            "submitted",
            owner,
            effect=_lazy(SPENDING, "on_resubmit"),
            label=_l("Resubmit"),
        ),
    ],
)

# Contracting closes the application's lifecycle: from here on the project carries it.
APPLICATION_WORKFLOW.add(
    Transition(
        "approved",
        "contract",
        "contracted",
        staff,
        guard=_lazy(CONTRACTING, "guard_contract"),
        label=_l("Contract"),
    ),
)
