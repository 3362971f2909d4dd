"""The portfolio report as a document: its content, the HTML it is printed from, the PDF, the xlsx.

The PDF is A4 with a cover, a table of contents whose page numbers come from
``target-counter``, running headers (the report and the current chapter) and footers (page x
of y), tables whose header rows repeat when they break, and the CJK font named explicitly.
WeasyPrint renders it in a forked child with a time limit and fetches nothing but the app's
own stylesheet (:func:`grants.core.pdf.render_pdf`); every text from the database is escaped
by Jinja, the charts are SVG written by our own code.

Large portfolios: a table with thousands of rows costs WeasyPrint about 7 ms a row. Up to
``APPENDIX_TABLE_LIMIT`` projects the appendix is a table; beyond, it is a compact listing in
a monospaced font, one block of ``LISTING_LINES_PER_PAGE`` lines per page with its own
heading line, which lays out about fifteen times faster. The cluster sections list each
cluster's largest projects (``CLUSTER_TABLE_LIMIT``) and refer to the appendix for the rest.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal, format_percent
from flask import current_app, has_request_context, render_template
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from grants.core.i18n import html_lang
from grants.core.links import base_url_request_context
from grants.core.money import format_wan_number
from grants.core.pdf import pdf_static_url, render_pdf
from grants.core.states import label_of
from grants.core.timeutil import local_today
from grants.orgs.models import QUALIFICATIONS
from grants.programmes.models import CATEGORIES, FUNDING_LEVELS
from grants.projects.models import OUTCOME_KINDS, ProjectState
from grants.reports import charts as report_charts
from grants.reports.aggregations import (
    ANY_QUALIFICATION,
    COUNTED_OUTCOMES,
    Portfolio,
    ProjectLine,
    Tally,
    build_portfolio,
)
from grants.reports.periods import Period
from grants.reports.plan import (
    BASELINE_YEAR,
    LEADING_CLUSTER,
    PLAN_LEVELS,
    TARGET_YEAR,
    Indicator,
    plan_progress,
    trend_years,
)

APPENDIX_TABLE_LIMIT = 600
CLUSTER_TABLE_LIMIT = 20
LISTING_LINES_PER_PAGE = 78
LISTING_FIRST_PAGE_LINES = 68  # the appendix heading takes the top of its first page
DEFAULT_PDF_TIMEOUT = 600.0
ZERO = Decimal(0)

LEVEL_SHORT = {
    "district": _l("District"),
    "city": _l("Municipal"),
    "province": _l("Provincial"),
    "national": _l("National"),
}


class Formats:
    """Numbers, money in 万元, shares and dates in the report's language."""

    def __init__(self, locale: str):
        self.locale = locale

    def wan(self, amount: Decimal | None) -> str:
        return format_wan_number(amount, locale=self.locale)

    def number(self, value) -> str:
        if value is None:
            return "—"
        return format_decimal(value, format="#,##0.##", locale=self.locale)

    def percent(self, share: Decimal | None, digits: int = 1) -> str:
        if share is None:
            return "—"
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(share, format=pattern, locale=self.locale)

    def points(self, share: Decimal | None) -> str:
        """A difference of two shares in percentage points."""
        if share is None:
            return "—"
        value = (share * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return _(
            "%(points)s percentage points",
            points=format_decimal(value, format="#,##0.00", locale=self.locale),
        )

    def date(self, value: date | None) -> str:
        return format_date(value, "long") if value else "—"

    def helpers(self) -> dict[str, Callable]:
        return {
            "wan": self.wan,
            "number": self.number,
            "percent": self.percent,
            "points": self.points,
            "long_date": self.date,
        }


@dataclass
class ReportContent:
    """Everything the PDF, the xlsx and the dashboard show for one period in one language."""

    period: Period
    locale: str
    portfolio: Portfolio
    indicators: list[Indicator]
    years: range
    charts: dict
    generated_on: date

    @property
    def formats(self) -> Formats:
        return Formats(self.locale)

    def cluster_name(self, code: str) -> str:
        return self.portfolio.cluster_name(code, self.locale)

    @property
    def plan_levels(self) -> Tally:
        """Provincial and municipal projects: the figures the plan's 13th-period review counts."""
        return self.portfolio.where(levels=PLAN_LEVELS)

    @property
    def plan_levels_leading(self) -> Tally:
        return self.portfolio.where(levels=PLAN_LEVELS, clusters=[LEADING_CLUSTER])

    @property
    def leading_cluster_name(self) -> str:
        return (
            self.cluster_name(LEADING_CLUSTER)
            if LEADING_CLUSTER in self.portfolio.clusters
            else "—"
        )

    def qualification_rows(self) -> list[tuple[str, Tally]]:
        """Rows of the qualification table: each kind, any, none (derived from the totals)."""
        held = self.portfolio.qualifications
        rows = [(str(label), held.get(kind, Tally())) for kind, label in QUALIFICATIONS.items()]
        any_held = held.get(ANY_QUALIFICATION, Tally())
        totals = self.portfolio.totals
        none = Tally(
            applications=totals.applications - any_held.applications,
            passed=totals.passed - any_held.passed,
            funded=totals.funded - any_held.funded,
            awarded=totals.awarded - any_held.awarded,
            disbursed=totals.disbursed - any_held.disbursed,
        )
        rows.append((_("Any qualification"), any_held))
        rows.append((_("No qualification"), none))
        return rows

    def outcome_kinds(self) -> list[tuple[str, str, str]]:
        """(kind, label, unit) of the outcomes, counted kinds first."""
        kinds = list(COUNTED_OUTCOMES) + [k for k in OUTCOME_KINDS if k not in COUNTED_OUTCOMES]
        return [(kind, str(OUTCOME_KINDS[kind][0]), str(OUTCOME_KINDS[kind][1])) for kind in kinds]

    def outcome_value(self, tally, kind: str) -> str:
        if tally is None:
            return self.formats.number(0) if kind != "revenue" else self.formats.wan(ZERO)
        if kind == "revenue":
            return self.formats.wan(tally.quantity)
        return self.formats.number(tally.quantity)

    def cluster_sections(self) -> list[dict]:
        """For each cluster with projects or applications: its figures and its largest projects."""
        sections = []
        projects = dict(self.portfolio.projects_by_cluster())
        for code, tally in self.portfolio.by_cluster.items():
            lines = projects.get(code, [])
            if not lines and not tally.applications:
                continue
            largest = sorted(lines, key=lambda line: (-line.award, line.code))[:CLUSTER_TABLE_LIMIT]
            sections.append(
                {
                    "code": code,
                    "name": self.cluster_name(code),
                    "tally": tally,
                    "projects": largest,
                    "more": max(0, len(lines) - len(largest)),
                    "count": len(lines),
                    "milestones": self.portfolio.milestones.get(code),
                    "acceptance": self.portfolio.acceptance.get(code),
                }
            )
        return sections

    @property
    def appendix_as_table(self) -> bool:
        return len(self.portfolio.projects) <= APPENDIX_TABLE_LIMIT

    def appendix_rows(self) -> list[ProjectLine]:
        order = {code: index for index, code in enumerate(self.portfolio.clusters)}
        return sorted(
            self.portfolio.projects,
            key=lambda line: (order.get(line.cluster, len(order)), line.code),
        )

    def listing_pages(self) -> tuple[str, list[list[str]]]:
        """The compact appendix: a heading line and pages of fixed-width lines."""
        fmt = self.formats
        heading = _listing_line(
            [
                _("No."),
                _("Project code"),
                _("Project title"),
                _("Organisation"),
                _("Industry cluster"),
                _("Level"),
                _("Award"),
                _("State"),
            ]
        )
        lines = []
        for number, line in enumerate(self.appendix_rows(), start=1):
            lines.append(
                _listing_line(
                    [
                        str(number),
                        line.code,
                        line.title,
                        line.organisation,
                        self.cluster_name(line.cluster),
                        str(LEVEL_SHORT.get(line.level, line.level)),
                        fmt.wan(line.award),
                        label_of(ProjectState, line.state),
                    ]
                )
            )
        first, rest = lines[:LISTING_FIRST_PAGE_LINES], lines[LISTING_FIRST_PAGE_LINES:]
        pages = [first] + [
            rest[i : i + LISTING_LINES_PER_PAGE]
            for i in range(0, len(rest), LISTING_LINES_PER_PAGE)
        ]
        return heading, [page for page in pages if page]


# --- compact listing -------------------------------------------------------------------------

# (display width, right-aligned) of the listing's columns. CJK characters take two cells, and so do
# the "ambiguous" ones (…, “ ”, ·), which the CJK monospaced font draws full-width.
WIDE = ("W", "F", "A")
LISTING_COLUMNS = (
    (5, True),
    (18, False),
    (38, False),
    (26, False),
    (12, False),
    (8, False),
    (10, True),
    (10, False),
)


def _cells(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in WIDE else 1


def display_width(text: str) -> int:
    return sum(_cells(ch) for ch in text)


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` cut (with …) or padded to ``width`` display cells."""
    text = " ".join(str(text).split())
    if display_width(text) > width:
        out, used = [], 0
        for ch in text:
            cells = _cells(ch)
            if used + cells > width - _cells("…"):
                break
            out.append(ch)
            used += cells
        text = "".join(out) + "…"
    padding = " " * max(0, width - display_width(text))
    return padding + text if right else text + padding


def _listing_line(cells: list[str]) -> str:
    return "  ".join(
        fit(cell, width, right) for cell, (width, right) in zip(cells, LISTING_COLUMNS, strict=True)
    )


# --- building and rendering --------------------------------------------------------------------


def build_content(
    period: Period,
    locale: str,
    *,
    as_of: date | None = None,
    with_charts: bool = True,
    progress: Callable[[int, str], None] | None = None,
) -> ReportContent:
    """Query the figures and draw the charts for ``period`` (call inside ``force_locale``)."""
    step = progress or (lambda percent, message: None)
    years = trend_years(period)
    step(5, _("Counting applications, projects and money"))
    portfolio = build_portfolio(period, as_of=as_of, enterprise_span=years)
    indicators = plan_progress(portfolio.enterprises, years)
    charts = {}
    if with_charts:
        step(20, _("Drawing the charts"))
        charts = report_charts.portfolio_charts(portfolio, indicators, years, locale)
    return ReportContent(
        period=period,
        locale=locale,
        portfolio=portfolio,
        indicators=indicators,
        years=years,
        charts=charts,
        generated_on=as_of or local_today(),
    )


def report_title(period: Period) -> str:
    return _("Portfolio report of the S&T programmes, %(period)s", period=period.label)


def report_html(content: ReportContent, *, version: int | None = None) -> str:
    """The HTML the PDF is printed from (templates need a request context: jobs have none of their own)."""
    if not has_request_context():
        with base_url_request_context():
            return report_html(content, version=version)
    return render_template(
        "reports/pdf/report.html",
        content=content,
        portfolio=content.portfolio,
        period=content.period,
        version=version,
        title=report_title(content.period),
        lang=html_lang(content.locale),
        stylesheets=[pdf_static_url("css/report-pdf.css")],
        levels=FUNDING_LEVELS,
        categories=CATEGORIES,
        level_short=LEVEL_SHORT,
        baseline_year=BASELINE_YEAR,
        target_year=TARGET_YEAR,
        cluster_limit=CLUSTER_TABLE_LIMIT,
        **content.formats.helpers(),
    )


def pdf_timeout() -> float:
    return float(current_app.config.get("REPORT_PDF_TIMEOUT", DEFAULT_PDF_TIMEOUT))


def render_report_pdf(
    content: ReportContent, *, version: int | None = None, timeout: float | None = None
) -> bytes:
    """The report as PDF bytes (WeasyPrint in a child process, killed after ``timeout`` seconds)."""
    return render_pdf(report_html(content, version=version), timeout=timeout or pdf_timeout())
