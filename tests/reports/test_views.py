"""The reports pages: bureau only; request, join, progress, downloads of finished versions only;
the dashboard with inline charts; the open-data export in the 360Giving shapes."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

import grants.core.jobs as core_jobs
from grants.extensions import db
from grants.reports import operations
from grants.reports.models import PortfolioReport
from grants.reports.opendata import CSV_COLUMNS, REQUIRED_FIELDS
from tests.factories import make_user
from tests.reports.portfolio_helpers import EXPECTED, YEAR
from tests.reports.portfolio_helpers import build_portfolio as build_fixture

PAGES = [
    "/reports/",
    "/reports/dashboard",
    "/reports/open-data",
    "/reports/open-data/grants.json",
    "/reports/open-data/grants.csv",
]


@pytest.fixture
def bureau(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "REPORT_PDF_TIMEOUT", 300)
    return make_user("bureau")


def reports() -> list[PortfolioReport]:
    db.session.expire_all()
    return db.session.scalars(sa.select(PortfolioReport).order_by(PortfolioReport.id)).all()


@pytest.mark.parametrize("role", ["applicant", "expert", "finance"])
def test_reports_are_for_the_bureau_only(app, client, login, role):
    login(make_user(role))
    for url in PAGES:
        assert client.get(url).status_code == 403, url
    assert (
        client.post("/reports/", data={"period": "2020", "locale": "zh_Hans_CN"}).status_code == 403
    )
    assert reports() == []


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_bureau_requests_and_downloads_a_report(app, client, login, run_jobs, bureau):
    build_fixture()
    db.session.commit()
    login(bureau)
    assert client.get("/reports/").status_code == 200
    response = client.post("/reports/", data={"period": str(YEAR), "locale": "zh_Hans_CN"})
    assert response.status_code == 302
    run_jobs()
    [report] = reports()
    assert report.state == "done" and report.requested_by_id == bureau.id
    pdf = client.get(f"/reports/{report.id}/download/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF-") and len(pdf.data) == report.pdf_size
    assert f"portfolio-report-{YEAR}-zh-v1.pdf" in pdf.headers["Content-Disposition"]
    xlsx = client.get(f"/reports/{report.id}/download/xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    page = client.get("/reports/").get_data(as_text=True)
    assert f"/reports/{report.id}/download/pdf" in page
    assert client.get(f"/reports/{report.id}/download/zip").status_code == 404


def test_a_second_request_joins_and_unfinished_versions_are_not_served(
    app, client, login, bureau, monkeypatch
):
    monkeypatch.setattr(core_jobs, "dispatch", lambda app, job_id: None)
    login(bureau)
    client.post("/reports/", data={"period": "2021-2025", "locale": "en"})
    client.post("/reports/", data={"period": "2021-2025", "locale": "en"})
    [report] = reports()
    assert report.state == "queued" and (report.first_year, report.last_year) == (2021, 2025)
    status = client.get(f"/reports/{report.id}/status", headers={"HX-Request": "true"})
    assert status.status_code == 200 and "hx-get" in status.get_data(as_text=True)
    assert client.get(f"/reports/{report.id}/download/pdf").status_code == 404


def test_bad_period_is_refused_beside_the_field(app, client, login, bureau):
    login(bureau)
    response = client.post("/reports/", data={"period": "1999", "locale": "zh_Hans_CN"})
    assert response.status_code == 422
    assert 'id="period-error"' in response.get_data(as_text=True)
    assert reports() == []


def test_failed_version_can_be_retried_from_the_archive(app, client, login, bureau, monkeypatch):
    monkeypatch.setattr(core_jobs, "dispatch", lambda app, job_id: None)
    login(bureau)
    client.post("/reports/", data={"period": "2020", "locale": "zh_Hans_CN"})
    [report] = reports()
    report.job.status = "failed"  # the worker died
    db.session.commit()
    assert client.post(f"/reports/{report.id}/retry").status_code == 302
    [report] = reports()
    assert report.state == "queued" and report.job.status == "queued"


def test_dashboard_inlines_the_charts_with_escaped_names(app, client, login, bureau):
    build_fixture(pharma_name="医药健康<script>alert(1)</script>")
    db.session.commit()
    login(bureau)
    response = client.get(f"/reports/dashboard?period={YEAR}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<svg") >= 4
    assert "<script>alert(1)</script>" not in html
    assert "医药健康&lt;script&gt;" in html
    assert "151.00" in html  # the cluster's money in 万元
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "style=" not in svg
    assert client.get("/reports/dashboard?period=1800").status_code == 400


def test_open_data_json_is_a_360giving_package(app, client, login, bureau):
    fixture = build_fixture()
    db.session.commit()
    login(bureau)
    response = client.get(f"/reports/open-data/grants.json?period={YEAR}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    package = json.loads(response.get_data(as_text=True), parse_float=Decimal)
    grants = package["grants"]
    assert len(grants) == 3 and package["publisher"]["name"]
    for grant in grants:
        assert all(grant.get(field) for field in REQUIRED_FIELDS), grant
        assert grant["currency"] == "CNY"
        assert grant["recipientOrganization"][0]["id"].startswith("CN-USCI-")
        assert grant["id"].startswith("360G-")
    by_code = {grant["id"].rsplit("-", 1)[-1]: grant for grant in grants}
    first = next(g for g in grants if g["title"] == fixture.p3.title)
    assert first["amountAwarded"] == Decimal("510000.55")
    assert first["fundingOrganization"][0]["name"] == "通化市科学技术局"
    assert first["classifications"][0]["code"] == "pharma"
    assert sum(g["amountAwarded"] for g in grants) == EXPECTED["total_awarded"]
    assert by_code


def test_open_data_csv_uses_the_standard_column_titles(app, client, login, bureau):
    fixture = build_fixture()
    fixture.p2.title = '=HYPERLINK("http://example.com")'
    db.session.commit()
    login(bureau)
    response = client.get("/reports/open-data/grants.csv?period=all")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == CSV_COLUMNS
    assert {
        "Identifier",
        "Title",
        "Amount Awarded",
        "Recipient Org:Identifier",
        "Funding Org:Identifier",
        "Award Date",
    } <= set(rows[0])
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(body) == 3
    assert {row["Amount Awarded"] for row in body} == {"1000000.00", "140000.00", "510000.55"}
    assert any(
        row["Title"].startswith("'=HYPERLINK") for row in body
    )  # no formula for spreadsheets
    assert client.get("/reports/open-data/grants.xml").status_code == 404
    assert client.get("/reports/open-data/grants.csv?period=oops").status_code == 400


def test_open_data_page_and_english_ui(app, client, login, bureau, english_ui):
    login(bureau)
    html = client.get("/reports/open-data").get_data(as_text=True)
    assert "360Giving" in html and "grants.json" in html and "grants.csv" in html
    assert "Portfolio reports" in client.get("/reports/").get_data(as_text=True)


def test_status_fragment_swaps_the_archive_row_when_done(app, client, login, run_jobs, bureau):
    build_fixture()
    db.session.commit()
    login(bureau)
    client.post("/reports/", data={"period": str(YEAR), "locale": "en"})
    run_jobs()
    [report] = reports()
    fragment = client.get(f"/reports/{report.id}/status", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert 'hx-swap-oob="true"' in fragment and f'id="report-{report.id}"' in fragment
    assert "hx-trigger" not in fragment
    assert operations.servable_key(report, "xlsx") is not None
