"""Conflicts of interest are computed from current facts and re-checked at every step that matters.

Invitation, automatic assignment, acceptance, opening the proposal, saving and submitting
scores, the acceptance panel; an expert who declares a conflict recuses; staff accounts
cannot join applicant organisations and an expert who joins one becomes conflicted for it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from grants.accounts import operations as account_ops
from grants.accounts.models import hash_token
from grants.core.types import utcnow
from grants.core.workflow import GuardFailed
from grants.extensions import db
from grants.orgs import operations as org_ops
from grants.review import assignments as assign_ops
from grants.review import scoring
from grants.review.conflicts import conflict_matrix, conflicts_for
from grants.review.models import Assignment, ExpertRelation, Review
from tests.factories import InvitationFactory, OrganisationFactory, make_user
from tests.projects.acceptance_helpers import cast, join_panel, panel_expert, submit_report
from tests.review.assign_helpers import audit_events, bureau_officer, notifications_of, pool_expert
from tests.review.scoring_helpers import (
    LONG_COMMENT,
    form_data,
    ready_assignment,
    reload,
    under_review,
)

pytestmark = pytest.mark.usefixtures("english_ui")


def kinds(conflicts) -> list[tuple[str, bool]]:
    return [(c.kind, c.hard) for c in conflicts]


def accept_invitation_of(user, organisation):
    invitation = InvitationFactory(organisation=organisation, email=user.email)
    org_ops.accept_invitation(invitation, user)
    return invitation


# --- the facts ------------------------------------------------------------------------------------


def test_conflict_expert_account_member_of_the_applicant_is_hard_in_both_paths(app):
    application = under_review()
    expert = pool_expert()
    expert.user.organisation_id = application.organisation_id
    db.session.flush()
    assert kinds(conflicts_for(expert, application)) == [("member", True)]
    assert conflict_matrix([application], [expert])[application.id, expert.id] == conflicts_for(
        expert, application
    )


def test_conflict_expert_who_created_the_application_is_author(app):
    expert = pool_expert()
    application = under_review(created_by=expert.user)
    assert kinds(conflicts_for(expert, application)) == [("author", True)]
    assert conflict_matrix([application], [expert])[application.id, expert.id] == conflicts_for(
        expert, application
    )


def test_conflict_team_member_of_the_experts_employer_is_hard_and_namesake_soft(app):
    expert = pool_expert(employer_name="长春中医药大学", name="林深")
    application = under_review()
    application.team[0].organisation_name = "长春 中医药大学"
    colleague = under_review()
    colleague.team[0].organisation_name = "吉林省长春中医药大学附属医院"
    namesake = under_review()
    namesake.team[0].name, namesake.team[0].organisation_name = "林 深", "某研究所"
    db.session.flush()
    assert kinds(conflicts_for(expert, application)) == [("team_member", True)]
    assert kinds(conflicts_for(expert, colleague)) == [("team_employer_name", False)]
    assert kinds(conflicts_for(expert, namesake)) == [("team_name", False)]
    matrix = conflict_matrix([application, colleague, namesake], [expert])
    for app_ in (application, colleague, namesake):
        assert matrix[app_.id, expert.id] == conflicts_for(expert, app_)


def test_conflict_team_of_the_applicant_itself_adds_no_team_flag(app):
    expert = pool_expert(employer_name="长春中医药大学")
    application = under_review()  # its principal works for the applicant
    assert conflicts_for(expert, application) == []


# --- invitation and automatic assignment ---------------------------------------------------------


def test_invitation_refused_for_an_expert_whose_account_belongs_to_the_applicant(app):
    application = under_review()
    expert = pool_expert()
    expert.user.organisation_id = application.organisation_id
    db.session.flush()
    with pytest.raises(assign_ops.AssignmentError, match="belongs to the applicant"):
        assign_ops.assign_manually(
            application, expert, bureau_officer(), utcnow() + timedelta(days=7)
        )


# --- the expert joins the applicant's organisation -----------------------------------------------


def test_expert_joining_the_applicant_by_invitation_is_conflicted_and_withdrawn(app):
    bureau = bureau_officer()
    assignment = ready_assignment(expert=pool_expert())
    expert, application = assignment.expert, assignment.application
    accept_invitation_of(expert.user, application.organisation)
    assignment = reload(assignment)
    assert assignment.state == "withdrawn" and assignment.conflict_found_at is not None
    assert kinds(conflicts_for(assignment.expert, assignment.application)) == [("member", True)]
    relation = db.session.scalars(
        sa.select(ExpertRelation).where(ExpertRelation.expert_id == expert.id)
    ).one()
    assert (relation.source, relation.organisation_id, relation.until) == (
        "membership",
        application.organisation_id,
        None,
    )
    event = audit_events("expert.joined_organisation")[-1]
    assert event.after["organisation_id"] == application.organisation_id
    assert event.after["withdrawn_assignments"] == [assignment.id]
    assert [n.kind for n in notifications_of(bureau, "assignment.conflict")] == [
        "assignment.conflict"
    ]


def test_expert_who_left_the_applicant_stays_conflicted_as_past_member(app):
    admin = make_user("admin")
    application = under_review()
    expert = pool_expert()
    accept_invitation_of(expert.user, application.organisation)
    account_ops.update_user(
        expert.user,
        email=expert.user.email,
        name=expert.user.name,
        phone="",
        roles=["expert", "applicant"],
        organisation_id=None,
        actor=admin,
    )
    db.session.expire_all()
    found = conflicts_for(reload(expert), reload(application))
    assert kinds(found) == [("past_member", True)]
    assert conflict_matrix([application], [expert])[application.id, expert.id] == found
    assert audit_events("expert.left_organisation")


def test_expert_cannot_remove_a_membership_relation(client, login):
    expert = pool_expert()
    organisation = OrganisationFactory()
    accept_invitation_of(expert.user, organisation)
    relation = db.session.scalars(
        sa.select(ExpertRelation).where(ExpertRelation.expert_id == expert.id)
    ).one()
    login(expert.user)
    response = client.post(f"/expert/profile/relations/{relation.id}/remove", follow_redirects=True)
    assert "it cannot be removed" in response.get_data(as_text=True)
    assert db.session.get(ExpertRelation, relation.id) is not None


# --- staff accounts --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["bureau", "finance", "admin"])
def test_staff_account_cannot_accept_an_invitation_to_an_applicant_organisation(
    client, login, role
):
    user = make_user(role, locale="en")
    token = f"staff-invitation-{role}"
    invitation = InvitationFactory(
        organisation=OrganisationFactory(), email=user.email, token_hash=hash_token(token)
    )
    login(user)
    response = client.post(f"/invitations/{token}")
    assert response.status_code == 422
    assert "cannot join an applicant organisation" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(user), user.id).organisation_id is None
    assert reload(invitation).state == "pending"
    with pytest.raises(GuardFailed, match="cannot join an applicant organisation"):
        org_ops.accept_invitation(reload(invitation), db.session.get(type(user), user.id))


def test_admin_cannot_put_a_staff_account_in_an_applicant_organisation(client, login):
    admin = make_user("admin", locale="en")
    officer = make_user("bureau")
    organisation = OrganisationFactory()
    login(admin)
    response = client.post(
        f"/admin/users/{officer.id}",
        data={
            "email": officer.email,
            "name": officer.name,
            "phone": "",
            "roles": ["bureau"],
            "organisation_id": str(organisation.id),
        },
    )
    assert "cannot belong to an applicant organisation" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(officer), officer.id).organisation_id is None
    with pytest.raises(account_ops.StaffMembershipRefused):
        account_ops.create_user(
            email="staff-member@test.example",
            name="职员",
            roles=["finance"],
            organisation_id=organisation.id,
            actor=admin,
        )


# --- opening, saving and submitting ----------------------------------------------------------------


def test_conflicted_expert_cannot_open_the_proposal(client, login):
    assignment = ready_assignment(expert=pool_expert())
    relation = ExpertRelation(
        kind="family", organisation_id=assignment.application.organisation_id, organisation_name=""
    )
    assignment.expert.relations.append(
        relation
    )  # declared behind the re-check (e.g. by the bureau's import)
    db.session.flush()
    login(assignment.expert.user)
    response = client.get(f"/expert/assignments/{assignment.id}/review")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "conflict of interest (Declared relation with the applicant)" in html
    assert assignment.application.title not in html
    assert client.get(f"/expert/assignments/{assignment.id}/proposal.pdf").status_code == 403


def test_scores_never_saved_while_conflicted_and_assignment_withdrawn(client, login):
    bureau = bureau_officer()
    assignment = ready_assignment(expert=pool_expert())
    assignment.expert.user.organisation_id = assignment.application.organisation_id
    db.session.flush()
    login(assignment.expert.user)
    response = client.post(
        f"/expert/assignments/{assignment.id}/review",
        data=form_data(assignment, ["8", "8"], action="submit"),
    )
    assert response.status_code == 302
    assignment = reload(assignment)
    assert assignment.state == "withdrawn" and assignment.conflict_found_at is not None
    assert db.session.scalar(sa.select(Review).where(Review.assignment_id == assignment.id)) is None
    assert notifications_of(bureau, "assignment.conflict")


def test_submit_guard_refuses_a_conflicted_review(app):
    assignment = ready_assignment(expert=pool_expert())
    criteria = scoring.criteria_for(assignment)
    review = scoring.save_draft(
        assignment,
        assignment.expert.user,
        scores={c.id: Decimal("8") for c in criteria},
        comment=LONG_COMMENT,
        recommendation="fund",
    )
    assignment.expert.employer_id = assignment.application.organisation_id
    db.session.flush()
    assert any("conflict of interest" in p for p in scoring.submission_problems(review))
    with pytest.raises(scoring.ScoringError, match="conflict of interest"):
        scoring.save_draft(
            assignment, assignment.expert.user, scores={}, comment="", recommendation=None
        )


def test_declaring_a_relation_withdraws_the_open_assignment(client, login):
    bureau = bureau_officer()
    assignment = ready_assignment(expert=pool_expert())
    login(assignment.expert.user)
    response = client.post(
        "/expert/profile/relations",
        data={
            "relation-kind": "shareholding",
            "relation-organisation_uscc": assignment.application.organisation.uscc,
            "relation-organisation_name": "",
        },
    )
    assert response.status_code == 302
    assignment = reload(assignment)
    assert assignment.state == "withdrawn" and assignment.conflict_found_at is not None
    assert notifications_of(bureau, "assignment.conflict")


# --- recusal -----------------------------------------------------------------------------------------


def test_recuse_withdraws_and_tells_the_bureau(client, login):
    bureau = bureau_officer()
    assignment = ready_assignment(expert=pool_expert())
    login(assignment.expert.user)
    page = client.get(f"/expert/assignments/{assignment.id}/review").get_data(as_text=True)
    assert f"/expert/assignments/{assignment.id}/recuse" in page
    response = client.post(
        f"/expert/assignments/{assignment.id}/recuse", data={"reason": "与项目负责人合作过"}
    )
    assert response.status_code == 302
    assignment = reload(assignment)
    assert assignment.state == "withdrawn" and assignment.conflict_found_at is not None
    event = audit_events("assignment.recuse")[-1]
    assert event.after["reason"] == "与项目负责人合作过"
    note = notifications_of(bureau, "assignment.conflict")[-1]
    assert "与项目负责人合作过" in note.body
    assert client.get(f"/expert/assignments/{assignment.id}/review").status_code == 403


def test_recuse_needs_a_reason_and_another_expert_cannot(client, login):
    assignment = ready_assignment(expert=pool_expert())
    login(pool_expert().user)
    assert (
        client.post(f"/expert/assignments/{assignment.id}/recuse", data={"reason": "x"}).status_code
        == 404
    )
    assert reload(assignment).state == "accepted"
    client.post("/logout")
    login(assignment.expert.user)
    response = client.post(f"/expert/assignments/{assignment.id}/recuse", data={"reason": " "})
    assert response.status_code == 422
    assert "Say what the conflict of interest is" in response.get_data(as_text=True)
    assert reload(assignment).state == "accepted"


# --- the acceptance panel ----------------------------------------------------------------------------


def test_acceptance_panel_expert_who_joins_the_project_organisation_cannot_score(app):
    c = cast()
    submit_report(c)
    expert = panel_expert()
    assignment = join_panel(c, expert)
    expert.user.organisation_id = c.project.organisation_id
    db.session.flush()
    criteria = scoring.criteria_for(assignment)
    with pytest.raises(scoring.ScoringError, match="conflict of interest"):
        scoring.save_draft(
            assignment,
            expert.user,
            scores={cr.id: Decimal("8") for cr in criteria},
            comment=LONG_COMMENT,
            recommendation="fund",
        )
    assign_ops.withdraw_for_conflict(
        assignment, assign_ops.current_conflicts(assignment), expert.user
    )
    assert assignment.state == "withdrawn"
    assert db.session.scalar(
        sa.select(Assignment.conflict_found_at).where(Assignment.id == assignment.id)
    )
