"""Permissions of the cores: the audit log and job records."""

from grants.core.permissions import has_role, is_authenticated, predicate, rule


@predicate
def owns_job(user, job) -> bool:
    return job is not None and job.owner_id is not None and job.owner_id == user.id


rule("audit.view", has_role("admin"))
rule("job.list", has_role("bureau", "admin"))
rule("job.view", is_authenticated & (owns_job | has_role("bureau", "admin")))
rule("job.retry", has_role("bureau", "admin"))
rule("dashboard.view", is_authenticated)
