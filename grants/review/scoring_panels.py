"""Dashboard panel of scoring: the calls whose applications have all their reviews in."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from grants.core.dashboard import panel
from grants.review.scoring import calls_ready_to_close


@panel(
    "review.ready_to_close",
    _l("Reviews complete: ready to close"),
    ("bureau",),
    "review/scoring/panels/ready_to_close.html",
    order=40,
)
def ready_to_close(user) -> dict | None:
    """Calls with applications under review that have the call's number of valid reviews."""
    calls = [c for c in calls_ready_to_close() if c["ready"]]
    return {"calls": calls} if calls else None
