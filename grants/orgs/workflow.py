"""The invitation lifecycle: pending → accepted | revoked | expired."""

from flask_babel import lazy_gettext as _l

from grants.accounts.models import UserRole
from grants.accounts.operations import STAFF_ROLES
from grants.core.permissions import has_role, is_authenticated, is_system
from grants.core.signals import organisation_changed
from grants.core.types import utcnow
from grants.core.workflow import Transition, Workflow
from grants.extensions import db
from grants.notifications.operations import notify
from grants.orgs.models import Invitation, InvitationState
from grants.orgs.rules import is_member_of_invitation_org, no_organisation


def _not_expired(invitation, actor, data):
    if invitation.expires_at <= utcnow():
        return str(_l("This invitation has expired. Ask for a new one."))
    return None


def _may_join(invitation, actor, data):
    """The invitation is open, addressed to the actor, and the actor is no bureau, finance or admin account."""
    expired = _not_expired(invitation, actor, data)
    if expired:
        return expired
    if actor.email.lower() != invitation.email.lower():
        return str(_l("This invitation was sent to another e-mail address."))
    if STAFF_ROLES & actor.role_names:
        return str(
            _l(
                "Bureau, finance and administrator accounts cannot join an applicant organisation. "
                "Ask the organisation to invite another e-mail address."
            )
        )
    return None


def _join(invitation, actor, data):
    """The actor joins the organisation as an applicant; the review domain hears of it (conflicts)."""
    invitation.decided_at = utcnow()
    invitation.accepted_by_id = actor.id
    before = actor.organisation_id
    actor.organisation_id = invitation.organisation_id
    if "applicant" not in actor.role_names:
        actor.roles.append(UserRole(role="applicant"))
    db.session.flush()
    organisation_changed(actor, before, actor.organisation_id, actor=actor, via="invitation")


def _decided(invitation, actor, data):
    invitation.decided_at = utcnow()


def _tell_inviter(invitation, actor, data):
    if invitation.invited_by is not None:
        notify(
            [invitation.invited_by],
            "invitation.accepted",
            _l("%(name)s has joined %(org)s", name=actor.name, org=invitation.organisation.name),
            link="/organisation",
        )


INVITATION_WORKFLOW = Workflow(
    name="invitation",
    model=Invitation,
    states=InvitationState,
    transitions=[
        Transition(
            InvitationState.PENDING,
            "accept",
            InvitationState.ACCEPTED,
            is_authenticated & no_organisation,
            guard=_may_join,
            effect=_join,
            notify=_tell_inviter,
            label=_l("Accept"),
        ),
        Transition(
            InvitationState.PENDING,
            "revoke",
            InvitationState.REVOKED,
            has_role("applicant") & is_member_of_invitation_org,
            effect=_decided,
            label=_l("Revoke"),
        ),
        Transition(
            InvitationState.PENDING, "expire", InvitationState.EXPIRED, is_system, effect=_decided
        ),
    ],
)
