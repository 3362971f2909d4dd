"""Values the accounts domain needs from the domains above it (provided by their subscribers.py)."""

from __future__ import annotations

from grants.core.signals import Hook

organisation_choices = Hook(
    "accounts.organisation_choices",
    "The organisations an administrator can attach a user to, as (id, name) pairs by name.",
)
