import re
from datetime import timedelta

import sqlalchemy as sa

from grants.accounts.models import User, hash_token
from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from grants.orgs.models import Invitation
from tests.factories import InvitationFactory, OrganisationFactory, make_user

LINK = re.compile(r"https?://grants\.test(/invitations/[A-Za-z0-9_\-]+)")


def signup(**overrides) -> dict:
    data = {
        "person_name": "新同事",
        "phone": "",
        "password": "Joining-pass-2026",
        "confirm": "Joining-pass-2026",
    }
    data.update(overrides)
    return data


def test_invitation_link_in_outbox_lets_a_new_person_join(client, login, run_jobs):
    inviter = make_user("applicant", name="刘经理")
    org = inviter.organisation
    login(inviter)
    response = client.post(
        f"/organisations/{org.id}/invitations", data={"invite-email": "New.Person@Test.example"}
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "new.person@test.example" in page
    assert not LINK.search(page)
    run_jobs()
    mail = db.session.scalars(
        sa.select(OutboxEmail).where(OutboxEmail.to_address == "new.person@test.example")
    ).one()
    path = LINK.search(mail.body).group(1)
    assert org.name in mail.body and "刘经理" in mail.body

    client.post("/logout")
    assert client.get(path).status_code == 200
    response = client.post(path, data=signup())
    assert response.status_code == 302
    newcomer = db.session.scalars(
        sa.select(User).where(User.email == "new.person@test.example")
    ).one()
    assert newcomer.organisation_id == org.id
    assert newcomer.role_names == {"applicant"}
    invitation = db.session.scalars(
        sa.select(Invitation).where(Invitation.organisation_id == org.id)
    ).one()
    assert invitation.state == "accepted" and invitation.accepted_by_id == newcomer.id
    assert client.get("/organisation").status_code == 200
    actions = set(db.session.scalars(sa.select(AuditEvent.action)).all())
    assert {"invitation.created", "invitation.accept"} <= actions


def test_invite_of_a_member_is_refused_on_field(client, login):
    inviter = make_user("applicant")
    colleague = make_user("applicant", organisation=inviter.organisation)
    login(inviter)
    response = client.post(
        f"/organisations/{inviter.organisation_id}/invitations",
        data={"invite-email": colleague.email},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="invite-email-error"' in html and f'value="{colleague.email}"' in html
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0


def test_invite_for_other_applicant_is_404_and_for_bureau_403(client, login, switch_user):
    org = OrganisationFactory()
    login(make_user("applicant"))
    assert (
        client.post(
            f"/organisations/{org.id}/invitations", data={"invite-email": "x@test.example"}
        ).status_code
        == 404
    )
    switch_user(make_user("bureau"))
    assert (
        client.post(
            f"/organisations/{org.id}/invitations", data={"invite-email": "x@test.example"}
        ).status_code
        == 403
    )
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0


def test_invitation_for_another_address_is_refused_to_signed_in_user(client, login):
    invitation = InvitationFactory(
        email="meant.for@test.example", token_hash=hash_token("tok-wrong-email")
    )
    stranger = make_user("expert", email="someone.else@test.example")
    login(stranger)
    response = client.post("/invitations/tok-wrong-email")
    assert response.status_code == 422  # refused, with the reason flashed on the page
    db.session.refresh(invitation)
    db.session.refresh(stranger)
    assert invitation.state == "pending"
    assert stranger.organisation_id is None
    assert "applicant" not in stranger.role_names


def test_expired_invitation_is_refused_at_signup(client):
    invitation = InvitationFactory(
        email="late@test.example",
        token_hash=hash_token("tok-expired"),
        expires_at=utcnow() - timedelta(hours=1),
    )
    response = client.post("/invitations/tok-expired", data=signup())
    assert response.status_code == 422
    assert (
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.email == "late@test.example")
        )
        == 0
    )
    db.session.refresh(invitation)
    assert invitation.state == "pending"


def test_revoked_invitation_link_no_longer_opens(client, login):
    user = make_user("applicant")
    invitation = InvitationFactory(
        organisation=user.organisation, token_hash=hash_token("tok-revoked")
    )
    login(user)
    client.post(f"/invitations/{invitation.id}/revoke")
    client.post("/logout")
    response = client.post("/invitations/tok-revoked", data=signup())
    assert response.status_code == 302
    assert (
        db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email == invitation.email))
        == 0
    )


def test_revoke_by_member_revokes(client, login):
    user = make_user("applicant")
    invitation = InvitationFactory(organisation=user.organisation, email="revoke.me@test.example")
    login(user)
    page = client.get("/organisation").get_data(as_text=True)
    assert f"/invitations/{invitation.id}/revoke" in page
    response = client.post(f"/invitations/{invitation.id}/revoke")
    assert response.status_code == 302
    db.session.refresh(invitation)
    assert invitation.state == "revoked" and invitation.decided_at is not None
    client.get("/organisation")  # shows and consumes the flash message naming the address
    assert "revoke.me@test.example" not in client.get("/organisation").get_data(as_text=True)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "invitation.revoke")
    ).one()
    assert event.after["state"] == "revoked"


def test_revoke_by_other_applicant_is_404(client, login):
    invitation = InvitationFactory()
    login(make_user("applicant"))
    assert client.post(f"/invitations/{invitation.id}/revoke").status_code == 404
    db.session.refresh(invitation)
    assert invitation.state == "pending"


def test_revoke_by_bureau_is_refused_and_audited(client, login):
    invitation = InvitationFactory()
    login(make_user("bureau"))
    response = client.post(f"/invitations/{invitation.id}/revoke")
    assert response.status_code == 403
    db.session.refresh(invitation)
    assert invitation.state == "pending"
    denial = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "permission.denied")
    ).one()
    assert denial.after["action"] == "invitation.revoke"


def test_revoke_of_revoked_invitation_changes_nothing(client, login):
    user = make_user("applicant")
    invitation = InvitationFactory(
        organisation=user.organisation, state="revoked", decided_at=utcnow()
    )
    login(user)
    assert client.post(f"/invitations/{invitation.id}/revoke").status_code == 302
    db.session.refresh(invitation)
    assert invitation.state == "revoked"
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "invitation.revoke")
        )
        == 0
    )


def test_revoke_of_missing_invitation_is_404(client, login):
    login(make_user("applicant"))
    assert client.post("/invitations/999999/revoke").status_code == 404
