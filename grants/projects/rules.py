"""Who may see and act on projects, milestones, progress reports, changes and acceptance.

Rules take the project (or an object with a ``project`` attribute) as their object.
Finance sees every project and its money but edits no scientific content.
"""

import sqlalchemy as sa

from grants.core.permissions import has_role, in_state, predicate, rule
from grants.extensions import db
from grants.projects.models import ChangeRequest, FinalReport, ProgressReport
from grants.review.models import Assignment, Expert


def project_of(obj):
    """The project an object belongs to (the object itself when it is a project)."""
    return getattr(obj, "project", None) or obj


@predicate
def is_project_member(user, obj) -> bool:
    project = project_of(obj)
    return (
        project is not None
        and getattr(user, "organisation_id", None) is not None
        and user.organisation_id == getattr(project, "organisation_id", None)
    )


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
rule("progress.review", staff)
# Change requests (changes.py): the owner edits a draft while the project runs; the bureau
# terminates a project that has not yet ended.
rule("change.edit", owner & running & in_state("draft"))
rule("project.terminate", staff & project_in("contracting", "in_progress"))


@predicate
def is_acceptance_expert(user, obj) -> bool:
    """The user is an expert of the project's acceptance panel who accepted without conflict."""
    project = project_of(obj)
    if (
        project is None
        or not getattr(user, "is_authenticated", False)
        or not user.has_role("expert")
    ):
        return False

    return (
        db.session.scalar(
            sa.select(sa.func.count(Assignment.id))
            .join(Expert, Expert.id == Assignment.expert_id)
            .where(
                Assignment.application_id == project.application_id,
                Assignment.purpose == "acceptance",
                Assignment.state == "accepted",
                Assignment.no_conflict_declared_at.is_not(None),
                Expert.user_id == user.id,
            )
        )
        > 0
    )


# Acceptance (acceptance.py): the owner corrects a report whose statement finance returned while
# the project is in acceptance review; the report, its documents and the outcomes' evidence are
# read by the owner, the bureau, finance and the experts of the acceptance panel.
rule("acceptance.revise", owner & project_in("acceptance_review"))
rule("acceptance.read_report", owner | staff | finance | is_acceptance_expert)

# Drafts are the organisation's until submitted: the bureau, finance and experts see a
# progress report, change request or final report (with its documents) once it is sent.
# Returned ones were submitted and stay visible.
submitted_once = ~in_state("draft")
rule("progress_report.read", owner | ((staff | finance) & submitted_once))
rule("change.read", owner | ((staff | finance) & submitted_once))
rule("final_report.read", owner | ((staff | finance | is_acceptance_expert) & submitted_once))


def draftable_owner(item):
    """The (read action, record) a project file belongs to when that record can be a draft, else None."""
    for column, model, action in (
        (item.progress_report_id, ProgressReport, "progress_report.read"),
        (item.change_request_id, ChangeRequest, "change.read"),
        (item.final_report_id, FinalReport, "final_report.read"),
    ):
        if column is not None:
            return action, db.session.get(model, column)
    return None
