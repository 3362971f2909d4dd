"""The values the programmes domain provides to the domains below it (see grants/core/signals.py)."""

from __future__ import annotations

import sqlalchemy as sa

from grants.extensions import db
from grants.orgs import hooks as orgs_hooks
from grants.programmes.models import call_clusters


def calls_in_cluster(cluster) -> int:
    """How many calls target the industry cluster."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(call_clusters)
            .where(call_clusters.c.cluster_id == cluster.id)
        )
        or 0
    )


def connect() -> None:
    orgs_hooks.cluster_references.provide(calls_in_cluster)
