"""Builders shared by the spending and recovery tests."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.extensions import db
from grants.funding.models import Expenditure
from tests.factories import make_project, make_user

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND"
    b"\xaeB`\x82"
)


def evidence(name: str = "发票.pdf", content: bytes = PDF_BYTES) -> FileStorage:
    """An uploaded file as the operations receive it."""
    return FileStorage(stream=io.BytesIO(content), filename=name)


def running_project(**kwargs):
    """A project in progress (award 200,000 yuan: equipment budget 80,000) and an applicant of its organisation."""
    project = make_project(state="in_progress", **kwargs)
    owner = make_user("applicant", organisation=project.organisation)
    return project, owner


def form_data(project, files=None, **overrides) -> dict:
    """The fields of the report form (amount in yuan) with one PDF, unless ``files`` says otherwise."""
    start = project.start_date
    data = {
        "category": "equipment",
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(days=89)).isoformat(),
        "amount": "12,500.50",
        "note": "采购检测设备一台",
    }
    data.update(overrides)
    data["evidence"] = [(io.BytesIO(PDF_BYTES), "设备发票.pdf")] if files is None else files
    return data


def post_report(client, project, files=None, **overrides):
    return client.post(
        f"/projects/{project.id}/spending",
        data=form_data(project, files, **overrides),
        content_type="multipart/form-data",
    )


def add_expenditure(
    project, amount: str, *, state: str = "verified", category: str = "equipment", by=None
) -> Expenditure:
    """A spending report created directly in ``state`` (new rows may start in any state)."""
    checked = utcnow() if state != "submitted" else None
    expenditure = Expenditure(
        project_id=project.id,
        category=category,
        period_start=project.start_date,
        period_end=project.start_date + timedelta(days=30),
        amount=Decimal(amount),
        note="",
        state=state,
        submitted_by_id=getattr(by, "id", None),
        submitted_at=utcnow(),
        verified_at=checked,
        finance_note="请补充发票" if state == "returned" else "",
    )
    db.session.add(expenditure)
    db.session.flush()
    return expenditure


def expenditures_of(project) -> list[Expenditure]:
    return db.session.scalars(
        sa.select(Expenditure).where(Expenditure.project_id == project.id).order_by(Expenditure.id)
    ).all()


def audit_actions(obj) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(
                AuditEvent.object_type == type(obj).__name__, AuditEvent.object_id == str(obj.id)
            )
            .order_by(AuditEvent.id)
        )
    )


def ended_project(state: str = "terminated", disbursed: str = "60000.00", **kwargs):
    """A terminated (or failed, or closed) project that was paid ``disbursed`` yuan."""
    extra = (
        {"terminated_at": utcnow(), "termination_reason": "企业经营困难，无法继续实施"}
        if state == "terminated"
        else {}
    )
    extra.update(kwargs)
    return make_project(
        state=state,
        committed_total=Decimal(disbursed),
        disbursed_total=Decimal(disbursed),
        start_date=date(2026, 1, 1),
        **extra,
    )
