"""The 14th Five-Year S&T plan's targets and the district's progress towards them.

The plan (seed text, 第三章 三、总体目标): by 2025 the number of technology enterprises grows by
50 % over 2020, the national high-tech enterprises reach 10, and R&D spending rises by one
percentage point over the five years. Its baseline is 2020, the last year of the 13th
Five-Year period, when the district counted 8 national high-tech enterprises (第一章).
The baselines are taken from the data for 2020, the plan's own figure is printed beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from grants.reports.aggregations import EnterpriseYear, ratio
from grants.reports.periods import Period

BASELINE_YEAR = 2020
TARGET_YEAR = 2025
TECH_ENTERPRISE_GROWTH = Decimal("0.5")
NATIONAL_HIGH_TECH_TARGET = 10
RD_INTENSITY_GAIN = Decimal("0.01")
STATED_BASELINE = {"national_high_tech": 8}
LEADING_CLUSTER = "pharma"  # 医药健康, the plan's "main battlefield"
PLAN_LEVELS = (
    "province",
    "city",
)  # the 13th-period figures count provincial and municipal projects

INDICATORS = {
    "tech_enterprises": _l("Technology enterprises"),
    "national_high_tech": _l("National high-tech enterprises"),
    "rd_intensity": _l("R&D spending as a share of revenue"),
}
TARGET_TEXT = {
    "tech_enterprises": _l("half as many again as in 2020"),
    "national_high_tech": _l("at least 10"),
    "rd_intensity": _l("+1 percentage point over 2020"),
}


def trend_years(period: Period) -> range:
    """The years the trend charts and the plan table show: from the 2020 baseline (or the
    period's first year, if earlier) to the period's last year."""
    if period.last_year >= BASELINE_YEAR:
        return range(min(period.first_year, BASELINE_YEAR), period.last_year + 1)
    return period.years


@dataclass
class Indicator:
    """One target of the plan with its baseline, target and yearly values."""

    key: str
    is_rate: bool
    baseline: Decimal | int | None
    target: Decimal | int | None
    values: dict[int, Decimal | int | None] = field(default_factory=dict)
    stated_baseline: int | None = None

    @property
    def label(self) -> str:
        return str(INDICATORS[self.key])

    @property
    def target_text(self) -> str:
        return str(TARGET_TEXT[self.key])

    @property
    def latest_year(self) -> int | None:
        years = [
            year
            for year, value in self.values.items()
            if year > BASELINE_YEAR and value is not None
        ]
        return max(years) if years else None

    @property
    def latest(self):
        return self.values.get(self.latest_year) if self.latest_year else None

    @property
    def achieved(self) -> bool | None:
        """Whether the latest value reaches the target (None before 2021 or without data)."""
        if self.latest is None or self.target is None:
            return None
        return self.latest >= self.target

    @property
    def progress(self) -> Decimal | None:
        """How far the latest value has come from the baseline towards the target (1 = reached)."""
        if self.latest is None or self.target is None or self.baseline is None:
            return None
        return ratio(
            Decimal(self.latest) - Decimal(self.baseline),
            Decimal(self.target) - Decimal(self.baseline),
        )


def plan_progress(enterprises: dict[int, EnterpriseYear], years: range) -> list[Indicator]:
    """The three indicators of the plan, from the enterprises' figures of ``years``."""
    base = enterprises.get(BASELINE_YEAR)
    tech = Indicator("tech_enterprises", False, base.tech_enterprises if base else None, None)
    if base is not None:
        tech.target = math.ceil(Decimal(base.tech_enterprises) * (1 + TECH_ENTERPRISE_GROWTH))
    high_tech = Indicator(
        "national_high_tech",
        False,
        base.national_high_tech if base else None,
        NATIONAL_HIGH_TECH_TARGET,
        stated_baseline=STATED_BASELINE["national_high_tech"],
    )
    base_rate = base.rd_intensity if base else None
    rd = Indicator(
        "rd_intensity",
        True,
        base_rate,
        base_rate + RD_INTENSITY_GAIN if base_rate is not None else None,
    )
    for year in years:
        figures = enterprises.get(year)
        tech.values[year] = figures.tech_enterprises if figures else None
        high_tech.values[year] = figures.national_high_tech if figures else None
        rd.values[year] = figures.rd_intensity if figures else None
    return [tech, high_tech, rd]
