"""The finance ledger: every disbursement, filtered and sorted, with grouped totals and
an xlsx export. One SELECT loads a page with its project, organisation, call, cluster,
tranche and people; each table of totals is one grouped SQL sum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased, contains_eager

from grants.accounts.models import User
from grants.core.money import money_or_zero
from grants.core.timeutil import local_today, utc_to_local
from grants.core.types import Money
from grants.core.xlsx import DATE_FORMAT, DATETIME_FORMAT, Column, write_table
from grants.extensions import db
from grants.funding.models import (
    ENDED_DISBURSEMENT_STATES,
    Disbursement,
    DisbursementState,
    Tranche,
)
from grants.orgs.models import IndustryCluster, Organisation
from grants.programmes.models import Call
from grants.projects.models import Project

YUAN_FORMAT = "#,##0.00"

SORTS = {
    "requested": (Disbursement.requested_at.asc(),),
    "-requested": (Disbursement.requested_at.desc(),),
    "amount": (Disbursement.amount.asc(),),
    "-amount": (Disbursement.amount.desc(),),
    "project": (Project.code.asc(), Tranche.position.asc()),
    "-project": (Project.code.desc(), Tranche.position.desc()),
    "organisation": (Organisation.name.asc(),),
    "-organisation": (Organisation.name.desc(),),
    "state": (Disbursement.state.asc(),),
    "-state": (Disbursement.state.desc(),),
    "paid": (Disbursement.paid_at.asc(),),
    "-paid": (Disbursement.paid_at.desc(),),
}
DEFAULT_SORT = "-requested"


def _int_arg(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@dataclass
class LedgerFilters:
    """The ledger's filters and sort order, read from the query string (bad values ignored)."""

    call_id: int | None = None
    cluster_id: int | None = None
    year: int | None = None
    state: str = ""
    organisation: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_args(cls, args) -> LedgerFilters:
        return cls(
            call_id=_int_arg(args.get("call")),
            cluster_id=_int_arg(args.get("cluster")),
            year=_int_arg(args.get("year")),
            state=args.get("state") if DisbursementState.known(args.get("state")) else "",
            organisation=(args.get("org") or "").strip()[:100],
            sort=args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT,
        )

    def as_args(self, **changes) -> dict[str, str]:
        """The filters as query arguments (empty ones left out), with ``changes`` applied."""
        args = {
            "call": self.call_id,
            "cluster": self.cluster_id,
            "year": self.year,
            "state": self.state,
            "org": self.organisation,
            "sort": self.sort if self.sort != DEFAULT_SORT else None,
        }
        args.update(changes)
        return {k: str(v) for k, v in args.items() if v not in (None, "")}

    def _joined(self, stmt: sa.Select) -> sa.Select:
        """``stmt`` over disbursements joined to project, organisation, call, cluster and tranche, filtered."""
        stmt = (
            stmt.select_from(Disbursement)
            .join(Project, Disbursement.project_id == Project.id)
            .join(Organisation, Project.organisation_id == Organisation.id)
            .join(Call, Project.call_id == Call.id)
            .outerjoin(IndustryCluster, Project.cluster_id == IndustryCluster.id)
            .join(Tranche, Disbursement.tranche_id == Tranche.id)
        )
        if self.call_id:
            stmt = stmt.where(Project.call_id == self.call_id)
        if self.cluster_id:
            stmt = stmt.where(Project.cluster_id == self.cluster_id)
        if self.year:
            stmt = stmt.where(Project.year == self.year)
        if self.state:
            stmt = stmt.where(Disbursement.state == self.state)
        if self.organisation:
            stmt = stmt.where(
                sa.or_(
                    Organisation.name.icontains(self.organisation, autoescape=True),
                    Organisation.uscc.icontains(self.organisation, autoescape=True),
                    Project.code.icontains(self.organisation, autoescape=True),
                )
            )
        return stmt

    def statement(self) -> sa.Select:
        """One SELECT of the matching disbursements with everything a ledger row shows."""
        requester, approver = aliased(User, name="requester"), aliased(User, name="approver")
        stmt = self._joined(sa.select(Disbursement))
        stmt = (
            stmt.join(requester, Disbursement.requested_by_id == requester.id)
            .outerjoin(approver, Disbursement.approved_by_id == approver.id)
            .options(
                contains_eager(Disbursement.project).contains_eager(Project.organisation),
                contains_eager(Disbursement.project).contains_eager(Project.call),
                contains_eager(Disbursement.project).contains_eager(Project.cluster),
                contains_eager(Disbursement.tranche),
                # the people's roles (selectin by default) are not shown: not loaded
                contains_eager(Disbursement.requested_by.of_type(requester)).lazyload(
                    requester.roles
                ),
                contains_eager(Disbursement.approved_by.of_type(approver)).lazyload(approver.roles),
            )
        )
        return stmt.order_by(*SORTS[self.sort], Disbursement.id.desc())

    # --- totals ------------------------------------------------------------------------------

    def _sums(self):
        """Count and sums of the live disbursements: committed (requested or approved) and paid."""
        live = Disbursement.state.not_in(ENDED_DISBURSEMENT_STATES)
        pending = Disbursement.state.in_(("requested", "approved"))
        return (
            sa.func.count(sa.case((live, Disbursement.id))).label("count"),
            sa.type_coerce(
                sa.func.sum(sa.case((pending, Disbursement.amount), else_=0)), Money
            ).label("pending"),
            sa.type_coerce(
                sa.func.sum(sa.case((Disbursement.state == "paid", Disbursement.amount), else_=0)),
                Money,
            ).label("paid"),
        )

    def totals(self) -> dict[str, list[dict]]:
        """Totals by call, cluster, year and state, in ONE statement (a UNION ALL of four groupings).

        Calls and clusters come back as objects from the session's identity map (the page
        has loaded them for its filters), so they cost no further statement.
        """
        nothing_int, nothing_text = sa.null().cast(sa.Integer), sa.null().cast(sa.String)
        nothing_money = sa.null().cast(Money)
        count, pending, paid = self._sums()

        def grouped(
            dimension: str,
            key,
            state=nothing_text,
            counted=count,
            pend=pending,
            pay=paid,
            amount=nothing_money,
        ) -> sa.Select:
            stmt = self._joined(
                sa.select(
                    sa.literal(dimension).label("dimension"),
                    key.label("key"),
                    state.label("state"),
                    counted.label("count"),
                    pend.label("pending"),
                    pay.label("paid"),
                    amount.label("amount"),
                )
            )
            return stmt.group_by(state if dimension == "state" else key)

        union = sa.union_all(
            grouped("call", Call.id),
            grouped("cluster", IndustryCluster.id),
            grouped("year", Project.year),
            grouped(
                "state",
                nothing_int,
                state=Disbursement.state,
                counted=sa.func.count(Disbursement.id),
                pend=nothing_money,
                pay=nothing_money,
                amount=sa.type_coerce(sa.func.sum(Disbursement.amount), Money),
            ),
        )
        found: dict[str, list] = {"call": [], "cluster": [], "year": [], "state": []}
        for dimension, key, state, counted, pend, pay, amount in db.session.execute(union):
            found[dimension].append((key, state, counted, pend, pay, amount))
        calls = [(db.session.get(Call, key), row) for key, *row in found["call"]]
        clusters = [
            (db.session.get(IndustryCluster, key) if key is not None else None, row)
            for key, *row in found["cluster"]
        ]
        by_state = {
            state: (counted, money_or_zero(amount))
            for _key, state, counted, _p, _q, amount in found["state"]
        }
        return {
            "call": [
                _row(call, row[1:4])
                for call, row in sorted(calls, key=lambda c: (-c[0].year, c[0].id))
            ],
            "cluster": [
                _row(cluster, row[1:4])
                for cluster, row in sorted(
                    clusters,
                    key=lambda c: (
                        c[0] is None,
                        c[0].sort_order if c[0] else 0,
                        c[0].id if c[0] else 0,
                    ),
                )
            ],
            "year": [
                _row(key, row[1:4]) for key, *row in sorted(found["year"], key=lambda r: r[0])
            ],
            "state": [
                {
                    "key": str(state),
                    "label": state.label,
                    "count": by_state[state][0],
                    "amount": by_state[state][1],
                }
                for state in DisbursementState
                if state in by_state
            ],
        }

    def totals_by_call(self) -> list[dict]:
        return self.totals()["call"]

    def totals_by_cluster(self) -> list[dict]:
        return self.totals()["cluster"]

    def totals_by_year(self) -> list[dict]:
        return self.totals()["year"]

    def totals_by_state(self) -> list[dict]:
        """Count and sum of every state (rejected ones included), in the order of the workflow."""
        return self.totals()["state"]


def _row(key, row) -> dict:
    count, pending, paid = row
    return {
        "key": key,
        "count": count,
        "pending": money_or_zero(pending),
        "paid": money_or_zero(paid),
    }


def grand_total(rows: list[dict], name: str) -> Decimal:
    return sum((r[name] for r in rows), Decimal("0.00"))


def filter_years() -> list[int]:
    """The project years that have disbursements, newest first."""
    return list(
        db.session.scalars(
            sa.select(Project.year)
            .join(Disbursement, Disbursement.project_id == Project.id)
            .distinct()
            .order_by(Project.year.desc())
        )
    )


# --- the xlsx export -------------------------------------------------------------------------


def _local(value):
    return utc_to_local(value).replace(tzinfo=None, microsecond=0) if value else None


COLUMNS = [
    Column(_l("Project code"), 18, lambda d: d.project.code),
    Column(_l("Project"), 40, lambda d: d.project.title, wrap=True),
    Column(_l("Organisation"), 32, lambda d: d.project.organisation.name, wrap=True),
    Column(_l("Call"), 30, lambda d: d.project.call.title, wrap=True),
    Column(
        _l("Industry cluster"),
        16,
        lambda d: d.project.cluster.display_name() if d.project.cluster else "",
    ),
    Column(_l("Project year"), 10, lambda d: d.project.year),
    Column(_l("Tranche"), 8, lambda d: d.tranche.position),
    Column(_l("Condition"), 22, lambda d: d.tranche.trigger_label),
    Column(_l("Amount (yuan)"), 16, lambda d: d.amount, YUAN_FORMAT),
    Column(_l("State"), 14, lambda d: d.state_label),
    Column(_l("Requested (Beijing time)"), 18, lambda d: _local(d.requested_at), DATETIME_FORMAT),
    Column(_l("Requested by"), 14, lambda d: d.requested_by.name),
    Column(_l("Approved by"), 14, lambda d: d.approved_by.name if d.approved_by else ""),
    Column(_l("Payee"), 30, lambda d: d.payee_name, wrap=True),
    Column(_l("Voucher number"), 16, lambda d: d.voucher_no),
    Column(_l("Voucher date"), 12, lambda d: d.voucher_date, DATE_FORMAT),
    Column(_l("Paid (Beijing time)"), 18, lambda d: _local(d.paid_at), DATETIME_FORMAT),
]


def ledger_xlsx(disbursements: Iterable[Disbursement]) -> bytes:
    """The disbursements, one row each, amounts in yuan as exact numbers."""
    return write_table(COLUMNS, disbursements, sheet_title=str(_l("Disbursements")))


def export_filename() -> tuple[str, str]:
    """The (ASCII, localised) download names of today's export."""
    today = local_today().isoformat()
    return f"disbursements-{today}.xlsx", f"{_l('Disbursements')}-{today}.xlsx"
