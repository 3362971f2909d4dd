"""Portfolio reports: every generated version is archived with its checksum."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.states import StateSet, label_of, state_set
from grants.core.storage import holds_stored_keys
from grants.core.types import UTCDateTime, utcnow
from grants.extensions import db


@state_set("portfolio_report")
class PortfolioReportState(StateSet):
    """The states of a generated portfolio report."""

    QUEUED = "queued", lazy_pgettext("portfolio report state", "Queued"), "secondary"
    RUNNING = "running", lazy_pgettext("portfolio report state", "Generating"), "info"
    DONE = "done", lazy_pgettext("portfolio report state", "Ready"), "success"
    FAILED = "failed", lazy_pgettext("portfolio report state", "Failed"), "danger"


class PortfolioReport(db.Model):
    """One version of the portfolio report for a year or a span of years, in one language.

    Files are written under a temporary name and moved into place before the row is
    marked done, so a partial file is never served. One queued or running row per
    (period, language) at a time: a second request joins it.
    """

    __tablename__ = "portfolio_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_year: Mapped[int] = mapped_column(sa.Integer)
    last_year: Mapped[int] = mapped_column(sa.Integer)
    locale: Mapped[str] = mapped_column(sa.String(10), default="zh_Hans_CN")
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    state: Mapped[str] = mapped_column(sa.String(16), default="queued", index=True)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    pdf_name: Mapped[str | None] = mapped_column(sa.String(255))
    pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    pdf_size: Mapped[int | None] = mapped_column(sa.Integer)
    xlsx_name: Mapped[str | None] = mapped_column(sa.String(255))
    xlsx_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    pages: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    job = relationship("Job")
    requested_by = relationship("User")

    __table_args__ = (
        sa.UniqueConstraint(
            "first_year", "last_year", "locale", "version", name="uq_portfolio_reports_version"
        ),
        sa.CheckConstraint("state in ('queued','running','done','failed')", name="known_state"),
        sa.CheckConstraint("last_year >= first_year", name="years_ordered"),
        sa.CheckConstraint(
            "state != 'done' or (pdf_name is not null and pdf_sha256 is not null)",
            name="done_has_file",
        ),
        sa.Index(
            "uq_portfolio_reports_active",
            "first_year",
            "last_year",
            "locale",
            unique=True,
            sqlite_where=sa.text("state in ('queued','running')"),
            postgresql_where=sa.text("state in ('queued','running')"),
        ),
    )

    @property
    def state_label(self) -> str:
        return label_of(PortfolioReportState, self.state)


REPORT_KEY_PREFIX = "reports/"
holds_stored_keys(PortfolioReport.__table__.c.pdf_name, REPORT_KEY_PREFIX)
holds_stored_keys(PortfolioReport.__table__.c.xlsx_name, REPORT_KEY_PREFIX)
