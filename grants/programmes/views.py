"""Call pages: the bureau's call management and the applicants' list of open calls."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import selectinload

from grants.core.actions import action
from grants.core.money import wan_text, wan_to_yuan
from grants.core.pagination import paginate
from grants.core.permissions import require
from grants.core.timeutil import local_naive, local_to_utc
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs import operations as org_ops
from grants.orgs.models import QUALIFICATIONS
from grants.programmes import hooks as programmes_hooks
from grants.programmes import operations as ops
from grants.programmes.forms import CallForm, PublishedCallForm, weight_total
from grants.programmes.models import CATEGORIES, FUNDING_LEVELS, Call, CallState

bp = Blueprint("programmes", __name__)

FOUR_PLACES = Decimal("0.0001")


# --- presentation helpers ----------------------------------------------------------------


def plain_number(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent (``50``, ``12.5``)."""
    return f"{Decimal(value).normalize():f}"


def percent_text(ratio: Decimal | None) -> str:
    """A stored fraction (0.5) as the percentage typed in forms (``50``)."""
    return plain_number((Decimal(ratio or 0) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP))


def guide_paragraphs(text: str | None) -> list[list[str]]:
    """Plain guide text as paragraphs (split on blank lines), each a list of lines."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for block in re.split(r"\n[ \t\u3000]*\n", text):
        lines = [line.rstrip() for line in block.split("\n")]
        lines = [line for line in lines if line.strip()]
        if lines:
            paragraphs.append(lines)
    return paragraphs


def countdown(until: datetime, now: datetime) -> str:
    """Time left until ``until`` in days and hours, e.g. "3 days 4 hours left"."""
    seconds = int((until - now).total_seconds())
    if seconds <= 0:
        return _("Closed")
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    day_text = ngettext("%(num)d day", "%(num)d days", days)
    hour_text = ngettext("%(num)d hour", "%(num)d hours", hours)
    if days and hours:
        return _("%(days)s %(hours)s left", days=day_text, hours=hour_text)
    if days:
        return _("%(time)s left", time=day_text)
    if hours:
        return _("%(time)s left", time=hour_text)
    return _("Less than an hour left")


def phase(call: Call, now: datetime) -> str:
    """Where a call stands for applicants: draft, upcoming, open, expired or closed."""
    if call.state == "published":
        if call.is_open(at=now):
            return "open"
        return "upcoming" if now < call.opens_at else "expired"
    return call.state


def _page_context(now: datetime | None = None) -> dict:
    return {
        "levels": FUNDING_LEVELS,
        "categories": CATEGORIES,
        "qualifications": QUALIFICATIONS,
        "now": now or utcnow(),
        "countdown": countdown,
        "phase": phase,
        "number": plain_number,
        "percent_text": percent_text,
    }


def _call_or_404(call_id: int) -> Call:
    return db.session.get(Call, call_id) or abort(404)


def apply_endpoint_ready() -> bool:
    return "applications.new" in current_app.view_functions


# --- the applicants' pages ---------------------------------------------------------------


@bp.get("/calls")
def open_calls():
    """The calls open now, the soonest to close first, and the calls opening soon."""
    require("call.list_open")
    now = utcnow()
    return render_template(
        "programmes/open_calls.html",
        open_calls=ops.open_calls(now),
        upcoming=ops.upcoming_calls(now),
        **_page_context(now),
    )


@bp.get("/calls/<int:call_id>")
def call_detail(call_id: int):
    """The guide, the rules, the rubric and the required attachments of one call."""
    call = _call_or_404(call_id)
    require("call.view", call, not_found=True)
    source = db.session.get(Call, call.cloned_from_id) if call.cloned_from_id else None
    return render_template(
        "programmes/call_detail.html",
        call=call,
        paragraphs=guide_paragraphs(call.guide),
        weight_sum=sum((c.weight for c in call.criteria), Decimal(0)),
        apply_ready=apply_endpoint_ready(),
        source=source,
        **_page_context(),
    )


# --- the bureau's list -------------------------------------------------------------------


@bp.get("/calls/manage")
def calls():
    """All calls, filtered by year, state, funding level and category, with counts."""
    require("call.manage")
    args = request.args
    year = args.get("year", "")
    state = args.get("state", "")
    level = args.get("level", "")
    category = args.get("category", "")
    filters = []
    if year.isdigit():
        filters.append(Call.year == int(year))
    if level in FUNDING_LEVELS:
        filters.append(Call.funding_level == level)
    if category in CATEGORIES:
        filters.append(Call.category == category)
    state_counts = dict(
        db.session.execute(
            sa.select(Call.state, sa.func.count(Call.id)).where(*filters).group_by(Call.state)
        ).all()
    )
    if CallState.known(state):
        filters.append(Call.state == state)
    stmt = (
        sa.select(Call)
        .where(*filters)
        .options(selectinload(Call.clusters))
        .order_by(Call.year.desc(), Call.opens_at.desc(), Call.id.desc())
    )
    page = paginate(stmt)
    ids = [c.id for c in page.items]
    submitted = programmes_hooks.submitted_counts.ask(ids)
    years = db.session.scalars(sa.select(Call.year).distinct().order_by(Call.year.desc())).all()
    return render_template(
        "programmes/calls.html",
        page=page,
        year=year,
        state=state,
        level=level,
        category=category,
        years=years,
        states=list(CallState),
        state_counts=state_counts,
        submitted=submitted,
        **_page_context(),
    )


# --- creating and editing ----------------------------------------------------------------


def _cluster_choices(call: Call | None = None) -> list[tuple[int, str]]:
    """Active clusters, plus any inactive one the call already targets (marked as such)."""
    clusters = org_ops.active_clusters()
    choices = [(c.id, c.display_name()) for c in clusters]
    for c in call.clusters if call else ():
        if c not in clusters:
            choices.append((c.id, f"{c.display_name()} ({_('inactive')})"))
    return choices


def _form_data(call: Call) -> dict:
    """The values a call's form starts with (Beijing time, 万元, percentages)."""
    return {
        "code": call.code,
        "year": call.year,
        "title": call.title,
        "funding_level": call.funding_level,
        "category": call.category,
        "cluster_ids": [c.id for c in call.clusters],
        "opens_at": local_naive(call.opens_at),
        "closes_at": local_naive(call.closes_at),
        "total_budget": wan_text(call.total_budget),
        "cap_per_project": wan_text(call.cap_per_project),
        "min_self_raised_pct": percent_text(call.min_self_raised_ratio),
        "indirect_cost_pct": percent_text(call.indirect_cost_ratio),
        "max_duration_months": call.max_duration_months,
        "required_qualification": call.required_qualification or "",
        "concurrent_cap": call.concurrent_cap,
        "reviewers_per_application": call.reviewers_per_application,
        "trimmed_mean_min_reviews": call.trimmed_mean_min_reviews,
        "review_mode": "blind" if call.blind_review else "open",
        "guide": call.guide,
        "criteria": [
            {
                "id": str(c.id),
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "description": c.description,
                "weight": plain_number(c.weight),
                "min_score": plain_number(c.min_score),
                "max_score": plain_number(c.max_score),
            }
            for c in call.criteria
        ],
        "attachments": [
            {"code": a.code, "name_zh": a.name_zh, "name_en": a.name_en, "required": a.required}
            for a in call.attachment_requirements
        ],
    }


NEW_CALL_DEFAULTS = {
    "funding_level": "district",
    "category": "research",
    "min_self_raised_pct": "50",
    "indirect_cost_pct": "20",
    "max_duration_months": 36,
    "reviewers_per_application": 5,
    "trimmed_mean_min_reviews": 5,
    "review_mode": "blind",
}


def _clean_guide(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _settings(form: CallForm) -> dict:
    """The call's columns from a validated form: UTC times, yuan, fractions."""
    return {
        "code": form.code.data,
        "year": form.year.data,
        "title": form.title.data,
        "funding_level": form.funding_level.data,
        "category": form.category.data,
        "guide": _clean_guide(form.guide.data),
        "opens_at": local_to_utc(form.opens_at.data),
        "closes_at": local_to_utc(form.closes_at.data),
        "total_budget": wan_to_yuan(form.total_budget.data),
        "cap_per_project": wan_to_yuan(form.cap_per_project.data),
        "min_self_raised_ratio": (Decimal(form.min_self_raised_pct.data) / 100).quantize(
            FOUR_PLACES
        ),
        "indirect_cost_ratio": (Decimal(form.indirect_cost_pct.data) / 100).quantize(FOUR_PLACES),
        "max_duration_months": form.max_duration_months.data,
        "required_qualification": form.required_qualification.data or None,
        "concurrent_cap": form.concurrent_cap.data,
        "reviewers_per_application": form.reviewers_per_application.data,
        "trimmed_mean_min_reviews": form.trimmed_mean_min_reviews.data,
        "blind_review": form.review_mode.data == "blind",
    }


ROW_ACTION = re.compile(r"^(add|remove)_(criterion|attachment)(?::(\d+))?$")


def _apply_row_action(form: CallForm) -> bool:
    """Add or remove a rubric or attachment row when a row button was pressed (nothing is saved)."""
    match = ROW_ACTION.match(request.form.get("row_action", ""))
    if not match:
        return False
    verb, kind, index = match.groups()
    rows = form.criteria if kind == "criterion" else form.attachments
    if verb == "add":
        if len(rows.entries) < (rows.max_entries or 30):
            rows.append_entry()
    elif index is not None:
        rows.entries = [e for e in rows.entries if e.index != int(index)]
    return True


def _render_form(form, call: Call | None, status: int = 200):
    weights = [e.form.weight.data for e in form.criteria] if isinstance(form, CallForm) else []
    return render_template(
        "programmes/call_form.html",
        form=form,
        call=call,
        weight_sum=plain_number(weight_total(weights)),
        **_page_context(),
    ), status


@bp.route("/calls/new", methods=["GET", "POST"])
def new_call():
    """A new draft call."""
    require("call.manage")
    form = CallForm(data=NEW_CALL_DEFAULTS)
    form.cluster_ids.choices = _cluster_choices()
    if request.method == "POST" and _apply_row_action(form):
        return _render_form(form, None)
    if form.validate_on_submit():
        with action(form=form, field="code") as done:
            call = ops.create_call(
                _settings(form),
                cluster_ids=form.cluster_ids.data,
                criteria=form.rubric_rows(),
                attachments=form.attachment_rows(),
                actor=current_user,
            )
        if done:
            flash(_("The draft call %(code)s has been saved.", code=call.code), "success")
            return redirect(url_for("programmes.call_detail", call_id=call.id))
    return _render_form(form, None)


@bp.route("/calls/<int:call_id>/edit", methods=["GET", "POST"])
def edit_call(call_id: int):
    """Everything in draft; once published only the guide text and the close time."""
    call = _call_or_404(call_id)
    require("call.manage", call)
    if call.state != "draft":
        return _edit_published(call)
    form = CallForm(data=_form_data(call))
    form.cluster_ids.choices = _cluster_choices(call)
    if request.method == "POST" and _apply_row_action(form):
        return _render_form(form, call)
    if form.validate_on_submit():
        with action(form=form, field="code") as done:
            ops.update_draft(
                call,
                _settings(form),
                cluster_ids=form.cluster_ids.data,
                criteria=form.rubric_rows(),
                attachments=form.attachment_rows(),
                actor=current_user,
            )
        if done:
            flash(_("The draft call %(code)s has been saved.", code=call.code), "success")
            return redirect(url_for("programmes.call_detail", call_id=call.id))
    return _render_form(form, call)


def _edit_published(call: Call):
    form = PublishedCallForm(data={"guide": call.guide, "closes_at": local_naive(call.closes_at)})
    if form.validate_on_submit():
        with action(form=form, field="closes_at") as done:
            extended = ops.update_published(
                call,
                guide=_clean_guide(form.guide.data),
                closes_at=local_to_utc(form.closes_at.data),
                actor=current_user,
            )
        if done:
            if extended:
                flash(
                    _(
                        "The call %(code)s now closes at %(time)s (Beijing time).",
                        code=call.code,
                        time=local_naive(call.closes_at).strftime("%Y-%m-%d %H:%M"),
                    ),
                    "success",
                )
            else:
                flash(_("The call %(code)s has been saved.", code=call.code), "success")
            return redirect(url_for("programmes.call_detail", call_id=call.id))
    return _render_form(form, call)


@bp.post("/calls/rubric-total")
def rubric_total():
    """The weight total of the rubric rows being edited, as text for htmx to put in the page."""
    require("call.manage")
    weights = [
        v for k, v in request.form.items(multi=True) if re.fullmatch(r"criteria-\d+-weight", k)
    ]
    return plain_number(weight_total(weights))


# --- lifecycle and cloning ---------------------------------------------------------------


def _event_message(event: str, code: str) -> str:
    if event == "publish":
        return _("The call %(code)s is published.", code=code)
    if event == "close":
        return _("The call %(code)s is closed: no more applications can be submitted.", code=code)
    return _("The call %(code)s is open for applications again.", code=code)


@bp.post("/calls/<int:call_id>/<any(publish, close, reopen):event>")
def call_event(call_id: int, event: str):
    """Publish, close or reopen a call; a refused guard comes back as a message."""
    call = _call_or_404(call_id)
    require("call.manage", call)
    with action(denied_obj=call) as done:
        ops.fire(call, event, current_user)
    if done:
        flash(_event_message(event, call.code), "success")
    return redirect(url_for("programmes.call_detail", call_id=call.id))


@bp.post("/calls/<int:call_id>/clone")
def clone_call(call_id: int):
    """Copy a call into a draft for the following year."""
    source = _call_or_404(call_id)
    require("call.manage", source)
    with action() as done:
        call = ops.clone_call(source, current_user)
    if not done:
        return redirect(url_for("programmes.call_detail", call_id=source.id))
    flash(
        _(
            "The call has been copied into the draft %(code)s for %(year)s: check the dates and the guide.",
            code=call.code,
            year=call.year,
        ),
        "success",
    )
    return redirect(url_for("programmes.edit_call", call_id=call.id))
