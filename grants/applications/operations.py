"""Verbs on applications. Each flushes and leaves the commit to the request or job."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from sqlalchemy.orm.attributes import set_committed_value

from grants.accounts.models import User, UserRole
from grants.applications.checks import BUDGET_ROWS, BudgetSummary
from grants.applications.models import (
    KPI_KINDS,
    Application,
    Attachment,
    BudgetLine,
    KpiTarget,
    PlannedMilestone,
    TeamMember,
)
from grants.core import audit, storage
from grants.core.money import money_text, to_money
from grants.core.refusals import OperationError
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.operations import notify
from grants.programmes.models import Call


def next_reference_no(call: Call) -> str:
    """The call's next reference number (``<call code>-<nnn>``), taken atomically.

    The loaded call learns the new count from the statement's RETURNING, not by the
    session searching every object it holds for calls to update.
    """
    number = db.session.execute(
        sa.update(Call)
        .where(Call.id == call.id)
        .values(last_reference_no=Call.last_reference_no + 1)
        .returning(Call.last_reference_no)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(call, "last_reference_no", number)
    return f"{call.code}-{number:03d}"


def stamp_submission(application: Application) -> None:
    """Give a first submission its reference number; every submission its time.

    Runs inside the transition, after the state has changed: taking the number must not
    flush that state before the reference number is set (a CHECK constraint needs both).
    """
    with db.session.no_autoflush:
        if application.reference_no is None:
            application.reference_no = next_reference_no(application.call)
        application.submitted_at = utcnow()


def applicant_users(application: Application) -> list[User]:
    """The active applicant accounts of the application's organisation."""
    return db.session.scalars(
        sa.select(User).where(
            User.organisation_id == application.organisation_id,
            User.active.is_(True),
            User.roles.any(UserRole.role == "applicant"),
        )
    ).all()


def notify_applicants(application: Application, kind: str, subject, body: str = "") -> None:
    """Tell the organisation's applicants about a change to their application."""
    notify(
        applicant_users(application),
        kind,
        subject,
        body,
        link=url_for("applications.detail", application_id=application.id),
        params={"ref": application.reference_no or application.title},
    )


# --- drafting: creating, saving sections, attachments ------------------------------------


class ApplicationError(OperationError):
    """A refused change to an application; ``message`` is user-facing (already translated)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def start_application(call: Call, organisation, actor: User) -> Application:
    """Open a draft application of ``organisation`` to an open ``call``.

    The industry cluster defaults to the organisation's when the call targets it (or
    targets no cluster in particular); otherwise the applicant chooses one.
    """
    if not call.is_open():
        raise ApplicationError(
            _("The call “%(call)s” is not open for applications.", call=call.title)
        )
    cluster = organisation.cluster
    if cluster is not None and call.clusters and cluster not in call.clusters:
        cluster = None
    application = Application(
        call=call,
        organisation=organisation,
        created_by=actor,
        cluster=cluster,
        title="",
        summary="",
        objectives="",
        technical_route="",
        # A new draft has none of these: filling them in needs no query to find that out.
        team=[],
        budget_lines=[],
        milestones=[],
        kpis=[],
        attachments=[],
        checks=[],
    )
    db.session.add(application)
    db.session.flush()
    audit.record(
        "application.created",
        application,
        actor=actor,
        after={"call_id": call.id, "organisation_id": organisation.id},
    )
    return application


def section_snapshot(application: Application, section: str):
    """The stored content of one section, as JSON for the audit log and change detection."""
    if section == "basic":
        return {
            "title": application.title,
            "cluster_id": application.cluster_id,
            "start_date": application.start_date.isoformat() if application.start_date else None,
            "end_date": application.end_date.isoformat() if application.end_date else None,
            "summary": application.summary,
            "objectives": application.objectives,
            "technical_route": application.technical_route,
        }
    if section == "team":
        return [
            {
                "name": m.name,
                "role": m.role,
                "title": m.title,
                "organisation_name": m.organisation_name,
                "expertise": m.expertise,
                "workload_months": m.workload_months,
            }
            for m in application.team
        ]
    if section == "budget":
        return {
            f"{line.category}/{line.sub_item}": [
                money_text(line.fiscal),
                money_text(line.self_raised),
                line.note,
            ]
            for line in sorted(application.budget_lines, key=lambda x: (x.category, x.sub_item))
        }
    if section == "milestones":
        return [
            {
                "title": m.title,
                "due_date": m.due_date.isoformat(),
                "deliverable": m.deliverable,
                "funding_share": str(Decimal(m.funding_share).quantize(SHARE_PLACES)),
            }
            for m in application.milestones
        ]
    if section == "kpis":
        return {
            k.kind: [str(Decimal(k.target).quantize(KPI_PLACES)), k.note]
            for k in sorted(application.kpis, key=lambda x: x.kind)
        }
    raise ValueError(f"unknown section {section!r}")


SHARE_PLACES = Decimal("0.0001")
KPI_PLACES = Decimal("0.01")


def _save_basic(application: Application, data: dict) -> None:
    for key in ("title", "summary", "objectives", "technical_route"):
        setattr(application, key, (data.get(key) or "").strip())
    application.cluster_id = data.get("cluster_id") or None
    application.start_date = data.get("start_date")
    application.end_date = data.get("end_date")


def _replace_rows(existing: list, rows: list[dict], make) -> None:
    """Update ``existing`` in place from ``rows`` (by position), adding and removing as needed."""
    for position, row in enumerate(rows, start=1):
        if position <= len(existing):
            item = existing[position - 1]
            for key, value in row.items():
                setattr(item, key, value)
            item.position = position
        else:
            existing.append(make(position=position, **row))
    del existing[len(rows) :]


def _save_team(application: Application, rows: list[dict]) -> None:
    _replace_rows(application.team, rows, TeamMember)


def _save_milestones(application: Application, rows: list[dict]) -> None:
    rows = [
        {**r, "funding_share": Decimal(r["funding_share"]).quantize(SHARE_PLACES)} for r in rows
    ]
    _replace_rows(application.milestones, rows, PlannedMilestone)


def _save_budget(application: Application, amounts: dict) -> None:
    """``amounts``: row key → (fiscal yuan, self-raised yuan, note); zero rows are removed."""
    existing = {(line.category, line.sub_item or ""): line for line in application.budget_lines}
    for row in BUDGET_ROWS:
        fiscal, self_raised, note = amounts.get(row.key, (Decimal(0), Decimal(0), ""))
        fiscal, self_raised = to_money(fiscal), to_money(self_raised)
        line = existing.get((row.category, row.sub_item))
        if not fiscal and not self_raised and not note:
            if line is not None:
                application.budget_lines.remove(line)
            continue
        if line is None:
            line = BudgetLine(category=row.category, sub_item=row.sub_item)
            application.budget_lines.append(line)
        line.fiscal, line.self_raised, line.note = fiscal, self_raised, note
    summary = BudgetSummary.from_lines(application.budget_lines)
    application.fiscal_total = summary.fiscal_total
    application.self_raised_total = summary.self_raised_total


def _save_kpis(application: Application, targets: dict) -> None:
    """``targets``: KPI kind → (target, note); rows with neither are removed."""
    existing = {k.kind: k for k in application.kpis}
    for kind in KPI_KINDS:
        target, note = targets.get(kind, (Decimal(0), ""))
        target = Decimal(target).quantize(KPI_PLACES)
        row = existing.get(kind)
        if not target and not note:
            if row is not None:
                application.kpis.remove(row)
            continue
        if row is None:
            row = KpiTarget(kind=kind, target=target, note=note)
            application.kpis.append(row)
        row.target, row.note = target, note


SECTION_SAVERS = {
    "basic": _save_basic,
    "team": _save_team,
    "budget": _save_budget,
    "milestones": _save_milestones,
    "kpis": _save_kpis,
}


def save_section(application: Application, section: str, data, actor: User) -> bool:
    """Store one section of the form from validated ``data``; True when something changed.

    ``data`` is what the section's form hands over (see ``section_data`` of the forms):
    money already in yuan. A change moves ``updated_at`` and is audited with the
    section's content before and after; saving the same content again records nothing.
    """
    return bool(save_sections(application, {section: data}, actor))


def save_sections(application: Application, sections: dict, actor: User) -> list[str]:
    """Store several sections (name → data, as :func:`save_section` takes it) with one flush.

    Each changed section is audited on its own; returns the names of those that changed.
    """
    changed = []
    with db.session.no_autoflush:  # loading one section's rows need not write another's
        for section, data in sections.items():
            before = section_snapshot(application, section)
            SECTION_SAVERS[section](application, data)
            after = section_snapshot(application, section)  # from the objects in memory
            if after == before:
                continue
            changed.append(section)
            audit.record(
                "application.section_saved",
                application,
                actor=actor,
                before={"section": section, section: before},
                after={"section": section, section: after},
            )
    if changed:
        application.updated_at = utcnow()
        db.session.flush()  # one flush, one version
    return changed


def add_attachment(
    application: Application, upload, requirement_code: str | None, actor: User
) -> Attachment:
    """Store an uploaded file for one of the call's attachment requirements (None: other).

    Raises :class:`grants.core.storage.UploadRefused` for a wrong type or an oversize
    file; the file is removed again if the transaction rolls back.
    """
    codes = {r.code for r in application.call.attachment_requirements}
    if requirement_code and requirement_code not in codes:
        raise ApplicationError(_("Choose one of the attachments the call asks for."))
    stored = storage.save_upload(upload)
    attachment = Attachment(
        requirement_code=requirement_code or None,
        original_name=stored.original_name,
        stored_name=stored.stored_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=actor.id,
    )
    application.attachments.append(attachment)
    application.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "application.attachment_added",
        application,
        actor=actor,
        after={
            "attachment_id": attachment.id,
            "name": attachment.original_name,
            "requirement": attachment.requirement_code,
            "size": attachment.size,
            "sha256": attachment.sha256,
        },
    )
    return attachment


def remove_attachment(attachment: Attachment, actor: User) -> None:
    """Remove an attachment; its file goes once the transaction commits."""
    application = attachment.application
    storage.delete_after_commit(attachment.stored_name)
    audit.record(
        "application.attachment_removed",
        application,
        actor=actor,
        before={
            "attachment_id": attachment.id,
            "name": attachment.original_name,
            "requirement": attachment.requirement_code,
            "sha256": attachment.sha256,
        },
    )
    application.attachments.remove(attachment)
    application.updated_at = utcnow()
    db.session.flush()


def delete_draft(application: Application, actor: User) -> None:
    """Delete a draft that was never submitted, with its attachments' files (after commit)."""
    for attachment in application.attachments:
        storage.delete_after_commit(attachment.stored_name)
    audit.record(
        "application.deleted",
        application,
        actor=actor,
        before={
            "title": application.title,
            "call_id": application.call_id,
            "organisation_id": application.organisation_id,
        },
    )
    db.session.delete(application)
    db.session.flush()
