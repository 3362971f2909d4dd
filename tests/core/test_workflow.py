from dataclasses import FrozenInstanceError
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.core.permissions import has_role
from grants.core.types import utcnow
from grants.core.workflow import (
    GuardFailed,
    InvalidTransition,
    StateWriteOutsideEngine,
    Transition,
    TransitionForbidden,
    available_events,
    can_fire,
    transition,
)
from grants.extensions import db
from grants.notifications.models import Notification
from tests.factories import InvitationFactory, make_user


def test_transition_changes_state_and_writes_audit(app):
    inviter = make_user("applicant")
    invitation = InvitationFactory(
        organisation=inviter.organisation, invited_by_id=inviter.id, email="joiner@test.example"
    )
    joiner = make_user(email="joiner@test.example")
    transition(invitation, "accept", joiner)
    assert invitation.state == "accepted"
    assert joiner.organisation_id == inviter.organisation_id
    assert "applicant" in joiner.role_names
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "invitation.accept")
    ).one()
    assert event.before == {"state": "pending"} and event.after["state"] == "accepted"
    assert event.actor_id == joiner.id
    note = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == inviter.id)
    ).one()
    assert joiner.name in note.subject


def test_transition_from_wrong_state_is_refused(app):
    member = make_user("applicant")
    invitation = InvitationFactory(organisation=member.organisation)
    transition(invitation, "revoke", member)
    with pytest.raises(InvalidTransition):
        transition(invitation, "revoke", member)
    assert invitation.state == "revoked"


def test_transition_by_wrong_actor_is_refused_and_audited(app):
    outsider = make_user("applicant")
    invitation = InvitationFactory()
    with pytest.raises(TransitionForbidden):
        transition(invitation, "revoke", outsider)
    assert invitation.state == "pending"
    denial = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "permission.denied")
    ).one()
    assert denial.after["action"] == "invitation.revoke"


def test_guard_failure_leaves_state_unchanged(app):
    invitation = InvitationFactory(
        expires_at=utcnow() - timedelta(minutes=1), email="late@test.example"
    )
    late = make_user(email="late@test.example")
    with pytest.raises(GuardFailed):
        transition(invitation, "accept", late)
    assert invitation.state == "pending"
    assert late.organisation_id is None


def test_state_cannot_be_written_outside_the_engine(app):
    invitation = InvitationFactory()
    with pytest.raises(StateWriteOutsideEngine):
        invitation.state = "accepted"


def test_can_fire_and_available_events_follow_the_table(app):
    member = make_user("applicant")
    invitation = InvitationFactory(organisation=member.organisation)
    assert can_fire(member, invitation, "revoke")
    assert not can_fire(member, invitation, "accept")  # already in an organisation
    assert [t.event for t in available_events(member, invitation)] == ["revoke"]
    transition(invitation, "revoke", member)
    assert not can_fire(member, invitation, "revoke")


def test_a_transition_row_cannot_be_changed_once_declared(app):
    """The table is read by the engine and by every button: a row is a value, not a variable."""
    row = Transition("pending", "revoke", "revoked", has_role("admin"))
    with pytest.raises(FrozenInstanceError):
        row.target = "accepted"
    assert row.label == ""
    assert (row.guard, row.effect, row.notify) == (None, None, None)
    assert {row: "hashable"}[Transition("pending", "revoke", "revoked", row.allowed)] == "hashable"


def test_the_audit_line_keeps_the_data_as_json_and_never_a_password(app):
    member = make_user("applicant")
    invitation = InvitationFactory(organisation=member.organisation)
    transition(
        invitation,
        "revoke",
        member,
        reasons="发错了人",
        items=("a", 1),
        nested={2: [True, None]},
        amount=Decimal("12.50"),
        password="secret",
    )
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "invitation.revoke")
    ).one()
    assert event.after == {
        "state": "revoked",
        "reasons": "发错了人",
        "items": ["a", 1],
        "nested": {"2": [True, None]},
        "amount": "12.50",
    }


def test_a_refused_transition_names_the_action_it_refused(app):
    outsider = make_user("applicant")
    with pytest.raises(TransitionForbidden) as refused:
        transition(InvitationFactory(), "revoke", outsider)
    assert refused.value.action == "invitation.revoke"
