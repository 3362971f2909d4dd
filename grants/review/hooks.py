"""Values the review domain needs from the projects domain above it (provided by grants/projects/subscribers.py).

Acceptance reviews are assignments on a project's application: the review domain scores
them, the projects domain knows the project, its report rounds and what the expert reads.
"""

from __future__ import annotations

from grants.core.signals import Hook

acceptance_project_of = Hook(
    "review.acceptance_project",
    "The project funded from an application id, or None.",
)
acceptance_round_of = Hook(
    "review.acceptance_round",
    "A project's latest final-report round (int, or None when it has no report).",
)
applications_in_acceptance = Hook(
    "review.applications_in_acceptance",
    "A SELECT of the application ids of the projects in acceptance review.",
)
acceptance_report_of = Hook(
    "review.acceptance_report",
    "The final report an acceptance assignment scores, as the expert reads it, or None.",
)


def assignment_report_view(assignment):
    """The final report an acceptance assignment scores (its project's report of its round)."""
    return acceptance_report_of.ask(assignment)
