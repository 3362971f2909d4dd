"""The expert pool, assignments, reviews and scores, decisions, public notices and objections."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.states import StateSet, state_set
from grants.core.types import Money, UTCDateTime, utcnow
from grants.extensions import db

RELATION_KINDS = {
    "employer": _l("Employer (current or within three years)"),
    "shareholding": _l("Shareholding or other financial interest"),
    "collaboration": _l("Recent collaboration (joint project, paper or patent)"),
    "family": _l("Family tie with a person of the organisation"),
    "other": _l("Other relation"),
}

expert_clusters = sa.Table(
    "expert_clusters",
    db.metadata,
    sa.Column("expert_id", sa.ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "cluster_id", sa.ForeignKey("industry_clusters.id", ondelete="RESTRICT"), primary_key=True
    ),
)


class Expert(db.Model):
    """A reviewer in the bureau's expert pool (评审专家库); may be linked to a user account."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    title: Mapped[str] = mapped_column(sa.String(100), default="")
    employer_name: Mapped[str] = mapped_column(sa.String(200), default="")
    employer_uscc: Mapped[str | None] = mapped_column(sa.String(18), index=True)
    employer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    keywords: Mapped[str] = mapped_column(sa.Text, default="")
    email: Mapped[str] = mapped_column(sa.String(255), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    max_load: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User")
    employer = relationship("Organisation")
    clusters = relationship(
        "IndustryCluster", secondary=expert_clusters, order_by="IndustryCluster.sort_order"
    )
    relations: Mapped[list[ExpertRelation]] = relationship(
        back_populates="expert", cascade="all, delete-orphan", order_by="ExpertRelation.id"
    )

    __table_args__ = (
        sa.CheckConstraint("max_load is null or max_load >= 0", name="max_load_not_negative"),
    )

    def __str__(self) -> str:
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        return [
            k for k in (s.strip() for s in re.split(r"[,，、;；\n]+", self.keywords or "")) if k
        ]


class ExpertRelation(db.Model):
    """A relation the expert declares with an organisation (回避 material)."""

    __tablename__ = "expert_relations"

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(20))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    organisation_name: Mapped[str] = mapped_column(sa.String(200), default="")
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    since: Mapped[date | None] = mapped_column(sa.Date)
    until: Mapped[date | None] = mapped_column(sa.Date)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "declared" by the expert or the bureau; "membership" recorded when the expert's account
    # joined the organisation (it ends, with ``until``, when the account leaves it).
    source: Mapped[str] = mapped_column(
        sa.String(16), default="declared", server_default="declared"
    )

    expert: Mapped[Expert] = relationship(back_populates="relations")
    organisation = relationship("Organisation")

    __table_args__ = (
        sa.CheckConstraint(
            "kind in ('employer','shareholding','collaboration','family','other')",
            name="known_kind",
        ),
        sa.CheckConstraint(
            "organisation_id is not null or length(organisation_name) > 0",
            name="names_an_organisation",
        ),
        sa.CheckConstraint("source in ('declared','membership')", name="known_source"),
    )


class ExcludedExpert(db.Model):
    """An expert the applicant asks not to review the application (不宜评审专家, at most three)."""

    __tablename__ = "excluded_experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    employer_name: Mapped[str] = mapped_column(sa.String(200), default="")
    reason: Mapped[str] = mapped_column(sa.String(500), default="")


class ConflictRuling(db.Model):
    """The bureau's ruling on a soft conflict flag between an expert and an application."""

    __tablename__ = "conflict_rulings"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    expert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experts.id", ondelete="CASCADE"), index=True
    )
    blocked: Mapped[bool] = mapped_column(sa.Boolean)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("application_id", "expert_id", name="uq_conflict_rulings_pair"),
    )


@state_set("assignment")
class AssignmentState(StateSet):
    """The states of an expert's invitation to review (评审邀请)."""

    INVITED = "invited", lazy_pgettext("assignment state", "Invited"), "warning"
    ACCEPTED = "accepted", lazy_pgettext("assignment state", "Accepted"), "success"
    DECLINED = "declined", lazy_pgettext("assignment state", "Declined"), "danger"
    WITHDRAWN = "withdrawn", lazy_pgettext("assignment state", "Withdrawn"), "secondary"


class Assignment(db.Model):
    """An expert invited to review one application (or one acceptance report)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    expert_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experts.id", ondelete="RESTRICT"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(20), default="proposal")
    # The acceptance round (FinalReport.round) an acceptance assignment belongs to; 1 for proposals.
    round: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")
    state: Mapped[str] = mapped_column(sa.String(16), default="invited", index=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="manual")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    no_conflict_declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a conflict of interest ended the assignment (found on a re-check, or the expert recused).
    conflict_found_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaces_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("assignments.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application = relationship("Application")
    expert: Mapped[Expert] = relationship()
    review: Mapped[Review | None] = relationship(
        back_populates="assignment", uselist=False, cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint(
            "application_id", "expert_id", "purpose", "round", name="uq_assignments_pair"
        ),
        sa.CheckConstraint(
            "state in ('invited','accepted','declined','withdrawn')", name="known_state"
        ),
        sa.CheckConstraint("purpose in ('proposal','acceptance')", name="known_purpose"),
        sa.CheckConstraint("source in ('manual','auto','replacement')", name="known_source"),
        sa.CheckConstraint(
            "state = 'invited' or responded_at is not null or state = 'withdrawn'",
            name="responded_has_date",
        ),
        sa.CheckConstraint(
            "state != 'declined' or length(decline_reason) > 0", name="decline_has_reason"
        ),
    )


RECOMMENDATIONS = {
    "fund": _l("Fund"),
    "fund_with_changes": _l("Fund with changes"),
    "do_not_fund": _l("Do not fund"),
}


@state_set("review")
class ReviewState(StateSet):
    """The states of an expert's review."""

    DRAFT = "draft", lazy_pgettext("review state", "Review in draft"), "light"
    SUBMITTED = "submitted", lazy_pgettext("review state", "Review submitted"), "primary"


class Review(db.Model):
    """An expert's scores, comment and recommendation for one assignment."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assignments.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    recommendation: Mapped[str | None] = mapped_column(sa.String(20))
    total: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 4))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_comment: Mapped[str | None] = mapped_column(sa.Text)
    released_comment_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    assignment: Mapped[Assignment] = relationship(back_populates="review")
    scores: Mapped[list[Score]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="Score.id"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("state in ('draft','submitted')", name="known_state"),
        sa.CheckConstraint(
            "state = 'draft' or (submitted_at is not null and total is not null "
            "and recommendation is not null)",
            name="submitted_is_complete",
        ),
        sa.CheckConstraint(
            "recommendation is null or recommendation in ('fund','fund_with_changes','do_not_fund')",
            name="known_recommendation",
        ),
    )


class Score(db.Model):
    """The score for one criterion; the criterion's range is copied so the database can check it."""

    __tablename__ = "scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        sa.ForeignKey("reviews.id", ondelete="CASCADE"), index=True
    )
    criterion_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rubric_criteria.id", ondelete="RESTRICT")
    )
    value: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))
    min_score: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))
    max_score: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))

    review: Mapped[Review] = relationship(back_populates="scores")
    criterion = relationship("RubricCriterion")

    __table_args__ = (
        sa.UniqueConstraint("review_id", "criterion_id", name="uq_scores_criterion"),
        sa.CheckConstraint("value >= min_score and value <= max_score", name="value_in_range"),
    )


DECISION_OUTCOMES = ("approve", "decline")


class Decision(db.Model):
    """The bureau's decision on an application: the amount approved or the reasons declined."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), unique=True
    )
    outcome: Mapped[str] = mapped_column(sa.String(10))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    requested: Mapped[Decimal] = mapped_column(Money)
    reasons: Mapped[str] = mapped_column(sa.Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application = relationship("Application")

    __table_args__ = (
        sa.CheckConstraint("outcome in ('approve','decline')", name="known_outcome"),
        sa.CheckConstraint(
            "outcome != 'approve' or (amount is not null and amount > 0 and amount <= requested)",
            name="amount_within_request",
        ),
        sa.CheckConstraint(
            "outcome != 'decline' or length(reasons) > 0", name="decline_has_reasons"
        ),
    )


@state_set("notice")
class NoticeState(StateSet):
    """The states of a public notice (公示)."""

    DRAFT = "draft", lazy_pgettext("notice state", "Draft"), "secondary"
    PUBLISHED = "published", lazy_pgettext("notice state", "Under public notice"), "success"
    CLOSED = "closed", lazy_pgettext("notice state", "Notice period over"), "dark"


class PublicNotice(db.Model):
    """The public notice (公示) of a call's approved applications, with its period."""

    __tablename__ = "public_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("calls.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call = relationship("Call")
    objections: Mapped[list[Objection]] = relationship(
        back_populates="notice", cascade="all, delete-orphan", order_by="Objection.id"
    )

    __table_args__ = (
        sa.CheckConstraint("ends_on >= starts_on", name="period_ordered"),
        sa.CheckConstraint("state in ('draft','published','closed')", name="known_state"),
        sa.CheckConstraint(
            "state = 'draft' or published_at is not null", name="published_has_date"
        ),
    )


@state_set("objection")
class ObjectionState(StateSet):
    """The states of an objection raised during a public notice."""

    OPEN = "open", lazy_pgettext("objection state", "Open"), "warning"
    UPHELD = "upheld", lazy_pgettext("objection state", "Upheld"), "danger"
    DISMISSED = "dismissed", lazy_pgettext("objection state", "Dismissed"), "secondary"


@state_set("comment_release")
class CommentReleaseState(StateSet):
    """Whether an expert's comment is approved for release to the applicant (derived, not stored)."""

    PENDING = "pending", lazy_pgettext("comment release state", "Awaiting approval"), "secondary"
    CHANGED = "changed", lazy_pgettext("comment release state", "Changed since approval"), "warning"
    APPROVED = "approved", lazy_pgettext("comment release state", "Approved for release"), "success"


class Objection(db.Model):
    """An objection raised during the public notice against one approved application."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("public_notices.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    raised_by: Mapped[str] = mapped_column(sa.String(200))
    contact: Mapped[str] = mapped_column(sa.String(200), default="")
    text: Mapped[str] = mapped_column(sa.Text)
    received_on: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    resolution: Mapped[str] = mapped_column(sa.Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    notice: Mapped[PublicNotice] = relationship(back_populates="objections")
    application = relationship("Application")

    __table_args__ = (
        sa.CheckConstraint("state in ('open','upheld','dismissed')", name="known_state"),
        sa.CheckConstraint(
            "state = 'open' or (resolved_at is not null and length(resolution) > 0)",
            name="resolved_has_reasons",
        ),
    )
