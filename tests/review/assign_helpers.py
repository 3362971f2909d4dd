"""Helpers for the assignment, invitation and reminder tests."""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.models import Notification
from grants.review.models import Assignment
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    ClusterFactory,
    ExpertFactory,
    OrganisationFactory,
    fill_application,
    make_user,
)

_serial = itertools.count(1)


def application_under_review(call=None, organisation=None, **kwargs):
    """A filled application of ``call`` in expert review, with a reference number."""
    kwargs.setdefault("reference_no", f"A-{next(_serial):05d}")
    kwargs.setdefault("submitted_at", utcnow())
    application = ApplicationFactory(
        call=call or CallFactory(),
        organisation=organisation or OrganisationFactory(),
        state="under_review",
        **kwargs,
    )
    return fill_application(application)


def pool_expert(clusters=(), keywords: str = "", **kwargs):
    """An active expert with an English-speaking account, the given clusters and keywords."""
    if "user" not in kwargs:
        kwargs["user"] = make_user("expert", locale="en")
    expert = ExpertFactory(keywords=keywords, **kwargs)
    expert.clusters.extend(clusters)
    db.session.flush()
    return expert


def bureau_officer():
    """A bureau officer who reads English (the assertions below are on the English source)."""
    return make_user("bureau", locale="en")


def call_with_applications(count: int, k: int = 2, **call_kwargs):
    """A call needing ``k`` reviewers with ``count`` applications under review in one cluster."""
    cluster = ClusterFactory()
    call = CallFactory(reviewers_per_application=k, **call_kwargs)
    applications = [
        application_under_review(call, OrganisationFactory(cluster=cluster), cluster=cluster)
        for _ in range(count)
    ]
    return call, cluster, applications


def assignments_of(application) -> list[Assignment]:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Assignment)
        .where(Assignment.application_id == application.id)
        .order_by(Assignment.id)
    ).all()


def open_assignments(application) -> list[Assignment]:
    return [a for a in assignments_of(application) if a.state in ("invited", "accepted")]


def notifications_of(user, kind: str | None = None) -> list[Notification]:
    stmt = sa.select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return db.session.scalars(stmt).all()


def audit_events(action: str) -> list[AuditEvent]:
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()
