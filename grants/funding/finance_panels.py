"""Dashboard panels of disbursements: finance's queue and the bureau's due tranches."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from grants.core.dashboard import panel
from grants.extensions import db
from grants.funding.disbursements import RELEASABLE_PROJECT_STATES
from grants.funding.models import ENDED_DISBURSEMENT_STATES, Disbursement, Tranche
from grants.projects.models import Project

SHOWN = 5


def _waiting(state: str) -> tuple[int, list[Disbursement]]:
    stmt = sa.select(Disbursement).where(Disbursement.state == state)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    oldest = db.session.scalars(
        stmt.options(joinedload(Disbursement.project).joinedload(Project.organisation))
        .order_by(Disbursement.requested_at.asc(), Disbursement.id.asc())
        .limit(SHOWN)
    ).all()
    return total, oldest


@panel(
    "funding.disbursements",
    _l("Disbursements waiting for finance"),
    ("finance",),
    "funding/finance/panels/disbursements.html",
    order=20,
)
def disbursements_panel(user) -> dict | None:
    """Requested disbursements to check and approve, approved ones to pay (the oldest of each)."""
    requested_total, requested = _waiting("requested")
    approved_total, approved = _waiting("approved")
    if not (requested_total or approved_total):
        return None
    return {
        "requested_total": requested_total,
        "requested": requested,
        "approved_total": approved_total,
        "approved": approved,
    }


def due_unrequested():
    """Tranches whose condition is met, of running projects, with no live disbursement."""
    live = sa.select(Disbursement.id).where(
        Disbursement.tranche_id == Tranche.id, Disbursement.state.not_in(ENDED_DISBURSEMENT_STATES)
    )
    return (
        sa.select(Tranche)
        .join(Project, Tranche.project_id == Project.id)
        .where(
            Tranche.due_since.is_not(None),
            Tranche.cancelled_at.is_(None),
            Project.state.in_(RELEASABLE_PROJECT_STATES),
            ~sa.exists(live),
        )
    )


@panel(
    "funding.due_tranches",
    _l("Tranches due for release"),
    ("bureau",),
    "funding/finance/panels/due_tranches.html",
    order=25,
)
def due_tranches_panel(user) -> dict | None:
    """Due tranches that nobody has asked finance to release yet, the longest due first."""
    stmt = due_unrequested()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    if not total:
        return None
    oldest = db.session.scalars(
        stmt.options(joinedload(Tranche.project))
        .order_by(Tranche.due_since.asc(), Tranche.id.asc())
        .limit(SHOWN)
    ).all()
    return {"total": total, "tranches": oldest}
