"""Values the projects domain needs from the funding domain above it (provided by grants/funding/subscribers.py).

The money of a project — tranches, disbursements, spending reports — belongs to funding;
the projects domain reads it through these hooks and never imports funding.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from grants.core.signals import Hook

spending = Hook(
    "projects.spent_by_category",
    "Money spent per project id and budget category: (project_ids, verified_only=True) -> dict.",
)
cancellable_tranches = Hook(
    "projects.tranches_to_cancel",
    "The project's tranches that termination cancels (not cancelled, no live disbursement).",
)
unpaid_tranches = Hook(
    "projects.open_tranches",
    "The project's tranches neither paid nor cancelled, in order.",
)


def spent_by_category(
    project_ids: Iterable[int], *, verified_only: bool = True
) -> dict[int, dict[str, Decimal]]:
    """Money spent per project and budget category, from spending reports."""
    return spending.ask(project_ids, verified_only=verified_only)


def spent_total(project_id: int, *, verified_only: bool = True) -> Decimal:
    """Money spent on one project across categories."""
    return sum(
        spent_by_category([project_id], verified_only=verified_only)[project_id].values(),
        Decimal(0),
    )
