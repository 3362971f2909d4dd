"""Dashboard panel of the programmes domain: the bureau's open and unpublished calls."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from grants.core.dashboard import panel
from grants.core.types import utcnow
from grants.programmes import operations as ops


@panel(
    "programmes.calls",
    _l("Calls open now and drafts"),
    ("bureau",),
    "programmes/panels/calls.html",
    order=15,
)
def calls_overview(user) -> dict:
    """The calls open now with their close times, and the drafts not yet published."""
    now = utcnow()
    return {"open": ops.open_calls(now), "drafts": ops.draft_calls(), "now": now}
