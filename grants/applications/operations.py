"""Verbs on applications. Each flushes and leaves the commit to the request or job."""

from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from grants.accounts.models import User, UserRole
from grants.applications.models import Application
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.operations import notify
from grants.programmes.models import Call


def next_reference_no(call: Call) -> str:
    """The call's next reference number (``<call code>-<nnn>``), taken atomically."""
    number = db.session.execute(
        sa.update(Call).where(Call.id == call.id)
        .values(last_reference_no=Call.last_reference_no + 1)
        .returning(Call.last_reference_no)
    ).scalar_one()
    return f"{call.code}-{number:03d}"


def stamp_submission(application: Application) -> None:
    """Give a first submission its reference number; every submission its time."""
    if application.reference_no is None:
        application.reference_no = next_reference_no(application.call)
    application.submitted_at = utcnow()


def applicant_users(application: Application) -> list[User]:
    """The active applicant accounts of the application's organisation."""
    return db.session.scalars(
        sa.select(User).where(User.organisation_id == application.organisation_id, User.active.is_(True),
                              User.roles.any(UserRole.role == "applicant"))
    ).all()


def notify_applicants(application: Application, kind: str, subject, body: str = "") -> None:
    """Tell the organisation's applicants about a change to their application."""
    notify(applicant_users(application), kind, subject, body,
           link=url_for("applications.detail", application_id=application.id),
           params={"ref": application.reference_no or application.title})
