"""Finance and contracting actions posted for an object no longer in an actionable state, or with bad input.

A release a colleague already approved, paid or rejected, or a task book already
confirmed, is answered with a redirect to the page that shows it and a warning saying
what it is now; bad input on a requested release re-renders the queue with that
release's form visible, its errors beside the fields and what was typed kept.
"""

from __future__ import annotations

import pytest

from grants.extensions import db
from grants.funding.models import Disbursement
from tests.factories import make_project, make_user
from tests.funding.contract_helpers import bureau, contracted
from tests.funding.finance_helpers import approve_form, approved, due_tranche, paid, requested

pytestmark = pytest.mark.usefixtures("english_ui")


def warned(client, response, message: str) -> str:
    """The page a redirect leads to, which must show ``message`` in a warning."""
    assert response.status_code in (302, 303), response.status_code
    html = client.get(response.location).get_data(as_text=True)
    assert "alert-warning" in html and message in html, html[:3000]
    return html


def state_of(disbursement) -> str:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement.id).state


def test_approving_a_paid_release_warns_on_the_projects_money_page(client, login):
    project = make_project()
    disbursement = paid(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    response = client.post(f"/disbursements/{disbursement.id}/approve", data={})
    assert response.location.endswith(
        f"/projects/{project.id}/money#disbursement-{disbursement.id}"
    )
    warned(client, response, "This release can no longer be approved: it is now “Paid”.")
    assert state_of(disbursement) == "paid"


def test_approving_a_release_a_colleague_approved_warns_on_the_queue(client, login):
    project = make_project()
    disbursement = approved(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    response = client.post(
        f"/disbursements/{disbursement.id}/approve",
        data=approve_form(disbursement, payee_account="12AB"),
    )
    assert response.location.endswith("/finance/queue")
    html = warned(
        client, response, "This release can no longer be approved: it is now “Approved by finance”."
    )
    assert f'id="disbursement-{disbursement.id}"' in html


def test_rejecting_a_rejected_release_warns(client, login):
    project = make_project()
    disbursement = requested(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    assert (
        client.post(
            f"/disbursements/{disbursement.id}/reject",
            data={f"reject-{disbursement.id}-reason": "账户不符"},
        ).status_code
        == 302
    )
    response = client.post(
        f"/disbursements/{disbursement.id}/reject", data={f"reject-{disbursement.id}-reason": ""}
    )
    warned(
        client, response, "This release can no longer be rejected: it is now “Release rejected”."
    )
    assert state_of(disbursement) == "rejected"


def test_approving_with_empty_input_shows_the_form_with_its_errors(client, login):
    project = make_project()
    disbursement = requested(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    response = client.post(
        f"/disbursements/{disbursement.id}/approve",
        data={f"approve-{disbursement.id}-voucher_no": "PZ-9"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'action="/disbursements/{disbursement.id}/approve"' in html
    assert "invalid-feedback" in html and 'value="PZ-9"' in html
    assert state_of(disbursement) == "requested"


def test_rejecting_without_a_reason_opens_the_reject_form_with_its_error(client, login):
    project = make_project()
    disbursement = requested(due_tranche(project))
    db.session.commit()
    login(make_user("finance"))
    response = client.post(
        f"/disbursements/{disbursement.id}/reject", data={f"reject-{disbursement.id}-reason": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    form_start = html.index(f'action="/disbursements/{disbursement.id}/reject"')
    details = html.rindex("<details", 0, form_start)
    assert html[details:form_start].split(">", 1)[0].endswith("open")
    assert "invalid-feedback" in html[form_start:]
    assert state_of(disbursement) == "requested"


def test_confirming_a_task_book_already_confirmed_warns_on_the_contract_page(client, login):
    project = make_project()  # running: its signed task book was confirmed
    db.session.commit()
    login(bureau())
    response = client.post(f"/projects/{project.id}/sign")
    assert response.location.endswith(f"/projects/{project.id}/contract#task-book")
    warned(client, response, "The signed task book has already been confirmed: the project is now")


def test_confirming_by_finance_stays_forbidden(client, login):
    project = contracted()
    db.session.commit()
    login(make_user("finance"))
    assert client.post(f"/projects/{project.id}/sign").status_code == 403
