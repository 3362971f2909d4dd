"""Formula injection (OWASP CSV injection): typed text reaches every spreadsheet as text."""

from __future__ import annotations

import csv
import io
import pathlib
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from grants.core import xlsx
from grants.reports import opendata
from tests.applications.bureau_helpers import application_in_state
from tests.factories import CallFactory, OrganisationFactory, make_user

HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "  =1",
    "\u3000=1",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(A1)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_text_gets_an_apostrophe(text):
    assert xlsx.looks_like_formula(text)
    assert xlsx.cell(text) == "'" + text
    assert xlsx.csv_value(text) == "'" + text


@pytest.mark.parametrize("value", ["中药提取", "a=b", "1-2", "", "邮箱 a@b.example"])
def test_plain_text_is_unchanged(value):
    assert not xlsx.looks_like_formula(value) and xlsx.cell(value) == value


def test_typed_values_stay_typed():
    for value in (Decimal("-12.50"), -3, 1.5, date(2026, 1, 2), None):
        assert xlsx.cell(value) == value
    assert xlsx.csv_value(Decimal("-12.50")) == "-12.50"


def _reopen(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]


def test_write_table_stores_formula_text_as_string_cells():
    columns = [
        xlsx.Column("=header", 10, lambda v: v),
        xlsx.Column("n", 10, lambda v: Decimal("-5")),
    ]
    sheet = _reopen(xlsx.write_table(columns, [*HOSTILE, "bad\x0bchar"], sheet_title="t"))
    assert sheet["A1"].value == "'=header" and sheet["A1"].data_type == "s"
    for number, text in enumerate(HOSTILE, start=2):
        item = sheet.cell(row=number, column=1)
        assert (item.data_type, item.value) == (
            "s",
            "'" + text.replace("\r", "\n"),
        )  # XML reads CR as LF
        assert sheet.cell(row=number, column=2).data_type == "n"
    assert sheet.cell(row=len(HOSTILE) + 2, column=1).value == "badchar"


def test_applications_export_writes_a_hostile_title_as_text(client, login):
    call = CallFactory(title="@call")
    application_in_state(
        "submitted",
        call=call,
        organisation=OrganisationFactory(name="+org"),
        reference_no="X-1",
        title='=HYPERLINK("http://evil.example")',
    )
    login(make_user("bureau"))
    response = client.get(f"/applications/all.xlsx?call={call.id}")
    assert response.status_code == 200
    row = list(_reopen(response.data)[2])
    values = {c.value for c in row}
    assert (
        '\'=HYPERLINK("http://evil.example")' in values and "'+org" in values and "'@call" in values
    )
    assert all(c.data_type != "f" for c in row)


def test_open_data_csv_fields_are_safe():
    record = {
        "id": "360G-1",
        "title": "=1+1",
        "description": "－2",
        "currency": "CNY",
        "amountAwarded": Decimal("-1"),
        "awardDate": "2026-01-01",
    }
    fields = opendata.flatten(record)
    assert fields[1] == "'=1+1" and fields[2] == "'－2" and fields[5] == "-1"
    text = xlsx.csv_text(["a"], [["=x"]])
    assert list(csv.reader(io.StringIO(text.lstrip("\ufeff")))) == [["a"], ["'=x"]]


def test_only_core_xlsx_imports_openpyxl_or_csv():
    root = pathlib.Path(__file__).resolve().parents[2] / "grants"
    pattern = re.compile(r"^\s*(import (openpyxl|csv)\b|from (openpyxl|csv)\b)", re.M)
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "xlsx.py" or p.parent.name != "core"
        if pattern.search(p.read_text("utf-8"))
    ]
    assert offenders == [
        "review/scoring.py"
    ]  # the panel workbook still builds openpyxl styles itself
