"""The values the applications domain provides to the domains below it (see grants/core/signals.py)."""

from __future__ import annotations

import sqlalchemy as sa

from grants.applications.models import Application
from grants.extensions import db
from grants.orgs import hooks as orgs_hooks


def applications_in_cluster(cluster) -> int:
    """How many applications name the industry cluster."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(Application.id)).where(Application.cluster_id == cluster.id)
        )
        or 0
    )


def connect() -> None:
    orgs_hooks.cluster_references.provide(applications_in_cluster)
