"""Read-only money figures shared by the funding, projects and reports domains."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa

from grants.extensions import db
from grants.funding.models import Expenditure


def spent_by_category(
    project_ids: Iterable[int], *, verified_only: bool = True
) -> dict[int, dict[str, Decimal]]:
    """Money spent per project and budget category, from spending reports (one query)."""
    ids = list(project_ids)
    result: dict[int, dict[str, Decimal]] = defaultdict(dict)
    if not ids:
        return result
    states = ("verified",) if verified_only else ("submitted", "verified")
    rows = db.session.execute(
        sa.select(Expenditure.project_id, Expenditure.category, sa.func.sum(Expenditure.amount))
        .where(Expenditure.project_id.in_(ids), Expenditure.state.in_(states))
        .group_by(Expenditure.project_id, Expenditure.category)
    )
    for project_id, category, amount in rows:
        result[project_id][category] = Decimal(amount or 0)
    return result


def spent_total(project_id: int, *, verified_only: bool = True) -> Decimal:
    """Money spent on one project across categories."""
    return sum(
        spent_by_category([project_id], verified_only=verified_only)[project_id].values(),
        Decimal(0),
    )


def pending_by_category(project_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """Money reported but not yet verified (submitted spending reports) per project and category."""
    ids = list(project_ids)
    result: dict[int, dict[str, Decimal]] = defaultdict(dict)
    if not ids:
        return result
    rows = db.session.execute(
        sa.select(Expenditure.project_id, Expenditure.category, sa.func.sum(Expenditure.amount))
        .where(Expenditure.project_id.in_(ids), Expenditure.state == "submitted")
        .group_by(Expenditure.project_id, Expenditure.category)
    )
    for project_id, category, amount in rows:
        result[project_id][category] = Decimal(amount or 0)
    return result
