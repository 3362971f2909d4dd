"""Dashboard panels: each domain registers what waits for a role's action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    """One box on the dashboard: shown to ``roles``, filled by ``load(user)``."""

    key: str
    title: Any
    roles: frozenset[str]
    template: str
    load: Callable[[Any], dict | None]
    order: int = 50


PANELS: dict[str, Panel] = {}


def panel(key: str, title, roles: tuple[str, ...], template: str, order: int = 50):
    """Register ``load(user) -> dict | None`` as a dashboard panel (None hides it)."""

    def register(load):
        PANELS[key] = Panel(key, title, frozenset(roles), template, load, order)
        return load

    return register


def panels_for(user) -> list[tuple[Panel, dict]]:
    """The panels the user's roles see, each with its loaded data."""
    shown = []
    for p in sorted(PANELS.values(), key=lambda p: (p.order, p.key)):
        if not (p.roles & user.role_names):
            continue
        data = p.load(user)
        if data is not None:
            shown.append((p, data))
    return shown
