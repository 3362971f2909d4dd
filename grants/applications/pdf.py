"""The application as a printable PDF (申报书): cover, then every section, in the current locale."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_decimal, format_percent
from flask import render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from grants.applications.models import (
    BUDGET_CATEGORIES,
    BUSINESS_SUB_ITEMS,
    KPI_KINDS,
    TEAM_ROLES,
    Application,
)
from grants.core.i18n import html_lang
from grants.core.money import format_wan_number
from grants.core.pdf import pdf_static_url, render_pdf
from grants.core.timeutil import local_today, utc_to_local
from grants.programmes.models import CATEGORIES, FUNDING_LEVELS

ZERO = Decimal(0)
DIRECT_CATEGORIES = ("equipment", "business", "labour")


@dataclass
class BudgetRow:
    """One row of the printed budget table (amounts in yuan)."""

    label: str
    fiscal: Decimal
    self_raised: Decimal
    kind: str = "line"  # line, sub-item, subtotal or total
    note: str = ""

    @property
    def total(self) -> Decimal:
        return self.fiscal + self.self_raised


def _sub_item_order(line) -> int:
    keys = list(BUSINESS_SUB_ITEMS)
    return keys.index(line.sub_item) if line.sub_item in keys else len(keys)


def _summed(lines, label, kind: str) -> BudgetRow:
    return BudgetRow(
        str(label),
        sum((x.fiscal for x in lines), ZERO),
        sum((x.self_raised for x in lines), ZERO),
        kind,
    )


def _category_rows(application: Application, category: str) -> list[BudgetRow]:
    lines = [x for x in application.budget_lines if x.category == category]
    head = _summed(lines, BUDGET_CATEGORIES[category], "line")
    if category == "business" and any(x.sub_item for x in lines):
        subs = [
            BudgetRow(
                str(BUSINESS_SUB_ITEMS.get(x.sub_item, _l("Other business costs"))),
                x.fiscal,
                x.self_raised,
                "sub-item",
                x.note,
            )
            for x in sorted(lines, key=_sub_item_order)
        ]
        return [head, *subs]
    head.note = "; ".join(x.note for x in lines if x.note)
    return [head]


def budget_rows(application: Application) -> list[BudgetRow]:
    """Budget lines by category, business-cost sub-items under their category, direct and grand totals."""
    rows: list[BudgetRow] = []
    for category in DIRECT_CATEGORIES:
        rows.extend(_category_rows(application, category))
    direct = [x for x in application.budget_lines if x.category in DIRECT_CATEGORIES]
    rows.append(_summed(direct, _l("Direct costs"), "subtotal"))
    rows.extend(_category_rows(application, "indirect"))
    rows.append(_summed(application.budget_lines, _l("Total"), "total"))
    return rows


def _formatters():
    locale = str(get_locale() or "zh_Hans_CN")

    def wan(amount) -> str:
        return format_wan_number(amount or ZERO, locale=locale)

    def number(value) -> str:
        return format_decimal(value, locale=locale) if value is not None else "—"

    def percent(share) -> str:
        return format_percent(share or ZERO, format="#,##0.#%", locale=locale)

    return {"wan": wan, "number": number, "percent": percent}


def application_pdf_html(application: Application, *, blind: bool = False) -> str:
    """The HTML the PDF is rendered from (user text autoescaped by Jinja)."""
    call = application.call
    requirements = {r.code: r for r in call.attachment_requirements}
    submitted_on = (
        utc_to_local(application.submitted_at).date() if application.submitted_at else None
    )
    return render_template(
        "applications/pdf/application.html",
        application=application,
        call=call,
        blind=blind,
        lang=html_lang(get_locale()),
        stylesheet=pdf_static_url("css/pdf.css"),
        budget=budget_rows(application),
        requirements=requirements,
        funding_level=FUNDING_LEVELS.get(call.funding_level, call.funding_level),
        category=CATEGORIES.get(call.category, call.category),
        team_roles=TEAM_ROLES,
        kpi_kinds=KPI_KINDS,
        submitted_on=submitted_on,
        printed_on=local_today(),
        **_formatters(),
    )


def render_application_pdf(application: Application, *, blind: bool = False) -> bytes:
    """The application as PDF bytes; ``blind`` leaves out the organisation and the people."""
    return render_pdf(application_pdf_html(application, blind=blind))
