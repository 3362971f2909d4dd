"""The open-data exports pass the official 360Giving package schema.

The schemas in ``tests/reports/schemas/`` are the 360Giving Data Standard's own (see the
README there). The JSON package is validated as published, with formats checked; the CSV
is read back into grants through the standard's spreadsheet column titles, which are taken
from the schema's own field titles, each cell converted to the type the schema gives its
field (a cell that is not a number where the schema wants one fails), and validated the
same way.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from grants.reports.opendata import CSV_COLUMNS
from tests.factories import make_user
from tests.reports.portfolio_helpers import YEAR
from tests.reports.portfolio_helpers import build_portfolio as build_fixture

SCHEMAS = Path(__file__).parent / "schemas"
PACKAGE = json.loads((SCHEMAS / "360-giving-package-schema.json").read_text())
GRANT = json.loads((SCHEMAS / "360-giving-schema.json").read_text())


def validator(schema) -> Draft202012Validator:
    """A validator that resolves the package's reference to the grant schema locally.

    The standard's files name their dialect as ``http://json-schema.org/draft/2020-12/schema``
    (http, not the https the dialect's identifier uses), so the dialect is given, not guessed.
    """
    grant = Resource(contents=GRANT, specification=DRAFT202012)
    referenced = PACKAGE["properties"]["grants"]["items"]["$ref"]
    registry = Registry().with_resources([(GRANT["$id"], grant), (referenced, grant)])
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def problems(schema, instance) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator(schema).iter_errors(instance)
    ]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = GRANT["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def spreadsheet_titles(node: dict = GRANT, titles=(), path=()) -> dict[str, tuple]:
    """Column title ("Recipient Org:Identifier") → (JSON path, schema type), from the schema."""
    node, found = _resolve(node), {}
    if node.get("type") == "array" and "properties" in _resolve(node.get("items", {})):
        node, path = _resolve(node["items"]), (*path, 0)
    if "properties" in node and len(titles) < 3:
        for key, child in node["properties"].items():
            title = _resolve(child).get("title", key)
            found |= spreadsheet_titles(child, (*titles, title), (*path, key))
        return found
    return {":".join(titles): (path, node.get("type"))} if titles else {}


def typed(cell: str, kind):
    """A CSV cell as the schema's type for its field; a malformed number raises."""
    kinds = kind if isinstance(kind, list) else [kind]
    if cell == "":
        return None
    if "integer" in kinds:
        return int(cell)
    if "number" in kinds:
        return float(Decimal(cell))  # Decimal refuses "1,000" and "28.00 万元"
    return cell


def unflatten(row: dict[str, str], titles: dict[str, tuple]) -> dict:
    grant: dict = {}
    for column, cell in row.items():
        path, kind = titles[column]
        value = typed(cell, kind)
        if value is None:
            continue
        target = grant
        for step, following in pairwise(path):
            if isinstance(step, int):
                continue
            default = [{}] if isinstance(following, int) else {}
            target = target.setdefault(step, default)
            if isinstance(target, list):
                target = target[0]
        target[path[-1]] = value
    return grant


@pytest.fixture
def published(app, client, login, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    build_fixture()
    login(make_user("bureau"))
    return client


def test_the_vendored_schemas_are_the_standards(app):
    Draft202012Validator.check_schema(PACKAGE)
    Draft202012Validator.check_schema(GRANT)
    assert PACKAGE["required"] == ["grants"]
    [to_organisation, _to_individual] = GRANT["oneOf"]
    assert {"id", "title", "amountAwarded", "awardDate"} <= set(to_organisation["required"])


def test_json_package_passes_the_package_schema(published):
    response = published.get(f"/reports/open-data/grants.json?period={YEAR}")
    package = json.loads(response.get_data(as_text=True))  # numbers as JSON numbers
    assert len(package["grants"]) == 3
    assert problems(PACKAGE, package) == []
    for grant in package["grants"]:
        [planned] = grant["plannedDates"]
        assert isinstance(planned["duration"], int) and planned["duration"] > 0
        for field in ("amountAwarded", "amountAppliedFor", "amountDisbursed"):
            assert isinstance(grant[field], int | float), (field, grant[field])
        for day in (grant["awardDate"], planned["startDate"], planned["endDate"]):
            date.fromisoformat(day)


def test_the_schema_catches_what_was_wrong_before(published):
    """The check can fail: a duration written as text, as the export once did, is refused."""
    response = published.get(f"/reports/open-data/grants.json?period={YEAR}")
    package = json.loads(response.get_data(as_text=True))
    package["grants"][0]["plannedDates"][0]["duration"] = "24"
    assert any("duration" in p for p in problems(PACKAGE, package))


def test_csv_columns_are_the_standards_titles():
    titles = spreadsheet_titles()
    assert [c for c in CSV_COLUMNS if c not in titles] == []


def test_csv_read_back_through_the_schema_titles_passes_the_schema(published):
    response = published.get("/reports/open-data/grants.csv?period=all")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 3
    titles = spreadsheet_titles()
    grants = [unflatten(row, titles) for row in rows]
    assert problems(PACKAGE, {"grants": grants}) == []
    assert all(isinstance(g["plannedDates"][0]["duration"], float | int) for g in grants)
