"""Values the programmes domain needs from the domains above it (provided by their subscribers.py)."""

from __future__ import annotations

from grants.core.signals import Hook

submitted_counts = Hook(
    "programmes.submitted_counts",
    "How many applications each of the given calls has received (drafts not counted), by call id.",
)
