"""The bureau's assignment pages: overview, automatic run, manual invitation, withdrawal, replacement."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import grants.review.assign_panels  # noqa: F401  (registers the dashboard panels)
from grants.core.timeutil import local_naive
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.review import assignments as ops
from tests.factories import OrganisationFactory
from tests.review.assign_helpers import (
    application_under_review,
    assignments_of,
    audit_events,
    bureau_officer,
    call_with_applications,
    notifications_of,
    pool_expert,
)


def local_due(days: int = 10) -> str:
    return local_naive(utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def test_call_assignments_page_lists_applications_experts_and_loads(client, login):
    call, cluster, applications = call_with_applications(2, k=1)
    expert = pool_expert([cluster], name="王审稿")
    ops.assign_manually(applications[0], expert, bureau_officer(), utcnow() + timedelta(days=5))
    login(bureau_officer())
    response = client.get(f"/calls/{call.id}/assignments")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert applications[0].reference_no in html and applications[1].reference_no in html
    assert "王审稿" in html
    assert html.count('class="application-row"') == 2
    assert 'name="cap"' in html and 'value="4"' in html  # ceil(2·1/1) + 2
    assert "1 / 1" in html and "0 / 1" in html


def test_call_assignments_page_refused_to_experts_and_applicants(client, login):
    call, _, _ = call_with_applications(1)
    login(pool_expert().user)
    assert client.get(f"/calls/{call.id}/assignments").status_code == 403
    assert client.post(f"/calls/{call.id}/assignments/auto", data={"cap": 3}).status_code == 403


def test_auto_assign_post_invites_and_shows_the_seed(client, login):
    call, cluster, applications = call_with_applications(3, k=2)
    for _ in range(3):
        pool_expert([cluster])
    login(bureau_officer())
    response = client.post(
        f"/calls/{call.id}/assignments/auto",
        data={"cap": "2", "due_at": local_due(), "draw": "y", "seed": "4711"},
    )
    assert response.status_code == 302
    for application in applications:
        assert len(assignments_of(application)) == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "4711" in page and "6" in page
    assert 'id="last-run-heading"' in page


def test_auto_assign_post_infeasible_explains_and_keeps_the_input(client, login):
    call, cluster, applications = call_with_applications(2, k=3)
    pool_expert([cluster])
    login(bureau_officer())
    due = local_due(9)
    response = client.post(f"/calls/{call.id}/assignments/auto", data={"cap": "7", "due_at": due})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.count('class="shortage"') == 2
    assert "Fewer experts are allowed than it needs." in html
    assert 'value="7"' in html and f'value="{due}"' in html
    assert all(assignments_of(a) == [] for a in applications)


def test_auto_assign_post_invalid_form_keeps_input(client, login):
    call, _, _ = call_with_applications(1)
    login(bureau_officer())
    response = client.post(
        f"/calls/{call.id}/assignments/auto", data={"cap": "0", "due_at": local_due(), "seed": "12"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="0"' in html and 'value="12"' in html and 'aria-invalid="true"' in html


def test_application_page_lists_conflicted_experts_disabled_with_reason(client, login):
    organisation = OrganisationFactory(name="通化金马药业集团股份有限公司")
    application = application_under_review(organisation=organisation)
    pool_expert(name="甲专家", keywords="中药")
    pool_expert(name="乙专家", employer_id=organisation.id, employer_name=organisation.name)
    login(bureau_officer())
    html = client.get(f"/applications/{application.id}/assignments").get_data(as_text=True)
    options = re.findall(r"<option[^>]*>[^<]*</option>", html)
    [good] = [o for o in options if "甲专家" in o]
    [bad] = [o for o in options if "乙专家" in o]
    assert "disabled" not in good and f"suitability {ops.KEYWORD_POINTS}" in good
    assert "disabled" in bad and "works for the applicant" in bad


def test_manual_assign_post_invites_and_refuses_a_forbidden_pair(client, login):
    organisation = OrganisationFactory()
    application = application_under_review(organisation=organisation)
    fine = pool_expert()
    insider = pool_expert(employer_id=organisation.id)
    login(bureau_officer())
    url = f"/applications/{application.id}/assignments"
    response = client.post(url, data={"expert_id": insider.id, "due_at": local_due()})
    assert response.status_code == 422
    assert "works for the applicant" in response.get_data(as_text=True)
    assert assignments_of(application) == []
    response = client.post(url, data={"expert_id": fine.id, "due_at": local_due()})
    assert response.status_code == 302
    [assignment] = assignments_of(application)
    assert assignment.expert_id == fine.id and assignment.source == "manual"


def test_manual_assign_post_without_expert_keeps_the_due_date(client, login):
    application = application_under_review()
    login(bureau_officer())
    due = local_due(4)
    response = client.post(
        f"/applications/{application.id}/assignments", data={"expert_id": "0", "due_at": due}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose an expert." in html and f'value="{due}"' in html


def test_withdraw_invitation_by_the_bureau_tells_the_expert(client, login):
    application = application_under_review()
    expert = pool_expert()
    assignment = ops.assign_manually(
        application, expert, bureau_officer(), utcnow() + timedelta(days=5)
    )
    login(bureau_officer())
    page = client.get(f"/applications/{application.id}/assignments").get_data(as_text=True)
    assert f"/assignments/{assignment.id}/withdraw" in page
    response = client.post(f"/assignments/{assignment.id}/withdraw")
    assert response.status_code == 302
    [row] = assignments_of(application)
    assert row.state == "withdrawn"
    assert notifications_of(expert.user, "assignment.withdrawn")


def test_expert_cannot_withdraw(client, login):
    application = application_under_review()
    expert = pool_expert()
    assignment = ops.assign_manually(
        application, expert, bureau_officer(), utcnow() + timedelta(days=5)
    )
    login(expert.user)
    assert client.post(f"/assignments/{assignment.id}/withdraw").status_code == 403
    assert assignments_of(application)[0].state == "invited"


def test_declined_invitation_shows_proposal_and_one_click_replacement(client, login):
    application = application_under_review()
    decliner, proposed = pool_expert(name="拒绝者"), pool_expert(name="候补者", keywords="中药")
    assignment = ops.assign_manually(
        application, decliner, bureau_officer(), utcnow() + timedelta(days=5)
    )
    transition(assignment, "decline", decliner.user, reason="出差")
    bureau = bureau_officer()
    login(bureau)
    page = client.get(f"/applications/{application.id}/assignments").get_data(as_text=True)
    assert "候补者" in page and "Invite replacement" in page
    overview = client.get(f"/calls/{application.call_id}/assignments").get_data(as_text=True)
    assert "Declined, awaiting a replacement" in overview and "候补者" in overview
    dashboard = client.get("/").get_data(as_text=True)
    assert "Declined invitations awaiting a replacement" in dashboard
    response = client.post(
        f"/assignments/{assignment.id}/replacement", data={"expert_id": proposed.id, "next": "call"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/calls/{application.call_id}/assignments"
    )
    states = Counter((a.expert_id, a.state, a.source) for a in assignments_of(application))
    assert states[(proposed.id, "invited", "replacement")] == 1
    assert audit_events("assignment.invited")[-1].after["replaces_id"] == assignment.id
