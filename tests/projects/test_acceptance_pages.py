"""The acceptance pages: the project's acceptance tab for the owner, finance and the bureau, their
forms (422 with what was typed kept), files, the expert's scoring page and queue, the bureau's list
and the dashboard panels."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.extensions import db
from grants.projects import acceptance as ops
from grants.projects.models import Outcome, ProjectFile
from grants.review.models import Assignment
from tests.conftest import PASSWORD
from tests.factories import make_project, make_user
from tests.projects.acceptance_helpers import (
    cast,
    join_panel,
    panel_expert,
    reload,
    report_values,
    scored_panel,
    submit_report,
    verify,
)

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def client_for(app, user):
    client = app.test_client()
    if user is not None:
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
    return client


def tab(project) -> str:
    return f"/projects/{project.id}/acceptance"


def step(project, name: str) -> str:
    return f"/projects/{project.id}/acceptance/{name}"


def report_form(project, action: str = "save", **changes) -> dict:
    values = report_values(project, **changes)
    data = {"summary": values["summary"], "action": action}
    data.update({f"kpi_{k}": str(v) for k, v in values["kpi_achieved"].items()})
    data.update({f"spent_{k}": str(v) for k, v in values["statement"].items()})
    return data


def due_local() -> str:
    return (local_today() + timedelta(days=10)).isoformat() + "T18:00"


# --- who sees the tab ----------------------------------------------------------------------------


def test_tab_for_owner_bureau_finance_only(app):
    c = cast()
    for user in (c.owner, c.bureau, c.finance):
        response = client_for(app, user).get(tab(c.project))
        assert response.status_code == 200
        assert 'data-tab="acceptance"' in response.get_data(as_text=True)
    assert client_for(app, c.outsider).get(tab(c.project)).status_code == 403
    assert client_for(app, make_user("expert")).get(tab(c.project)).status_code == 403
    assert client_for(app, None).get(tab(c.project)).status_code == 302


def test_tab_hidden_before_the_project_runs(app):
    project = make_project(state="contracting")
    bureau = make_user("bureau")
    response = client_for(app, bureau).get(f"/projects/{project.id}")
    assert response.status_code == 200 and 'data-tab="acceptance"' not in response.get_data(
        as_text=True
    )
    assert client_for(app, bureau).get(tab(project)).status_code == 404


# --- the owner -------------------------------------------------------------------------------------


def test_owner_form_prefills_statement_from_verified_spending(app):
    from tests.projects.acceptance_helpers import verified_spending

    c = cast()
    verified_spending(c.project, "labour", "8800.00")
    owner = client_for(app, c.owner)
    html = owner.get(step(c.project, "statement")).get_data(as_text=True)
    assert 'name="spent_labour"' in html and 'value="8800"' in html
    assert 'name="kpi_patents_filed"' in owner.get(step(c.project, "report")).get_data(as_text=True)


def test_owner_saves_draft_and_bad_figure_is_refused_with_values_kept(app):
    c = cast()
    client = client_for(app, c.owner)
    data = report_form(c.project)
    data["kpi_revenue"] = "五百"
    response = client.post(tab(c.project) + "/report", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="五百"' in html and "is-invalid" in html
    assert data["summary"] in html
    assert ops.current_report(c.project) is None
    response = client.post(tab(c.project) + "/report", data=report_form(c.project))
    assert response.status_code == 302
    report = ops.current_report(reload(c.project))
    assert report.state == "draft" and report.kpi_achieved == {
        "patents_filed": "3.00",
        "revenue": "501.00",
    }


def test_owner_submits_and_project_requests_acceptance(app):
    c = cast()
    response = client_for(app, c.owner).post(
        tab(c.project) + "/report", data=report_form(c.project, "submit")
    )
    assert response.status_code == 302
    project = reload(c.project)
    assert project.state == "acceptance_review" and ops.current_report(project).state == "submitted"


def test_incomplete_submission_keeps_the_draft_and_says_why(app):
    c = cast()
    data = report_form(c.project, "submit")
    data["kpi_revenue"] = ""
    response = client_for(app, c.owner).post(tab(c.project) + "/report", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "data-report-error" in html
    assert ops.kpi_label("revenue")[0] in html
    report = ops.current_report(reload(c.project))
    assert report.state == "draft" and "revenue" not in report.kpi_achieved
    assert reload(c.project).state == "in_progress"


def test_others_cannot_write_the_report(app):
    c = cast()
    for user in (c.outsider, c.bureau, c.finance):
        response = client_for(app, user).post(
            tab(c.project) + "/report", data=report_form(c.project, "submit")
        )
        assert response.status_code == 403
    assert ops.current_report(c.project) is None


def test_documents_uploaded_downloaded_and_removed(app):
    c = cast()
    owner = client_for(app, c.owner)
    response = owner.post(
        tab(c.project) + "/documents",
        data={"purpose": "final_report", "file": (io.BytesIO(PDF_BYTES), "结题报告.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    item = db.session.scalar(sa.select(ProjectFile).where(ProjectFile.project_id == c.project.id))
    assert (
        item.purpose == "final_report" and item.final_report_id == ops.current_report(c.project).id
    )
    download = owner.get(tab(c.project) + f"/files/{item.id}")
    assert download.status_code == 200 and download.data == PDF_BYTES
    assert (
        client_for(app, make_user("expert")).get(tab(c.project) + f"/files/{item.id}").status_code
        == 404
    )
    bad = owner.post(
        tab(c.project) + "/documents",
        data={"purpose": "final_statement", "file": (io.BytesIO(b"not a pdf"), "决算.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert owner.post(tab(c.project) + f"/documents/{item.id}/delete").status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count(ProjectFile.id)).where(ProjectFile.project_id == c.project.id)
        )
        == 0
    )


def test_outcome_recorded_with_evidence_and_listed(app):
    c = cast()
    owner = client_for(app, c.owner)
    response = owner.post(
        tab(c.project) + "/outcomes",
        data={
            "kind": "revenue",
            "title": "新产品销售收入",
            "quantity": "1,250,000.50",
            "reference": "审计报告2026-01",
            "achieved_on": (local_today() - timedelta(days=3)).isoformat(),
            "note": "",
            "evidence": (io.BytesIO(PDF_BYTES), "审计报告.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    outcome = db.session.scalar(sa.select(Outcome).where(Outcome.project_id == c.project.id))
    assert outcome.kind == "revenue" and outcome.quantity == Decimal("1250000.50")
    evidence = db.session.scalar(sa.select(ProjectFile).where(ProjectFile.outcome_id == outcome.id))
    assert evidence.purpose == "outcome_evidence"
    html = owner.get(step(c.project, "report")).get_data(as_text=True)
    assert "新产品销售收入" in html and "审计报告.pdf" in html
    refused = owner.post(
        tab(c.project) + "/outcomes", data={"kind": "patent", "title": "", "quantity": "-1"}
    )
    assert refused.status_code == 422
    assert (
        client_for(app, c.outsider)
        .post(tab(c.project) + "/outcomes", data={"kind": "patent", "title": "x", "quantity": "1"})
        .status_code
        == 403
    )
    assert owner.post(tab(c.project) + f"/outcomes/{outcome.id}/delete").status_code == 302
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Outcome.id)).where(Outcome.project_id == c.project.id)
        )
        == 0
    )


# --- finance ---------------------------------------------------------------------------------------


def test_finance_sees_statement_beside_budget_and_verifies(app):
    c = cast()
    submit_report(c)
    finance = client_for(app, c.finance)
    html = finance.get(step(c.project, "statement")).get_data(as_text=True)
    assert "data-statement" in html and "statement/verify" in html
    assert client_for(app, c.owner).post(tab(c.project) + "/statement/verify").status_code == 403
    assert client_for(app, c.bureau).post(tab(c.project) + "/statement/verify").status_code == 403
    response = finance.post(tab(c.project) + "/statement/verify")
    assert response.status_code == 302 and ops.current_report(reload(c.project)).state == "verified"


def test_finance_return_needs_a_note(app):
    c = cast()
    submit_report(c)
    finance = client_for(app, c.finance)
    assert (
        finance.post(tab(c.project) + "/statement/return", data={"statement-note": ""}).status_code
        == 422
    )
    response = finance.post(
        tab(c.project) + "/statement/return", data={"statement-note": "劳务费超出预算"}
    )
    assert response.status_code == 302
    report = ops.current_report(reload(c.project))
    assert report.state == "returned"
    html = client_for(app, c.owner).get(step(c.project, "statement")).get_data(as_text=True)
    assert "劳务费超出预算" in html and 'value="resubmit"' not in html and 'name="spent_' in html


# --- the bureau ------------------------------------------------------------------------------------


def test_bureau_invites_expert_and_conflicted_one_is_refused(app):
    c = cast()
    submit_report(c)
    bureau = client_for(app, c.bureau)
    good = panel_expert()
    colleague = panel_expert(employer_id=c.project.organisation_id)
    html = bureau.get(step(c.project, "panel")).get_data(as_text=True)
    options = re.findall(r"<option[^>]*>[^<]*</option>", html)
    [bad] = [o for o in options if f'value="{colleague.id}"' in o]
    [fine] = [o for o in options if f'value="{good.id}"' in o]
    assert "disabled" in bad and colleague.name in bad and "disabled" not in fine
    refused = bureau.post(
        tab(c.project) + "/panel/invite",
        data={"invite-expert_id": colleague.id, "invite-due_at": due_local()},
    )
    assert refused.status_code == 422 and colleague.name in refused.get_data(as_text=True)
    response = bureau.post(
        tab(c.project) + "/panel/invite",
        data={"invite-expert_id": good.id, "invite-due_at": due_local()},
    )
    assert response.status_code == 302
    assignments = db.session.scalars(
        sa.select(Assignment).where(Assignment.purpose == "acceptance")
    ).all()
    assert [(a.expert_id, a.round) for a in assignments] == [(good.id, 1)]
    assert (
        client_for(app, c.owner)
        .post(
            tab(c.project) + "/panel/invite",
            data={"invite-expert_id": good.id, "invite-due_at": due_local()},
        )
        .status_code
        == 403
    )


def test_bureau_invites_suggested_panel(app):
    c = cast()
    submit_report(c)
    experts = [panel_expert() for _ in range(4)]
    response = client_for(app, c.bureau).post(
        tab(c.project) + "/panel/suggested",
        data={"suggest-size": "3", "suggest-due_at": due_local()},
    )
    assert response.status_code == 302
    state = ops.panel_state(reload(c.project))
    assert len(state.assignments) == 3 and {a.expert_id for a in state.assignments} <= {
        e.id for e in experts
    }


def test_withdrawing_from_the_panel_returns_to_the_tab(app):
    c = cast()
    submit_report(c)
    assignment = join_panel(c, panel_expert(), accept=False)
    response = client_for(app, c.bureau).post(f"/assignments/{assignment.id}/withdraw")
    assert response.status_code == 302 and response.location.endswith(step(c.project, "panel"))
    assert reload(assignment).state == "withdrawn"


def test_bureau_concludes_and_closes_through_the_tab(app):
    c = cast()
    submit_report(c)
    verify(c)
    scored_panel(c, 3)
    bureau = client_for(app, c.bureau)
    assert "data-mean>80" in bureau.get(step(c.project, "panel")).get_data(as_text=True)
    html = bureau.get(step(c.project, "conclusion")).get_data(as_text=True)
    assert "/acceptance/conclude" in html
    refused = bureau.post(
        tab(c.project) + "/conclude", data={"conclusion": "rectify", "reasons": "补充"}
    )
    assert refused.status_code == 422 and reload(c.project).state == "acceptance_review"
    assert (
        client_for(app, c.owner)
        .post(tab(c.project) + "/conclude", data={"conclusion": "pass"})
        .status_code
        == 403
    )
    assert bureau.post(tab(c.project) + "/conclude", data={"conclusion": "pass"}).status_code == 302
    assert reload(c.project).state == "accepted"
    response = bureau.post(tab(c.project) + "/close")
    assert response.status_code == 302 and reload(c.project).state == "accepted"
    html = bureau.get(step(c.project, "conclusion")).get_data(as_text=True)
    assert "data-open-tranches" in html


def test_conclusion_refused_without_quorum_is_shown(app):
    c = cast()
    submit_report(c)
    verify(c)
    response = client_for(app, c.bureau).post(
        tab(c.project) + "/conclude", data={"conclusion": "pass"}
    )
    assert response.status_code == 422 and "data-conclusion-error" in response.get_data(
        as_text=True
    )


def test_bureau_list_of_projects_in_acceptance_review(app):
    c = cast()
    submit_report(c)
    other = cast()
    response = client_for(app, c.bureau).get("/projects/acceptance-review")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and c.project.code in html and other.project.code not in html
    assert client_for(app, c.owner).get("/projects/acceptance-review").status_code == 403
    assert client_for(app, c.finance).get("/projects/acceptance-review").status_code == 403


# --- experts ---------------------------------------------------------------------------------------


def test_expert_scores_the_final_report_not_the_proposal(app, english_ui):
    c = cast()
    report = submit_report(c)
    assignment = join_panel(c, panel_expert())
    expert = client_for(app, assignment.expert.user)
    html = expert.get(f"/expert/assignments/{assignment.id}/review").get_data(as_text=True)
    assert report.summary in html and 'data-kpi="revenue"' in html and "data-statement" in html
    assert 'data-purpose="acceptance"' in html
    criteria = reload(c.project.call).acceptance_criteria
    for criterion in criteria:
        assert f'name="score_{criterion.id}"' in html
    for criterion in c.project.call.criteria:
        assert f'name="score_{criterion.id}"' not in html
    data = {
        "action": "submit",
        "recommendation": "fund",
        "comment": "项目完成了任务书规定的全部研究内容，主要绩效指标均已达到或超过目标值，"
        "经费使用基本规范，成果已在企业生产线上应用，同意通过验收。",
    }
    data.update({f"score_{cr.id}": "9" for cr in criteria})
    response = expert.post(f"/expert/assignments/{assignment.id}/review", data=data)
    assert response.status_code == 302
    assert reload(assignment).review.total == Decimal("90.0000")
    queue = expert.get("/expert/reviews").get_data(as_text=True)
    assert 'data-purpose="acceptance"' in queue and "Acceptance review" in queue


def test_panel_expert_downloads_documents_only_after_accepting(app):
    c = cast()
    ops.add_report_document(
        c.project, c.owner, "final_statement", _upload(PDF_BYTES, "决算报告.pdf")
    )
    submit_report(c)
    item = db.session.scalar(sa.select(ProjectFile).where(ProjectFile.project_id == c.project.id))
    expert = panel_expert()
    assignment = join_panel(c, expert, accept=False)
    client = client_for(app, expert.user)
    assert client.get(tab(c.project) + f"/files/{item.id}").status_code == 404
    from grants.core.workflow import transition

    transition(assignment, "accept", expert.user, no_conflict=True)
    db.session.flush()
    assert client.get(tab(c.project) + f"/files/{item.id}").status_code == 200


def test_expert_invitation_page_names_the_project(app, english_ui):
    c = cast()
    submit_report(c)
    assignment = join_panel(c, panel_expert(), accept=False)
    html = (
        client_for(app, assignment.expert.user)
        .get(f"/expert/assignments/{assignment.id}")
        .get_data(as_text=True)
    )
    assert c.project.code in html and c.project.organisation.name in html


# --- dashboard -------------------------------------------------------------------------------------


def test_dashboard_panels_for_bureau_finance_and_expert(app):
    c = cast()
    submit_report(c)
    bureau_html = client_for(app, c.bureau).get("/").get_data(as_text=True)
    assert "panel-projects-acceptance_bureau" in bureau_html and c.project.code in bureau_html
    finance_html = client_for(app, c.finance).get("/").get_data(as_text=True)
    assert "panel-projects-acceptance_finance" in finance_html and c.project.code in finance_html
    assignment = join_panel(c, panel_expert(), accept=False)
    expert_html = client_for(app, assignment.expert.user).get("/").get_data(as_text=True)
    assert "panel-projects-acceptance_expert" in expert_html
    assert f"/expert/assignments/{assignment.id}" in expert_html
    verify(c)
    assert "panel-projects-acceptance_finance" not in client_for(app, c.finance).get("/").get_data(
        as_text=True
    )


def _upload(data: bytes, name: str):
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


def test_rectified_project_shows_deadline_and_new_round(app):
    c = cast()
    submit_report(c)
    scored_panel(c, 3)
    ops.conclude(
        c.project,
        c.bureau,
        "rectify",
        reasons="补充成果证明材料",
        rectify_by=local_today() + timedelta(days=30),
    )
    html = client_for(app, c.owner).get(step(c.project, "report")).get_data(as_text=True)
    assert "data-rectify" in html and "补充成果证明材料" in html and 'name="summary"' in html
    assert utcnow() is not None


def test_bureau_reads_and_reopens_an_acceptance_review(app):
    c = cast()
    report = submit_report(c)
    [assignment] = scored_panel(c, 1)
    bureau = client_for(app, c.bureau)
    html = bureau.get(f"/reviews/{assignment.review.id}").get_data(as_text=True)
    assert (
        report.summary in html
        and f"/projects/{c.project.id}/acceptance" in html
        and "reopen" in html
    )
    response = bureau.post(
        f"/reviews/{assignment.review.id}/reopen", data={"reason": "请补充经费使用意见"}
    )
    assert response.status_code == 302 and reload(assignment.review).state == "draft"
