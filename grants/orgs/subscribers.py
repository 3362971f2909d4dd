"""The values the orgs domain provides to the domains below it (see grants/core/signals.py)."""

from __future__ import annotations

import sqlalchemy as sa

from grants.accounts import hooks as accounts_hooks
from grants.extensions import db
from grants.orgs.models import Organisation


def organisation_choices() -> list[tuple[int, str]]:
    """Every organisation as (id, name), by name."""
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.name).order_by(Organisation.name)
    )
    return [(r.id, r.name) for r in rows]


def connect() -> None:
    accounts_hooks.organisation_choices.provide(organisation_choices)
