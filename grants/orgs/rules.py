"""Who may see and change organisations, clusters and invitations."""

from grants.core.permissions import has_role, predicate, rule


@predicate
def is_member(user, org) -> bool:
    return org is not None and user.organisation_id is not None and user.organisation_id == org.id


@predicate
def is_member_of_invitation_org(user, invitation) -> bool:
    return invitation is not None and user.organisation_id == invitation.organisation_id


@predicate
def no_organisation(user, obj) -> bool:
    return user.organisation_id is None


staff = has_role("bureau", "admin")
applicant_member = has_role("applicant") & is_member

rule("org.view", applicant_member | has_role("bureau", "admin", "finance"))
rule("org.edit", applicant_member | staff)
rule("org.list", has_role("bureau", "admin", "finance"))
rule("org.invite", applicant_member)
rule("org.correct_uscc", staff)
rule("clusters.manage", has_role("admin"))
# Accepting and revoking invitations are workflow events: see grants/orgs/workflow.py.
