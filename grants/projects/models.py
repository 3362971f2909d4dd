"""A funded project and its execution: team, KPI targets, milestones, progress reports,
mid-term checks, change requests, the final report, acceptance and outcomes.

The project is created by contracting (the funding domain) from an approved
application; from then on its own state machine (``workflow.py``) carries it to closure.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.states import StateSet, label_of, state_set
from grants.core.storage import holds_stored_keys
from grants.core.types import Money, UTCDateTime, utcnow
from grants.extensions import db


@state_set("project")
class ProjectState(StateSet):
    """The states of a funded project."""

    CONTRACTING = (
        "contracting",
        lazy_pgettext("project state", "Awaiting the signed task book"),
        "secondary",
    )
    IN_PROGRESS = "in_progress", lazy_pgettext("project state", "In progress"), "primary"
    ACCEPTANCE_REVIEW = (
        "acceptance_review",
        lazy_pgettext("project state", "Acceptance review"),
        "info",
    )
    ACCEPTED = "accepted", lazy_pgettext("project state", "Passed acceptance"), "success"
    ACCEPTANCE_FAILED = (
        "acceptance_failed",
        lazy_pgettext("project state", "Failed acceptance"),
        "danger",
    )
    TERMINATED = "terminated", lazy_pgettext("project state", "Terminated"), "dark"
    CLOSED = "closed", lazy_pgettext("project state", "Project closed"), "light"


class Project(db.Model):
    """A funded project (立项项目) with its code, award and task book.

    ``committed_total`` is the money requested, approved or paid out; ``disbursed_total``
    the money paid. The database keeps ``0 <= disbursed <= committed <= award``.
    """

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="RESTRICT"), unique=True
    )
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="RESTRICT"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    cluster_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("industry_clusters.id", ondelete="SET NULL"), index=True
    )
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    objectives: Mapped[str] = mapped_column(sa.Text, default="")
    start_date: Mapped[date] = mapped_column(sa.Date)
    end_date: Mapped[date] = mapped_column(sa.Date)
    award: Mapped[Decimal] = mapped_column(Money)
    self_raised: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    committed_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    disbursed_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    recovered_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    state: Mapped[str] = mapped_column(sa.String(20), default="contracting", index=True)
    task_book_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    task_book_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acceptance_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectify_by: Mapped[date | None] = mapped_column(sa.Date)
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conclusion: Mapped[str | None] = mapped_column(sa.String(20))
    conclusion_reasons: Mapped[str] = mapped_column(sa.Text, default="")
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    termination_reason: Mapped[str] = mapped_column(sa.Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    application = relationship("Application")
    call = relationship("Call")
    organisation = relationship("Organisation")
    cluster = relationship("IndustryCluster")
    members: Mapped[list[ProjectMember]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectMember.position"
    )
    kpis: Mapped[list[ProjectKpi]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectKpi.id"
    )
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="Milestone.position"
    )
    budget_lines = relationship(
        "ProjectBudgetLine",
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="ProjectBudgetLine.id",
    )
    tranches = relationship(
        "Tranche",
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="Tranche.position",
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "state in ('contracting','in_progress','acceptance_review','accepted','acceptance_failed',"
            "'terminated','closed')",
            name="known_state",
        ),
        sa.CheckConstraint("award > 0", name="award_positive"),
        sa.CheckConstraint("self_raised >= 0", name="self_raised_not_negative"),
        sa.CheckConstraint(
            "disbursed_total >= 0 and disbursed_total <= committed_total "
            "and committed_total <= award",
            name="disbursed_within_award",
        ),
        sa.CheckConstraint(
            "recovered_total >= 0 and recovered_total <= disbursed_total",
            name="recovered_within_disbursed",
        ),
        sa.CheckConstraint("end_date > start_date", name="period_ordered"),
        sa.CheckConstraint(
            "state = 'contracting' or state = 'terminated' or signed_at is not null",
            name="running_is_signed",
        ),
        sa.CheckConstraint(
            "state != 'terminated' or (terminated_at is not null "
            "and length(termination_reason) > 0)",
            name="termination_has_reason",
        ),
        sa.CheckConstraint(
            "conclusion is null or conclusion in ('pass','rectify','fail')", name="known_conclusion"
        ),
    )

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def state_label(self) -> str:
        return label_of(ProjectState, self.state)

    @property
    def remaining(self) -> Decimal:
        """Award not yet committed to a disbursement."""
        return self.award - self.committed_total

    @property
    def principal(self) -> ProjectMember | None:
        return next((m for m in self.members if m.role == "principal"), None)


class ProjectMember(db.Model):
    """A person on the project's team (copied from the application at contracting)."""

    __tablename__ = "project_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(20), default="member")
    title: Mapped[str] = mapped_column(sa.String(100), default="")
    organisation_name: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    project: Mapped[Project] = relationship(back_populates="members")

    __table_args__ = (
        sa.CheckConstraint("role in ('principal','core','member')", name="known_role"),
    )


class ProjectKpi(db.Model):
    """A KPI target of the task book and, after acceptance, what was achieved."""

    __tablename__ = "project_kpis"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(30))
    target: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    achieved: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    project: Mapped[Project] = relationship(back_populates="kpis")

    __table_args__ = (
        sa.UniqueConstraint("project_id", "kind", name="uq_project_kpis_kind"),
        sa.CheckConstraint(
            "target >= 0 and (achieved is null or achieved >= 0)", name="not_negative"
        ),
    )


@state_set("milestone")
class MilestoneState(StateSet):
    """The states of a tracked milestone."""

    OPEN = "open", lazy_pgettext("milestone state", "Not yet reported"), "light"
    REPORTED = "reported", lazy_pgettext("milestone state", "Report submitted"), "info"
    ACHIEVED = "achieved", lazy_pgettext("milestone state", "Milestone achieved"), "success"


class Milestone(db.Model):
    """A tracked milestone: open → reported (a progress report is in) → achieved."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    title: Mapped[str] = mapped_column(sa.String(200))
    deliverable: Mapped[str] = mapped_column(sa.Text, default="")
    due_date: Mapped[date] = mapped_column(sa.Date, index=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    achieved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship(back_populates="milestones")
    reports: Mapped[list[ProgressReport]] = relationship(
        back_populates="milestone", cascade="all, delete-orphan", order_by="ProgressReport.id"
    )

    __table_args__ = (
        sa.CheckConstraint("state in ('open','reported','achieved')", name="known_state"),
        sa.CheckConstraint(
            "state != 'achieved' or achieved_at is not null", name="achieved_has_date"
        ),
    )

    @property
    def state_label(self) -> str:
        return label_of(MilestoneState, self.state)


@state_set("progress_report")
class ProgressReportState(StateSet):
    """The states of a progress report."""

    DRAFT = "draft", lazy_pgettext("progress report state", "Draft"), "light"
    SUBMITTED = "submitted", lazy_pgettext("progress report state", "Submitted"), "info"
    APPROVED = "approved", lazy_pgettext("progress report state", "Passed review"), "success"
    RETURNED = "returned", lazy_pgettext("progress report state", "Returned"), "warning"


class ProgressReport(db.Model):
    """The owner's report on a milestone: text, KPI progress and evidence files."""

    __tablename__ = "progress_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(
        sa.ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(sa.Text, default="")
    kpi_progress: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    milestone: Mapped[Milestone] = relationship(back_populates="reports")
    project = relationship("Project")

    __table_args__ = (
        sa.CheckConstraint(
            "state in ('draft','submitted','approved','returned')", name="known_state"
        ),
        sa.CheckConstraint(
            "state = 'draft' or submitted_at is not null", name="submitted_has_date"
        ),
        sa.CheckConstraint(
            "state != 'returned' or length(review_note) > 0", name="return_has_note"
        ),
    )


MIDTERM_CONCLUSIONS = {
    "pass": _l("Pass"),
    "conditional": _l("Conditional pass"),
    "fail": _l("Fail"),
}


class MidtermCheck(db.Model):
    """A mid-term check (中期检查) conclusion on one project."""

    __tablename__ = "midterm_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    batch: Mapped[str] = mapped_column(sa.String(40), default="")
    conclusion: Mapped[str] = mapped_column(sa.String(16))
    comments: Mapped[str] = mapped_column(sa.Text, default="")
    rectify_by: Mapped[date | None] = mapped_column(sa.Date)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project = relationship("Project")

    @property
    def conclusion_label(self) -> str:
        """The conclusion in the reader's language (通过, 有条件通过, 不通过), never its code."""
        label = MIDTERM_CONCLUSIONS.get(self.conclusion)
        return str(label) if label is not None else self.conclusion

    __table_args__ = (
        sa.CheckConstraint("conclusion in ('pass','conditional','fail')", name="known_conclusion"),
        sa.CheckConstraint(
            "conclusion != 'conditional' or rectify_by is not null", name="conditional_has_deadline"
        ),
        sa.CheckConstraint(
            "conclusion = 'pass' or length(comments) > 0", name="non_pass_has_comments"
        ),
    )


CHANGE_KINDS = {
    "extension": _l("Extension"),
    "budget": _l("Budget reallocation"),
    "principal": _l("Change of principal investigator"),
    "team": _l("Change of team members"),
    "content": _l("Change of content or KPI targets"),
    "withdrawal": _l("Withdrawal of the project"),
}


@state_set("change_request")
class ChangeRequestState(StateSet):
    """The states of a change request (项目变更)."""

    DRAFT = "draft", lazy_pgettext("change request state", "Draft"), "light"
    SUBMITTED = "submitted", lazy_pgettext("change request state", "Awaiting decision"), "info"
    APPROVED = "approved", lazy_pgettext("change request state", "Approved and applied"), "success"
    REJECTED = "rejected", lazy_pgettext("change request state", "Not approved"), "danger"
    CANCELLED = (
        "cancelled",
        lazy_pgettext("change request state", "Cancelled by the owner"),
        "secondary",
    )


class ChangeRequest(db.Model):
    """A change request (项目变更): what changes (``proposed``) beside what was (``previous``)."""

    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    proposed: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    previous: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    project = relationship("Project")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "kind in ('extension','budget','principal','team','content','withdrawal')",
            name="known_kind",
        ),
        sa.CheckConstraint(
            "state in ('draft','submitted','approved','rejected','cancelled')", name="known_state"
        ),
        sa.CheckConstraint(
            "state in ('draft','cancelled') or submitted_at is not null", name="submitted_has_date"
        ),
        sa.CheckConstraint(
            "state not in ('approved','rejected') or decided_at is not null",
            name="decided_has_date",
        ),
    )

    @property
    def kind_label(self) -> str:
        return str(CHANGE_KINDS.get(self.kind, self.kind))


@state_set("final_report")
class FinalReportState(StateSet):
    """The states of the final report and financial statement (决算)."""

    DRAFT = "draft", lazy_pgettext("final report state", "Draft"), "light"
    SUBMITTED = (
        "submitted",
        lazy_pgettext("final report state", "Submitted, awaiting finance"),
        "info",
    )
    RETURNED = (
        "returned",
        lazy_pgettext("final report state", "Statement returned by finance"),
        "warning",
    )
    VERIFIED = "verified", lazy_pgettext("final report state", "Statement verified"), "success"


class FinalReport(db.Model):
    """The final report (结题报告) and final financial statement (决算) of one acceptance round.

    draft → submitted (the project goes to acceptance review) → verified by finance, or
    returned by finance with a note and submitted again.

    ``kpi_achieved`` maps KPI kinds to the achieved figure; ``statement`` maps budget
    categories to the money actually spent (yuan, as strings of Decimals).
    """

    __tablename__ = "final_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(sa.Integer, default=1)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    kpi_achieved: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    statement: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statement_verified_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    statement_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statement_note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project = relationship("Project")

    __table_args__ = (
        sa.UniqueConstraint("project_id", "round", name="uq_final_reports_round"),
        sa.CheckConstraint(
            "state in ('draft','submitted','returned','verified')", name="known_state"
        ),
        sa.CheckConstraint(
            "state = 'draft' or submitted_at is not null", name="submitted_has_date"
        ),
        sa.CheckConstraint(
            "state != 'verified' or statement_verified_at is not null", name="verified_has_date"
        ),
        sa.CheckConstraint(
            "state != 'returned' or length(statement_note) > 0", name="return_has_note"
        ),
    )


OUTCOME_KINDS = {
    "patent": (_l("Patent"), _l("items")),
    "paper": (_l("Paper"), _l("items")),
    "standard": (_l("Standard"), _l("items")),
    "new_product": (_l("New product"), _l("items")),
    "software": (_l("Software copyright"), _l("items")),
    "award": (lazy_pgettext("outcome kind", "Award"), _l("items")),
    "revenue": (_l("New sales revenue"), _l("yuan")),
    "jobs": (_l("New jobs"), _l("people")),
}


class Outcome(db.Model):
    """An outcome (成果) of a project: a patent, paper, standard, product, award, revenue or jobs."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    final_report_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("final_reports.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(16, 2), default=Decimal("1"))
    reference: Mapped[str] = mapped_column(sa.String(120), default="")
    achieved_on: Mapped[date | None] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project = relationship("Project")

    __table_args__ = (
        sa.CheckConstraint(
            "kind in ('patent','paper','standard','new_product','software','award',"
            "'revenue','jobs')",
            name="known_kind",
        ),
        sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )


ACCEPTANCE_CONCLUSIONS = {
    "pass": _l("Pass"),
    "rectify": _l("Rectify"),
    "fail": _l("Fail"),
}


class AcceptanceDecision(db.Model):
    """The bureau's acceptance conclusion (验收结论) on one round, with the panel's mean score."""

    __tablename__ = "acceptance_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    final_report_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("final_reports.id", ondelete="SET NULL")
    )
    conclusion: Mapped[str] = mapped_column(sa.String(16))
    panel_score: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 4))
    reasons: Mapped[str] = mapped_column(sa.Text, default="")
    rectify_by: Mapped[date | None] = mapped_column(sa.Date)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project = relationship("Project")

    __table_args__ = (
        sa.CheckConstraint("conclusion in ('pass','rectify','fail')", name="known_conclusion"),
        sa.CheckConstraint(
            "conclusion != 'rectify' or rectify_by is not null", name="rectify_has_deadline"
        ),
        sa.CheckConstraint(
            "conclusion = 'pass' or length(reasons) > 0", name="non_pass_has_reasons"
        ),
    )


FILE_PURPOSES = {
    "task_book": _l("Task book"),
    "signed_task_book": _l("Signed task book"),
    "progress_evidence": _l("Progress evidence"),
    "spending_evidence": _l("Spending evidence"),
    "change_evidence": _l("Change request evidence"),
    "final_report": _l("Final report"),
    "final_statement": _l("Final financial statement"),
    "outcome_evidence": _l("Outcome evidence"),
    "recovery_voucher": _l("Recovery voucher"),
}


class ProjectFile(db.Model):
    """A document uploaded to a project, stored under a generated name.

    Exactly the owner column that fits ``purpose`` is set (a progress report, a spending
    report, a change request, a final report or an outcome), or none for the issued task book
    and its signed copy.
    """

    __tablename__ = "project_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(24))
    progress_report_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("progress_reports.id", ondelete="CASCADE"), index=True
    )
    expenditure_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("expenditures.id", ondelete="CASCADE"), index=True
    )
    change_request_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("change_requests.id", ondelete="CASCADE"), index=True
    )
    final_report_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("final_reports.id", ondelete="CASCADE"), index=True
    )
    outcome_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outcomes.id", ondelete="CASCADE"), index=True
    )
    original_name: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project = relationship("Project")

    @classmethod
    def from_stored(cls, stored, *, project_id: int, purpose: str, actor, **owner) -> ProjectFile:
        """The record of a file just stored by ``storage.save_upload``, uploaded by ``actor``;
        ``owner``: the owner column that fits ``purpose`` (and ``uploaded_at`` if it must be given)."""
        return cls(
            project_id=project_id,
            purpose=purpose,
            original_name=stored.original_name,
            stored_name=stored.stored_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by_id=getattr(actor, "id", None),
            **owner,
        )

    __table_args__ = (
        sa.CheckConstraint(
            "purpose in ('task_book','signed_task_book','progress_evidence','spending_evidence',"
            "'change_evidence','final_report','final_statement','outcome_evidence',"
            "'recovery_voucher')",
            name="known_purpose",
        ),
        sa.CheckConstraint("size > 0", name="size_positive"),
    )


holds_stored_keys(ProjectFile.__table__.c.stored_name)
