"""The tables under the portfolio report as one xlsx workbook, a sheet per table.

Money is written in 万元 as exact Decimals (never through float), shares as fractions with a
percent format; every sheet has a bold, frozen header row.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from grants.core.money import wan_or_none
from grants.core.states import label_of
from grants.core.xlsx import WAN_FORMAT, Column, WorkbookWriter
from grants.programmes.models import CATEGORIES, FUNDING_LEVELS
from grants.projects.models import ProjectState
from grants.reports.aggregations import Tally
from grants.reports.document import ReportContent
from grants.reports.plan import TARGET_YEAR

PERCENT_FORMAT = "0.0%"
RATE_FORMAT = "0.00%"
INTEGER_FORMAT = "#,##0"


class _Sheet:
    def __init__(
        self, workbook: WorkbookWriter, title: str, headers: list[tuple[str, float, str | None]]
    ):
        self.writer = workbook.sheet(
            title, [Column(header, width, number_format=fmt) for header, width, fmt in headers]
        )
        self.formats = [number_format for _header, _width, number_format in headers]

    def row(self, *values) -> None:
        formats = [
            fmt if isinstance(v, int | Decimal) else None
            for v, fmt in zip(values, self.formats, strict=True)
        ]
        self.writer.row(list(values), formats=formats)


def _tally_headers(first: str) -> list[tuple[str, float, str | None]]:
    return [
        (first, 28, None),
        (_("Applications submitted"), 14, INTEGER_FORMAT),
        (_("Passed the formal check"), 14, INTEGER_FORMAT),
        (_("Funded projects"), 12, INTEGER_FORMAT),
        (_("Success rate"), 12, PERCENT_FORMAT),
        (_("Money awarded (10,000 yuan)"), 16, WAN_FORMAT),
        (_("Money disbursed (10,000 yuan)"), 16, WAN_FORMAT),
        (_("Money spent (10,000 yuan)"), 16, WAN_FORMAT),
    ]


def _tally_row(sheet: _Sheet, label, tally: Tally) -> None:
    sheet.row(
        str(label),
        tally.applications,
        tally.passed,
        tally.funded,
        tally.success_rate,
        wan_or_none(tally.awarded),
        wan_or_none(tally.disbursed),
        wan_or_none(tally.spent),
    )


def report_xlsx(content: ReportContent) -> bytes:
    """The workbook of the report's tables (call inside ``force_locale`` of the report)."""
    portfolio = content.portfolio
    workbook = WorkbookWriter()

    sheet = _Sheet(workbook, _("By cluster"), _tally_headers(_("Industry cluster")))
    for code, tally in portfolio.by_cluster.items():
        _tally_row(sheet, content.cluster_name(code), tally)
    _tally_row(sheet, _("Total"), portfolio.totals)

    sheet = _Sheet(workbook, _("By call category"), _tally_headers(_("Call category")))
    for key, tally in portfolio.by_category.items():
        _tally_row(sheet, CATEGORIES.get(key, key), tally)

    sheet = _Sheet(workbook, _("By funding level"), _tally_headers(_("Funding level")))
    for key, tally in portfolio.by_level.items():
        _tally_row(sheet, FUNDING_LEVELS.get(key, key), tally)

    sheet = _Sheet(workbook, _("By year"), _tally_headers(_("Year")))
    for year, tally in portfolio.by_year.items():
        _tally_row(sheet, str(year), tally)

    sheet = _Sheet(workbook, _("By qualification"), _tally_headers(_("Qualification")))
    for label, tally in content.qualification_rows():
        _tally_row(sheet, label, tally)

    sheet = _Sheet(
        workbook,
        _("Cluster and level"),
        [
            (_("Industry cluster"), 22, None),
            (_("Funding level"), 18, None),
            (_("Year"), 8, None),
            (_("Call category"), 18, None),
            *_tally_headers("")[1:],
        ],
    )
    for key, tally in sorted(portfolio.cube.items()):
        sheet.row(
            content.cluster_name(key.cluster),
            str(FUNDING_LEVELS.get(key.level, key.level)),
            key.year,
            str(CATEGORIES.get(key.category, key.category)),
            tally.applications,
            tally.passed,
            tally.funded,
            tally.success_rate,
            wan_or_none(tally.awarded),
            wan_or_none(tally.disbursed),
            wan_or_none(tally.spent),
        )

    sheet = _Sheet(
        workbook,
        _("Milestones"),
        [
            (_("Industry cluster"), 28, None),
            (_("Milestones counted"), 14, INTEGER_FORMAT),
            (_("On time"), 10, INTEGER_FORMAT),
            (_("Late"), 10, INTEGER_FORMAT),
            (_("Overdue, not achieved"), 14, INTEGER_FORMAT),
            (_("On-time rate"), 12, PERCENT_FORMAT),
        ],
    )
    for code, tally in portfolio.milestones.items():
        sheet.row(
            content.cluster_name(code),
            tally.counted,
            tally.on_time,
            tally.late,
            tally.overdue,
            tally.on_time_rate,
        )

    kinds = content.outcome_kinds()
    sheet = _Sheet(
        workbook,
        _("Outcomes"),
        [(_("Industry cluster"), 28, None)]
        + [
            (
                f"{label} ({_('10,000 yuan') if kind == 'revenue' else unit})",
                14,
                WAN_FORMAT if kind == "revenue" else "#,##0.##",
            )
            for kind, label, unit in kinds
        ],
    )
    for code, by_kind in portfolio.outcomes.items():
        values = []
        for kind, _label, _unit in kinds:
            tally = by_kind.get(kind)
            quantity = tally.quantity if tally else Decimal(0)
            values.append(wan_or_none(quantity) if kind == "revenue" else quantity)
        sheet.row(content.cluster_name(code), *values)

    sheet = _Sheet(
        workbook,
        _("Acceptance"),
        [
            (_("Industry cluster"), 28, None),
            (_("Passed"), 10, INTEGER_FORMAT),
            (_("Failed"), 10, INTEGER_FORMAT),
            (_("Pass rate"), 10, PERCENT_FORMAT),
            (_("Rectification decisions"), 14, INTEGER_FORMAT),
            (_("Rectifying"), 10, INTEGER_FORMAT),
            (_("Under acceptance review"), 14, INTEGER_FORMAT),
            (_("Not yet at acceptance"), 14, INTEGER_FORMAT),
            (_("Terminated"), 10, INTEGER_FORMAT),
        ],
    )
    for code, tally in portfolio.acceptance.items():
        sheet.row(
            content.cluster_name(code),
            tally.passed,
            tally.failed,
            tally.pass_rate,
            tally.rectify_decisions,
            tally.rectifying,
            tally.under_review,
            tally.ongoing,
            tally.terminated,
        )

    years = list(content.years)
    sheet = _Sheet(
        workbook,
        _("Plan targets"),
        [(_("Indicator"), 34, None)]
        + [(str(year), 10, None) for year in years]
        + [(_("Target %(year)s", year=TARGET_YEAR), 12, None)],
    )
    for indicator in content.indicators:
        number_format = RATE_FORMAT if indicator.is_rate else INTEGER_FORMAT
        sheet.formats = [None] + [number_format] * (len(years) + 1)
        sheet.row(
            indicator.label, *[indicator.values.get(year) for year in years], indicator.target
        )

    sheet = _Sheet(
        workbook,
        _("Enterprises"),
        [
            (_("Year"), 8, None),
            (_("Technology enterprises"), 16, INTEGER_FORMAT),
            (_("National high-tech enterprises"), 18, INTEGER_FORMAT),
            (_("Revenue (10,000 yuan)"), 18, WAN_FORMAT),
            (_("R&D spending (10,000 yuan)"), 18, WAN_FORMAT),
            (_("R&D spending as a share of revenue"), 16, RATE_FORMAT),
        ],
    )
    for year, figures in sorted(portfolio.enterprises.items()):
        sheet.row(
            year,
            figures.tech_enterprises,
            figures.national_high_tech,
            wan_or_none(figures.revenue),
            wan_or_none(figures.rd_spending),
            figures.rd_intensity,
        )

    sheet = _Sheet(
        workbook,
        _("Project list"),
        [
            (_("Project code"), 20, None),
            (_("Year"), 8, None),
            (_("Project title"), 44, None),
            (_("Organisation"), 32, None),
            (_("Industry cluster"), 16, None),
            (_("Funding level"), 16, None),
            (_("Call category"), 18, None),
            (_("Award (10,000 yuan)"), 14, WAN_FORMAT),
            (_("Disbursed (10,000 yuan)"), 14, WAN_FORMAT),
            (_("Recovered (10,000 yuan)"), 14, WAN_FORMAT),
            (_("Spent (10,000 yuan)"), 14, WAN_FORMAT),
            (_("State"), 16, None),
        ],
    )
    for line in content.appendix_rows():
        sheet.row(
            line.code,
            line.year,
            line.title,
            line.organisation,
            content.cluster_name(line.cluster),
            str(FUNDING_LEVELS.get(line.level, line.level)),
            str(CATEGORIES.get(line.category, line.category)),
            wan_or_none(line.award),
            wan_or_none(line.disbursed),
            wan_or_none(line.recovered),
            wan_or_none(line.spent),
            label_of(ProjectState, line.state),
        )

    return workbook.to_bytes()
