"""Portfolio report pages: request and archive of versions, progress, downloads, the bureau's
dashboard with the report's charts, and the open-data export of awarded grants (360Giving)."""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from grants.core.actions import action
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.storage import download_response
from grants.core.timeutil import local_today
from grants.extensions import db
from grants.programmes.models import FUNDING_LEVELS
from grants.reports import opendata, operations
from grants.reports.document import build_content
from grants.reports.forms import LANGUAGE_CHOICES, PeriodForm, RequestReportForm
from grants.reports.models import PortfolioReport
from grants.reports.periods import Period, PeriodError
from grants.reports.plan import BASELINE_YEAR, TARGET_YEAR

bp = Blueprint("reports", __name__, url_prefix="/reports")

DEFAULT_PERIOD = "2021-2025"
KINDS = {
    "pdf": ("application/pdf", "pdf"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def _queued_notice(report: PortfolioReport, joined: bool, queued: str) -> tuple[str, str, str]:
    """Where to go and what to say once a request for ``report`` commits.

    Read inside the action, before its commit: in-process jobs start the moment the
    request commits, and on SQLite a POST request's next transaction would begin with
    BEGIN IMMEDIATE and hold the write lock until the request ends, which makes the new
    job's first write fail; so the request touches the database no more after the commit.
    """
    target = url_for("reports.index", _anchor=f"report-{report.id}")
    if joined:
        text = _(
            "This report is already being generated (version %(version)s); your request joins it.",
            version=report.version,
        )
        return target, text, "info"
    return target, queued, "success"


def _report_or_404(report_id: int) -> PortfolioReport:
    return db.session.get(PortfolioReport, report_id) or abort(404)


def _language_name(code: str) -> str:
    return str(dict(LANGUAGE_CHOICES).get(code, code))


@bp.app_template_global("report_language")
def _report_language(code: str) -> str:
    return _language_name(code)


@bp.app_template_global("report_period")
def _report_period(report: PortfolioReport) -> Period:
    return Period(report.first_year, report.last_year)


def _render_index(form: RequestReportForm, status: int = 200):
    stmt = (
        sa.select(PortfolioReport)
        .options(joinedload(PortfolioReport.job), joinedload(PortfolioReport.requested_by))
        .order_by(PortfolioReport.requested_at.desc(), PortfolioReport.id.desc())
    )
    page = paginate(stmt, per_page=25)
    active = db.session.scalars(
        sa.select(PortfolioReport)
        .options(joinedload(PortfolioReport.job))
        .where(PortfolioReport.state.in_(operations.ACTIVE_STATES))
        .order_by(PortfolioReport.id)
    ).all()
    return render_template(
        "reports/index.html",
        form=form,
        page=page,
        active=active,
        stale={r.id: operations.stale_reason(r) for r in active},
    ), status


@bp.get("/")
def index():
    """Request a report; the archive of versions with their downloads."""
    require("report.view")
    return _render_index(RequestReportForm(formdata=None))


@bp.post("/")
def request_report():
    """Queue the report for a period and language, or join the one already under way."""
    require("report.request")
    form = RequestReportForm()
    if not form.validate():
        return _render_index(form, 422)
    period = Period.parse(form.period.data)
    with action(form=form, field="period") as done:
        report, joined = operations.request_report(period, form.locale.data, current_user)
        queued = _(
            "Version %(version)s of the report for %(period)s has been queued.",
            version=report.version,
            period=period.label,
        )
        target, text, category = _queued_notice(report, joined, queued)
    if not done:
        return _render_index(form, 422)
    flash(text, category)
    return redirect(target)


@bp.get("/<int:report_id>/status")
def status(report_id: int):
    """A version's progress; htmx polls this fragment until the version is done or failed."""
    report = _report_or_404(report_id)
    require("report.view", report)
    finished = report.state in ("done", "failed") and bool(request.headers.get("HX-Request"))
    return render_template(
        "reports/_status.html",
        report=report,
        stale=operations.stale_reason(report),
        oob_row=finished,
    )


@bp.post("/<int:report_id>/retry")
def retry(report_id: int):
    """Try a failed version again (a version whose job died is marked failed first)."""
    report = _report_or_404(report_id)
    require("report.request", report)
    with action(show=False, denied_obj=report) as done:
        report, joined = operations.retry_report(report, current_user)
        queued = _("Version %(version)s has been queued again.", version=report.version)
        target, text, category = _queued_notice(report, joined, queued)
    if not done:
        flash(done.message, "warning")
        return redirect(url_for("reports.index"))
    flash(text, category)
    return redirect(target)


def _attachment(ascii_name: str, display_name: str) -> str:
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(display_name, safe='')}"


@bp.get("/<int:report_id>/download/<kind>")
def download(report_id: int, kind: str):
    """The PDF or xlsx of a finished version, only when on disk and matching its checksum."""
    if kind not in KINDS:
        abort(404)
    report = _report_or_404(report_id)
    require("report.download", report)
    key = operations.servable_key(report, kind)
    if key is None:
        abort(404)
    mimetype, extension = KINDS[kind]
    period = Period(report.first_year, report.last_year)
    language = "zh" if report.locale.startswith("zh") else "en"
    ascii_name = f"portfolio-report-{period.key}-{language}-v{report.version}.{extension}"
    display_name = (
        _(
            "Portfolio report %(period)s, version %(version)s",
            period=period.label,
            version=report.version,
        )
        + f".{extension}"
    )
    return download_response(
        key, display_name, mimetype, disposition=_attachment(ascii_name, display_name)
    )


def _chosen_period(form: PeriodForm) -> Period:
    """The period of a GET form: the default when none is given, 400 for one not offered."""
    if not form.period.data:
        form.period.data = DEFAULT_PERIOD
    if form.period.data not in {choice.value for choice in form.period.choices}:
        abort(400)
    return Period.parse(form.period.data)


@bp.get("/dashboard")
def dashboard():
    """The portfolio's key figures and the report's charts for a period, drawn live."""
    require("report.dashboard")
    form = PeriodForm(request.args)
    period = _chosen_period(form)
    content = build_content(period, str(get_locale() or "zh_Hans_CN"))
    return render_template(
        "reports/dashboard.html",
        form=form,
        content=content,
        portfolio=content.portfolio,
        period=period,
        levels=FUNDING_LEVELS,
        baseline_year=BASELINE_YEAR,
        target_year=TARGET_YEAR,
        **content.formats.helpers(),
    )


@bp.get("/open-data")
def open_data():
    """The open-data export of awarded grants: choose a period, download JSON or CSV."""
    require("report.open_data")
    form = PeriodForm(request.args)
    _chosen_period(form)
    return render_template("reports/open_data.html", form=form)


@bp.get("/open-data/grants.<fmt>")
def open_data_file(fmt: str):
    """Awarded grants of a period (or ``all``) in the 360Giving JSON or CSV shape."""
    require("report.open_data")
    key = request.args.get("period", "all")
    try:
        period = None if key == "all" else Period.parse(key)
    except PeriodError:
        abort(400)
    stamp = local_today().isoformat()
    name = f"360giving-grants-{period.key if period else 'all'}-{stamp}"
    if fmt == "json":
        body, mimetype = opendata.dumps_exact(opendata.grants_package(period)), "application/json"
    elif fmt == "csv":
        body, mimetype = opendata.grants_csv(period), "text/csv"
    else:
        abort(404)
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = _attachment(f"{name}.{fmt}", f"{name}.{fmt}")
    return response
