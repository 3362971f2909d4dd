"""An application and its sections: team, budget, milestone plan, KPI targets, attachments."""

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


@state_set("application")
class ApplicationState(StateSet):
    """The states of an application (申报书)."""

    DRAFT = "draft", lazy_pgettext("application state", "Draft"), "secondary"
    SUBMITTED = "submitted", lazy_pgettext("application state", "Submitted"), "primary"
    RETURNED = "returned", lazy_pgettext("application state", "Returned for revision"), "warning"
    WITHDRAWN = "withdrawn", lazy_pgettext("application state", "Withdrawn"), "light"
    REJECTED = "rejected", lazy_pgettext("application state", "Rejected at formal check"), "danger"
    UNDER_REVIEW = "under_review", lazy_pgettext("application state", "Under expert review"), "info"
    REVIEWED = "reviewed", lazy_pgettext("application state", "Reviewed"), "info"
    APPROVED = "approved", lazy_pgettext("application state", "Approved"), "success"
    DECLINED = "declined", lazy_pgettext("application state", "Declined"), "dark"
    CONTRACTED = "contracted", lazy_pgettext("application state", "Contracted"), "success"


# Budget categories of the central fiscal S&T funds rules: 设备费, 业务费 (with sub-items),
# 劳务费 (direct costs) and 间接费用 (indirect costs).
BUDGET_CATEGORIES = {
    "equipment": _l("Equipment"),
    "business": _l("Business costs"),
    "labour": _l("Labour"),
    "indirect": _l("Indirect costs"),
}
BUSINESS_SUB_ITEMS = {
    "materials": _l("Materials"),
    "testing": _l("Testing, analysis and processing"),
    "fuel_power": _l("Fuel and power"),
    "publication_ip": _l("Publication, literature, information and IP"),
    "travel_meetings": _l("Travel, meetings and international exchange"),
    "other": _l("Other business costs"),
}

TEAM_ROLES = {
    "principal": _l("Principal investigator"),
    "core": _l("Core member"),
    "member": _l("Member"),
}

KPI_KINDS = {
    "patents_filed": (_l("Invention patents filed"), _l("items")),
    "patents_granted": (_l("Patents granted"), _l("items")),
    "new_products": (_l("New products"), _l("items")),
    "standards": (_l("Standards drafted"), _l("items")),
    "papers": (_l("Papers published"), _l("items")),
    "software": (_l("Software copyrights"), _l("items")),
    "revenue": (_l("New sales revenue"), _l("10,000 yuan")),
    "jobs": (_l("New jobs"), _l("people")),
    "talent": (_l("Talent trained"), _l("people")),
}


class Application(db.Model):
    """An organisation's application to a call; its state changes only through the workflow."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="RESTRICT"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    cluster_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("industry_clusters.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    objectives: Mapped[str] = mapped_column(sa.Text, default="")
    technical_route: Mapped[str] = mapped_column(sa.Text, default="")
    start_date: Mapped[date | None] = mapped_column(sa.Date)
    end_date: Mapped[date | None] = mapped_column(sa.Date)
    fiscal_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    self_raised_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    state: Mapped[str] = mapped_column(sa.String(20), default="draft", index=True)
    reference_no: Mapped[str | None] = mapped_column(sa.String(60), unique=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    call = relationship("Call")
    organisation = relationship("Organisation")
    cluster = relationship("IndustryCluster")
    created_by = relationship("User")
    team: Mapped[list[TeamMember]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="TeamMember.position"
    )
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="BudgetLine.id"
    )
    milestones: Mapped[list[PlannedMilestone]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="PlannedMilestone.position",
    )
    kpis: Mapped[list[KpiTarget]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="KpiTarget.id"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    checks: Mapped[list[FormalCheck]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="FormalCheck.id"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "state in ('draft','submitted','returned','withdrawn','rejected','under_review',"
            "'reviewed','approved','declined','contracted')",
            name="known_state",
        ),
        sa.CheckConstraint(
            "state in ('draft','withdrawn') or (submitted_at is not null "
            "and reference_no is not null)",
            name="submitted_has_reference",
        ),
        sa.CheckConstraint(
            "fiscal_total >= 0 and self_raised_total >= 0", name="totals_not_negative"
        ),
        sa.CheckConstraint(
            "end_date is null or start_date is null or end_date > start_date", name="period_ordered"
        ),
    )

    def __str__(self) -> str:
        return self.title or str(_l("Untitled application"))

    @property
    def total_budget(self) -> Decimal:
        return (self.fiscal_total or Decimal(0)) + (self.self_raised_total or Decimal(0))

    @property
    def state_label(self) -> str:
        return label_of(ApplicationState, self.state)

    @property
    def principal(self) -> TeamMember | None:
        return next((m for m in self.team if m.role == "principal"), None)


class TeamMember(db.Model):
    """A person on the application's team."""

    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(20), default="member")
    title: Mapped[str] = mapped_column(sa.String(100), default="")
    organisation_name: Mapped[str] = mapped_column(sa.String(200), default="")
    expertise: Mapped[str] = mapped_column(sa.String(200), default="")
    workload_months: Mapped[int | None] = mapped_column(sa.Integer)

    application: Mapped[Application] = relationship(back_populates="team")

    __table_args__ = (
        sa.CheckConstraint("role in ('principal','core','member')", name="known_role"),
    )


class BudgetLine(db.Model):
    """One line of the budget: fiscal and self-raised money of a category (or sub-item)."""

    __tablename__ = "budget_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(sa.String(20))
    sub_item: Mapped[str] = mapped_column(sa.String(30), default="")
    fiscal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    self_raised: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    note: Mapped[str] = mapped_column(sa.String(500), default="")

    application: Mapped[Application] = relationship(back_populates="budget_lines")

    __table_args__ = (
        sa.UniqueConstraint("application_id", "category", "sub_item", name="uq_budget_lines_item"),
        sa.CheckConstraint(
            "category in ('equipment','business','labour','indirect')", name="known_category"
        ),
        sa.CheckConstraint("fiscal >= 0 and self_raised >= 0", name="amounts_not_negative"),
    )

    @property
    def total(self) -> Decimal:
        return (self.fiscal or Decimal(0)) + (self.self_raised or Decimal(0))


class PlannedMilestone(db.Model):
    """A milestone of the plan: what is delivered when, and the share of funding it releases."""

    __tablename__ = "planned_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    title: Mapped[str] = mapped_column(sa.String(200))
    due_date: Mapped[date] = mapped_column(sa.Date)
    deliverable: Mapped[str] = mapped_column(sa.Text, default="")
    funding_share: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4), default=Decimal("0"))

    application: Mapped[Application] = relationship(back_populates="milestones")

    __table_args__ = (
        sa.CheckConstraint("funding_share >= 0 and funding_share <= 1", name="share_range"),
    )


class KpiTarget(db.Model):
    """A KPI target (绩效目标): a number of patents, products, revenue, jobs …"""

    __tablename__ = "kpi_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(30))
    target: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    application: Mapped[Application] = relationship(back_populates="kpis")

    __table_args__ = (
        sa.UniqueConstraint("application_id", "kind", name="uq_kpi_targets_kind"),
        sa.CheckConstraint("target >= 0", name="target_not_negative"),
    )


class Attachment(db.Model):
    """An uploaded file, stored under a generated name; the original name is kept for download."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    requirement_code: Mapped[str | None] = mapped_column(sa.String(40))
    original_name: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="attachments")

    __table_args__ = (sa.CheckConstraint("size > 0", name="size_positive"),)


FORMAL_CHECK_DECISIONS = ("pass", "return", "reject")


class FormalCheck(db.Model):
    """One formal-check decision (形式审查) with its reasons; every return is kept."""

    __tablename__ = "formal_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(sa.String(10))
    reasons: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="checks")
    actor = relationship("User")

    __table_args__ = (
        sa.CheckConstraint("decision in ('pass','return','reject')", name="known_decision"),
        sa.CheckConstraint("decision = 'pass' or length(reasons) > 0", name="reasons_given"),
    )


holds_stored_keys(Attachment.__table__.c.stored_name)
