"""The bureau's list of applications as an xlsx workbook (money in 万元, times in Beijing)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from flask_babel import lazy_gettext as _l

from grants.applications.models import Application
from grants.core.money import wan_or_none
from grants.core.timeutil import local_today, utc_to_local
from grants.core.xlsx import DATETIME_FORMAT, WAN_FORMAT, Column, write_table


def _local(value):
    """Beijing wall-clock time to the second, without tzinfo (Excel has no time zones)."""
    return utc_to_local(value).replace(tzinfo=None, microsecond=0) if value else None


COLUMNS = [
    Column(_l("Reference number"), 18, lambda a: a.reference_no or ""),
    Column(_l("Title"), 44, lambda a: a.title, wrap=True),
    Column(_l("Organisation"), 32, lambda a: a.organisation.name, wrap=True),
    Column(_l("Credit code"), 21, lambda a: a.organisation.uscc),
    Column(_l("Industry cluster"), 16, lambda a: a.cluster.display_name() if a.cluster else ""),
    Column(_l("Call"), 32, lambda a: a.call.title, wrap=True),
    Column(_l("State"), 14, lambda a: a.state_label),
    Column(_l("Fiscal funds (10,000 yuan)"), 16, lambda a: wan_or_none(a.fiscal_total), WAN_FORMAT),
    Column(
        _l("Self-raised funds (10,000 yuan)"),
        16,
        lambda a: wan_or_none(a.self_raised_total),
        WAN_FORMAT,
    ),
    Column(_l("Total budget (10,000 yuan)"), 16, lambda a: wan_or_none(a.total_budget), WAN_FORMAT),
    Column(_l("Submitted (Beijing time)"), 18, lambda a: _local(a.submitted_at), DATETIME_FORMAT),
]


def applications_xlsx(applications: Iterable[Application]) -> bytes:
    """The applications, one row each, as an xlsx workbook."""
    return write_table(COLUMNS, applications, sheet_title=str(_l("Applications")))


def export_filename() -> tuple[str, str]:
    """The (ASCII, Chinese-safe) download names of today's export."""
    today = local_today().isoformat()
    return f"applications-{today}.xlsx", f"{_l('Applications')}-{today}.xlsx"


def content_disposition(ascii_name: str, display_name: str) -> str:
    """An attachment header with an ASCII name for old clients and the UTF-8 name for the rest."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(display_name, safe='')}"
