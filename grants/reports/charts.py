"""Charts of the portfolio drawn by matplotlib (Agg) as SVG, for the PDF and the dashboard alike.

Text stays text (``svg.fonttype = "none"``) in the font named explicitly, Noto Sans CJK SC, so
Chinese is searchable in the PDF and sharp on screen. The SVG is rewritten before use: the
``style`` attributes and the ``<style>`` element become presentation attributes (the pages'
Content-Security-Policy allows no inline styles), the metadata and unused ids go, the ids that
are referenced get the chart's prefix (several charts share a page), and a ``<title>`` names the
chart for screen readers. Names typed by users (clusters) reach matplotlib with ``$`` escaped so
they are never read as mathtext, and are escaped again as XML when the SVG is written.

Money is Decimal everywhere else; only here, to draw, amounts in 万元 become floats.
"""

from __future__ import annotations

import io
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_decimal, format_percent
from flask_babel import gettext as _
from markupsafe import Markup

from grants.core.money import format_wan_number, yuan_to_wan
from grants.programmes.models import CATEGORIES, FUNDING_LEVELS
from grants.reports.aggregations import Portfolio
from grants.reports.plan import TARGET_YEAR, Indicator

FONT_FAMILY = "Noto Sans CJK SC"
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
PALETTE = ("#0b4f8a", "#d9822b", "#2a9d8f", "#8d5a97", "#c4453c", "#6c8a2b", "#5b7083", "#b8860b")
LEVEL_COLOURS = {
    "district": "#0b4f8a",
    "city": "#2a9d8f",
    "province": "#d9822b",
    "national": "#8d5a97",
}
PRESENTATION = {
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-opacity",
    "stroke-miterlimit",
    "opacity",
    "font-size",
    "font-family",
    "font-weight",
    "font-style",
    "text-anchor",
    "dominant-baseline",
    "clip-path",
}
_URL_REF = re.compile(r"url\(#([^)]+)\)")
_render_lock = threading.Lock()  # pyplot keeps global state


@dataclass(frozen=True)
class Chart:
    """A rendered chart: its key, title and the SVG markup to inline."""

    key: str
    title: str
    svg: Markup


def _plain(text: str) -> str:
    """Text for matplotlib: ``$`` escaped so that no user text is parsed as mathtext."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _number(value, locale: str, digits: int = 1) -> str:
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=locale)


# --- SVG clean-up --------------------------------------------------------------------------


def _style_to_attributes(element: ET.Element) -> None:
    style = element.attrib.pop("style", None)
    if not style:
        return
    for part in style.split(";"):
        name, _sep, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if name in PRESENTATION and value:
            element.set(name, value)


def clean_svg(svg: str, key: str, title: str) -> str:
    """matplotlib's SVG made fit to inline under a strict CSP (see the module docstring)."""
    root = ET.fromstring(svg)
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            if tag in ("metadata", "style"):
                parent.remove(child)
    referenced: set[str] = set()
    href = f"{{{XLINK_NS}}}href"
    for element in root.iter():
        _style_to_attributes(element)
        for name, value in element.attrib.items():
            referenced.update(_URL_REF.findall(value))
            if name in (href, "href") and value.startswith("#"):
                referenced.add(value[1:])
    for element in root.iter():
        ident = element.attrib.pop("id", None)
        if ident in referenced:
            element.set("id", f"{key}-{ident}")
        if href in element.attrib:  # SVG 2 ``href``: no xlink namespace to declare
            element.set("href", element.attrib.pop(href))
        for name, value in list(element.attrib.items()):
            if "url(#" in value:
                element.set(name, _URL_REF.sub(lambda m: f"url(#{key}-{m.group(1)})", value))
            elif name == "href" and value.startswith("#"):
                element.set(name, f"#{key}-{value[1:]}")
    for element in root.iter():
        if element.get("font-family"):
            element.set("font-family", f"'{FONT_FAMILY}', sans-serif")
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    root.set("role", "img")
    root.set("aria-labelledby", f"{key}-title")
    root.set("class", "chart")
    heading = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{key}-title"})
    heading.text = title
    root.insert(0, heading)
    for element in root.iter():  # plain tag names and one xmlns: no prefixes to depend on
        element.tag = element.tag.rsplit("}", 1)[-1]
    root.set("xmlns", SVG_NS)
    return ET.tostring(root, encoding="unicode")


# --- drawing ---------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style(plt, key: str) -> None:
    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": key,
            "font.family": [FONT_FAMILY],
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.unicode_minus": False,
            "axes.grid": True,
            "grid.color": "#d9dee5",
            "grid.linewidth": 0.6,
            "axes.axisbelow": True,
            "legend.frameon": False,
            "legend.fontsize": 8,
        }
    )


@lru_cache(maxsize=256)
def _render(kind: str, key: str, title: str, payload: str) -> str:
    """Draw one chart from its JSON payload and return the cleaned SVG (cached by content)."""
    data = json.loads(payload)
    with _render_lock:
        plt = _pyplot()
        with plt.rc_context():
            _style(plt, key)
            fig = DRAWERS[kind](plt, data)
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.05)
            plt.close(fig)
    return clean_svg(buffer.getvalue(), key, title)


def _chart(kind: str, key: str, title: str, data: dict) -> Chart:
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return Chart(key, title, Markup(_render(kind, key, title, payload)))


def _height(rows: int, base: float = 0.9, per_row: float = 0.32) -> float:
    return max(2.2, base + per_row * rows)


def _draw_hbars(plt, data):
    labels, values = data["labels"], data["values"]
    fig, ax = plt.subplots(figsize=(6.6, _height(len(labels))))
    positions = list(range(len(labels)))[::-1]
    bars = ax.barh(positions, values, color=PALETTE[0], height=0.6)
    ax.set_yticks(positions, labels)
    ax.set_xlabel(data["unit"])
    ax.grid(axis="y", visible=False)
    for bar, text in zip(bars, data["texts"], strict=True):
        ax.annotate(
            text,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
        )
    ax.margins(x=0.15)
    return fig


def _legend_below(fig, ax, ncol: int) -> None:
    """The figure's legend under the plot, when a series was drawn (else matplotlib warns)."""
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncol=max(ncol, 1))


def _draw_stacked_hbars(plt, data):
    labels = data["labels"]
    fig, ax = plt.subplots(figsize=(6.6, _height(len(labels), base=1.3)), layout="constrained")
    positions = list(range(len(labels)))[::-1]
    left = [0.0] * len(labels)
    for series in data["series"]:
        ax.barh(
            positions,
            series["values"],
            left=left,
            height=0.6,
            label=series["label"],
            color=series["colour"],
        )
        left = [a + b for a, b in zip(left, series["values"], strict=True)]
    ax.set_yticks(positions, labels)
    ax.set_xlabel(data["unit"])
    ax.grid(axis="y", visible=False)
    _legend_below(fig, ax, ncol=min(4, len(data["series"])))
    return fig


def _draw_grouped_hbars(plt, data):
    labels = data["labels"]
    count = len(data["series"])
    fig, ax = plt.subplots(
        figsize=(6.6, _height(len(labels), base=1.3, per_row=0.42)), layout="constrained"
    )
    height = 0.8 / max(count, 1)
    for index, series in enumerate(data["series"]):
        positions = [
            len(labels) - 1 - i + (count - 1 - index - (count - 1) / 2) * height
            for i in range(len(labels))
        ]
        ax.barh(
            positions, series["values"], height=height, label=series["label"], color=PALETTE[index]
        )
    ax.set_yticks(list(range(len(labels)))[::-1], labels)
    ax.set_xlabel(data["unit"])
    ax.grid(axis="y", visible=False)
    _legend_below(fig, ax, ncol=count)
    return fig


def _draw_stacked_columns(plt, data):
    labels = data["labels"]
    fig, ax = plt.subplots(figsize=(6.6, 3.1), layout="constrained")
    bottom = [0.0] * len(labels)
    positions = list(range(len(labels)))
    for series in data["series"]:
        ax.bar(
            positions,
            series["values"],
            bottom=bottom,
            width=0.6,
            label=series["label"],
            color=series["colour"],
        )
        bottom = [a + b for a, b in zip(bottom, series["values"], strict=True)]
    ax.set_xticks(positions, labels)
    ax.set_ylabel(data["unit"])
    ax.grid(axis="x", visible=False)
    _legend_below(fig, ax, ncol=min(4, len(data["series"])))
    return fig


def _draw_donut(plt, data):
    fig, ax = plt.subplots(figsize=(6.6, 2.7))
    values = data["values"]
    if not any(values):
        values = [1]
        colours = ["#e5e8ec"]
    else:
        colours = list(PALETTE[: len(values)])
    ax.pie(
        values,
        colors=colours,
        startangle=90,
        counterclock=False,
        wedgeprops={"width": 0.38, "edgecolor": "white"},
    )
    ax.set_aspect("equal")
    ax.legend(
        [f"{label}  {text}" for label, text in zip(data["labels"], data["texts"], strict=True)],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
    )
    return fig


def _draw_lines(plt, data):
    fig, ax = plt.subplots(figsize=(6.6, 3.0), layout="constrained")
    years = data["years"]
    for index, series in enumerate(data["series"]):
        points = [
            (year, value)
            for year, value in zip(years, series["values"], strict=True)
            if value is not None
        ]
        if points:
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker="o",
                markersize=3.5,
                linewidth=1.6,
                color=PALETTE[index],
                label=series["label"],
            )
        target = series.get("target")
        if target is not None:
            ax.axhline(target, color=PALETTE[index], linestyle="--", linewidth=0.9)
            ax.annotate(
                series["target_label"],
                (years[0], target),
                xytext=(2, 3),
                textcoords="offset points",
                fontsize=7.5,
                color=PALETTE[index],
            )
    ax.set_xticks(years, [str(year) for year in years])
    ax.set_ylabel(data["unit"])
    ax.grid(axis="x", visible=False)
    _legend_below(fig, ax, ncol=len(data["series"]))
    ax.margins(y=0.2)
    return fig


DRAWERS: dict[str, Callable] = {
    "hbars": _draw_hbars,
    "stacked_hbars": _draw_stacked_hbars,
    "grouped_hbars": _draw_grouped_hbars,
    "stacked_columns": _draw_stacked_columns,
    "donut": _draw_donut,
    "lines": _draw_lines,
}


# --- the portfolio's charts -------------------------------------------------------------------


def _cluster_labels(portfolio: Portfolio, locale: str) -> list[tuple[str, str]]:
    return [(code, _plain(portfolio.cluster_name(code, locale))) for code in portfolio.by_cluster]


def awarded_by_cluster(portfolio: Portfolio, locale: str) -> Chart:
    rows = portfolio.by_cluster
    values = [float(yuan_to_wan(tally.awarded)) for tally in rows.values()]
    return _chart(
        "hbars",
        "awarded-by-cluster",
        _("Money awarded by industry cluster"),
        {
            "labels": [label for _code, label in _cluster_labels(portfolio, locale)],
            "values": values,
            "texts": [format_wan_number(t.awarded, locale=locale) for t in rows.values()],
            "unit": _("10,000 yuan"),
        },
    )


def awarded_by_cluster_and_level(portfolio: Portfolio, locale: str) -> Chart:
    by_cluster = portfolio.by_cluster_and("level")
    series = []
    for level, label in FUNDING_LEVELS.items():
        values = [
            float(yuan_to_wan(levels.get(level).awarded)) if levels.get(level) else 0.0
            for levels in by_cluster.values()
        ]
        if any(values):
            series.append(
                {"label": _plain(str(label)), "values": values, "colour": LEVEL_COLOURS[level]}
            )
    return _chart(
        "stacked_hbars",
        "awarded-by-cluster-level",
        _("Money awarded by industry cluster and funding level"),
        {
            "labels": [_plain(portfolio.cluster_name(code, locale)) for code in by_cluster],
            "series": series
            or [{"label": "", "values": [0.0] * len(by_cluster), "colour": PALETTE[0]}],
            "unit": _("10,000 yuan"),
        },
    )


def applications_by_cluster(portfolio: Portfolio, locale: str) -> Chart:
    rows = portfolio.by_cluster
    return _chart(
        "grouped_hbars",
        "applications-by-cluster",
        _("Applications and funded projects by industry cluster"),
        {
            "labels": [label for _code, label in _cluster_labels(portfolio, locale)],
            "series": [
                {
                    "label": _("Applications submitted"),
                    "values": [t.applications for t in rows.values()],
                },
                {
                    "label": _("Passed the formal check"),
                    "values": [t.passed for t in rows.values()],
                },
                {"label": _("Funded projects"), "values": [t.funded for t in rows.values()]},
            ],
            "unit": _("Number"),
        },
    )


def category_shares(portfolio: Portfolio, locale: str) -> Chart:
    rows = portfolio.by_category
    total = portfolio.totals.awarded
    labels, values, texts = [], [], []
    for category, tally in rows.items():
        if not tally.awarded and total:
            continue
        labels.append(_plain(str(CATEGORIES.get(category, category))))
        values.append(float(yuan_to_wan(tally.awarded)))
        share = tally.awarded / total if total else Decimal(0)
        texts.append(format_percent(share, format="#,##0.0%", locale=locale))
    return _chart(
        "donut",
        "category-shares",
        _("Shares of the money awarded by call category"),
        {"labels": labels, "values": values, "texts": texts},
    )


def awarded_by_year(portfolio: Portfolio, locale: str) -> Chart:
    cube = portfolio.cube
    years = list(portfolio.period.years)
    series = []
    for level, label in FUNDING_LEVELS.items():
        values = []
        for year in years:
            amount = sum(
                (
                    tally.awarded
                    for key, tally in cube.items()
                    if key.year == year and key.level == level
                ),
                Decimal(0),
            )
            values.append(float(yuan_to_wan(amount)))
        if any(values):
            series.append(
                {"label": _plain(str(label)), "values": values, "colour": LEVEL_COLOURS[level]}
            )
    return _chart(
        "stacked_columns",
        "awarded-by-year",
        _("Money awarded by year and funding level"),
        {
            "labels": [str(year) for year in years],
            "series": series or [{"label": "", "values": [0.0] * len(years), "colour": PALETTE[0]}],
            "unit": _("10,000 yuan"),
        },
    )


def enterprise_trend(indicators: list[Indicator], years: range, locale: str) -> Chart:
    wanted = [i for i in indicators if not i.is_rate]
    return _chart(
        "lines",
        "enterprise-trend",
        _("Technology and national high-tech enterprises"),
        {
            "years": list(years),
            "series": [
                {
                    "label": _plain(i.label),
                    "values": [i.values.get(y) for y in years],
                    "target": i.target,
                    "target_label": _(
                        "Target %(year)s: %(value)s", year=TARGET_YEAR, value=i.target
                    ),
                }
                for i in wanted
            ],
            "unit": _("Enterprises"),
        },
    )


def rd_trend(indicators: list[Indicator], years: range, locale: str) -> Chart:
    rd = next(i for i in indicators if i.is_rate)

    def percent(value):
        return float(value * 100) if value is not None else None

    target = percent(rd.target)
    return _chart(
        "lines",
        "rd-trend",
        _("R&D spending as a share of revenue"),
        {
            "years": list(years),
            "series": [
                {
                    "label": _plain(rd.label),
                    "values": [percent(rd.values.get(y)) for y in years],
                    "target": target,
                    "target_label": _(
                        "Target %(year)s: %(value)s",
                        year=TARGET_YEAR,
                        value=format_percent(rd.target, format="#,##0.00%", locale=locale),
                    )
                    if rd.target is not None
                    else "",
                }
            ],
            "unit": "%",
        },
    )


def portfolio_charts(
    portfolio: Portfolio, indicators: list[Indicator], years: range, locale: str
) -> dict[str, Chart]:
    """Every chart of the report and the dashboard, by key."""
    charts = [
        awarded_by_cluster(portfolio, locale),
        awarded_by_cluster_and_level(portfolio, locale),
        applications_by_cluster(portfolio, locale),
        category_shares(portfolio, locale),
    ]
    if not portfolio.period.is_single_year:
        charts.append(awarded_by_year(portfolio, locale))
    if len(years) > 1:
        charts += [enterprise_trend(indicators, years, locale), rd_trend(indicators, years, locale)]
    return {chart.key: chart for chart in charts}
