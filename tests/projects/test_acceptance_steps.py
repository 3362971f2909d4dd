"""The steps of acceptance: the stepper's presenter for each state of the project, the overview's
next step for each role, one page per step for the roles allowed and 403 for the others, and a
refused form shown again on its own step with what was typed and the message."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_babel import force_locale

from grants.core.timeutil import local_today
from grants.projects import acceptance as ops
from grants.projects.acceptance_steps import (
    ACTIVE,
    ATTENTION,
    CONCLUSION,
    DONE,
    PANEL,
    REPORT,
    STATEMENT,
    TODO,
    AcceptanceFacts,
    next_step,
    steps,
)
from grants.projects.models import OUTCOME_KINDS
from tests.factories import make_user
from tests.projects.acceptance_helpers import (
    cast,
    panel_expert,
    reload,
    report_values,
    scored_panel,
    submit_report,
    verify,
)
from tests.projects.test_acceptance_pages import client_for, due_local

OWNER = {"may_write": True}
FINANCE = {"may_verify": True}
BUREAU = {"may_view_panel": True, "may_convene": True, "may_conclude": True}


def by_key(facts: AcceptanceFacts, label: str = ""):
    return {s.key: s for s in steps(facts, label)}


def statuses(facts: AcceptanceFacts):
    return [s.status for s in steps(facts)]


# --- the presenter, one state at a time -------------------------------------------------------------


def test_steps_before_any_report_ask_the_owner_to_write_it(app, english_ui):
    facts = AcceptanceFacts(project_state="in_progress", **OWNER)
    found = by_key(facts)
    assert statuses(facts) == [TODO, TODO, TODO, TODO]
    assert found[REPORT].action == "Write the summary and the KPI figures achieved."
    assert found[STATEMENT].action == "Enter the fiscal funds spent per budget category."
    assert next_step(steps(facts)).key == REPORT
    assert [s.number for s in steps(facts)] == [1, 2, 3, 4]


def test_steps_with_report_written_send_the_owner_to_the_statement(app, english_ui):
    facts = AcceptanceFacts(
        project_state="in_progress",
        report_state="draft",
        summary_written=True,
        kpis_complete=True,
        **OWNER,
    )
    found = by_key(facts)
    assert found[REPORT].status == ACTIVE and found[REPORT].action is None
    assert found[STATEMENT].status == TODO
    assert next_step(steps(facts)).key == STATEMENT


def test_steps_with_a_complete_draft_ask_the_owner_to_submit(app, english_ui):
    facts = AcceptanceFacts(
        project_state="in_progress",
        report_state="draft",
        summary_written=True,
        kpis_complete=True,
        statement_complete=True,
        **OWNER,
    )
    found = by_key(facts)
    assert found[REPORT].detail == "Draft complete, not submitted yet"
    assert found[REPORT].action == "Submit the final report to request acceptance."
    assert found[STATEMENT].status == ACTIVE and found[STATEMENT].action is None
    assert next_step(steps(facts)).key == REPORT


def test_steps_of_someone_who_may_not_write_have_no_owner_action(app):
    facts = AcceptanceFacts(project_state="in_progress", report_state="draft", **FINANCE)
    assert next_step(steps(facts)) is None


def test_steps_after_submission_wait_for_finance(app, english_ui):
    facts = AcceptanceFacts(project_state="acceptance_review", report_state="submitted", **FINANCE)
    found = by_key(facts)
    assert found[REPORT].status == DONE and found[STATEMENT].status == ACTIVE
    assert found[STATEMENT].action == "Verify the statement, or return it to the project owner."
    assert found[PANEL].openable is False
    assert next_step(steps(facts)).key == STATEMENT
    owner = AcceptanceFacts(
        project_state="acceptance_review", report_state="submitted", panel_submitted=5, **OWNER
    )
    assert next_step(steps(owner)) is None
    panel = by_key(owner)[PANEL]
    assert panel.status == ACTIVE and not panel.openable
    assert panel.detail == "The acceptance panel is reviewing the final report"


def test_steps_with_a_returned_statement_need_the_owner(app, english_ui):
    facts = AcceptanceFacts(project_state="acceptance_review", report_state="returned", **OWNER)
    found = by_key(facts)
    assert found[STATEMENT].status == ATTENTION
    assert found[STATEMENT].action == "Correct the statement as finance asks and submit it again."
    assert found[REPORT].action is None
    assert next_step(steps(facts)).key == STATEMENT


def test_steps_without_a_panel_ask_the_bureau_to_invite(app, english_ui):
    facts = AcceptanceFacts(project_state="acceptance_review", report_state="verified", **BUREAU)
    found = by_key(facts)
    assert statuses(facts) == [DONE, DONE, TODO, TODO]
    assert (
        found[PANEL].openable
        and found[PANEL].action == "Invite the experts of the acceptance panel."
    )
    assert found[CONCLUSION].action is None
    assert next_step(steps(facts)).key == PANEL


def test_steps_with_reviews_outstanding_show_the_count_and_no_action(app, english_ui):
    facts = AcceptanceFacts(
        project_state="acceptance_review",
        report_state="submitted",
        panel_invited=3,
        panel_accepted=3,
        panel_submitted=1,
        panel_needed=3,
        **BUREAU,
    )
    found = by_key(facts)
    assert found[PANEL].status == ACTIVE and found[PANEL].detail == "1 of 3 reviews submitted"
    assert found[PANEL].action is None and found[CONCLUSION].status == TODO
    assert next_step(steps(facts)) is None


def test_steps_ready_for_a_conclusion(app, english_ui):
    facts = AcceptanceFacts(
        project_state="acceptance_review",
        report_state="verified",
        panel_invited=3,
        panel_accepted=3,
        panel_submitted=3,
        panel_needed=3,
        **BUREAU,
    )
    found = by_key(facts)
    assert statuses(facts) == [DONE, DONE, DONE, ACTIVE]
    assert found[CONCLUSION].action == "Record the conclusion: pass, rectify or fail."
    assert next_step(steps(facts)).key == CONCLUSION


def test_steps_after_passing_offer_the_closure(app, english_ui):
    facts = AcceptanceFacts(
        project_state="accepted", report_state="verified", conclusion="pass", may_close=True
    )
    found = by_key(facts, "Pass")
    assert statuses(facts) == [DONE, DONE, DONE, DONE]
    assert found[CONCLUSION].detail == "Pass"
    assert found[CONCLUSION].action == "Close the project once every tranche is paid or cancelled."


def test_steps_of_a_closed_project_are_all_done_without_action(app, english_ui):
    facts = AcceptanceFacts(project_state="closed", report_state="verified", may_close=True)
    assert statuses(facts) == [DONE, DONE, DONE, DONE]
    assert by_key(facts)[CONCLUSION].detail == "Project closed"
    assert next_step(steps(facts)) is None


def test_steps_after_rectify_reopen_the_report(app, english_ui):
    facts = AcceptanceFacts(
        project_state="in_progress",
        report_state="draft",
        report_round=2,
        summary_written=True,
        kpis_complete=True,
        statement_complete=True,
        conclusion="rectify",
        **OWNER,
    )
    found = by_key(facts)
    assert found[CONCLUSION].status == ATTENTION
    assert found[CONCLUSION].detail == "Rectification required"
    assert found[REPORT].status == ACTIVE and next_step(steps(facts)).key == REPORT


# --- the pages ---------------------------------------------------------------------------------------


def step_url(project, name: str | None = None) -> str:
    base = f"/projects/{project.id}/acceptance"
    return f"{base}/{name}" if name else base


def current_of(html: str) -> str | None:
    found = re.search(
        r'data-step="(\w+)"[^>]*>\s*<span class="acceptance-step-link" aria-current', html
    )
    return found.group(1) if found else None


@pytest.mark.parametrize("name", ["report", "statement", "conclusion"])
def test_step_page_for_owner_bureau_finance_and_403_for_others(app, name):
    c = cast()
    submit_report(c)
    for user in (c.owner, c.bureau, c.finance):
        response = client_for(app, user).get(step_url(c.project, name))
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "data-stepper" in html
        assert current_of(html) == name
    for user in (c.outsider, make_user("expert")):
        assert client_for(app, user).get(step_url(c.project, name)).status_code == 403
    assert client_for(app, None).get(step_url(c.project, name)).status_code == 302


def test_panel_page_for_the_bureau_only(app):
    c = cast()
    submit_report(c)
    response = client_for(app, c.bureau).get(step_url(c.project, "panel"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and current_of(html) == "panel"
    assert 'name="invite-expert_id"' in html and 'name="summary"' not in html
    for user in (c.owner, c.finance, c.outsider, make_user("expert")):
        assert client_for(app, user).get(step_url(c.project, "panel")).status_code == 403


def test_step_pages_render_only_their_own_forms(app):
    c = cast()
    owner = client_for(app, c.owner)
    report = owner.get(step_url(c.project, "report")).get_data(as_text=True)
    assert 'name="summary"' in report and 'name="spent_' not in report
    assert "/acceptance/documents" in report and "/acceptance/outcomes" in report
    statement = owner.get(step_url(c.project, "statement")).get_data(as_text=True)
    assert 'name="spent_' in statement and 'name="summary"' not in statement
    assert f'action="/projects/{c.project.id}/acceptance/statement"' in statement
    overview = owner.get(step_url(c.project)).get_data(as_text=True)
    assert 'name="summary"' not in overview and 'name="spent_' not in overview


def test_step_pages_404_before_the_project_runs(app):
    from tests.factories import make_project

    project = make_project(state="contracting")
    bureau = client_for(app, make_user("bureau"))
    for name in ("report", "statement", "panel", "conclusion"):
        assert bureau.get(step_url(project, name)).status_code == 404


def test_overview_shows_each_role_its_next_step(app):
    c = cast()
    owner, finance, bureau = (client_for(app, u) for u in (c.owner, c.finance, c.bureau))

    def next_of(client):
        html = client.get(step_url(c.project)).get_data(as_text=True)
        return re.search(r'data-next-step="(\w*)"', html).group(1)

    assert next_of(owner) == "report" and next_of(finance) == "" and next_of(bureau) == ""
    submit_report(c)
    assert next_of(finance) == "statement" and next_of(owner) == ""
    verify(c)
    assert next_of(bureau) == "panel" and next_of(finance) == ""
    scored_panel(c, 3)
    assert next_of(bureau) == "conclusion"


def test_overview_keeps_the_anchors_of_the_former_page(app):
    c = cast()
    submit_report(c)
    html = client_for(app, c.bureau).get(step_url(c.project)).get_data(as_text=True)
    for anchor in ("report", "statement", "documents", "outcomes", "panel", "conclude", "closure"):
        assert f'id="{anchor}"' in html, anchor
    assert f'href="/projects/{c.project.id}/acceptance/panel"' in html


def test_statement_with_a_bad_figure_is_shown_again_on_its_step(app):
    c = cast()
    owner = client_for(app, c.owner)
    data = {f"spent_{line.category}": "1000" for line in c.project.budget_lines}
    data["spent_labour"] = "五百"
    data["action"] = "save"
    response = owner.post(step_url(c.project, "statement"), data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and current_of(html) == "statement"
    assert 'value="五百"' in html and "is-invalid" in html
    assert "请输入数字，例如 12 或 12500.50。" in html and "您填写的内容均已保留" in html
    assert ops.current_report(c.project) is None


def test_report_with_a_bad_figure_is_shown_again_on_its_step(app):
    c = cast()
    data = {"summary": "项目总结", "kpi_revenue": "很多", "action": "save"}
    response = client_for(app, c.owner).post(step_url(c.project, "report"), data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and current_of(html) == "report"
    assert 'value="很多"' in html and "项目总结" in html and "请输入数字" in html


def test_statement_saved_on_its_step_leaves_the_summary_and_kpis(app):
    c = cast()
    owner = client_for(app, c.owner)
    values = report_values(c.project)
    data = {"summary": values["summary"], "action": "save"}
    data.update({f"kpi_{k}": str(v) for k, v in values["kpi_achieved"].items()})
    assert owner.post(step_url(c.project, "report"), data=data).status_code == 302
    data = {f"spent_{k}": str(v) for k, v in values["statement"].items()}
    data["action"] = "save"
    response = owner.post(step_url(c.project, "statement"), data=data)
    assert response.status_code == 302
    assert response.location.endswith(step_url(c.project, "statement"))
    report = ops.current_report(reload(c.project))
    assert report.summary == values["summary"] and report.kpi_achieved
    assert set(report.statement) == set(values["statement"])
    data["action"] = "submit"
    response = owner.post(step_url(c.project, "statement"), data=data)
    assert response.status_code == 302 and reload(c.project).state == "acceptance_review"


def test_submitting_from_the_statement_step_says_what_the_report_lacks(app):
    c = cast()
    data = {f"spent_{line.category}": "1000" for line in c.project.budget_lines}
    data["action"] = "submit"
    response = client_for(app, c.owner).post(step_url(c.project, "statement"), data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and current_of(html) == "statement"
    assert "data-report-error" in html and 'value="1000"' in html
    assert reload(c.project).state == "in_progress"
    assert ops.current_report(c.project).state == "draft"


def test_refused_return_note_shows_the_statement_step(app):
    c = cast()
    submit_report(c)
    response = client_for(app, c.finance).post(
        step_url(c.project, "statement") + "/return", data={"statement-note": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and current_of(html) == "statement"
    assert 'name="statement-note"' in html


def test_refused_invitation_shows_the_panel_step_with_the_choice_kept(app):
    c = cast()
    submit_report(c)
    colleague = panel_expert(employer_id=c.project.organisation_id)
    response = client_for(app, c.bureau).post(
        step_url(c.project, "panel") + "/invite",
        data={"invite-expert_id": colleague.id, "invite-due_at": due_local()},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and current_of(html) == "panel"
    assert colleague.name in html and due_local() in html


def test_refused_conclusion_shows_the_conclusion_step_with_the_reasons_kept(app):
    c = cast()
    submit_report(c)
    verify(c)
    response = client_for(app, c.bureau).post(
        step_url(c.project) + "/conclude",
        data={
            "conclusion": "rectify",
            "reasons": "补充成果证明材料",
            "rectify_by": (local_today() - timedelta(days=1)).isoformat(),
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and current_of(html) == "conclusion"
    assert "补充成果证明材料" in html


def test_conclusion_and_closure_redirect_to_the_conclusion_step(app):
    c = cast()
    submit_report(c)
    verify(c)
    scored_panel(c, 3)
    bureau = client_for(app, c.bureau)
    response = bureau.post(step_url(c.project) + "/conclude", data={"conclusion": "pass"})
    assert response.status_code == 302
    assert response.location.endswith(step_url(c.project, "conclusion"))
    response = bureau.post(step_url(c.project) + "/close")
    assert response.location.endswith(step_url(c.project, "conclusion") + "#closure")


def test_step_pages_have_unique_ids(app):
    c = cast()
    submit_report(c)
    verify(c)
    scored_panel(c, 3)
    for user in (c.owner, c.bureau, c.finance):
        client = client_for(app, user)
        for name in (None, "report", "statement", "panel", "conclusion"):
            response = client.get(step_url(c.project, name))
            if response.status_code == 403:
                continue
            ids = re.findall(r'\sid="([^"]+)"', response.get_data(as_text=True))
            assert len(ids) == len(set(ids)), (name, sorted(i for i in ids if ids.count(i) > 1))


def test_an_award_outcome_is_called_an_award_not_the_grant_amount(app):
    """The outcome kind "Award" shared its msgid with the award of money (资助金额)."""
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        assert str(OUTCOME_KINDS["award"][0]) == "奖励"
