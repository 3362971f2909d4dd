"""Returning a final statement or a progress report that is no longer awaiting review, or with bad input.

A statement already verified (or a report already decided) is answered with a redirect
to the page that shows it and a warning saying what it is now; an empty note on one
that still awaits review re-renders the page with the form visible and its error.
"""

from __future__ import annotations

import pytest

from grants.projects import acceptance as acceptance_ops
from grants.projects import progress as progress_ops
from tests.conftest import PASSWORD
from tests.projects.acceptance_helpers import cast, reload, submit_report, verify
from tests.projects.tracking_helpers import bureau_officer, owner_of, running_project

pytestmark = pytest.mark.usefixtures("english_ui")


def client_for(app, user):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def warned(client, response, message: str) -> str:
    """The page a redirect leads to, which must show ``message`` in a warning."""
    assert response.status_code in (302, 303), response.status_code
    html = client.get(response.location).get_data(as_text=True)
    assert "alert-warning" in html and message in html, html[:3000]
    return html


# --- finance returns the final statement ------------------------------------------------------


def test_returning_a_verified_statement_warns_beside_it(app):
    c = cast()
    submit_report(c)
    verify(c)
    finance = client_for(app, c.finance)
    response = finance.post(
        f"/projects/{c.project.id}/acceptance/statement/return", data={"statement-note": ""}
    )
    assert response.location.endswith(f"/projects/{c.project.id}/acceptance/statement")
    warned(
        finance,
        response,
        "The final financial statement can no longer be returned: it is now “Statement verified”.",
    )
    assert acceptance_ops.current_report(reload(c.project)).state == "verified"


def test_returning_a_statement_without_a_note_shows_the_form_with_its_error(app):
    c = cast()
    submit_report(c)
    finance = client_for(app, c.finance)
    response = finance.post(
        f"/projects/{c.project.id}/acceptance/statement/return", data={"statement-note": " "}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'action="/projects/{c.project.id}/acceptance/statement/return"' in html
    assert (
        "alert-danger" in html
        and "invalid-feedback" in html
        and "Say what is wrong with the statement." in html
    )


def test_returning_the_statement_is_for_finance_only(app):
    c = cast()
    submit_report(c)
    bureau = client_for(app, c.bureau)
    assert (
        bureau.post(
            f"/projects/{c.project.id}/acceptance/statement/return", data={"statement-note": ""}
        ).status_code
        == 403
    )


# --- the bureau returns a progress report -----------------------------------------------------


def _submitted(project):
    return progress_ops.save_report(
        project.milestones[0], "中试完成", {}, [], owner_of(project), submit=True
    )


def test_returning_an_approved_report_warns_on_its_page(app):
    project = running_project()
    report = _submitted(project)
    officer = bureau_officer()
    progress_ops.approve_report(report, officer)
    client = client_for(app, officer)
    response = client.post(
        f"/projects/{project.id}/reports/{report.id}/return", data={"return-note": "缺少数据"}
    )
    assert response.location.endswith(f"/projects/{project.id}/reports/{report.id}")
    warned(
        client,
        response,
        "This progress report can no longer be returned: it is now “Passed review”.",
    )
    assert reload(report).state == "approved"


def test_returning_a_report_without_a_note_opens_the_form_with_its_error(app):
    project = running_project()
    report = _submitted(project)
    client = client_for(app, bureau_officer())
    response = client.post(
        f"/projects/{project.id}/reports/{report.id}/return", data={"return-note": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    form_start = html.index(f'action="/projects/{project.id}/reports/{report.id}/return"')
    details = html.rindex("<details", 0, form_start)
    assert html[details:form_start].split(">", 1)[0].endswith("open")
    assert "invalid-feedback" in html[form_start:]
    assert reload(report).state == "submitted"
