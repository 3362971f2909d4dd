"""Demo data: the plan's roster (roster.py) and the history 2016–2026 (history.py); loading is idempotent."""

from __future__ import annotations

from grants.demo.replay import seed_history
from grants.demo.roster import (
    CLUSTERS,
    DEMO_DOMAIN,
    DEMO_PASSWORD,
    DEMO_USERS,
    ORGANISATIONS,
    database_is_empty,
    seed_clusters,
    seed_experts,
    seed_organisations,
    seed_users,
)

__all__ = [
    "CLUSTERS",
    "DEMO_DOMAIN",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "ORGANISATIONS",
    "database_is_empty",
    "seed_clusters",
    "seed_demo",
    "seed_experts",
    "seed_organisations",
    "seed_users",
]


def seed_demo() -> dict[str, int]:
    """Load clusters, the plan's organisations, accounts, the pool and the history 2016–2026; flushes only."""
    clusters = seed_clusters()
    orgs = seed_organisations(clusters)
    users = seed_users(orgs)
    experts = seed_experts(clusters, orgs)
    history = seed_history(
        clusters,
        orgs,
        {handle: user for (handle, *_), user in zip(DEMO_USERS, users, strict=True)},
        experts,
    )
    return {
        "clusters": len(clusters),
        "organisations": len(orgs),
        "users": len(users),
        "experts": len(experts),
        **history,
    }
