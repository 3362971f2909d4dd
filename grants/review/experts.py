"""The expert pool: records, profiles, declared relations, xlsx import."""

from __future__ import annotations

import sqlalchemy as sa

from grants.extensions import db
from grants.review.models import Expert


def expert_for_user(user) -> Expert | None:
    """The active expert record linked to ``user``'s account, if any."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(sa.select(Expert).where(Expert.user_id == user.id, Expert.active.is_(True)))
