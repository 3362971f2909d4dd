"""Bureau pages: the formal check, the filtered list with xlsx export, the duplicate check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from grants.applications.bureau_panels import days_waiting
from grants.applications.duplicates import duplicate_pairs, near_duplicates, thresholds
from grants.applications.export import applications_xlsx, content_disposition, export_filename
from grants.applications.models import Application, ApplicationState, FormalCheck
from grants.applications.views import bp
from grants.core.actions import LOST_RACE, action
from grants.core.money import format_wan_number
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.timeutil import local_day_start, local_today
from grants.core.workflow import GuardFailed, transition
from grants.core.xlsx import XLSX_MIMETYPE
from grants.extensions import db
from grants.orgs import uscc
from grants.orgs.models import IndustryCluster, Organisation
from grants.programmes.models import Call

# --- the bureau's list and its filters -----------------------------------------------------

LISTED_STATES = tuple(s for s in ApplicationState if s != ApplicationState.DRAFT)

SORTS = {
    "reference": (Application.reference_no.asc(),),
    "-reference": (Application.reference_no.desc(),),
    "submitted": (Application.submitted_at.asc(),),
    "-submitted": (Application.submitted_at.desc(),),
    "fiscal": (Application.fiscal_total.asc(),),
    "-fiscal": (Application.fiscal_total.desc(),),
    "organisation": (Organisation.name.asc(),),
    "-organisation": (Organisation.name.desc(),),
    "title": (Application.title.asc(),),
    "-title": (Application.title.desc(),),
}
DEFAULT_SORT = "-submitted"


def _int_arg(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _date_arg(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


@dataclass
class ApplicationFilters:
    """The bureau list's filters and sort order, read from the query string (bad values ignored)."""

    call_id: int | None = None
    cluster_id: int | None = None
    state: str = ""
    organisation: str = ""
    q: str = ""
    submitted_from: date | None = None
    submitted_to: date | None = None
    sort: str = DEFAULT_SORT
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> ApplicationFilters:
        filters = cls(
            call_id=_int_arg(args.get("call")),
            cluster_id=_int_arg(args.get("cluster")),
            state=args.get("state") if args.get("state") in LISTED_STATES else "",
            organisation=(args.get("org") or "").strip()[:100],
            q=(args.get("q") or "").strip()[:100],
            submitted_from=_date_arg(args.get("from")),
            submitted_to=_date_arg(args.get("to")),
            sort=args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT,
        )
        for name, value in (("from", filters.submitted_from), ("to", filters.submitted_to)):
            if args.get(name) and value is None:
                filters.problems.append(
                    _(
                        "“%(value)s” is not a date; that limit is ignored.",
                        value=args.get(name)[:20],
                    )
                )
        return filters

    def as_args(self, **changes) -> dict[str, str]:
        """The filters as query arguments (empty ones left out), with ``changes`` applied."""
        args = {
            "call": self.call_id,
            "cluster": self.cluster_id,
            "state": self.state,
            "org": self.organisation,
            "q": self.q,
            "from": self.submitted_from.isoformat() if self.submitted_from else None,
            "to": self.submitted_to.isoformat() if self.submitted_to else None,
            "sort": self.sort if self.sort != DEFAULT_SORT else None,
        }
        args.update(changes)
        return {k: str(v) for k, v in args.items() if v not in (None, "")}

    def statement(self) -> sa.Select:
        """One SELECT of the matching applications with organisation, call and cluster joined in."""
        stmt = (
            sa.select(Application)
            .join(Application.organisation)
            .join(Application.call)
            .outerjoin(Application.cluster)
            .options(
                contains_eager(Application.organisation),
                contains_eager(Application.call),
                contains_eager(Application.cluster),
            )
            .where(Application.state.in_(LISTED_STATES))
        )
        if self.call_id:
            stmt = stmt.where(Application.call_id == self.call_id)
        if self.cluster_id:
            stmt = stmt.where(Application.cluster_id == self.cluster_id)
        if self.state:
            stmt = stmt.where(Application.state == self.state)
        if self.organisation:
            code = uscc.compact(self.organisation)
            stmt = stmt.where(
                sa.or_(
                    Organisation.name.icontains(self.organisation, autoescape=True),
                    Organisation.uscc.icontains(code or self.organisation, autoescape=True),
                )
            )
        if self.q:
            stmt = stmt.where(
                sa.or_(
                    Application.title.icontains(self.q, autoescape=True),
                    Application.summary.icontains(self.q, autoescape=True),
                    Application.reference_no.icontains(self.q, autoescape=True),
                )
            )
        if self.submitted_from:
            stmt = stmt.where(Application.submitted_at >= local_day_start(self.submitted_from))
        if self.submitted_to:
            stmt = stmt.where(
                Application.submitted_at < local_day_start(self.submitted_to + timedelta(days=1))
            )
        return stmt.order_by(*SORTS[self.sort], Application.id)


def wan_number(amount) -> str:
    """A yuan amount as a number of 万元 with two decimals, without the unit (it is in the header)."""
    return format_wan_number(amount)


def _filter_choices() -> dict:
    calls = db.session.scalars(
        sa.select(Call).order_by(Call.year.desc(), Call.opens_at.desc(), Call.id.desc())
    ).all()
    clusters = db.session.scalars(
        sa.select(IndustryCluster).order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()
    return {
        "calls": calls,
        "clusters": clusters,
        "states": [(s.value, str(s.label)) for s in LISTED_STATES],
    }


@bp.get("/applications/all")
def bureau_list():
    """Every submitted application, filtered, sorted and paginated."""
    require("application.list")
    filters = ApplicationFilters.from_args(request.args)
    return render_template(
        "applications/bureau/list.html",
        page=paginate(filters.statement()),
        filters=filters,
        wan_number=wan_number,
        **_filter_choices(),
    )


@bp.get("/applications/all.xlsx")
def bureau_export():
    """The filtered list as an xlsx workbook."""
    require("application.export")
    filters = ApplicationFilters.from_args(request.args)
    rows = db.session.scalars(filters.statement().execution_options(yield_per=500))
    response = make_response(applications_xlsx(rows))
    response.mimetype = XLSX_MIMETYPE
    response.headers["Content-Disposition"] = content_disposition(*export_filename())
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the formal check ----------------------------------------------------------------------

REASON_PRESETS = {
    "licence": _l("The business licence is missing or illegible."),
    "self_raised_proof": _l("The proof of self-raised funds is insufficient."),
    "seal": _l("The application form lacks the organisation's official seal or signatures."),
    "attachment": _l("A required attachment is missing or cannot be opened."),
    "budget": _l("The budget does not follow the rules of the call."),
    "scope": _l("The project lies outside the scope of the call."),
    "eligibility": _l("The organisation does not meet the eligibility conditions of the call."),
    "duplicate": _l("The application repeats an application already funded or under review."),
}


def compose_reasons(presets: list[str], text: str) -> str:
    """The stored reasons: the ticked common reasons, one a line, then the typed text."""
    lines = [str(REASON_PRESETS[key]) for key in REASON_PRESETS if key in presets]
    typed = (text or "").strip()
    if typed:
        lines.append(typed)
    return "\n".join(lines)


@bp.app_template_global("near_duplicates")
def _near_duplicates_global(application):
    return near_duplicates(application)


@bp.app_template_global("check_reason_presets")
def _check_reason_presets():
    return REASON_PRESETS


def _application_or_404(application_id: int) -> Application:
    application = db.session.get(
        Application,
        application_id,
        options=[
            joinedload(Application.organisation),
            joinedload(Application.call),
            joinedload(Application.cluster),
        ],
    )
    return application or abort(404)


def _render_check(application: Application, check_state: dict | None = None, status: int = 200):
    history = db.session.scalars(
        sa.select(FormalCheck)
        .where(FormalCheck.application_id == application.id)
        .options(selectinload(FormalCheck.actor))
        .order_by(FormalCheck.id)
    ).all()
    return render_template(
        "applications/bureau/check.html",
        application=application,
        history=history,
        check_state=check_state or {},
    ), status


@bp.get("/applications/check")
def check_queue():
    """Submitted applications waiting for the formal check, oldest submission first."""
    require("application.list")
    stmt = (
        ApplicationFilters(state="submitted")
        .statement()
        .order_by(None)
        .order_by(Application.submitted_at.asc(), Application.id.asc())
    )
    return render_template(
        "applications/bureau/check_queue.html",
        page=paginate(stmt),
        today=local_today(),
        days_waiting=days_waiting,
    )


@bp.get("/applications/<int:application_id>/check")
def formal_check(application_id: int):
    """The formal-check page of one application: its key facts, near duplicates, history, decisions."""
    application = _application_or_404(application_id)
    require("application.view", application, not_found=True)
    require("application.check", application)
    return _render_check(application)


def _decide(application_id: int, event: str):
    application = _application_or_404(application_id)
    require("application.view", application, not_found=True)
    require("application.check", application)
    presets = [p for p in request.form.getlist("preset") if p in REASON_PRESETS]
    typed = request.form.get("reasons", "")
    data = {} if event == "pass_check" else {"reasons": compose_reasons(presets, typed)}
    with action(show=False, denied=f"application.{event}", denied_obj=application) as done:
        transition(application, event, current_user, **data)
    if isinstance(done.error, (GuardFailed, *LOST_RACE)):
        # refused by a guard, or by the database: the form again, with what was ticked and typed
        return _render_check(
            application,
            {"event": event, "reasons": typed, "presets": presets, "error": done.message},
            status=422 if isinstance(done.error, GuardFailed) else 409,
        )
    if not done:
        flash(done.message, "warning")
        return redirect(url_for("applications.formal_check", application_id=application.id))
    ref = application.reference_no
    messages = {
        "pass_check": _("%(ref)s passed the formal check and goes to expert review.", ref=ref),
        "return": _("%(ref)s has been returned to the applicant for revision.", ref=ref),
        "reject": _("%(ref)s has been rejected at the formal check.", ref=ref),
    }
    flash(messages[event], "success")
    return redirect(url_for("applications.check_queue"))


@bp.post("/applications/<int:application_id>/check/pass")
def check_pass(application_id: int):
    return _decide(application_id, "pass_check")


@bp.post("/applications/<int:application_id>/check/return")
def check_return(application_id: int):
    return _decide(application_id, "return")


@bp.post("/applications/<int:application_id>/check/reject")
def check_reject(application_id: int):
    return _decide(application_id, "reject")


# --- the duplicate check -------------------------------------------------------------------


def _threshold_arg(name: str) -> float | None:
    """A threshold from ``?title=80`` (percent, 50 to 100); None leaves the setting in force."""
    value = _int_arg(request.args.get(name))
    return value / 100 if value is not None and 50 <= value <= 100 else None


@bp.get("/calls/<int:call_id>/duplicates")
def duplicates(call_id: int):
    """Pairs of the call's applications that nearly repeat each other or an earlier year's."""
    call = db.session.get(Call, call_id) or abort(404)
    require("application.duplicates", call)
    limits = thresholds(_threshold_arg("title"), _threshold_arg("summary"))
    pairs = duplicate_pairs(
        call, title_threshold=limits["title"], summary_threshold=limits["summary"]
    )
    calls = db.session.scalars(
        sa.select(Call)
        .where(Call.state != "draft")
        .order_by(Call.year.desc(), Call.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "applications/bureau/duplicates.html", call=call, pairs=pairs, limits=limits, calls=calls
    )
