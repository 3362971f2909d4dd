"""Who may see and act on projects, milestones, progress reports, changes and acceptance.

Rules take the project (or an object with a ``project`` attribute) as their object.
Finance sees every project and its money but edits no scientific content.
"""

from grants.core.permissions import has_role, predicate, rule


def project_of(obj):
    """The project an object belongs to (the object itself when it is a project)."""
    return getattr(obj, "project", None) or obj


@predicate
def is_project_member(user, obj) -> bool:
    project = project_of(obj)
    return (project is not None and getattr(user, "organisation_id", None) is not None
            and user.organisation_id == getattr(project, "organisation_id", None))


def project_in(*states: str):
    """True when the object's project is in one of ``states``."""
    wanted = frozenset(states)
    return predicate(lambda u, o: getattr(project_of(o), "state", None) in wanted)


@predicate
def has_organisation(user, obj) -> bool:
    return getattr(user, "organisation_id", None) is not None


owner = has_role("applicant") & is_project_member
staff = has_role("bureau", "admin")
finance = has_role("finance")
running = project_in("in_progress")

rule("project.view", owner | staff | finance)
rule("project.list", staff | finance)
rule("project.list_mine", has_role("applicant") & has_organisation)
rule("project.at_risk", staff)
rule("project.download", owner | staff | finance)
# Progress reports: the owner writes them while the project runs; the bureau reviews
# them through the workflow (workflow.py).
rule("progress.write", owner & running)
rule("midterm.record", staff)
rule("change.create", owner & running)
rule("acceptance.write", owner & running)
rule("acceptance.outcomes", owner & project_in("in_progress", "acceptance_review"))
rule("acceptance.convene", staff & project_in("acceptance_review"))
rule("acceptance.view_panel", staff)
