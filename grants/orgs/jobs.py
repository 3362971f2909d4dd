"""Periodic jobs of the organisations domain."""

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.core.jobs import job
from grants.core.scheduler import schedule
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.orgs.models import Invitation
from grants.orgs.operations import purge_pending_registrations as purge

#: Invitations expired per transaction: SQLite's write lock is let go between batches.
EXPIRE_BATCH = 50


@job("orgs.expire_invitations", label=_l("Expire invitations"))
def expire_invitations(ctx) -> dict:
    """Move pending invitations past their expiry date to ``expired``, committing every 50."""
    now, expired = utcnow(), 0
    while True:
        due = db.session.scalars(
            sa.select(Invitation)
            .where(Invitation.state == "pending", Invitation.expires_at <= now)
            .order_by(Invitation.id)
            .limit(EXPIRE_BATCH)
        ).all()
        for invitation in due:
            transition(invitation, "expire", None)
        db.session.commit()
        expired += len(due)
        if len(due) < EXPIRE_BATCH:
            return {"expired": expired}


schedule("orgs.expire_invitations", every=timedelta(hours=1))


@job("orgs.purge_pending_registrations", label=_l("Remove expired registrations"))
def purge_pending_registrations(ctx) -> dict:
    """Delete self-registrations whose confirmation link has expired."""
    purged = purge()
    db.session.commit()
    return {"purged": purged}


schedule("orgs.purge_pending_registrations", every=timedelta(hours=1))
