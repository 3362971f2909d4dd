"""Calls for applications, their rubric and their required attachments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.states import StateSet, state_set
from grants.core.types import Money, UTCDateTime, utcnow
from grants.extensions import db

FUNDING_LEVELS = {
    "district": _l("District programme"),
    "city": _l("Municipal programme"),
    "province": _l("Provincial programme"),
    "national": _l("National programme"),
}

CATEGORIES = {
    "research": _l("Key technology research"),
    "transfer": _l("Commercialisation of results"),
    "platform": _l("Innovation platform"),
    "talent": _l("Talent and teams"),
    "other": _l("Other"),
}


@state_set("call")
class CallState(StateSet):
    """The states of a call (申报指南)."""

    DRAFT = "draft", lazy_pgettext("call state", "Draft"), "secondary"
    PUBLISHED = "published", lazy_pgettext("call state", "Published"), "success"
    CLOSED = "closed", lazy_pgettext("call state", "Closed"), "dark"


call_clusters = sa.Table(
    "call_clusters",
    db.metadata,
    sa.Column("call_id", sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "cluster_id", sa.ForeignKey("industry_clusters.id", ondelete="RESTRICT"), primary_key=True
    ),
)


class Call(db.Model):
    """A call for applications (申报指南) of one programme year."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    funding_level: Mapped[str] = mapped_column(sa.String(16), default="district")
    category: Mapped[str] = mapped_column(sa.String(16), default="research")
    guide: Mapped[str] = mapped_column(sa.Text, default="")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    total_budget: Mapped[Decimal] = mapped_column(Money)
    cap_per_project: Mapped[Decimal] = mapped_column(Money)
    min_self_raised_ratio: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4), default=Decimal("0"))
    indirect_cost_ratio: Mapped[Decimal] = mapped_column(
        sa.Numeric(5, 4), default=Decimal("0.2000")
    )
    max_duration_months: Mapped[int] = mapped_column(sa.Integer, default=36)
    required_qualification: Mapped[str | None] = mapped_column(sa.String(40))
    concurrent_cap: Mapped[int | None] = mapped_column(sa.Integer)
    reviewers_per_application: Mapped[int] = mapped_column(sa.Integer, default=5)
    trimmed_mean_min_reviews: Mapped[int] = mapped_column(sa.Integer, default=5)
    blind_review: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    last_reference_no: Mapped[int] = mapped_column(sa.Integer, default=0)
    cloned_from_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("calls.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    clusters = relationship(
        "IndustryCluster", secondary=call_clusters, order_by="IndustryCluster.sort_order"
    )
    criteria: Mapped[list[RubricCriterion]] = relationship(
        back_populates="call",
        cascade="all, delete-orphan",
        order_by="RubricCriterion.position",
        primaryjoin="and_(Call.id == RubricCriterion.call_id, RubricCriterion.purpose == 'proposal')",
    )
    acceptance_criteria: Mapped[list[RubricCriterion]] = relationship(
        cascade="all, delete-orphan",
        order_by="RubricCriterion.position",
        overlaps="criteria,call",
        primaryjoin="and_(Call.id == RubricCriterion.call_id, RubricCriterion.purpose == 'acceptance')",
    )
    attachment_requirements: Mapped[list[AttachmentRequirement]] = relationship(
        back_populates="call",
        cascade="all, delete-orphan",
        order_by="AttachmentRequirement.position",
    )

    __table_args__ = (
        sa.CheckConstraint("state in ('draft','published','closed')", name="known_state"),
        sa.CheckConstraint(
            "funding_level in ('district','city','province','national')", name="known_level"
        ),
        sa.CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        sa.CheckConstraint(
            "cap_per_project > 0 and cap_per_project <= total_budget", name="cap_within_budget"
        ),
        sa.CheckConstraint(
            "min_self_raised_ratio >= 0 and min_self_raised_ratio < 1", name="self_raised_ratio"
        ),
        sa.CheckConstraint(
            "indirect_cost_ratio >= 0 and indirect_cost_ratio <= 1", name="indirect_ratio"
        ),
        sa.CheckConstraint("reviewers_per_application between 1 and 15", name="reviewers_range"),
        sa.CheckConstraint("trimmed_mean_min_reviews >= 3", name="trimmed_min"),
        sa.CheckConstraint(
            "concurrent_cap is null or concurrent_cap >= 1", name="concurrent_cap_positive"
        ),
        sa.CheckConstraint(
            "state = 'draft' or published_at is not null", name="published_has_date"
        ),
    )

    def __str__(self) -> str:
        return self.title

    def is_open(self, at: datetime | None = None) -> bool:
        """Published and between its open and close times (the close time itself is too late)."""
        at = at or utcnow()
        return self.state == "published" and self.opens_at <= at < self.closes_at


class RubricCriterion(db.Model):
    """One scoring criterion of a call's rubric, with its weight and score range."""

    __tablename__ = "rubric_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    weight: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))
    min_score: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2), default=Decimal("0"))
    max_score: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2), default=Decimal("10"))
    # 'proposal' criteria score applications; 'acceptance' criteria score final reports.
    purpose: Mapped[str] = mapped_column(
        sa.String(20), default="proposal", server_default="proposal"
    )

    call: Mapped[Call] = relationship(back_populates="criteria")

    __table_args__ = (
        sa.CheckConstraint("purpose in ('proposal','acceptance')", name="known_purpose"),
        sa.CheckConstraint("weight > 0", name="weight_positive"),
        sa.CheckConstraint("max_score > min_score", name="range_ordered"),
    )


class AttachmentRequirement(db.Model):
    """An attachment every application to the call must (or may) carry."""

    __tablename__ = "attachment_requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    code: Mapped[str] = mapped_column(sa.String(40))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    required: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    call: Mapped[Call] = relationship(back_populates="attachment_requirements")

    __table_args__ = (
        sa.UniqueConstraint("call_id", "code", name="uq_attachment_requirements_call_code"),
    )
