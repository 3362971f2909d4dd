"""Dashboard panel of change requests: those waiting for the bureau's decision."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from grants.core.dashboard import panel
from grants.projects.changes import count_waiting, waiting_for_decision

PANEL_ROWS = 10


@panel(
    "projects.changes",
    _l("Change requests awaiting a decision"),
    ("bureau", "admin"),
    "projects/changes/panels/waiting.html",
    order=55,
)
def changes_panel(user) -> dict | None:
    """Submitted change requests on running projects, oldest first; hidden when none wait."""
    total = count_waiting()
    if not total:
        return None
    return {"total": total, "requests": waiting_for_decision(limit=PANEL_ROWS)}
