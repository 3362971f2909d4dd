"""Change requests (项目变更) and the termination of projects.

A change request is typed (``CHANGE_KINDS``): an extension, a reallocation of the budget
between categories, a new principal investigator, changes to the team, changes to the
objectives or KPI targets, or the withdrawal of the project. The project owner drafts
one while the project is in progress, starting from the current values, and submits
it; only one request of each kind may be open (draft or submitted) at a time.

``proposed`` holds the new values and ``previous`` the values of the project when the
request was submitted (both plain JSON: dates as ISO strings, money as strings of
Decimals in yuan). The bureau approves or rejects the request; approval applies the
change to the project (end date and milestone dates, budget lines, team, objectives and
KPI targets) and writes the before/after to the audit log. If the project has changed
since submission — ``previous`` no longer matches its current values — approval is
refused and the owner is asked to submit again. A withdrawal, once approved,
terminates the project with the owner's reason.

Rules of the house for the proposals (checked on submission and again on approval):

- Extension: the new end date is later than the current one and at most
  ``MAX_EXTENSION_MONTHS`` (12) months after it — one year per request, the usual
  limit for district projects; every milestone not yet achieved falls due between the
  start of the project and the new end date.
- Budget: the fiscal funds of the four categories add up to the award exactly; no
  category's fiscal funds fall below the money already spent in it (verified spending
  reports); self-raised funds may change freely (not below zero).
- Principal investigator: a named person other than the current principal; the former
  principal stays on the team as a core member or a member, or leaves it.
- Team: named members with a role of core member or member; the principal is changed
  by its own kind of request.
- Content: objectives are given and at least one KPI target is above zero.
- Every request gives its reason, and changes something.

Termination (``terminate`` on the project, by the bureau) records the time and the
reason and rejects the requests still waiting for a decision; the funding domain, on the
``project.terminated`` domain event, cancels every tranche that has no live disbursement
and the releases still requested or approved with their tranches, in the same
transaction. Finance is told so that it can record the recovery of unspent funds.

Each kind is one :class:`ChangeKind` subclass (current values, validate, diff, apply)
registered in :data:`CHANGE_KIND_TYPES`; the budget kind is registered by the funding
domain (grants/funding/budget_changes.py), whose budget lines and spending it checks.
The workflow tables (``grants.projects.workflow``) call the guards and effects below;
the verbs flush and leave the commit to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import ClassVar

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from grants.accounts.models import User, UserRole
from grants.applications.models import KPI_KINDS, TEAM_ROLES
from grants.core import audit, storage
from grants.core.money import MoneyError, to_money
from grants.core.refusals import OperationError
from grants.core.states import label_of
from grants.core.templating import local_date
from grants.core.timeutil import add_months
from grants.core.types import utcnow
from grants.core.workflow import can_fire, transition
from grants.extensions import db
from grants.notifications.operations import notify
from grants.projects import files, hooks
from grants.projects.models import (
    CHANGE_KINDS,
    ChangeRequest,
    ChangeRequestState,
    Milestone,
    Project,
    ProjectFile,
    ProjectKpi,
    ProjectMember,
    ProjectState,
)

MAX_EXTENSION_MONTHS = 12
OPEN_STATES = (ChangeRequestState.DRAFT, ChangeRequestState.SUBMITTED)
TEAM_MEMBER_ROLES = ("core", "member")
FORMER_PRINCIPAL_CHOICES = {
    "core": _l("Stays on the team as a core member"),
    "member": _l("Stays on the team as a member"),
    "leaves": _l("Leaves the team"),
}
CENT = Decimal("0.01")


class ChangeProblems(OperationError):
    """A proposal that cannot be submitted or approved; ``problems`` pairs a field key with a message.

    Field keys: ``reason``, ``end_date``, ``milestone:<id>``, ``budget:<category>``,
    ``budget:total``, ``member_id``, ``name``, ``old_principal``, ``member:<row>``,
    ``objectives``, ``kpi:<kind>``, ``kpis``, or ``""`` for the request as a whole.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(" ".join(message for _key, message in problems), field=problems[0][0])
        self.problems = problems


# --- values: what the project holds now, as plain JSON ------------------------------------------


def _figure(value) -> str:
    return str(Decimal(value or 0).quantize(CENT))


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def latest_extension(project: Project) -> date:
    """The latest end date one extension request may propose."""
    return add_months(project.end_date, MAX_EXTENSION_MONTHS)


def team_members(project: Project) -> list[ProjectMember]:
    """The active members of the team other than the principal investigator, in order."""
    return [m for m in project.members if m.active and m.role != "principal"]


def _member_values(member: ProjectMember) -> dict:
    return {
        "id": member.id,
        "name": member.name,
        "role": member.role,
        "title": member.title or "",
        "organisation_name": member.organisation_name or "",
    }


def current_values(project: Project, kind: str) -> dict:
    """What a request of ``kind`` would change, as the project holds it now (JSON-serialisable).

    This is the snapshot stored as ``previous`` on submission, the starting point of a
    new request's form, and what approval compares ``previous`` with.
    """
    return change_kind(kind).current(project)


def active_principal(project: Project) -> ProjectMember | None:
    return next((m for m in project.members if m.role == "principal" and m.active), None)


def starting_values(project: Project, kind: str) -> dict:
    """The proposal a new request starts from: the current values in the shape of ``proposed``."""
    return change_kind(kind).starting(project)


def open_milestones(project: Project) -> list[Milestone]:
    """Milestones not yet achieved: those an extension may move."""
    return [m for m in project.milestones if m.state != "achieved"]


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- checking a proposal ---------------------------------------------------------------------


def proposed_amount(value) -> Decimal | None:
    """A proposed sum of money in yuan (a string, number or blank), or None when it is not one."""
    if isinstance(value, float):
        return None
    try:
        return to_money(value if value not in (None, "") else 0)
    except (MoneyError, TypeError):
        return None


def _target(value) -> Decimal | None:
    try:
        figure = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None
    return figure if figure.is_finite() else None


def proposal_problems(
    project: Project, kind: str, reason: str, proposed: dict
) -> list[tuple[str, str]]:
    """Why the request cannot go to the bureau (or be approved) as it stands; empty when it can."""
    problems = []
    if project.state != "in_progress":
        problems.append(("", _("Changes can only be requested while the project is in progress.")))
        return problems
    if not (reason or "").strip():
        problems.append(("reason", _("Explain why the change is needed.")))
    try:
        problems.extend(change_kind(kind).validate(project, proposed or {}))
    except (AttributeError, TypeError):
        problems.append(
            ("", _("The proposal is incomplete: edit the request and fill in every field."))
        )
        return problems
    if not problems and change_kind(kind).changes_nothing(project, proposed or {}):
        problems.append(("", _("The proposal is the same as what the project holds now.")))
    return problems


def is_stale(change: ChangeRequest) -> bool:
    """Whether the project has changed since the request was submitted."""
    return bool(change.previous) and current_values(change.project, change.kind) != change.previous


# --- reading ----------------------------------------------------------------------------------


def open_request(project: Project, kind: str) -> ChangeRequest | None:
    """The project's draft or submitted request of ``kind``, if any."""
    return db.session.scalar(
        sa.select(ChangeRequest)
        .where(
            ChangeRequest.project_id == project.id,
            ChangeRequest.kind == kind,
            ChangeRequest.state.in_(OPEN_STATES),
        )
        .limit(1)
    )


def requests_of(project: Project) -> list[ChangeRequest]:
    """The project's change requests, newest first."""
    return db.session.scalars(
        sa.select(ChangeRequest)
        .where(ChangeRequest.project_id == project.id)
        .order_by(ChangeRequest.created_at.desc(), ChangeRequest.id.desc())
    ).all()


def waiting_for_decision(limit: int | None = None) -> list[ChangeRequest]:
    """Submitted requests on running projects, oldest submission first."""
    stmt = (
        sa.select(ChangeRequest)
        .join(Project, Project.id == ChangeRequest.project_id)
        .where(ChangeRequest.state == "submitted", Project.state == "in_progress")
        .order_by(ChangeRequest.submitted_at, ChangeRequest.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return db.session.scalars(stmt).all()


def count_waiting() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(ChangeRequest.id))
            .join(Project, Project.id == ChangeRequest.project_id)
            .where(ChangeRequest.state == "submitted", Project.state == "in_progress")
        )
        or 0
    )


@dataclass(frozen=True)
class DiffRow:
    """One line of the old-beside-new table."""

    label: str
    old: str
    new: str
    group: str = ""
    long: bool = False

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _date_text(value) -> str:
    day = _date(value)
    return local_date(day) if day else "—"


def _member_text(row: dict | None) -> str:
    if not row:
        return "—"
    parts = [str(TEAM_ROLES.get(row.get("role"), row.get("role") or ""))]
    parts += [p for p in (row.get("title"), row.get("organisation_name")) if p]
    return " · ".join(p for p in parts if p)


def _kpi_text(kind: str, row: dict | None) -> str:
    if not row:
        return "—"
    unit = KPI_KINDS.get(kind, ("", ""))[1]
    target = _target(row.get("target"))
    text = (
        f"{target.normalize():f} {unit}".strip() if target is not None else str(row.get("target"))
    )
    return f"{text} ({row['note']})" if row.get("note") else text


def diff_rows(change: ChangeRequest) -> list[DiffRow]:
    """The request's old-beside-new table; a draft is compared with the project as it is now."""
    kind = change_kind(change.kind)
    before = change.previous or kind.current(change.project)
    return kind.diff(change.project, before, change.proposed or {})


# --- verbs --------------------------------------------------------------------------------------


def _lock_project(project: Project) -> None:
    """Serialise the requests of one project (PostgreSQL row lock; SQLite writes are serial)."""
    db.session.execute(sa.select(Project.id).where(Project.id == project.id).with_for_update())


def _clean_proposal(project: Project, kind: str, proposed: dict) -> dict:
    """``proposed`` as JSON; a principal chosen from the team carries that member's name."""
    clean = _jsonable(dict(proposed or {}))
    if kind == "principal" and clean.get("member_id"):
        member = next((m for m in team_members(project) if m.id == clean["member_id"]), None)
        if member is not None:
            clean["name"] = member.name
            clean["title"] = (clean.get("title") or "").strip() or member.title or ""
            clean["organisation_name"] = (
                clean.get("organisation_name") or ""
            ).strip() or member.organisation_name
    return clean


def _submit_checked(change: ChangeRequest, actor) -> None:
    if can_fire(actor, change, "submit"):
        problems = proposal_problems(change.project, change.kind, change.reason, change.proposed)
        if problems:
            raise ChangeProblems(problems)
    transition(change, "submit", actor)


def draft_change(
    project: Project,
    kind: str,
    actor,
    *,
    reason: str,
    proposed: dict,
    uploads=(),
    submit: bool = False,
) -> ChangeRequest:
    """Open a change request of ``kind`` as a draft, and submit it at once if ``submit``.

    Only one request per kind may be open (draft or submitted) on a project; a second
    is refused. When submitting, every problem of the proposal is raised together
    (:class:`ChangeProblems`) so that the form can show each beside its field.
    ``uploads`` are supporting documents stored with the request (:func:`add_evidence`).
    """
    if kind not in CHANGE_KINDS:
        raise OperationError(_("Choose what kind of change to request."))
    _lock_project(project)
    existing = open_request(project, kind)
    if existing is not None:
        raise OperationError(
            _(
                "A request of this kind (%(kind)s) is already open for the project: finish or "
                "cancel it first.",
                kind=existing.kind_label,
            )
        )
    change = ChangeRequest(
        project=project,
        kind=kind,
        reason=(reason or "").strip(),
        proposed=_clean_proposal(project, kind, proposed),
        previous={},
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(change)
    db.session.flush()
    audit.record(
        "change_request.draft",
        change,
        actor=actor,
        after={"project": project.code, "kind": kind, "proposed": change.proposed},
    )
    _add_uploads(change, uploads, actor)
    if submit:
        _submit_checked(change, actor)
    return change


def update_change(
    change: ChangeRequest, actor, *, reason: str, proposed: dict, uploads=(), submit: bool = False
) -> ChangeRequest:
    """Save a new version of a draft request with the documents ``uploads`` added, and submit it if ``submit``."""
    if change.state != "draft":
        raise OperationError(_("Only a draft can be edited."))
    before = {"reason": change.reason, "proposed": change.proposed}
    change.reason = (reason or "").strip()
    change.proposed = _clean_proposal(change.project, change.kind, proposed)
    db.session.flush()
    audit.record(
        "change_request.edit",
        change,
        actor=actor,
        before=before,
        after={"reason": change.reason, "proposed": change.proposed},
    )
    _add_uploads(change, uploads, actor)
    if submit:
        _submit_checked(change, actor)
    return change


# --- supporting documents ----------------------------------------------------------------------


def evidence_of(change: ChangeRequest) -> list[ProjectFile]:
    """The supporting documents of a request, oldest first."""
    return list(
        db.session.scalars(
            sa.select(ProjectFile)
            .where(ProjectFile.change_request_id == change.id)
            .order_by(ProjectFile.id)
        )
    )


def _add_uploads(change: ChangeRequest, uploads, actor) -> None:
    for upload in storage.chosen_files(uploads):
        add_evidence(change, upload, actor)


def add_evidence(change: ChangeRequest, upload, actor) -> ProjectFile:
    """Store a supporting document (an approval of the organisation, a CV, a quotation …) of a draft
    request; a wrong type or size raises :class:`ChangeProblems` on ``evidence``. Flushes."""
    if change.state != "draft":
        raise OperationError(
            _("Documents can only be added while the request is a draft."), field="evidence"
        )
    return files.attach(
        change,
        upload,
        actor,
        purpose="change_evidence",
        event="change_request.evidence_added",
        refused=lambda message: ChangeProblems([("evidence", message)]),
        change_request_id=change.id,
    )


def remove_evidence(item: ProjectFile, actor) -> None:
    """Remove a supporting document from a request that is still a draft; the file goes after commit."""
    change = (
        db.session.get(ChangeRequest, item.change_request_id) if item.change_request_id else None
    )
    if change is None or change.state != "draft":
        raise OperationError(_("Documents can only be removed while the request is a draft."))
    files.detach(item, change, actor, event="change_request.evidence_removed")


def submit_change(change: ChangeRequest, actor) -> ChangeRequest:
    """Send a draft to the bureau; the values it changes are captured as ``previous``."""
    _submit_checked(change, actor)
    return change


# --- the change request workflow's guards and effects (grants/projects/workflow.py) ---------------


def guard_submit_change(change: ChangeRequest, actor, data) -> str | None:
    """The project runs and the proposal is complete, within the rules, and changes something."""
    problems = proposal_problems(change.project, change.kind, change.reason, change.proposed)
    return " ".join(message for _key, message in problems) or None


def on_submit_change(change: ChangeRequest, actor, data) -> None:
    change.submitted_at = utcnow()
    change.previous = current_values(change.project, change.kind)


def notify_change_submitted(change: ChangeRequest, actor, data) -> None:
    """Tell the bureau a change request waits for its decision."""
    project = change.project
    notify(
        bureau_users(),
        "change_request.submitted",
        _l("Change request for %(code)s: %(kind)s"),
        _l("%(org)s asks for a change to “%(title)s” (%(code)s): %(kind)s.\nReason: %(reason)s"),
        link=_change_link(change),
        params={
            "code": project.code,
            "title": project.title,
            "org": project.organisation.name,
            "kind": CHANGE_KINDS[change.kind],
            "reason": change.reason,
        },
    )


def guard_approve_change(change: ChangeRequest, actor, data) -> str | None:
    """The project still runs, has not changed since submission, and the proposal still holds."""
    project = change.project
    _lock_project(project)
    if project.state != "in_progress":
        return _("The project is no longer in progress: the change cannot be applied.")
    if is_stale(change):
        return _(
            "The project has changed since this request was submitted, so the values it was based on "
            "no longer hold. Reject it and ask the project owner to submit it again."
        )
    problems = proposal_problems(project, change.kind, change.reason, change.proposed)
    return " ".join(message for _key, message in problems) or None


def on_approve_change(change: ChangeRequest, actor, data) -> None:
    """Record the decision and apply the change to the project, auditing before and after."""
    change.decided_by_id = getattr(actor, "id", None)
    change.decided_at = utcnow()
    change.decision_note = (data.get("note") or "").strip()
    project = change.project
    kind = change_kind(change.kind)
    if not kind.audited:
        kind.apply(change, actor)
        return
    before = kind.current(project)
    kind.apply(change, actor)
    db.session.flush()
    db.session.refresh(project)
    audit.record(
        f"project.change.{change.kind}",
        project,
        actor=actor,
        before=before,
        after={**kind.current(project), "change_request_id": change.id},
    )


def on_reject_change(change: ChangeRequest, actor, data) -> None:
    change.decided_by_id = getattr(actor, "id", None)
    change.decided_at = utcnow()
    change.decision_note = (data.get("note") or "").strip()


def notify_change_decided(change: ChangeRequest, actor, data) -> None:
    """Tell the owner's organisation the bureau's decision."""
    project = change.project
    if change.state == "approved":
        subject = _l("Change approved for %(code)s: %(kind)s")
        body = _l(
            "The bureau approved your change request for “%(title)s” (%(code)s): %(kind)s. "
            "The change has been applied.\n%(note)s"
        )
    else:
        subject = _l("Change rejected for %(code)s: %(kind)s")
        body = _l(
            "The bureau rejected your change request for “%(title)s” (%(code)s): %(kind)s.\n"
            "Reason: %(note)s"
        )
    notify(
        owner_users(project),
        f"change_request.{change.state}",
        subject,
        body,
        link=_change_link(change),
        params={
            "code": project.code,
            "title": project.title,
            "kind": CHANGE_KINDS[change.kind],
            "note": change.decision_note,
        },
    )


# --- applying the change ---------------------------------------------------------------------------


def _next_position(project: Project) -> int:
    return max((m.position or 0 for m in project.members), default=0) + 1


# --- the kinds of change: one class each, registered in CHANGE_KIND_TYPES ----------------------


class ChangeKind:
    """One kind of change request: what it reads from the project, how a proposal is checked,
    shown beside the current values, and applied on approval.

    ``current`` is the snapshot stored as ``previous`` on submission, the starting point of a
    new request's form and what approval compares ``previous`` with; ``validate`` lists the
    problems of a proposal (field key, message); ``diff`` builds the old-beside-new table;
    ``apply`` writes an approved proposal to the project (it flushes, never commits).
    """

    name: ClassVar[str]
    audited: ClassVar[bool] = True

    def current(self, project: Project) -> dict:
        raise NotImplementedError

    def starting(self, project: Project) -> dict:
        """The proposal a new request starts from: the current values in the shape of ``proposed``."""
        return self.current(project)

    def normalised(self, project: Project, proposed: dict) -> dict:
        """``proposed`` in the canonical shape of ``current`` (to tell whether it changes anything)."""
        return proposed

    def changes_nothing(self, project: Project, proposed: dict) -> bool:
        return False

    def validate(self, project: Project, proposed: dict) -> list[tuple[str, str]]:
        raise NotImplementedError

    def diff(self, project: Project, before: dict, after: dict) -> list[DiffRow]:
        raise NotImplementedError

    def apply(self, change: ChangeRequest, actor) -> None:
        raise NotImplementedError


CHANGE_KIND_TYPES: dict[str, ChangeKind] = {}


def register(kind_class: type[ChangeKind]) -> type[ChangeKind]:
    """Register one instance of ``kind_class`` under its ``name`` (a class decorator)."""
    CHANGE_KIND_TYPES[kind_class.name] = kind_class()
    return kind_class


def change_kind(name: str) -> ChangeKind:
    """The registered kind called ``name``; ``ValueError`` for a kind nobody registered."""
    try:
        return CHANGE_KIND_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown change kind {name!r}") from None


@register
class ExtensionChange(ChangeKind):
    """A later end date, and new due dates for the milestones not yet achieved."""

    name = "extension"

    def current(self, project: Project) -> dict:
        return {
            "end_date": _iso(project.end_date),
            "milestones": [
                {"id": m.id, "title": m.title, "due_date": _iso(m.due_date)}
                for m in project.milestones
            ],
        }

    def starting(self, project: Project) -> dict:
        return {
            "end_date": _iso(project.end_date),
            "milestones": [
                {"id": m.id, "due_date": _iso(m.due_date)} for m in open_milestones(project)
            ],
        }

    def validate(self, project: Project, proposed: dict) -> list[tuple[str, str]]:
        problems = []
        end = _date(proposed.get("end_date"))
        if end is None:
            problems.append(("end_date", _("Give the new end date.")))
        elif end <= project.end_date:
            problems.append(
                (
                    "end_date",
                    _(
                        "The new end date must come after the current one (%(date)s).",
                        date=local_date(project.end_date),
                    ),
                )
            )
        elif end > latest_extension(project):
            problems.append(
                (
                    "end_date",
                    _(
                        "A request may extend the project by at most %(months)d months: "
                        "the latest end date is %(date)s.",
                        months=MAX_EXTENSION_MONTHS,
                        date=local_date(latest_extension(project)),
                    ),
                )
            )
        milestones = {m.id: m for m in project.milestones}
        moved: dict[int, date] = {}
        for row in proposed.get("milestones") or []:
            milestone = milestones.get(row.get("id"))
            key = f"milestone:{row.get('id')}"
            if milestone is None or milestone.state == "achieved" or milestone.id in moved:
                problems.append(
                    (key, _("Only milestones of this project not yet achieved can be moved."))
                )
                continue
            due = _date(row.get("due_date"))
            if due is None:
                problems.append((key, _("Give the new due date.")))
                continue
            moved[milestone.id] = due
        for milestone in open_milestones(project):
            due = moved.get(milestone.id, milestone.due_date)
            key = f"milestone:{milestone.id}"
            if due < project.start_date:
                problems.append(
                    (
                        key,
                        _(
                            "“%(title)s” cannot fall due before the project starts (%(date)s).",
                            title=milestone.title,
                            date=local_date(project.start_date),
                        ),
                    )
                )
            elif end is not None and due > max(end, project.end_date):
                problems.append(
                    (
                        key,
                        _("“%(title)s” must fall due by the new end date.", title=milestone.title),
                    )
                )
        return problems

    def diff(self, project: Project, before: dict, after: dict) -> list[DiffRow]:
        rows = [
            DiffRow(
                _("End of the project period"),
                _date_text(before.get("end_date")),
                _date_text(after.get("end_date") or before.get("end_date")),
            )
        ]
        moved = {r.get("id"): r.get("due_date") for r in after.get("milestones") or []}
        group = _("Milestone due dates")
        for m in before.get("milestones") or []:
            rows.append(
                DiffRow(
                    m.get("title") or "—",
                    _date_text(m.get("due_date")),
                    _date_text(moved.get(m.get("id"), m.get("due_date"))),
                    group=group,
                )
            )
        return rows

    def apply(self, change: ChangeRequest, actor) -> None:
        project, proposed = change.project, change.proposed
        project.end_date = _date(proposed["end_date"])
        milestones = {m.id: m for m in project.milestones}
        for row in proposed.get("milestones") or []:
            milestone = milestones[row["id"]]
            due = _date(row["due_date"])
            if due != milestone.due_date:
                milestone.due_date = due
                milestone.overdue_notified_at = None


@register
class PrincipalChange(ChangeKind):
    """A new principal investigator; the former one stays on the team or leaves it."""

    name = "principal"

    def current(self, project: Project) -> dict:
        principal = active_principal(project)
        return {"principal": _member_values(principal) if principal else None}

    def starting(self, project: Project) -> dict:
        return {
            "member_id": None,
            "name": "",
            "title": "",
            "organisation_name": "",
            "old_principal": "core",
        }

    def validate(self, project: Project, proposed: dict) -> list[tuple[str, str]]:
        problems = []
        current = active_principal(project)
        member_id = proposed.get("member_id")
        if member_id:
            member = next((m for m in team_members(project) if m.id == member_id), None)
            if member is None:
                problems.append(("member_id", _("Choose a member of the project's team.")))
        elif not (proposed.get("name") or "").strip():
            problems.append(("name", _("Name the new principal investigator.")))
        elif current is not None and (proposed.get("name") or "").strip() == current.name:
            problems.append(
                ("name", _("%(name)s is the principal investigator already.", name=current.name))
            )
        if proposed.get("old_principal") not in FORMER_PRINCIPAL_CHOICES:
            problems.append(
                ("old_principal", _("Say what becomes of the current principal investigator."))
            )
        return problems

    def diff(self, project: Project, before: dict, after: dict) -> list[DiffRow]:
        old = before.get("principal") or {}
        member = None
        if after.get("member_id"):
            member = next((m for m in project.members if m.id == after["member_id"]), None)
        name = after.get("name") or (member.name if member else "")
        title = after.get("title") or (member.title if member else "")
        organisation = after.get("organisation_name") or (
            member.organisation_name if member else ""
        )
        rows = [
            DiffRow(_("Principal investigator"), old.get("name") or "—", name or "—"),
            DiffRow(_("Professional title"), old.get("title") or "—", title or "—"),
            DiffRow(_("Organisation"), old.get("organisation_name") or "—", organisation or "—"),
        ]
        if member is not None:
            rows.append(
                DiffRow(
                    member.name,
                    str(TEAM_ROLES.get(member.role, member.role)),
                    str(TEAM_ROLES["principal"]),
                    group=_("On the team"),
                )
            )
        if old:
            choice = after.get("old_principal")
            new_role = (
                str(TEAM_ROLES[choice])
                if choice in TEAM_MEMBER_ROLES
                else str(FORMER_PRINCIPAL_CHOICES.get(choice, "—"))
            )
            rows.append(
                DiffRow(
                    old.get("name") or "—",
                    str(TEAM_ROLES["principal"]),
                    new_role,
                    group=_("On the team"),
                )
            )
        return rows

    def apply(self, change: ChangeRequest, actor) -> None:
        project, proposed = change.project, change.proposed
        old = active_principal(project)
        member_id = proposed.get("member_id")
        new = (
            next((m for m in team_members(project) if m.id == member_id), None)
            if member_id
            else None
        )
        position = old.position if old is not None else 0
        if old is not None:
            choice = proposed.get("old_principal")
            old.role = choice if choice in TEAM_MEMBER_ROLES else "member"
            old.active = choice in TEAM_MEMBER_ROLES
            old.position = _next_position(project)
        if new is None:
            new = ProjectMember(name=proposed["name"].strip(), role="principal")
            project.members.append(new)
        new.role = "principal"
        new.position = position
        if (proposed.get("title") or "").strip():
            new.title = proposed["title"].strip()
        if (proposed.get("organisation_name") or "").strip():
            new.organisation_name = proposed["organisation_name"].strip()


@register
class TeamChange(ChangeKind):
    """Members of the team added, changed or leaving (the principal has its own kind)."""

    name = "team"

    def current(self, project: Project) -> dict:
        return {"members": [_member_values(m) for m in team_members(project)]}

    def normalised(self, project: Project, proposed: dict) -> dict:
        return {
            "members": [
                {
                    "id": r.get("id"),
                    "name": (r.get("name") or "").strip(),
                    "role": r.get("role"),
                    "title": (r.get("title") or "").strip(),
                    "organisation_name": (r.get("organisation_name") or "").strip(),
                }
                for r in proposed.get("members") or []
            ]
        }

    def changes_nothing(self, project: Project, proposed: dict) -> bool:
        return self.normalised(project, proposed) == self.current(project)

    def validate(self, project: Project, proposed: dict) -> list[tuple[str, str]]:
        problems = []
        current = {m.id: m for m in team_members(project)}
        seen = set()
        for index, row in enumerate(proposed.get("members") or []):
            key = f"member:{index}"
            member_id = row.get("id")
            if member_id is not None and (member_id not in current or member_id in seen):
                problems.append(
                    (key, _("This person is not a member of the team who can be changed here."))
                )
            seen.add(member_id)
            if not (row.get("name") or "").strip():
                problems.append((key, _("Enter the member's name.")))
            if row.get("role") not in TEAM_MEMBER_ROLES:
                problems.append(
                    (
                        key,
                        _(
                            "A member is a core member or a member; the principal investigator "
                            "is changed by a request of its own."
                        ),
                    )
                )
        return problems

    def diff(self, project: Project, before: dict, after: dict) -> list[DiffRow]:
        rows = []
        proposed = after.get("members") or []
        by_id = {r.get("id"): r for r in proposed if r.get("id") is not None}
        for old in before.get("members") or []:
            new = by_id.get(old.get("id"))
            label = old.get("name") or "—"
            if new is not None and (new.get("name") or "").strip() != label:
                label = f"{label} → {(new.get('name') or '').strip()}"
            rows.append(
                DiffRow(
                    label,
                    _member_text(old),
                    _member_text(new) if new else str(_("Leaves the team")),
                )
            )
        for new in proposed:
            if new.get("id") is None:
                rows.append(DiffRow((new.get("name") or "").strip() or "—", "—", _member_text(new)))
        return rows

    def apply(self, change: ChangeRequest, actor) -> None:
        project, proposed = change.project, change.proposed
        current = {m.id: m for m in team_members(project)}
        kept = set()
        for row in proposed.get("members") or []:
            values = {
                "name": row["name"].strip(),
                "role": row["role"],
                "title": (row.get("title") or "").strip(),
                "organisation_name": (row.get("organisation_name") or "").strip(),
            }
            if row.get("id") is None:
                project.members.append(
                    ProjectMember(position=_next_position(project), active=True, **values)
                )
                continue
            member = current[row["id"]]
            kept.add(member.id)
            for key, value in values.items():
                setattr(member, key, value)
        for member_id, member in current.items():
            if member_id not in kept:
                member.active = False


@register
class ContentChange(ChangeKind):
    """New objectives or KPI targets."""

    name = "content"

    def current(self, project: Project) -> dict:
        return {
            "objectives": project.objectives or "",
            "kpis": {
                k.kind: {"target": _figure(k.target), "note": k.note or ""} for k in project.kpis
            },
        }

    def normalised(self, project: Project, proposed: dict) -> dict:
        return {
            "objectives": (proposed.get("objectives") or "").strip(),
            "kpis": {
                kind: {
                    "target": _figure(_target(row.get("target"))),
                    "note": (row.get("note") or "").strip(),
                }
                for kind, row in (proposed.get("kpis") or {}).items()
            },
        }

    def changes_nothing(self, project: Project, proposed: dict) -> bool:
        current = self.current(project)
        mine = self.normalised(project, proposed)
        return mine["objectives"] == current["objectives"].strip() and mine["kpis"] == {
            k: {"target": v["target"], "note": v["note"].strip()}
            for k, v in current["kpis"].items()
        }

    def validate(self, project: Project, proposed: dict) -> list[tuple[str, str]]:
        problems = []
        if not (proposed.get("objectives") or "").strip():
            problems.append(("objectives", _("Give the objectives of the project.")))
        known = set(KPI_KINDS) | {k.kind for k in project.kpis}
        above_zero = False
        for kind, row in (proposed.get("kpis") or {}).items():
            target = _target((row or {}).get("target"))
            if kind not in known:
                problems.append(("kpis", _("Unknown KPI: %(kind)s.", kind=kind)))
            elif target is None or target < 0:
                problems.append((f"kpi:{kind}", _("Enter a target of zero or more.")))
            elif target > 0:
                above_zero = True
        if not above_zero:
            problems.append(("kpis", _("At least one KPI target must be above zero.")))
        return problems

    def diff(self, project: Project, before: dict, after: dict) -> list[DiffRow]:
        rows = [
            DiffRow(
                _("Objectives"),
                before.get("objectives") or "—",
                after.get("objectives") or "—",
                long=True,
            )
        ]
        old_kpis, new_kpis = before.get("kpis") or {}, after.get("kpis") or {}
        group = _("KPI targets")
        kinds = list(KPI_KINDS) + [k for k in list(old_kpis) + list(new_kpis) if k not in KPI_KINDS]
        for kind in dict.fromkeys(kinds):
            if kind not in old_kpis and kind not in new_kpis:
                continue
            label = str(KPI_KINDS[kind][0]) if kind in KPI_KINDS else kind
            rows.append(
                DiffRow(
                    label,
                    _kpi_text(kind, old_kpis.get(kind)),
                    _kpi_text(kind, new_kpis.get(kind)),
                    group=group,
                )
            )
        return rows

    def apply(self, change: ChangeRequest, actor) -> None:
        project, proposed = change.project, change.proposed
        project.objectives = proposed["objectives"].strip()
        wanted = dict((proposed.get("kpis") or {}).items())
        for kpi in list(project.kpis):
            if kpi.kind not in wanted:
                project.kpis.remove(kpi)
        existing = {k.kind: k for k in project.kpis}
        for kind, row in wanted.items():
            target = _target(row.get("target")).quantize(CENT)
            note = (row.get("note") or "").strip()
            kpi = existing.get(kind)
            if kpi is None:
                project.kpis.append(ProjectKpi(kind=kind, target=target, note=note))
            else:
                kpi.target, kpi.note = target, note


@register
class WithdrawalChange(ChangeKind):
    """The owner withdraws the project: approval terminates it with the reason given."""

    name = "withdrawal"

    audited = False

    def current(self, project: Project) -> dict:
        return {"state": project.state}

    def starting(self, project: Project) -> dict:
        return {}

    def validate(self, project: Project, proposed: dict) -> list[tuple[str, str]]:
        return []

    def diff(self, project: Project, before: dict, after: dict) -> list[DiffRow]:
        old = before.get("state") or project.state
        return [
            DiffRow(
                _("State of the project"),
                label_of(ProjectState, old),
                label_of(ProjectState, ProjectState.TERMINATED),
            )
        ]

    def apply(self, change: ChangeRequest, actor) -> None:
        transition(
            change.project, "terminate", actor, reason=change.reason, change_request_id=change.id
        )


def approve_change(change: ChangeRequest, actor, note: str = "") -> ChangeRequest:
    """Approve a submitted request: the change is applied to the project (see the guard)."""
    transition(change, "approve", actor, note=(note or "").strip())
    return change


def reject_change(change: ChangeRequest, actor, note: str) -> ChangeRequest:
    """Reject a submitted request with a note the owner reads."""
    transition(change, "reject", actor, note=(note or "").strip())
    return change


def cancel_change(change: ChangeRequest, actor) -> ChangeRequest:
    """The owner withdraws a draft or submitted request."""
    transition(change, "cancel", actor)
    return change


# --- termination ------------------------------------------------------------------------------


def terminate_project(project: Project, actor, reason: str) -> Project:
    """Terminate a project (the bureau), with a reason the owner and finance read."""
    transition(project, "terminate", actor, reason=(reason or "").strip())
    return project


def tranches_to_cancel(project: Project) -> list:
    """The project's tranches that termination cancels: not cancelled and without a live disbursement."""
    return hooks.cancellable_tranches.ask(project)


def on_terminate(project: Project, actor, data) -> None:
    """Record the time and reason; reject the requests still waiting for a decision.

    The project no longer runs; drafts stay with the owner, who may cancel them. The
    funding domain cancels the tranches on the ``project.terminated`` event.
    """
    project.terminated_at = utcnow()
    project.termination_reason = (data.get("reason") or "").strip()
    pending = db.session.scalars(
        sa.select(ChangeRequest)
        .where(ChangeRequest.project_id == project.id, ChangeRequest.state == "submitted")
        .order_by(ChangeRequest.id)
    ).all()
    for change in pending:
        if can_fire(actor, change, "reject"):
            transition(change, "reject", actor, note=_("The project has been terminated."))


def notify_terminated(project: Project, actor, data) -> None:
    """Tell the owner's organisation, and finance so that it recovers the unspent funds."""
    params = {"code": project.code, "title": project.title, "reason": project.termination_reason}
    notify(
        owner_users(project),
        "project.terminated",
        _l("Project %(code)s terminated"),
        _l(
            "The bureau has terminated “%(title)s” (%(code)s).\nReason: %(reason)s\n"
            "Finance will contact you about paying back unspent funds."
        ),
        link=_project_link(project),
        params=params,
    )
    notify(
        finance_users(),
        "project.terminated",
        _l("Project %(code)s terminated: recover unspent funds"),
        _l(
            "The bureau has terminated “%(title)s” (%(code)s).\nReason: %(reason)s\n"
            "Its tranches not yet released are cancelled. Record the recovery of the unspent funds."
        ),
        link=_project_link(project),
        params=params,
    )


# --- people and links ----------------------------------------------------------------------------


def _users_with_role(role: str, *conditions) -> list[User]:
    return db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True), User.roles.any(UserRole.role == role), *conditions)
        .order_by(User.id)
    ).all()


def bureau_users() -> list[User]:
    return _users_with_role("bureau")


def finance_users() -> list[User]:
    return _users_with_role("finance")


def owner_users(project: Project) -> list[User]:
    """The applicant accounts of the project's organisation."""
    return _users_with_role("applicant", User.organisation_id == project.organisation_id)


def _change_link(change: ChangeRequest) -> str:
    return url_for("projects.change_detail", project_id=change.project_id, change_id=change.id)


def _project_link(project: Project) -> str:
    try:
        return url_for("projects.detail", project_id=project.id)
    except BuildError:
        return url_for("projects.changes", project_id=project.id)
