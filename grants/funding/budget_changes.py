"""The budget change request (项目变更: 预算调剂), registered by the funding domain.

Fiscal and self-raised funds move between the budget categories: the fiscal funds of the
four categories add up to the award exactly; no category's fiscal funds fall below the
money already spent in it (verified spending reports); self-raised funds may change
freely (not below zero). The kind lives here because the budget lines and the spending
it is checked against are the funding domain's; the projects domain's registry of change
kinds (grants/projects/changes.py) holds it like the others.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from grants.applications.models import BUDGET_CATEGORIES
from grants.core.money import format_wan, format_yuan, money_text, to_money
from grants.funding.models import ProjectBudgetLine
from grants.funding.queries import spent_by_category
from grants.projects.changes import ChangeKind, DiffRow, proposed_amount, register
from grants.projects.models import ChangeRequest, Project


@register
class BudgetChange(ChangeKind):
    """Fiscal and self-raised funds reallocated between the budget categories."""

    name = "budget"

    def current(self, project: Project) -> dict:
        lines = {line.category: line for line in project.budget_lines}
        return {
            "lines": {
                category: {
                    "fiscal": money_text(lines[category].fiscal if category in lines else 0),
                    "self_raised": money_text(
                        lines[category].self_raised if category in lines else 0
                    ),
                }
                for category in BUDGET_CATEGORIES
            }
        }

    def normalised(self, project: Project, proposed: dict) -> dict:
        return {
            "lines": {
                c: {
                    "fiscal": money_text((proposed.get("lines") or {}).get(c, {}).get("fiscal")),
                    "self_raised": money_text(
                        (proposed.get("lines") or {}).get(c, {}).get("self_raised")
                    ),
                }
                for c in BUDGET_CATEGORIES
            }
        }

    def changes_nothing(self, project: Project, proposed: dict) -> bool:
        return self.normalised(project, proposed) == self.current(project)

    def validate(self, project: Project, proposed: dict) -> list[tuple[str, str]]:
        problems = []
        lines = proposed.get("lines") or {}
        unknown = set(lines) - set(BUDGET_CATEGORIES)
        if unknown:
            problems.append(
                ("", _("Unknown budget categories: %(names)s.", names=", ".join(sorted(unknown))))
            )
        spent = spent_by_category([project.id])[project.id]
        total = Decimal(0)
        for category, label in BUDGET_CATEGORIES.items():
            row = lines.get(category) or {}
            fiscal, self_raised = (
                proposed_amount(row.get("fiscal")),
                proposed_amount(row.get("self_raised")),
            )
            key = f"budget:{category}"
            if fiscal is None or self_raised is None:
                problems.append((key, _("%(category)s: enter amounts of money.", category=label)))
                continue
            if fiscal < 0 or self_raised < 0:
                problems.append(
                    (key, _("%(category)s: amounts cannot be negative.", category=label))
                )
                continue
            total += fiscal
            used = spent.get(category, Decimal(0))
            if fiscal < used:
                problems.append(
                    (
                        key,
                        _(
                            "%(category)s: %(spent)s of fiscal funds have already been spent (verified "
                            "spending reports); the budget cannot go below that.",
                            category=label,
                            spent=format_yuan(used),
                        ),
                    )
                )
        if total != to_money(project.award):
            difference = total - to_money(project.award)
            problems.append(
                (
                    "budget:total",
                    _(
                        "The fiscal funds must add up to the award of %(award)s exactly; "
                        "the proposal adds up to %(total)s "
                        "(%(difference)s %(direction)s).",
                        award=format_yuan(project.award),
                        total=format_yuan(total),
                        difference=format_yuan(abs(difference)),
                        direction=_("too much") if difference > 0 else _("too little"),
                    ),
                )
            )
        return problems

    def diff(self, project: Project, before: dict, after: dict) -> list[DiffRow]:
        rows = []
        old_lines, new_lines = before.get("lines") or {}, after.get("lines") or {}
        totals = {"fiscal": [Decimal(0), Decimal(0)], "self_raised": [Decimal(0), Decimal(0)]}
        for category, label in BUDGET_CATEGORIES.items():
            for part, part_label in (
                ("fiscal", _("Fiscal funds")),
                ("self_raised", _("Self-raised funds")),
            ):
                old = proposed_amount((old_lines.get(category) or {}).get(part)) or Decimal(0)
                new = proposed_amount((new_lines.get(category) or {}).get(part)) or Decimal(0)
                totals[part][0] += old
                totals[part][1] += new
                rows.append(DiffRow(part_label, format_wan(old), format_wan(new), group=str(label)))
        group = _("Totals")
        rows.append(
            DiffRow(
                _("Fiscal funds"),
                format_wan(totals["fiscal"][0]),
                format_wan(totals["fiscal"][1]),
                group=group,
            )
        )
        rows.append(
            DiffRow(
                _("Self-raised funds"),
                format_wan(totals["self_raised"][0]),
                format_wan(totals["self_raised"][1]),
                group=group,
            )
        )
        return rows

    def apply(self, change: ChangeRequest, actor) -> None:
        project, proposed = change.project, change.proposed
        lines = {line.category: line for line in project.budget_lines}
        delta = Decimal(0)
        for category in BUDGET_CATEGORIES:
            row = proposed["lines"].get(category) or {}
            fiscal, self_raised = (
                proposed_amount(row.get("fiscal")),
                proposed_amount(row.get("self_raised")),
            )
            line = lines.get(category)
            if line is None:
                if not fiscal and not self_raised:
                    continue
                line = ProjectBudgetLine(
                    category=category, fiscal=Decimal(0), self_raised=Decimal(0)
                )
                project.budget_lines.append(line)
            delta += self_raised - to_money(line.self_raised or 0)
            line.fiscal, line.self_raised = fiscal, self_raised
        project.self_raised = max(Decimal(0), to_money(project.self_raised or 0) + delta)
