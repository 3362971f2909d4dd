"""The application lifecycle, up to and including the formal check (形式审查).

The later states (reviewed, approved, declined, contracted) belong to the review and
funding domains, which add their transitions to this table when they arrive.
"""

from flask_babel import lazy_gettext as _l

from grants.applications import checks, operations
from grants.applications.models import Application, ApplicationState, FormalCheck
from grants.applications.rules import applicant_member, staff
from grants.core.workflow import Transition, Workflow


def _submission_guard(application, actor, data):
    """Complete, call open, organisation eligible, caps respected; else the reasons.

    The organisation is locked first, so that the concurrent-project cap is counted by
    one submission of the organisation at a time.
    """
    checks.lock_organisation(application.organisation_id)
    problems = checks.submission_problems(application)
    return " ".join(str(p) for p in problems) or None


def _reasons_required(application, actor, data):
    if not (data.get("reasons") or "").strip():
        return str(_l("Give the reasons: the applicant will read them."))
    return None


def _on_submit(application, actor, data):
    operations.stamp_submission(application)


def _record_check(decision):
    def effect(application, actor, data):
        application.checks.append(
            FormalCheck(
                decision=decision, reasons=(data.get("reasons") or "").strip(), actor_id=actor.id
            )
        )

    return effect


def _notify_applicants(kind, subject):
    def send(application, actor, data):
        operations.notify_applicants(application, kind, subject, data.get("reasons") or "")

    return send


APPLICATION_WORKFLOW = Workflow(
    name="application",
    model=Application,
    states=ApplicationState,
    transitions=[
        Transition(
            ApplicationState.DRAFT,
            "submit",
            ApplicationState.SUBMITTED,
            applicant_member,
            guard=_submission_guard,
            effect=_on_submit,
            notify=_notify_applicants("application.submitted", _l("Application %(ref)s submitted")),
            label=_l("Submit"),
        ),
        Transition(
            ApplicationState.RETURNED,
            "submit",
            ApplicationState.SUBMITTED,
            applicant_member,
            guard=_submission_guard,
            effect=_on_submit,
            notify=_notify_applicants(
                "application.resubmitted", _l("Application %(ref)s resubmitted")
            ),
            label=_l("Resubmit"),
        ),
        Transition(
            ApplicationState.SUBMITTED,
            "withdraw",
            ApplicationState.WITHDRAWN,
            applicant_member,
            notify=_notify_applicants("application.withdrawn", _l("Application %(ref)s withdrawn")),
            label=_l("Withdraw"),
        ),
        Transition(
            ApplicationState.RETURNED,
            "withdraw",
            ApplicationState.WITHDRAWN,
            applicant_member,
            notify=_notify_applicants("application.withdrawn", _l("Application %(ref)s withdrawn")),
            label=_l("Withdraw"),
        ),
        Transition(
            ApplicationState.SUBMITTED,
            "pass_check",
            ApplicationState.UNDER_REVIEW,
            staff,
            effect=_record_check("pass"),
            notify=_notify_applicants(
                "application.passed_check", _l("Application %(ref)s passed the formal check")
            ),
            label=_l("Pass to review"),
        ),
        Transition(
            ApplicationState.SUBMITTED,
            "return",
            ApplicationState.RETURNED,
            staff,
            guard=_reasons_required,
            effect=_record_check("return"),
            notify=_notify_applicants(
                "application.returned", _l("Application %(ref)s returned for revision")
            ),
            label=_l("Return for revision"),
        ),
        Transition(
            ApplicationState.SUBMITTED,
            "reject",
            ApplicationState.REJECTED,
            staff,
            guard=_reasons_required,
            effect=_record_check("reject"),
            notify=_notify_applicants(
                "application.rejected", _l("Application %(ref)s rejected at the formal check")
            ),
            label=_l("Reject"),
        ),
    ],
)
