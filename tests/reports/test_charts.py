"""Charts: SVG with the Chinese text kept as text, fit to inline under a CSP without inline styles,
user text escaped and never read as mathtext."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from flask_babel import force_locale

from grants.reports import charts
from grants.reports.aggregations import build_portfolio
from grants.reports.periods import Period
from grants.reports.plan import plan_progress, trend_years
from tests.reports.portfolio_helpers import AS_OF, YEAR
from tests.reports.portfolio_helpers import build_portfolio as build_fixture

SVG = "{http://www.w3.org/2000/svg}"  # the namespace ElementTree gives the parsed tags


def render(locale="zh_Hans_CN", period=None):
    period = period or Period(YEAR, YEAR)
    years = trend_years(period)
    portfolio = build_portfolio(period, as_of=AS_OF, enterprise_span=years)
    with force_locale(locale):
        return charts.portfolio_charts(
            portfolio, plan_progress(portfolio.enterprises, years), years, locale
        )


def texts(svg: str) -> list[str]:
    return ["".join(node.itertext()) for node in ET.fromstring(svg).iter(f"{SVG}text")]


def test_charts_keep_chinese_as_text_in_the_named_font(app):
    build_fixture()
    assert "enterprise-trend" not in render()  # one year: no trend to draw
    drawn = render(period=Period(2016, YEAR))
    assert {
        "awarded-by-cluster",
        "awarded-by-cluster-level",
        "applications-by-cluster",
        "category-shares",
        "awarded-by-year",
        "enterprise-trend",
        "rd-trend",
    } <= set(drawn)
    svg = str(drawn["awarded-by-cluster"].svg)
    assert "医药健康" in texts(svg) and "装备制造" in texts(svg)
    assert "Noto Sans CJK SC" in svg
    assert svg.startswith("<svg") and 'role="img"' in svg


def test_charts_have_no_inline_styles_and_unique_ids(app):
    build_fixture()
    drawn = render(period=Period(2016, YEAR))
    seen = set()
    for chart in drawn.values():
        root = ET.fromstring(str(chart.svg))
        assert root.find(f"{SVG}title").text == chart.title
        for element in root.iter():
            assert "style" not in element.attrib
            assert element.tag != f"{SVG}style"
            ident = element.get("id")
            if ident:
                assert ident.startswith(chart.key) and ident not in seen
                seen.add(ident)


def test_user_text_is_escaped_and_not_mathtext(app):
    build_fixture(pharma_name="<script>alert(1)</script> $x^2$")
    svg = str(render()["awarded-by-cluster"].svg)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "<script>alert(1)</script> $x^2$" in texts(svg)


def test_english_charts_use_the_english_names(app):
    build_fixture()
    svg = str(render("en")["awarded-by-cluster"].svg)
    assert "Medicine and health" in texts(svg)
