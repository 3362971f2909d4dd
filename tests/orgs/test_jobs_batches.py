"""The invitation expiry job commits in batches of 50, so SQLite's write lock is let go between them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from grants.core.jobs import JobContext
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs.jobs import expire_invitations
from grants.orgs.models import Invitation
from tests.factories import InvitationFactory, OrganisationFactory


@pytest.fixture
def commits():
    """The commits of the session while the test runs (savepoints of the test's connection)."""
    seen = []

    def count(session):
        seen.append(session)

    sa.event.listen(Session, "after_commit", count)
    try:
        yield seen
    finally:
        sa.event.remove(Session, "after_commit", count)


def test_expire_invitations_commits_every_fifty(app, commits):
    organisation = OrganisationFactory()
    past = utcnow() - timedelta(days=1)
    InvitationFactory.create_batch(120, organisation=organisation, expires_at=past)
    InvitationFactory(organisation=organisation)  # not yet expired
    db.session.commit()
    commits.clear()

    result = expire_invitations(JobContext(0))

    assert result == {"expired": 120}
    assert len(commits) == 3  # 50, 50, 20
    states = db.session.scalars(sa.select(Invitation.state).order_by(Invitation.id)).all()
    assert states == ["expired"] * 120 + ["pending"]


def test_expire_invitations_with_an_exact_batch_stops_after_an_empty_one(app, commits):
    organisation = OrganisationFactory()
    past = utcnow() - timedelta(days=1)
    InvitationFactory.create_batch(50, organisation=organisation, expires_at=past)
    db.session.commit()
    commits.clear()

    assert expire_invitations(JobContext(0)) == {"expired": 50}
    assert len(commits) == 2
