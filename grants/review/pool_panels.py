"""Dashboard panels of the expert pool."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from grants.core.dashboard import panel
from grants.review.experts import expert_for_user, profile_gaps


@panel(
    "review.expert_profile",
    _l("Complete your expert profile"),
    ("expert",),
    "review/pool/panels/profile_checklist.html",
    order=15,
)
def expert_profile_checklist(user) -> dict | None:
    """Shown to an expert who has declared no relation or given no keyword."""
    expert = expert_for_user(user)
    if expert is None:
        return None
    gaps = profile_gaps(expert)
    return {"expert": expert, "gaps": gaps} if gaps else None
