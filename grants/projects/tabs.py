"""The tabs of a project's pages, registered by the domains that own them.

Each domain registers its tab (``project_tab``) when its views are imported; the
project page header (templates/projects/_header.html) shows the tabs the user may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grants.core.permissions import can


@dataclass(frozen=True)
class ProjectTab:
    key: str
    title: object
    endpoint: str
    action: str
    order: int
    shown: Callable | None = None


TABS: dict[str, ProjectTab] = {}


def project_tab(
    key: str,
    title,
    endpoint: str,
    *,
    action: str = "project.view",
    order: int = 50,
    shown: Callable | None = None,
) -> None:
    """Register a tab: ``endpoint`` takes ``project_id``; shown when ``can(action, project)``."""
    TABS[key] = ProjectTab(key, title, endpoint, action, order, shown)


def tabs_for(user, project) -> list[ProjectTab]:
    """The tabs ``user`` may open on ``project``, in order."""
    return [
        t
        for t in sorted(TABS.values(), key=lambda t: t.order)
        if can(user, t.action, project) and (t.shown is None or t.shown(project))
    ]
