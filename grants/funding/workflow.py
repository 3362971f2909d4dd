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

from grants.applications.models import ApplicationState
from grants.applications.workflow import APPLICATION_WORKFLOW
from grants.core.permissions import is_system
from grants.core.workflow import Transition, Workflow
from grants.funding import contracting, disbursements, spending
from grants.funding.models import (
    Disbursement,
    DisbursementState,
    Expenditure,
    ExpenditureState,
    TaskBookSignature,
    TaskBookSignatureState,
)
from grants.funding.rules import is_requester
from grants.projects.rules import finance, owner, staff
from grants.projects.workflow import text_required

DISBURSEMENT_WORKFLOW = Workflow(
    name="disbursement",
    model=Disbursement,
    states=DisbursementState,
    transitions=[
        Transition(
            DisbursementState.REQUESTED,
            "approve",
            DisbursementState.APPROVED,
            finance & ~is_requester,
            guard=disbursements.guard_approve,
            effect=disbursements.on_approve,
            label=_l("Check and approve"),
        ),
        Transition(
            DisbursementState.APPROVED,
            "pay",
            DisbursementState.PAID,
            finance,
            guard=disbursements.guard_pay,
            effect=disbursements.on_pay,
            notify=disbursements.notify_paid,
            label=_l("Mark as paid"),
        ),
        Transition(
            DisbursementState.REQUESTED,
            "reject",
            DisbursementState.REJECTED,
            finance,
            guard=disbursements.guard_reject,
            effect=disbursements.on_reject,
            notify=disbursements.notify_rejected,
            label=_l("Reject the release"),
        ),
        Transition(
            DisbursementState.REQUESTED,
            "cancel",
            DisbursementState.CANCELLED,
            staff | is_system,
            guard=disbursements.guard_cancel,
            effect=disbursements.on_cancel,
            label=_l("Cancel the release"),
        ),
        Transition(
            DisbursementState.APPROVED,
            "cancel",
            DisbursementState.CANCELLED,
            staff | is_system,
            guard=disbursements.guard_cancel,
            effect=disbursements.on_cancel,
            label=_l("Cancel the release"),
        ),
    ],
)

SIGNATURE_WORKFLOW = Workflow(
    name="task_book_signature",
    model=TaskBookSignature,
    states=TaskBookSignatureState,
    transitions=[
        Transition(
            TaskBookSignatureState.SIGNED_UPLOADED,
            "confirm",
            TaskBookSignatureState.CONFIRMED,
            staff,
            guard=contracting.guard_confirm_signature,
            effect=contracting.on_confirm_signature,
            label=_l("Confirm the signed task book"),
        ),
        Transition(
            TaskBookSignatureState.SIGNED_UPLOADED,
            "return",
            TaskBookSignatureState.RETURNED,
            staff,
            guard=text_required(
                "reason", _l("Say what is wrong with the signed copy: the applicant will read it.")
            ),
            effect=contracting.on_return_signature,
            notify=contracting.notify_signature_returned,
            label=_l("Return the signed copy"),
        ),
    ],
)

EXPENDITURE_WORKFLOW = Workflow(
    name="expenditure",
    model=Expenditure,
    states=ExpenditureState,
    transitions=[
        Transition(
            ExpenditureState.SUBMITTED,
            "verify",
            ExpenditureState.VERIFIED,
            finance,
            guard=spending.guard_verify,
            effect=spending.on_verify,
            label=_l("Verify the spending report"),
        ),
        Transition(
            ExpenditureState.SUBMITTED,
            "return",
            ExpenditureState.RETURNED,
            finance,
            guard=text_required("note", _l("Say what is wrong: the project owner will read it.")),
            effect=spending.on_return,
            notify=spending.notify_returned,
            label=_l("Return the spending report"),
        ),
        Transition(
            ExpenditureState.RETURNED,
            "resubmit",
            ExpenditureState.SUBMITTED,
            owner,
            effect=spending.on_resubmit,
            label=_l("Resubmit"),
        ),
    ],
)

# Contracting closes the application's lifecycle: from here on the project carries it.
APPLICATION_WORKFLOW.add(
    Transition(
        ApplicationState.APPROVED,
        "contract",
        ApplicationState.CONTRACTED,
        staff,
        guard=contracting.guard_contract,
        label=_l("Contract"),
    ),
)
