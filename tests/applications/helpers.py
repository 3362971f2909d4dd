"""Helpers for the applicant-side tests: a signed-in applicant with a draft, form data, files."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import force_locale
from markupsafe import escape

from grants.applications.models import Application
from grants.core.models import AuditEvent
from grants.extensions import db
from tests.factories import ApplicationFactory, CallFactory, fill_application, make_user

HTMX = {"HX-Request": "true"}

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)
JPEG_BYTES = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\x00" * 64
    + b"\xff\xd9"
)
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def office_zip(kind: str) -> bytes:
    """A minimal DOCX (``word``) or XLSX (``xl``) package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("_rels/.rels", "<Relationships/>")
        if kind == "docx":
            archive.writestr("word/document.xml", "<w:document/>")
        else:
            archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def as_rendered(message) -> str:
    """A message as a page in the default language shows it, HTML-escaped."""
    with force_locale("zh_Hans_CN"):
        return str(escape(str(message)))


def applicant_with_draft(filled: bool = True, **call_kwargs):
    """An applicant and a draft of their organisation (filled validly, attachments aside)."""
    call = CallFactory(**call_kwargs)
    user = make_user("applicant")
    application = ApplicationFactory(
        call=call, organisation=user.organisation, cluster=user.organisation.cluster
    )
    call.clusters.append(user.organisation.cluster)
    if filled:
        fill_application(application)
    db.session.flush()
    return user, application


def reload(application: Application) -> Application:
    db.session.expire_all()
    return db.session.get(Application, application.id)


def audit_actions(application: Application, prefix: str = "application.") -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action)
            .where(
                AuditEvent.object_type == "Application",
                AuditEvent.object_id == str(application.id),
                AuditEvent.action.startswith(prefix),
            )
            .order_by(AuditEvent.id)
        )
    )


def budget_data(**rows) -> dict:
    """Posted budget data: ``equipment=("10", "5")`` gives fiscal and self-raised in 万元."""
    from grants.applications.checks import BUDGET_ROWS

    data = {}
    for r in BUDGET_ROWS:
        fiscal, self_raised = rows.get(r.key, ("", ""))
        data[f"budget-{r.key}-fiscal"] = fiscal
        data[f"budget-{r.key}-self_raised"] = self_raised
        data[f"budget-{r.key}-note"] = ""
    return data


def set_budget(application: Application, **rows) -> None:
    """Replace the budget lines: ``equipment=(fiscal yuan, self-raised yuan)`` as strings."""
    from grants.applications.checks import BUDGET_ROWS, BudgetSummary
    from grants.applications.models import BudgetLine

    keys = {r.key: r for r in BUDGET_ROWS}
    application.budget_lines.clear()
    db.session.flush()
    for key, (fiscal, self_raised) in rows.items():
        r = keys[key]
        application.budget_lines.append(
            BudgetLine(
                category=r.category,
                sub_item=r.sub_item,
                fiscal=Decimal(fiscal),
                self_raised=Decimal(self_raised),
            )
        )
    summary = BudgetSummary.from_lines(application.budget_lines)
    application.fiscal_total = summary.fiscal_total
    application.self_raised_total = summary.self_raised_total
    db.session.flush()


def with_licence(application: Application) -> Application:
    """Give the application its required "licence" attachment (a row only; no file on disk)."""
    from grants.applications.models import Attachment

    application.attachments.append(
        Attachment(
            requirement_code="licence",
            original_name="营业执照.pdf",
            stored_name=f"aa/bb/{application.id:032x}.pdf",
            content_type="application/pdf",
            size=10,
            sha256="0" * 64,
        )
    )
    db.session.flush()
    return application


def ready_to_submit(**call_kwargs):
    """An applicant and a complete draft, required attachment included."""
    user, application = applicant_with_draft(**call_kwargs)
    return user, with_licence(application)
