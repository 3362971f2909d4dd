"""What the review domain does when lower layers send their events (see grants/core/signals.py)."""

from __future__ import annotations

from grants.core.signals import organisation_joined, organisation_left
from grants.review.membership import expert_joined_organisation, expert_left_organisation


def connect() -> None:
    organisation_joined.connect(expert_joined_organisation)
    organisation_left.connect(expert_left_organisation)
