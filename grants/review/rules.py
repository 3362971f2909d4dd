"""Who may manage the pool, assign, review, decide and publish notices."""

from grants.core.permissions import has_role, in_state, predicate, rule
from grants.review.assignments import current_conflicts
from grants.review.experts import expert_for_user


@predicate
def is_expert_of(user, assignment) -> bool:
    """The user is the expert of this assignment."""
    return (
        assignment is not None
        and assignment.expert is not None
        and assignment.expert.user_id is not None
        and assignment.expert.user_id == user.id
    )


@predicate
def is_review_author(user, review) -> bool:
    return review is not None and is_expert_of(user, review.assignment)


@predicate
def accepted_without_conflict(user, assignment) -> bool:
    return (
        assignment is not None
        and assignment.state == "accepted"
        and assignment.no_conflict_declared_at is not None
    )


@predicate
def no_conflict_now(user, assignment) -> bool:
    """No conflict of interest holds between the assignment's expert and application now (current facts)."""
    return assignment is not None and not current_conflicts(assignment)


@predicate
def review_assignment_open(user, review) -> bool:
    return (
        review is not None
        and accepted_without_conflict(user, review.assignment)
        and no_conflict_now(user, review.assignment)
    )


@predicate
def has_expert_record(user, obj) -> bool:
    return expert_for_user(user) is not None


staff = has_role("bureau", "admin")
expert = has_role("expert")

rule("expert.manage", staff)
rule("expert.own_profile", expert & has_expert_record)
rule("conflict.rule", staff)
rule("assignment.manage", staff)
rule("assignment.view", (expert & is_expert_of) | staff)
rule(
    "assignment.read_proposal", expert & is_expert_of & accepted_without_conflict & no_conflict_now
)
rule("assignment.recuse", expert & is_expert_of)
rule("review.edit", expert & is_review_author & in_state("draft") & review_assignment_open)
rule("review.panel", staff)
rule("decision.manage", staff)
rule("notice.manage", staff)
rule("objection.manage", staff)
# Accepting/declining invitations, submitting/reopening reviews, approving/declining
# applications, publishing notices and resolving objections are workflow events:
# see grants/review/workflow.py.
