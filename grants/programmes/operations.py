"""Verbs on calls: create and edit, publish, close and reopen, clone, close the expired ones.

Every function flushes and leaves the commit to the request (or to the job runner).
State changes go through the workflow engine; everything else that changes a call is
written to the audit log with its before and after values.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.core import audit
from grants.core.jobs import job
from grants.core.refusals import OperationError
from grants.core.scheduler import schedule
from grants.core.timeutil import local_to_utc, utc_to_local
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.orgs.models import IndustryCluster
from grants.programmes.models import AttachmentRequirement, Call, RubricCriterion

SETTING_FIELDS = (
    "code",
    "year",
    "title",
    "funding_level",
    "category",
    "guide",
    "opens_at",
    "closes_at",
    "total_budget",
    "cap_per_project",
    "min_self_raised_ratio",
    "indirect_cost_ratio",
    "max_duration_months",
    "required_qualification",
    "concurrent_cap",
    "reviewers_per_application",
    "trimmed_mean_min_reviews",
    "blind_review",
)
CRITERION_FIELDS = ("name_zh", "name_en", "description", "weight", "min_score", "max_score")
ATTACHMENT_FIELDS = ("code", "name_zh", "name_en", "required")
CODE_LENGTH = 40


class CallError(OperationError, ValueError):
    """A refused call operation; ``field`` names the form field at fault."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(call: Call) -> dict:
    """Everything the bureau can edit on a call, as JSON-ready values for the audit log."""
    data = {k: _plain(getattr(call, k)) for k in SETTING_FIELDS}
    data["clusters"] = sorted(c.code for c in call.clusters)
    data["criteria"] = [{k: _plain(getattr(c, k)) for k in CRITERION_FIELDS} for c in call.criteria]
    data["attachments"] = [
        {k: getattr(a, k) for k in ATTACHMENT_FIELDS} for a in call.attachment_requirements
    ]
    return data


def _diff(before: dict, after: dict) -> tuple[dict, dict]:
    changed = [k for k in after if after[k] != before.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _code_taken(code: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(Call.id).where(sa.func.lower(Call.code) == code.lower())
    if exclude_id is not None:
        stmt = stmt.where(Call.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _check_settings(settings: dict, exclude_id: int | None) -> None:
    if "code" in settings and _code_taken(settings["code"], exclude_id):
        raise CallError(_l("Another call already uses this code."), "code")
    if settings["cap_per_project"] > settings["total_budget"]:
        raise CallError(
            _l("The cap per project cannot exceed the total budget."), "cap_per_project"
        )
    if settings["closes_at"] <= settings["opens_at"]:
        raise CallError(_l("The close time must be after the open time."), "closes_at")


def _clusters(ids) -> list[IndustryCluster]:
    ids = sorted(set(ids or ()))
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(IndustryCluster)
            .where(IndustryCluster.id.in_(ids))
            .order_by(IndustryCluster.sort_order, IndustryCluster.id)
        )
    )


def _set_rubric(call: Call, rows: list[dict]) -> None:
    """Update criteria in place by id (keeping their ids), add new ones, drop the missing."""
    existing = {c.id: c for c in call.criteria}
    kept = []
    for position, row in enumerate(rows, start=1):
        criterion = existing.pop(row.get("id"), None) if row.get("id") else None
        if criterion is None:
            criterion = RubricCriterion()
        criterion.position = position
        for key in CRITERION_FIELDS:
            setattr(criterion, key, row[key])
        kept.append(criterion)
    call.criteria = kept


def _set_attachments(call: Call, rows: list[dict]) -> None:
    """Replace the attachment list; the old rows go first so codes can be reused."""
    if call.attachment_requirements:
        call.attachment_requirements = []
        _flush_call()
    call.attachment_requirements = [
        AttachmentRequirement(position=position, **{k: row[k] for k in ATTACHMENT_FIELDS})
        for position, row in enumerate(rows, start=1)
    ]


def _flush_call() -> None:
    """Flush in a savepoint so that a concurrent duplicate code becomes a field message."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        raise CallError(_l("Another call already uses this code."), "code") from exc


def create_call(
    settings: dict, *, cluster_ids, criteria: list[dict], attachments: list[dict], actor
) -> Call:
    """A new draft call with its target clusters, rubric and required attachments."""
    _check_settings(settings, None)
    call = Call(
        state="draft",
        last_reference_no=0,
        **{k: settings[k] for k in SETTING_FIELDS if k in settings},
    )
    call.clusters = _clusters(cluster_ids)
    db.session.add(call)
    _set_rubric(call, criteria)
    _set_attachments(call, attachments)
    _flush_call()
    audit.record("call.created", call, actor=actor, after=snapshot(call))
    return call


def update_draft(
    call: Call, settings: dict, *, cluster_ids, criteria: list[dict], attachments: list[dict], actor
) -> None:
    """Change any setting of a draft call, its clusters, rubric and attachments."""
    if call.state != "draft":
        raise CallError(_l("Once published, only the guide text and the close time can change."))
    _check_settings(settings, call.id)
    before = snapshot(call)
    for key in SETTING_FIELDS:
        if key in settings:
            setattr(call, key, settings[key])
    call.clusters = _clusters(cluster_ids)
    _set_rubric(call, criteria)
    _set_attachments(call, attachments)
    _flush_call()
    old, new = _diff(before, snapshot(call))
    if new:
        audit.record("call.updated", call, actor=actor, before=old, after=new)


def update_published(call: Call, *, guide: str, closes_at: datetime, actor) -> bool:
    """Change the guide text or the close time of a published or closed call.

    A published call can only be extended (a later close time): applicants plan on
    the announced deadline. A closed call may get any close time after its opening,
    so that it can be reopened. Returns whether the close time changed.
    """
    if call.state == "draft":
        raise CallError(_l("Edit a draft call with the full form."))
    if closes_at == call.closes_at.replace(second=0, microsecond=0):
        closes_at = call.closes_at  # the form shows minutes: the same minute means unchanged
    if closes_at <= call.opens_at:
        raise CallError(_l("The close time must be after the open time."), "closes_at")
    if call.state == "published" and closes_at < call.closes_at:
        raise CallError(
            _l(
                "A published call can only be extended: choose a later close time, "
                "or close the call."
            ),
            "closes_at",
        )
    before = {"guide": call.guide, "closes_at": _plain(call.closes_at)}
    extended = closes_at != call.closes_at
    call.guide, call.closes_at = guide, closes_at
    db.session.flush()
    after = {"guide": call.guide, "closes_at": _plain(call.closes_at)}
    if extended:
        audit.record(
            "call.close_time_changed",
            call,
            actor=actor,
            before={"closes_at": before["closes_at"]},
            after={"closes_at": after["closes_at"]},
        )
    if after["guide"] != before["guide"]:
        audit.record(
            "call.guide_changed",
            call,
            actor=actor,
            before={"guide": before["guide"]},
            after={"guide": after["guide"]},
        )
    return extended


def fire(call: Call, event: str, actor) -> None:
    """Publish, close or reopen a call through the workflow."""
    transition(call, event, actor)


def _shift_year(value: datetime, years: int = 1) -> datetime:
    """The same Beijing wall-clock time ``years`` later (29 February becomes the 28th)."""
    local = utc_to_local(value).replace(tzinfo=None)
    try:
        shifted = local.replace(year=local.year + years)
    except ValueError:
        shifted = local.replace(year=local.year + years, day=28)
    return local_to_utc(shifted)


def _year_pattern(year: int) -> re.Pattern:
    """The year as a number of its own (not part of a longer run of digits)."""
    return re.compile(rf"(?<!\d){year}(?!\d)")


def next_code(code: str, year: int, new_year: int) -> str:
    """The source code with its year replaced (or the new year appended), made unique."""
    base, replaced = _year_pattern(year).subn(str(new_year), code)
    if not replaced:
        base = f"{code}-{new_year}"
    base = base[:CODE_LENGTH]
    candidate, n = base, 2
    while _code_taken(candidate):
        suffix = f"-{n}"
        candidate = base[: CODE_LENGTH - len(suffix)] + suffix
        n += 1
    return candidate


def clone_call(source: Call, actor) -> Call:
    """A new draft for the following year with the same settings, rubric, attachments and clusters.

    Open and close times move by one year (same Beijing wall-clock time); the year in
    the code and the title is replaced. The copy remembers its source.
    """
    new_year = source.year + 1
    settings = {k: getattr(source, k) for k in SETTING_FIELDS}
    settings.update(
        year=new_year,
        code=next_code(source.code, source.year, new_year),
        title=_year_pattern(source.year).sub(str(new_year), source.title)[:200],
        opens_at=_shift_year(source.opens_at),
        closes_at=_shift_year(source.closes_at),
    )
    call = Call(state="draft", last_reference_no=0, cloned_from_id=source.id, **settings)
    call.clusters = list(source.clusters)
    call.criteria = [
        RubricCriterion(position=c.position, **{k: getattr(c, k) for k in CRITERION_FIELDS})
        for c in source.criteria
    ]
    call.attachment_requirements = [
        AttachmentRequirement(position=a.position, **{k: getattr(a, k) for k in ATTACHMENT_FIELDS})
        for a in source.attachment_requirements
    ]
    db.session.add(call)
    _flush_call()
    audit.record(
        "call.cloned",
        call,
        actor=actor,
        after={"cloned_from_id": source.id, "cloned_from_code": source.code, **snapshot(call)},
    )
    return call


# --- queries used by the pages ---------------------------------------------------------


def open_calls(at: datetime | None = None) -> list[Call]:
    """Published calls open at ``at`` (now), the soonest to close first."""
    at = at or utcnow()
    return list(
        db.session.scalars(
            sa.select(Call)
            .where(Call.state == "published", Call.opens_at <= at, Call.closes_at > at)
            .order_by(Call.closes_at, Call.id)
        )
    )


def upcoming_calls(at: datetime | None = None) -> list[Call]:
    """Published calls that open later, the soonest to open first."""
    at = at or utcnow()
    return list(
        db.session.scalars(
            sa.select(Call)
            .where(Call.state == "published", Call.opens_at > at)
            .order_by(Call.opens_at, Call.id)
        )
    )


def draft_calls() -> list[Call]:
    return list(
        db.session.scalars(
            sa.select(Call).where(Call.state == "draft").order_by(Call.opens_at, Call.id)
        )
    )


# --- the system job ----------------------------------------------------------------------


def expired_calls(at: datetime | None = None) -> list[Call]:
    """Published calls whose close time has come."""
    at = at or utcnow()
    return list(
        db.session.scalars(
            sa.select(Call).where(Call.state == "published", Call.closes_at <= at).order_by(Call.id)
        )
    )


@job("programmes.close_expired_calls", label=_l("Close expired calls"))
def close_expired_calls(ctx=None, at: datetime | None = None) -> dict:
    """Close every published call whose close time has passed, as the system (actor None).

    Runs as the job ``programmes.close_expired_calls``; the job runner commits. Returns
    the ids and codes of the calls it closed.
    """
    closed = []
    for call in expired_calls(at):
        transition(call, "close", None)
        closed.append(call)
    return {"closed": [c.id for c in closed], "codes": [c.code for c in closed]}


schedule("programmes.close_expired_calls", every=timedelta(minutes=5))
