"""The values the applications domain provides to the domains below it (see grants/core/signals.py)."""

from __future__ import annotations

import sqlalchemy as sa

from grants.applications.models import Application
from grants.extensions import db
from grants.orgs import hooks as orgs_hooks
from grants.programmes import hooks as programmes_hooks


def applications_in_cluster(cluster) -> int:
    """How many applications name the industry cluster."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(Application.id)).where(Application.cluster_id == cluster.id)
        )
        or 0
    )


def submitted_counts(call_ids) -> dict[int, int]:
    """Applications received per call (an organisation's drafts are theirs: not counted)."""
    if not call_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(Application.call_id, sa.func.count(Application.id))
            .where(Application.call_id.in_(call_ids), Application.state != "draft")
            .group_by(Application.call_id)
        ).all()
    )


def connect() -> None:
    orgs_hooks.cluster_references.provide(applications_in_cluster)
    programmes_hooks.submitted_counts.provide(submitted_counts)
