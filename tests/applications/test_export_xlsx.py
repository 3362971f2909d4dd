"""The bureau's xlsx export: the filtered rows, money in 万元 as exact numbers, real dates."""

import io
from datetime import datetime
from decimal import Decimal
from urllib.parse import unquote

import openpyxl

from grants.core.money import yuan_to_wan
from grants.core.timeutil import local_to_utc
from tests.applications.bureau_helpers import application_in_state
from tests.factories import CallFactory, ClusterFactory, OrganisationFactory, make_user


def workbook(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data))


def seed():
    cluster = ClusterFactory(name_zh="医药健康")
    org = OrganisationFactory(name="通化金马药业集团股份有限公司", cluster=cluster)
    call = CallFactory(title="2026年度科技攻关计划")
    other_call = CallFactory()
    a = application_in_state(
        "submitted",
        call=call,
        organisation=org,
        reference_no="X-001",
        title="中药提取自动化关键技术研究",
        fiscal_total=Decimal("123456.78"),
        self_raised_total=Decimal("200000.05"),
        submitted_at=local_to_utc(datetime(2026, 3, 3, 23, 30)),
    )
    b = application_in_state(
        "under_review",
        call=call,
        organisation=org,
        reference_no="X-002",
        fiscal_total=Decimal("500000"),
        self_raised_total=Decimal("0"),
    )
    application_in_state("submitted", call=other_call, reference_no="Y-001")
    application_in_state("draft", call=call, organisation=org)
    return {"call": call, "a": a, "b": b}


def test_export_has_the_filtered_rows_with_exact_values(client, login):
    data = seed()
    login(make_user("bureau"))
    book = workbook(client.get(f"/applications/all.xlsx?call={data['call'].id}&sort=reference"))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3  # header and the two non-draft applications of the call
    header, first, second = rows
    assert header[0] and all(isinstance(h, str) and h for h in header)
    assert first[0] == "X-001" and second[0] == "X-002"
    assert first[1] == "中药提取自动化关键技术研究"
    assert first[2] == "通化金马药业集团股份有限公司"
    assert first[4] == "医药健康"
    assert first[5] == "2026年度科技攻关计划"
    fiscal, self_raised, total = first[7], first[8], first[9]
    assert Decimal(str(fiscal)) == yuan_to_wan(Decimal("123456.78")) == Decimal("12.3457")
    assert Decimal(str(self_raised)) == Decimal("20.0000")
    assert Decimal(str(total)) == yuan_to_wan(Decimal("323456.83")) == Decimal("32.3457")
    assert Decimal(str(second[8])) == Decimal("0")
    assert first[10] == datetime(2026, 3, 3, 23, 30)


def test_export_cells_are_typed_and_formatted(client, login):
    data = seed()
    login(make_user("bureau"))
    book = workbook(client.get(f"/applications/all.xlsx?call={data['call'].id}&sort=reference"))
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b
    assert sheet["H2"].data_type == "n" and sheet["H2"].number_format == "#,##0.00"
    assert sheet["K2"].is_date and sheet["K2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width


def test_export_follows_the_text_filter(client, login):
    seed()
    login(make_user("bureau"))
    sheet = workbook(client.get("/applications/all.xlsx?q=中药提取")).worksheets[0]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["X-001"]


def test_export_download_name_is_dated_and_chinese_safe(client, login):
    seed()
    login(make_user("bureau"))
    response = client.get("/applications/all.xlsx")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="applications-20')
    assert disposition.count(".xlsx") == 2
    utf8_name = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert utf8_name.endswith(".xlsx") and "/" not in utf8_name
    assert response.headers["Cache-Control"] == "no-store"


def test_export_of_nothing_has_only_the_header(client, login):
    login(make_user("admin"))
    sheet = workbook(client.get("/applications/all.xlsx?q=不存在的项目")).worksheets[0]
    assert sheet.max_row == 1


def test_export_is_forbidden_to_finance(client, login):
    login(make_user("finance"))
    assert client.get("/applications/all.xlsx").status_code == 403
