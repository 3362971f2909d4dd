"""Awarded grants as open data in the 360Giving Data Standard: a JSON package and a flat CSV.

The JSON is a data package (``{"grants": [...]}`` with title, publisher and issue date); each
grant carries the standard's required fields (``id``, ``title``, ``description``, ``currency``,
``amountAwarded``, ``awardDate``, ``recipientOrganization``, ``fundingOrganization``) and
``amountAppliedFor``, ``amountDisbursed``, ``plannedDates``, ``beneficiaryLocation``,
``grantProgramme``, ``classifications`` (the industry cluster) and ``fromOpenCall``. The CSV
flattens the same fields under the standard's spreadsheet column titles (``Identifier``,
``Amount Awarded``, ``Recipient Org:Identifier`` …), UTF-8 with a byte-order mark so that
spreadsheet programs read the Chinese text.

Identifiers:

- a grant: ``<prefix>-<project code>``; the prefix is ``OPEN_DATA_PREFIX`` (default
  ``360G-edjkj``). 360Giving assigns ``360G-`` prefixes to registered publishers: until the
  bureau registers one, the default stands in for it.
- a recipient: ``CN-USCI-<统一社会信用代码>``, the org-id.guide list of Unified Social Credit
  Identifiers.
- a funder: the bureau for district programmes, else the city, province or ministry whose
  programme funded the project, as ``<prefix>-funder-<level>`` (internal identifiers under the
  publisher prefix, as the standard asks for organisations without a listed identifier).

Amounts are yuan, written as exact decimal numbers (never through float).
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from grants.applications.models import Application
from grants.core.money import to_money
from grants.core.timeutil import local_today, utc_to_local
from grants.core.types import utcnow
from grants.core.xlsx import csv_text, csv_value
from grants.extensions import db
from grants.orgs.models import IndustryCluster, Organisation
from grants.programmes.models import Call
from grants.projects.models import Project
from grants.reports.periods import Period
from grants.review.models import Decision

DEFAULT_PREFIX = "360G-edjkj"
CURRENCY = "CNY"
RECIPIENT_LIST = "CN-USCI"
DISTRICT = "二道江区"
FUNDERS = {
    "district": "通化市二道江区科学技术局",
    "city": "通化市科学技术局",
    "province": "吉林省科学技术厅",
    "national": "中华人民共和国科学技术部",
}
CSV_COLUMNS = [
    "Identifier",
    "Title",
    "Description",
    "Currency",
    "Amount Applied For",
    "Amount Awarded",
    "Amount Disbursed",
    "Award Date",
    "Planned Dates:Start Date",
    "Planned Dates:End Date",
    "Planned Dates:Duration (months)",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Recipient Org:Street Address",
    "Beneficiary Location:Name",
    "Beneficiary Location:Country Code",
    "Funding Org:Identifier",
    "Funding Org:Name",
    "Grant Programme:Code",
    "Grant Programme:Title",
    "From An Open Call?",
    "Classifications:Vocabulary",
    "Classifications:Code",
    "Classifications:Title",
]
REQUIRED_FIELDS = (
    "id",
    "title",
    "description",
    "currency",
    "amountAwarded",
    "awardDate",
    "recipientOrganization",
    "fundingOrganization",
)


def prefix() -> str:
    return current_app.config.get("OPEN_DATA_PREFIX") or DEFAULT_PREFIX


def _safe_id(text: str) -> str:
    """An identifier part: spaces and slashes become underscores, as the standard recommends."""
    return re.sub(r"[\s/\\]+", "_", text.strip())


def _months(start, end) -> int:
    return (
        (end.year - start.year) * 12
        + (end.month - start.month)
        + (1 if end.day >= start.day else 0)
    )


def grant_records(period: Period | None = None) -> list[dict]:
    """The awarded grants (projects) of ``period`` (all years when None) as 360Giving grants."""
    stmt = (
        sa.select(
            Project,
            Call,
            Organisation,
            IndustryCluster,
            Application.fiscal_total,
            Decision.decided_at,
        )
        .join(Call, Call.id == Project.call_id)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .join(Application, Application.id == Project.application_id)
        .outerjoin(IndustryCluster, IndustryCluster.id == Project.cluster_id)
        .outerjoin(Decision, Decision.application_id == Project.application_id)
        .order_by(Project.year, Project.code)
    )
    if period is not None:
        stmt = stmt.where(Project.year.between(period.first_year, period.last_year))
    grant_prefix = prefix()
    records = []
    for project, call, organisation, cluster, applied_for, decided_at in db.session.execute(stmt):
        awarded_at = decided_at or project.signed_at or project.created_at
        recipient = {"id": f"{RECIPIENT_LIST}-{organisation.uscc}", "name": organisation.name}
        if organisation.address:
            recipient["streetAddress"] = organisation.address
        record = {
            "id": f"{grant_prefix}-{_safe_id(project.code)}",
            "title": project.title,
            "description": project.summary or project.title,
            "currency": CURRENCY,
            "amountAppliedFor": to_money(applied_for or 0),
            "amountAwarded": to_money(project.award),
            "amountDisbursed": to_money(project.disbursed_total),
            "awardDate": utc_to_local(awarded_at).date().isoformat(),
            "plannedDates": [
                {
                    "startDate": project.start_date.isoformat(),
                    "endDate": project.end_date.isoformat(),
                    "duration": _months(project.start_date, project.end_date),
                }
            ],
            "recipientOrganization": [recipient],
            "beneficiaryLocation": [{"name": DISTRICT, "countryCode": "CN"}],
            "fundingOrganization": [
                {
                    "id": f"{grant_prefix}-funder-{call.funding_level}",
                    "name": FUNDERS.get(call.funding_level, FUNDERS["district"]),
                }
            ],
            "grantProgramme": [{"code": call.code, "title": call.title}],
            "fromOpenCall": "Yes",
        }
        if cluster is not None:
            record["classifications"] = [
                {
                    "vocabulary": f"{grant_prefix}-industry-cluster",
                    "code": cluster.code,
                    "title": cluster.name_zh,
                }
            ]
        records.append(record)
    return records


def grants_package(period: Period | None = None) -> dict:
    """A 360Giving data package of the awarded grants."""
    years = period.label if period else ""
    return {
        "grants": grant_records(period),
        "title": f"{FUNDERS['district']}科技计划项目资助数据 {years}".strip(),
        "description": "二道江区组织实施的各级科技计划立项项目（360Giving 数据标准）",
        "identifier": f"{prefix()}-grants-{period.key if period else 'all'}",
        "issued": local_today().isoformat(),
        "modified": utcnow().replace(microsecond=0).isoformat(),
        "publisher": {"name": FUNDERS["district"], "identifier": f"{prefix()}-funder-district"},
    }


def dumps_exact(data) -> str:
    """JSON text in which every Decimal is written as the exact decimal number it is."""
    marker = f"@@decimal-{uuid.uuid4().hex}@@"

    def default(value):
        if isinstance(value, Decimal):
            return f"{marker}{value}"
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    text = json.dumps(data, ensure_ascii=False, indent=1, default=default)
    return re.sub(rf'"{re.escape(marker)}(-?[0-9]+(?:\.[0-9]+)?)"', r"\1", text)


def flatten(record: dict) -> list[str]:
    """One grant as a row of CSV fields under :data:`CSV_COLUMNS` (the first item of each list)."""
    return [csv_value(value) for value in _values(record)]


def _values(record: dict) -> list:
    def first(key: str) -> dict:
        items = record.get(key) or [{}]
        return items[0]

    planned, recipient, location = (
        first("plannedDates"),
        first("recipientOrganization"),
        first("beneficiaryLocation"),
    )
    funder, programme, classification = (
        first("fundingOrganization"),
        first("grantProgramme"),
        first("classifications"),
    )
    values = [
        record["id"],
        record["title"],
        record["description"],
        record["currency"],
        record.get("amountAppliedFor"),
        record["amountAwarded"],
        record.get("amountDisbursed"),
        record["awardDate"],
        planned.get("startDate"),
        planned.get("endDate"),
        planned.get("duration"),
        recipient.get("id"),
        recipient.get("name"),
        recipient.get("streetAddress"),
        location.get("name"),
        location.get("countryCode"),
        funder.get("id"),
        funder.get("name"),
        programme.get("code"),
        programme.get("title"),
        record.get("fromOpenCall"),
        classification.get("vocabulary"),
        classification.get("code"),
        classification.get("title"),
    ]
    return values


def grants_csv(period: Period | None = None) -> str:
    """The awarded grants as CSV text under the 360Giving column titles (with a BOM)."""
    return csv_text(CSV_COLUMNS, (_values(record) for record in grant_records(period)))
