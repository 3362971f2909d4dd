"""The report for the 13th Five-Year period, on the demo data, reproduces the plan's own figures:
21 provincial projects with 1,014 万元, 13 municipal projects with 510 万元, together 34 projects
and 1,524 万元, of which 19 medical-health projects with 1,219 万元; 8 national high-tech
enterprises in 2020."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from flask_babel import force_locale

from grants.demo import seed_demo
from grants.reports.document import build_content, report_html
from grants.reports.periods import Period

WAN = Decimal(10000)


def test_thirteenth_plan_figures_come_out_of_the_demo_data(app, untranslated_ui):
    seed_demo()
    with force_locale("zh_Hans_CN"):
        content = build_content(Period(2016, 2020), "zh_Hans_CN", with_charts=False)
    portfolio = content.portfolio
    province, city = portfolio.by_level["province"], portfolio.by_level["city"]
    assert (province.funded, province.awarded) == (21, 1014 * WAN)
    assert (city.funded, city.awarded) == (13, 510 * WAN)
    assert (content.plan_levels.funded, content.plan_levels.awarded) == (34, 1524 * WAN)
    assert (content.plan_levels_leading.funded, content.plan_levels_leading.awarded) == (
        19,
        1219 * WAN,
    )
    assert portfolio.enterprises[2020].national_high_tech == 8
    high_tech = next(i for i in content.indicators if i.key == "national_high_tech")
    assert high_tech.baseline == high_tech.stated_baseline == 8
    with current_app.test_request_context(), force_locale("zh_Hans_CN"):
        html = " ".join(report_html(content).split())
    assert "1,014.00" in html and "1,524.00" in html and "1,219.00" in html
    assert (
        "supported 21 projects with 1,014.00 10,000 yuan" in html
    )  # the lead text (English source here), money to two decimals like every other figure


def test_fourteenth_plan_progress_on_the_demo_data(app):
    seed_demo()
    with force_locale("zh_Hans_CN"):
        content = build_content(Period(2021, 2025), "zh_Hans_CN", with_charts=False)
    tech, high_tech, rd = content.indicators
    assert list(tech.values) == [2020, 2021, 2022, 2023, 2024, 2025]
    assert tech.target == -(-tech.baseline * 3 // 2)  # +50 % over 2020, rounded up
    assert high_tech.target == 10
    assert rd.target == rd.baseline + Decimal("0.01")
    assert content.portfolio.totals.funded > 0
