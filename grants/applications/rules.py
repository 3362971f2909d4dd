"""Who may see, edit and check applications."""

from grants.applications.models import ApplicationState
from grants.core.permissions import has_role, in_state, predicate, rule


@predicate
def is_member(user, application) -> bool:
    return (
        application is not None
        and user.organisation_id is not None
        and user.organisation_id == application.organisation_id
    )


@predicate
def has_organisation(user, obj) -> bool:
    return user.organisation_id is not None


applicant_member = has_role("applicant") & is_member
staff = has_role("bureau", "admin")
EDITABLE_STATES = (ApplicationState.DRAFT, ApplicationState.RETURNED)
# A draft belongs to its organisation until it is submitted: nobody else reads it, its
# attachments or its PDF. A returned application was submitted and stays visible.
submitted_once = ~in_state("draft")

rule("application.create", has_role("applicant") & has_organisation)
rule("application.view", applicant_member | ((staff | has_role("finance")) & submitted_once))
rule("application.edit", applicant_member & in_state(*EDITABLE_STATES))
rule("application.delete_draft", applicant_member & in_state("draft"))
rule("application.list", staff)
rule("application.export", staff)
rule("application.duplicates", staff)
# Submitting, withdrawing and the formal check are workflow events: see workflow.py.
# The bureau's formal-check page (the decisions themselves are workflow events).
rule("application.check", staff)
# The applicant's own list of their organisation's applications.
rule("application.list_mine", has_role("applicant") & has_organisation)
