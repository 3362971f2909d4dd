"""Report periods: a single year or a span of years such as the plan's five-year periods."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from grants.core.timeutil import local_today

FIRST_YEAR = 2016
FIVE_YEAR_PERIODS = {
    (2016, 2020): _l("13th Five-Year Plan period"),
    (2021, 2025): _l("14th Five-Year Plan period"),
}
_KEY = re.compile(r"^(\d{4})(?:-(\d{4}))?$")


class PeriodError(ValueError):
    """Text that names no report period."""


@dataclass(frozen=True, order=True)
class Period:
    """The years a report covers, both ends included."""

    first_year: int
    last_year: int

    def __post_init__(self):
        if self.last_year < self.first_year:
            raise PeriodError("the last year comes before the first")

    @classmethod
    def parse(cls, key: str | None) -> Period:
        """``2023`` or ``2021-2025`` (as used in URLs and forms)."""
        match = _KEY.match((key or "").strip())
        if not match:
            raise PeriodError(key)
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if not (1990 <= first <= 2100 and 1990 <= last <= 2100):
            raise PeriodError(key)
        return cls(first, last)

    @property
    def key(self) -> str:
        return (
            str(self.first_year) if self.is_single_year else f"{self.first_year}-{self.last_year}"
        )

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)

    @property
    def is_single_year(self) -> bool:
        return self.first_year == self.last_year

    @property
    def label(self) -> str:
        """``2023`` or ``2021–2025`` (with an en dash)."""
        return self.key.replace("-", "–")

    @property
    def name(self) -> str:
        """The plan period's name when the span is one, else the years."""
        named = FIVE_YEAR_PERIODS.get((self.first_year, self.last_year))
        if named is not None:
            return f"{named} ({self.label})"
        return _("Year %(year)s", year=self.label) if self.is_single_year else self.label


def period_choices(today=None) -> list[tuple[str, str]]:
    """The periods a report can be requested for: the five-year periods, then each year (latest first)."""
    today = today or local_today()
    last = max(today.year, max(last for _first, last in FIVE_YEAR_PERIODS))
    choices = [
        (Period(a, b).key, Period(a, b).name) for a, b in sorted(FIVE_YEAR_PERIODS, reverse=True)
    ]
    choices += [(str(year), str(year)) for year in range(last, FIRST_YEAR - 1, -1)]
    return choices
