"""Money moves only for a live project, checked in the transaction that moves it.

A project is live for money from the bureau's confirmation of its signed task book until
it is closed: in progress, in acceptance review, and accepted (the tranche on acceptance
is paid then). A terminated project, one that failed acceptance and a closed one take no
new money. Every money step — requesting, approving and paying a release, a tranche
falling due, reporting and verifying spending — calls :func:`live_project_problem`,
which re-reads the project's state under a row lock (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite serialises writers), so a step racing a termination either finishes
before the termination reads the project's money or sees the project terminated.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from grants.core.states import label_of
from grants.extensions import db
from grants.projects.models import Project, ProjectState

LIVE_PROJECT_STATES = (
    ProjectState.IN_PROGRESS,
    ProjectState.ACCEPTANCE_REVIEW,
    ProjectState.ACCEPTED,
)


def locked_project_state(project: Project) -> str:
    """The project's state as stored now, read under a row lock held until the transaction ends."""
    return db.session.execute(
        sa.select(Project.state).where(Project.id == project.id).with_for_update()
    ).scalar_one()


def live_project_problem(
    project: Project, states: tuple[str, ...] = LIVE_PROJECT_STATES
) -> str | None:
    """Lock the project; why no money may move for it now (its state not in ``states``), or None."""
    state = locked_project_state(project)
    if state in states:
        return None
    label = label_of(ProjectState, state)
    if state == "terminated":
        return _(
            "Project %(code)s has been terminated: no money can be requested, approved or paid for it any "
            "more.",
            code=project.code,
        )
    return _(
        "Project %(code)s is “%(state)s”: money can only move while the project runs.",
        code=project.code,
        state=label,
    )
