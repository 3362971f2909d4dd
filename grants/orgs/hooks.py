"""Values the orgs domain needs from the domains above it (provided by their subscribers.py)."""

from __future__ import annotations

from grants.core.signals import Hook

cluster_references = Hook(
    "orgs.cluster_references",
    "How many rows of a domain refer to an industry cluster (each domain above counts its own).",
)
