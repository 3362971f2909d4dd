"""The report PDF: it opens, its text holds the cluster names and the figures of the fixture, every
font is embedded and subset, user text is escaped; the xlsx holds the same tables."""

from __future__ import annotations

import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from flask import current_app
from flask_babel import force_locale
from fontTools.ttLib import TTCollection
from openpyxl import load_workbook

from grants.reports import document
from grants.reports.document import build_content, fit, render_report_pdf, report_html
from grants.reports.operations import count_pages
from grants.reports.periods import Period
from grants.reports.workbook import report_xlsx
from tests.reports.portfolio_helpers import AS_OF, YEAR
from tests.reports.portfolio_helpers import build_portfolio as build_fixture

TIMEOUT = 300  # generous: the machine may be busy
NOTO_SANS = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # Debian fonts-noto-cjk

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext") or not shutil.which("pdffonts"),
    reason="poppler-utils (pdftotext, pdffonts) not installed",
)


def content(locale="zh_Hans_CN", period=None):
    period = period or Period(YEAR, YEAR)
    with force_locale(locale):
        return build_content(period, locale, as_of=AS_OF)


def html_of(built) -> str:
    with current_app.test_request_context(), force_locale(built.locale):
        return report_html(built)


def pdf_of(locale="zh_Hans_CN", period=None, built=None) -> bytes:
    built = built or content(locale, period)
    with current_app.test_request_context(), force_locale(locale):
        return render_report_pdf(built, version=3, timeout=TIMEOUT)


def poppler(tool: str, pdf: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    args = [tool, "-raw", str(path), "-"] if tool == "pdftotext" else [tool, str(path)]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@needs_poppler
def test_pdf_text_holds_clusters_and_fixture_figures(app, tmp_path):
    build_fixture()
    pdf = pdf_of()
    assert pdf.startswith(b"%PDF-")
    text = poppler("pdftotext", pdf, tmp_path)
    flat = " ".join(text.split())
    assert "医药健康" in text and "装备制造" in text
    assert "通化金马药业集团股份有限公司" in "".join(
        text.split()
    )  # the appendix (wrapped in its cell)
    assert "165.00" in flat  # 1,650,000.55 yuan awarded in all, in 万元
    assert "151.00" in flat  # the medical-health cluster
    assert "66.7%" in flat  # its success rate: 2 funded of 3 past the formal check
    assert "114.00" in flat  # provincial projects
    assert "51.00" in flat  # municipal projects
    pages = count_pages(pdf)
    assert pages >= 5
    assert f"第 2 页，共 {pages} 页" in text  # running footer, page x of y


@needs_poppler
def test_pdf_fonts_are_embedded_subset_cjk(app, tmp_path):
    build_fixture()
    fonts = poppler("pdffonts", pdf_of(), tmp_path).splitlines()[2:]
    assert fonts
    for line in fonts:
        name, emb_sub_uni = line.split()[0], line.split()[-5:-2]
        assert "Noto" in name and "+" in name, line  # subset (ABCDEF+Name) of the named CJK fonts
        assert emb_sub_uni == ["yes", "yes", "yes"], line


@needs_poppler
@pytest.mark.skipif(not Path(NOTO_SANS).is_file(), reason="fonts-noto-cjk not installed")
def test_pdf_has_no_missing_glyph(app, tmp_path):
    build_fixture()
    covered = set()
    for face in TTCollection(NOTO_SANS).fonts:
        if face["name"].getDebugName(1) in ("Noto Sans CJK SC", "Noto Sans Mono CJK SC"):
            covered |= set(face.getBestCmap())
    for locale in ("zh_Hans_CN", "en"):
        text = poppler("pdftotext", pdf_of(locale, period=Period(2016, YEAR)), tmp_path)
        missing = {ch for ch in text if not ch.isspace() and ord(ch) not in covered}
        assert not missing, f"{locale}: no glyph for {sorted(missing)}"


@needs_poppler
def test_english_pdf_on_request(app, tmp_path):
    build_fixture()
    text = poppler("pdftotext", pdf_of("en"), tmp_path)
    assert "Medicine and health" in text
    assert "Portfolio report of the S&T programmes" in " ".join(text.split())


@needs_poppler
def test_large_appendix_is_a_compact_listing(app, tmp_path, monkeypatch):
    build_fixture()
    monkeypatch.setattr(document, "APPENDIX_TABLE_LIMIT", 1)
    built = content()
    assert not built.appendix_as_table
    assert 'class="listing"' in html_of(built)
    text = poppler("pdftotext", pdf_of(built=built), tmp_path)
    assert built.portfolio.projects[0].code in text


def test_user_text_is_escaped_in_the_html(app):
    fixture = build_fixture(pharma_name="<img src=file:///etc/passwd>医药")
    fixture.p1.title = '<link rel="stylesheet" href="http://example.com/x.css">'
    html = html_of(content())
    assert "<img src=file:///etc/passwd>" not in html
    assert "&lt;img src=file:///etc/passwd&gt;医药" in html
    assert '<link rel="stylesheet" href="http://example.com' not in html


def test_listing_lines_keep_their_width():
    assert fit("医药健康", 6) == "医药…"
    assert fit("医药健康", 7) == "医药… "
    assert fit("abc", 5, right=True) == "  abc"
    assert document.display_width(fit("二道江区智慧文旅发展有限公司", 13)) <= 13


def test_xlsx_holds_the_tables(app):
    build_fixture()
    built = content()
    with force_locale("zh_Hans_CN"):
        data = report_xlsx(built)
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    assert len(workbook.sheetnames) >= 10
    rows = {
        sheet: list(workbook[sheet].iter_rows(values_only=True)) for sheet in workbook.sheetnames
    }
    by_cluster = rows[workbook.sheetnames[0]]
    pharma = next(row for row in by_cluster if row[0] == "医药健康")
    assert pharma[1:4] == (4, 3, 2)
    assert Decimal(str(pharma[5])) == Decimal("151.0001")
    projects = rows[workbook.sheetnames[-1]]
    assert len(projects) == 1 + 3
