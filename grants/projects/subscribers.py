"""The values the projects domain provides to the review domain below it (see grants/core/signals.py)."""

from __future__ import annotations

import sqlalchemy as sa

from grants.extensions import db
from grants.projects.acceptance import assignment_report_view
from grants.projects.models import FinalReport, Project
from grants.review import hooks as review_hooks


def project_of_application(application_id: int) -> Project | None:
    """The project funded from the application."""
    return db.session.scalar(sa.select(Project).where(Project.application_id == application_id))


def latest_report_round(project: Project) -> int | None:
    """The round of the project's latest final report."""
    return db.session.scalar(
        sa.select(sa.func.max(FinalReport.round)).where(FinalReport.project_id == project.id)
    )


def applications_in_acceptance():
    """A SELECT of the application ids of the projects in acceptance review."""
    return sa.select(Project.application_id).where(Project.state == "acceptance_review")


def connect() -> None:
    review_hooks.acceptance_project_of.provide(project_of_application)
    review_hooks.acceptance_round_of.provide(latest_report_round)
    review_hooks.applications_in_acceptance.provide(applications_in_acceptance)
    review_hooks.acceptance_report_of.provide(assignment_report_view)
