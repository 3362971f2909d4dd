"""Helpers for the contracting, task book and tranche plan tests.

An application ready to contract is built the way the review leaves it: approved with a
released decision, on a public notice that is closed, without open objections.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import uuid
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.extensions import db
from grants.funding import contracting as ops
from grants.funding.models import Disbursement
from grants.review.models import Decision, PublicNotice
from tests.factories import ApplicationFactory, CallFactory, fill_application, make_user

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)
_serial = itertools.count(1)


def ready_application(
    call=None, amount: str | None = None, *, released: bool = True, noticed: bool = True, **kwargs
):
    """An approved application (the whole fiscal request unless ``amount``) ready to contract."""
    call = call or CallFactory()
    application = ApplicationFactory(
        call=call,
        state="approved",
        submitted_at=utcnow() - timedelta(days=60),
        reference_no=f"K-{next(_serial):05d}",
        **kwargs,
    )
    fill_application(application)
    decided = utcnow() - timedelta(days=20)
    db.session.add(
        Decision(
            application_id=application.id,
            outcome="approve",
            amount=Decimal(amount) if amount else application.fiscal_total,
            requested=application.fiscal_total,
            decided_at=decided,
            released_at=decided + timedelta(days=1) if released else None,
        )
    )
    if noticed:
        db.session.add(
            PublicNotice(
                call_id=call.id,
                title="立项公示",
                body="",
                starts_on=local_today() - timedelta(days=18),
                ends_on=local_today() - timedelta(days=11),
                state="closed",
                published_at=decided + timedelta(days=2),
            )
        )
    db.session.flush()
    return application


def bureau(**kwargs):
    return make_user("bureau", **kwargs)


def owner_of(project_or_application, **kwargs):
    """An applicant of the project's (or application's) organisation."""
    return make_user("applicant", organisation=project_or_application.organisation, **kwargs)


def contracted(application=None, actor=None, **kwargs):
    """A project created from a ready application with the default budget and plan."""
    application = application or ready_application()
    return ops.create_project(application, actor or bureau(), **kwargs)


def upload(data: bytes = PDF_BYTES, name: str = "任务书（签章）.pdf"):
    """A werkzeug upload of ``data``."""
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(data), filename=name)


def disbursement(tranche, state: str, requester=None):
    """A disbursement row of ``tranche`` in ``state``, as the finance pages leave it."""
    requester = requester or make_user("bureau")
    values = {
        "project_id": tranche.project_id,
        "tranche_id": tranche.id,
        "amount": tranche.amount,
        "state": state,
        "idempotency_key": uuid.uuid4().hex,
        "requested_by_id": requester.id,
    }
    if state in ("approved", "paid"):
        checker = make_user("finance")
        values.update(
            approved_by_id=checker.id,
            approved_at=utcnow(),
            payee_account="0706001209024567890",
            voucher_no="FK-2026-0001",
            voucher_date=date(2026, 4, 1),
        )
    if state == "paid":
        values.update(paid_at=utcnow())
    if state == "rejected":
        values.update(rejection_reason="账户信息有误。")
    row = Disbursement(**values)
    db.session.add(row)
    db.session.flush()
    return row


def plan_form(rows, prefix: str = "tranches") -> dict:
    """Form data for plan rows given as (amount in 万元, trigger, milestone value, tranche id)."""
    data = {}
    for index, row in enumerate(rows):
        amount, trigger, milestone, *rest = row
        data[f"{prefix}-{index}-amount"] = amount
        data[f"{prefix}-{index}-trigger"] = trigger
        data[f"{prefix}-{index}-milestone"] = milestone or ""
        data[f"{prefix}-{index}-id"] = str(rest[0]) if rest and rest[0] else ""
    return data


def contract_form(
    application, budget=None, tranches=None, start="2026-01-01", end="2027-12-31"
) -> dict:
    """Form data of the contract form: the default budget and plan unless given (万元 texts)."""
    from grants.funding.forms.contracts import wan_text

    award = ops.decision_amount(application)
    data = {"start_date": start, "end_date": end}
    budget = budget or {
        r.category: (wan_text(r.fiscal), wan_text(r.self_raised))
        for r in ops.default_budget(application, award)
    }
    for category, (fiscal, self_raised) in budget.items():
        data[f"{category}-fiscal"] = fiscal
        data[f"{category}-self_raised"] = self_raised
    if tranches is None:
        tranches = [
            (wan_text(r.amount), r.trigger, str(r.milestone or ""))
            for r in ops.default_plan(application, award)
        ]
    data.update(plan_form(tranches))
    return data


def audit_actions(obj) -> list[str]:
    return db.session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == str(obj.id))
        .order_by(AuditEvent.id)
    ).all()


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)
