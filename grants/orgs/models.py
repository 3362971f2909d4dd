"""Organisations that apply for funding and the reference data that describes them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import get_locale, lazy_pgettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.states import StateSet, state_set
from grants.core.types import Money, UTCDateTime, utcnow
from grants.extensions import db

ORG_TYPES = {
    "enterprise": _l("Enterprise"),
    "university": _l("University"),
    "institute": _l("Research institute"),
    "hospital": _l("Hospital"),
    "other": _l("Other"),
}

QUALIFICATIONS = {
    "national_high_tech": _l("National high-tech enterprise"),
    "tech_sme": _l("Technology-based SME"),
    "provincial_little_giant": _l("Provincial S&T little giant"),
    "provincial_innovative": _l("Provincial innovative S&T enterprise"),
    "provincial_tech_centre": _l("Provincial enterprise technology centre"),
    "provincial_key_lab": _l("Provincial key laboratory"),
    "municipal_tech_centre": _l("Municipal enterprise technology centre"),
}


class IndustryCluster(db.Model):
    """An industry cluster of the plan (产业集群); admin-editable reference data."""

    __tablename__ = "industry_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    def display_name(self, locale: str | None = None) -> str:
        loc = locale
        if not loc:
            loc = str(get_locale() or "zh")
        return self.name_zh if loc.startswith("zh") else (self.name_en or self.name_zh)

    def __str__(self) -> str:
        return self.display_name()


class Organisation(db.Model):
    """An enterprise, university or institute identified by its USCC."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    uscc: Mapped[str] = mapped_column(sa.String(18), unique=True)
    org_type: Mapped[str] = mapped_column(sa.String(20), default="enterprise")
    cluster_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("industry_clusters.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    legal_representative: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_name: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    founded_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cluster: Mapped[IndustryCluster | None] = relationship()
    members = relationship("User", back_populates="organisation", order_by="User.name")
    qualifications: Mapped[list[Qualification]] = relationship(
        back_populates="organisation",
        cascade="all, delete-orphan",
        order_by="Qualification.granted_on",
    )
    figures: Mapped[list[YearFigure]] = relationship(
        back_populates="organisation",
        cascade="all, delete-orphan",
        order_by="YearFigure.year.desc()",
    )

    __table_args__ = (
        sa.CheckConstraint(
            "org_type in ('enterprise','university','institute','hospital','other')",
            name="known_type",
        ),
        sa.CheckConstraint("length(uscc) = 18", name="uscc_length"),
    )

    def __str__(self) -> str:
        return self.name

    def holds(self, kind: str, on: date | None = None) -> bool:
        """Whether the organisation holds qualification ``kind`` on date ``on``."""
        on = on or date.today()
        return any(q.kind == kind and q.valid_on(on) for q in self.qualifications)


class Qualification(db.Model):
    """A dated qualification of an organisation (国家高新技术企业 …)."""

    __tablename__ = "qualifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40))
    certificate_no: Mapped[str] = mapped_column(sa.String(80), default="")
    granted_on: Mapped[date] = mapped_column(sa.Date)
    expires_on: Mapped[date | None] = mapped_column(sa.Date)

    organisation: Mapped[Organisation] = relationship(back_populates="qualifications")

    __table_args__ = (
        sa.CheckConstraint("expires_on is null or expires_on >= granted_on", name="dates_in_order"),
    )

    @property
    def label(self) -> str:
        return str(QUALIFICATIONS.get(self.kind, self.kind))

    def valid_on(self, on: date) -> bool:
        return self.granted_on <= on and (self.expires_on is None or on <= self.expires_on)


class YearFigure(db.Model):
    """An organisation's revenue, R&D spending and staff for one year (money in yuan)."""

    __tablename__ = "year_figures"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int] = mapped_column(sa.Integer)
    revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    rd_spending: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    staff: Mapped[int] = mapped_column(sa.Integer, default=0)
    rd_staff: Mapped[int] = mapped_column(sa.Integer, default=0)

    organisation: Mapped[Organisation] = relationship(back_populates="figures")

    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "year", name="uq_year_figures_org_year"),
        sa.CheckConstraint("revenue >= 0 and rd_spending >= 0", name="money_not_negative"),
        sa.CheckConstraint(
            "staff >= 0 and rd_staff >= 0 and rd_staff <= staff", name="staff_counts"
        ),
        sa.CheckConstraint("year >= 1990 and year <= 2100", name="year_range"),
    )


@state_set("invitation")
class InvitationState(StateSet):
    """The states of an invitation to join an organisation."""

    PENDING = "pending", lazy_pgettext("invitation state", "Pending"), "warning"
    ACCEPTED = "accepted", lazy_pgettext("invitation state", "Accepted"), "success"
    REVOKED = "revoked", lazy_pgettext("invitation state", "Revoked"), "secondary"
    EXPIRED = "expired", lazy_pgettext("invitation state", "Expired"), "light"


class Invitation(db.Model):
    """An invitation for a person to join an organisation's applicant accounts."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(255))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    invited_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    accepted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()
    invited_by = relationship("User", foreign_keys=[invited_by_id])
    accepted_by = relationship("User", foreign_keys=[accepted_by_id])

    __table_args__ = (
        sa.CheckConstraint(
            "state in ('pending','accepted','revoked','expired')", name="known_state"
        ),
        sa.CheckConstraint("state = 'pending' or decided_at is not null", name="decided_has_date"),
    )


class PendingRegistration(db.Model):
    """A self-registration waiting for its e-mail link: nothing is created until it is confirmed.

    ``data`` holds what the form gave (organisation profile, the person's name, phone and
    language) and the argon2id hash of the chosen password, never the password itself.
    """

    __tablename__ = "pending_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(255), index=True)
    data: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
