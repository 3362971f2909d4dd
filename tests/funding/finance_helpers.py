"""Helpers for the disbursement and ledger tests: running projects with a chosen tranche plan,
the people of maker-checker, and requests made the way the views make them."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.funding.disbursements import request_disbursement
from grants.funding.models import Tranche
from tests.factories import make_project, make_user

APPROVAL = {
    "payee_name": "通化金马药业集团股份有限公司",
    "payee_bank": "中国工商银行通化分行",
    "payee_account": "0706 0012 0902 4567 890",
    "voucher_no": "FK-2026-0001",
    "voucher_date": date(2026, 4, 1),
}


def key() -> str:
    return uuid.uuid4().hex


def project_with_plan(amounts: list[str], *, award: str | None = None, due: bool = True, **kwargs):
    """A running project whose tranche plan is ``amounts`` (all on contract, due when ``due``)."""
    total = sum((Decimal(a) for a in amounts), Decimal("0"))
    project = make_project(award=award or str(total), tranches=False, **kwargs)
    for position, amount in enumerate(amounts, start=1):
        project.tranches.append(
            Tranche(
                position=position,
                amount=Decimal(amount),
                trigger="contract",
                due_since=utcnow() if due else None,
            )
        )
    db.session.flush()
    return project


def due_tranche(project):
    """The project's first due tranche (the contract tranche of ``make_project``)."""
    return next(t for t in project.tranches if t.due_since is not None)


def people():
    """A bureau officer (the maker) and a finance officer (the checker)."""
    return make_user("bureau"), make_user("finance")


def requested(tranche, bureau=None):
    """A requested disbursement of ``tranche``."""
    return request_disbursement(tranche, bureau or make_user("bureau"), key())


def approved(tranche, bureau=None, finance=None):
    disbursement = requested(tranche, bureau)
    transition(disbursement, "approve", finance or make_user("finance"), **APPROVAL)
    return disbursement


def paid(tranche, bureau=None, finance=None):
    finance = finance or make_user("finance")
    disbursement = approved(tranche, bureau, finance)
    transition(disbursement, "pay", finance)
    return disbursement


def approve_form(disbursement, **changes) -> dict:
    """The finance queue's approval form data for ``disbursement``."""
    data = {
        "payee_name": APPROVAL["payee_name"],
        "payee_bank": APPROVAL["payee_bank"],
        "payee_account": APPROVAL["payee_account"],
        "voucher_no": APPROVAL["voucher_no"],
        "voucher_date": APPROVAL["voucher_date"].isoformat(),
    }
    data.update(changes)
    return {f"approve-{disbursement.id}-{k}": v for k, v in data.items()}
