"""The tracking pages: lists with filters, the project page and its header, milestones, report review."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from grants.extensions import db
from grants.projects import progress as ops
from tests.conftest import PASSWORD
from tests.factories import CallFactory, ClusterFactory, OrganisationFactory, make_user
from tests.projects.tracking_helpers import (
    PDF_BYTES,
    bureau_officer,
    count_statements,
    milestone_tranche,
    outsiders,
    owner_of,
    reload,
    report_of,
    running_project,
)


def client_for(app, user):
    """A client signed in as ``user`` (None: anonymous)."""
    client = app.test_client()
    if user is not None:
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
    return client


def people(project) -> dict:
    return {
        "owner": owner_of(project),
        "bureau": bureau_officer(),
        **outsiders(),
        "anonymous": None,
    }


def ids_in(html: str) -> set[int]:
    import re

    return {int(i) for i in re.findall(r'data-project-id="(\d+)"', html)}


# --- lists -----------------------------------------------------------------------------------------


def test_index_for_bureau_and_finance_only(app):
    project = running_project()
    users = people(project)
    for who in ("bureau", "finance"):
        response = client_for(app, users[who]).get("/projects")
        assert response.status_code == 200 and project.code in response.get_data(as_text=True)
    for who in ("owner", "other_owner", "expert"):
        assert client_for(app, users[who]).get("/projects").status_code == 403
    response = client_for(app, None).get("/projects")
    assert response.status_code == 302 and "/login" in response.location


def test_index_filters_by_year_call_cluster_state_and_text(app):
    cluster = ClusterFactory()
    call = CallFactory(year=2025)
    a = running_project(OrganisationFactory(name="通化甲药业有限公司", cluster=cluster), call=call)
    b = running_project(OrganisationFactory(name="通化乙材料有限公司"))
    c = running_project(OrganisationFactory(name="通化丙装备有限公司"))
    db.session.execute(
        sa.update(type(c))
        .where(type(c).id == c.id)
        .values(state="terminated", terminated_at=c.signed_at, termination_reason="x")
    )
    client = client_for(app, bureau_officer())

    def listed(**args) -> set[int]:
        return ids_in(client.get("/projects", query_string=args).get_data(as_text=True)) & {
            a.id,
            b.id,
            c.id,
        }

    assert listed() == {a.id, b.id, c.id}
    assert listed(year=2025) == {a.id}
    assert listed(call=call.id) == {a.id}
    assert listed(cluster=cluster.id) == {a.id}
    assert listed(state="terminated") == {c.id}
    assert listed(q="乙材料") == {b.id}
    assert listed(q=a.code) == {a.id}
    assert listed(q=b.title) == {b.id}
    assert listed(state="nonsense", year="x", sort="evil") == {a.id, b.id, c.id}


def test_index_sorts_by_whitelisted_keys(app):
    small = running_project(award="100000.00")
    large = running_project(award="300000.00")
    client = client_for(app, bureau_officer())
    html = client.get("/projects", query_string={"sort": "-award", "q": "T"}).get_data(as_text=True)
    assert html.index(f'data-project-id="{large.id}"') < html.index(f'data-project-id="{small.id}"')
    html = client.get("/projects", query_string={"sort": "award", "q": "T"}).get_data(as_text=True)
    assert html.index(f'data-project-id="{small.id}"') < html.index(f'data-project-id="{large.id}"')


def test_index_statement_count_does_not_grow_with_projects(app):
    client = client_for(app, bureau_officer())
    running_project()
    running_project()
    client.get("/projects")
    with count_statements() as few:
        assert client.get("/projects").status_code == 200
    for _ in range(5):
        running_project()
    with count_statements() as many:
        assert client.get("/projects").status_code == 200
    assert many["n"] == few["n"]


def test_mine_lists_only_the_organisations_projects(app):
    mine = running_project()
    theirs = running_project()
    owner = owner_of(mine)
    response = client_for(app, owner).get("/my/projects")
    assert response.status_code == 200
    listed = ids_in(response.get_data(as_text=True))
    assert mine.id in listed and theirs.id not in listed
    assert client_for(app, bureau_officer()).get("/my/projects").status_code == 403


def test_navigation_shows_projects_by_role(app, english_ui):
    project = running_project()
    html = client_for(app, bureau_officer()).get("/").get_data(as_text=True)
    assert 'href="/projects"' in html and 'href="/my/projects"' not in html
    html = client_for(app, owner_of(project)).get("/").get_data(as_text=True)
    assert 'href="/my/projects"' in html and 'href="/projects"' not in html


# --- the project page -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who,status",
    [("owner", 200), ("bureau", 200), ("finance", 200), ("other_owner", 403), ("expert", 403)],
)
def test_detail_access(app, who, status):
    project = running_project()
    response = client_for(app, people(project)[who]).get(f"/projects/{project.id}")
    assert response.status_code == status
    if status == 200:
        html = response.get_data(as_text=True)
        assert project.code in html and project.organisation.name in html and "严建国" in html
        assert 'data-tab="overview"' in html and 'data-tab="milestones"' in html
        assert "20.00" in html  # the award of 200,000 yuan in 万元


def test_detail_anonymous_goes_to_login(app):
    project = running_project()
    response = client_for(app, None).get(f"/projects/{project.id}")
    assert response.status_code == 302 and "/login" in response.location


def test_detail_shows_state_history_from_the_audit_log(app, english_ui):
    from grants.core import audit

    project = running_project()
    audit.record(
        "project.sign",
        project,
        actor=bureau_officer(),
        before={"state": "contracting"},
        after={"state": "in_progress"},
    )
    db.session.flush()
    html = client_for(app, bureau_officer()).get(f"/projects/{project.id}").get_data(as_text=True)
    assert "Confirm the signed task book" in html and "Awaiting the signed task book" in html


def test_detail_404_for_unknown_project(app):
    assert client_for(app, bureau_officer()).get("/projects/999999").status_code == 404


# --- milestones and reports ----------------------------------------------------------------------


def test_milestones_tab_marks_overdue_ones(app):
    project = running_project(first_due_in=-3)
    html = (
        client_for(app, owner_of(project))
        .get(f"/projects/{project.id}/milestones")
        .get_data(as_text=True)
    )
    assert html.count("data-overdue") == 1
    assert f"/projects/{project.id}/milestones/{project.milestones[0].id}/report" in html


def test_owner_saves_a_draft_then_submits_through_the_page(app):
    project = running_project()
    owner = owner_of(project)
    milestone = project.milestones[0]
    client = client_for(app, owner)
    url = f"/projects/{project.id}/milestones/{milestone.id}/report"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        data={
            "text": "中试完成一半",
            "kpi_patents_filed": "1",
            "kpi_revenue": "",
            "action": "save",
            "evidence": (io.BytesIO(PDF_BYTES), "数据.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    report = report_of(milestone)
    assert report.state == "draft" and report.kpi_progress == {"patents_filed": "1.00"}
    assert [f.original_name for f in ops.evidence_of(report)] == ["数据.pdf"]
    response = client.post(
        url, data={"text": "中试完成", "kpi_patents_filed": "2", "action": "submit"}
    )
    assert response.status_code == 302 and response.location.endswith(f"/reports/{report.id}")
    assert reload(report).state == "submitted" and reload(milestone).state == "reported"


def test_report_form_keeps_what_was_typed_on_errors(app):
    project = running_project()
    milestone = project.milestones[0]
    client = client_for(app, owner_of(project))
    url = f"/projects/{project.id}/milestones/{milestone.id}/report"
    response = client.post(
        url, data={"text": "有进展", "kpi_patents_filed": "-1", "action": "save"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "有进展" in html and 'value="-1"' in html and 'aria-invalid="true"' in html
    response = client.post(url, data={"text": "", "kpi_patents_filed": "1", "action": "submit"})
    assert response.status_code == 422 and 'value="1"' in response.get_data(as_text=True)
    assert report_of(milestone) is None


@pytest.mark.parametrize("who", ["other_owner", "finance", "expert", "bureau"])
def test_report_form_forbidden_to_others(app, who):
    project = running_project()
    milestone = project.milestones[0]
    client = client_for(app, people(project)[who])
    url = f"/projects/{project.id}/milestones/{milestone.id}/report"
    assert client.get(url).status_code == 403
    assert client.post(url, data={"text": "x", "action": "submit"}).status_code == 403
    assert report_of(milestone) is None


def test_report_form_anonymous_goes_to_login(app):
    project = running_project()
    response = client_for(app, None).post(
        f"/projects/{project.id}/milestones/{project.milestones[0].id}/report",
        data={"text": "x", "action": "submit"},
    )
    assert response.status_code == 302 and "/login" in response.location


def _submitted(project):
    owner = owner_of(project)
    return ops.save_report(project.milestones[0], "中试完成", {}, [], owner, submit=True)


def test_bureau_approves_through_the_page_and_the_tranche_becomes_due(app):
    project = running_project()
    report = _submitted(project)
    client = client_for(app, bureau_officer())
    page = client.get(f"/projects/{project.id}/reports/{report.id}")
    assert page.status_code == 200 and f"/reports/{report.id}/approve" in page.get_data(
        as_text=True
    )
    response = client.post(
        f"/projects/{project.id}/reports/{report.id}/approve", data={"approve-note": ""}
    )
    assert response.status_code == 302
    assert reload(report).state == "approved" and milestone_tranche(project).due_since is not None


def test_bureau_returns_with_a_note_only(app):
    project = running_project()
    report = _submitted(project)
    client = client_for(app, bureau_officer())
    url = f"/projects/{project.id}/reports/{report.id}/return"
    assert client.post(url, data={"return-note": ""}).status_code == 422
    assert reload(report).state == "submitted"
    assert client.post(url, data={"return-note": "缺少数据"}).status_code == 302
    assert reload(report).state == "returned" and reload(report).review_note == "缺少数据"


@pytest.mark.parametrize("who", ["owner", "finance"])
@pytest.mark.parametrize("event", ["approve", "return"])
def test_review_forbidden_through_the_page(app, who, event):
    project = running_project()
    report = _submitted(project)
    client = client_for(app, people(project)[who])
    page = client.get(f"/projects/{project.id}/reports/{report.id}").get_data(as_text=True)
    assert f"/reports/{report.id}/{event}" not in page
    response = client.post(
        f"/projects/{project.id}/reports/{report.id}/{event}", data={f"{event}-note": "x"}
    )
    assert response.status_code == 403
    assert reload(report).state == "submitted"


@pytest.mark.parametrize("who", ["other_owner", "expert"])
def test_report_hidden_from_outsiders(app, who):
    project = running_project()
    report = _submitted(project)
    client = client_for(app, people(project)[who])
    assert client.get(f"/projects/{project.id}/reports/{report.id}").status_code == 403
    assert client.post(f"/projects/{project.id}/reports/{report.id}/approve").status_code == 403


def test_review_anonymous_goes_to_login(app):
    project = running_project()
    report = _submitted(project)
    response = client_for(app, None).post(f"/projects/{project.id}/reports/{report.id}/approve")
    assert response.status_code == 302 and "/login" in response.location
    assert reload(report).state == "submitted"


def test_report_of_another_project_is_404(app):
    project = running_project()
    report = _submitted(project)
    other = running_project()
    client = client_for(app, bureau_officer())
    assert client.get(f"/projects/{other.id}/reports/{report.id}").status_code == 404


def test_evidence_download_for_project_viewers_only(app):
    from werkzeug.datastructures import FileStorage

    project = running_project()
    owner = owner_of(project)
    report = ops.save_report(
        project.milestones[0], "x", {}, [FileStorage(io.BytesIO(PDF_BYTES), "证明.pdf")], owner
    )
    [item] = ops.evidence_of(report)
    db.session.commit()
    url = f"/projects/{project.id}/evidence/{item.id}"
    users = people(project)
    response = client_for(app, users["owner"]).get(url)
    assert response.status_code == 200 and response.data == PDF_BYTES
    for who in ("bureau", "finance"):  # the report is a draft: the owner's until submitted
        assert client_for(app, users[who]).get(url).status_code == 404
    ops.save_report(project.milestones[0], "x", {}, [], owner, submit=True)
    db.session.commit()
    for who in ("owner", "bureau", "finance"):
        response = client_for(app, users[who]).get(url)
        assert response.status_code == 200 and response.data == PDF_BYTES
    for who in ("other_owner", "expert"):
        assert client_for(app, users[who]).get(url).status_code == 403


def test_waiting_reports_page_for_the_bureau(app):
    project = running_project()
    report = _submitted(project)
    html = (
        client_for(app, bureau_officer()).get("/projects/progress-reports").get_data(as_text=True)
    )
    assert f'data-report-id="{report.id}"' in html
    assert (
        client_for(app, make_user("finance")).get("/projects/progress-reports").status_code == 403
    )


def test_owner_dashboard_panel_lists_due_and_overdue_milestones(app):
    overdue = running_project(first_due_in=-2)
    soon = running_project(overdue.organisation, first_due_in=10)
    later = running_project(overdue.organisation, first_due_in=60)
    html = client_for(app, owner_of(overdue)).get("/").get_data(as_text=True)
    assert f"/milestones/{overdue.milestones[0].id}/report" in html
    assert f"/milestones/{soon.milestones[0].id}/report" in html
    assert f"/milestones/{later.milestones[0].id}/report" not in html


def test_bureau_dashboard_panels_count_waiting_reports_and_risks(app):
    project = running_project(first_due_in=-5)
    waiting = running_project()
    report = _submitted(waiting)
    html = client_for(app, bureau_officer()).get("/").get_data(as_text=True)
    assert f"/projects/{waiting.id}/reports/{report.id}" in html
    assert f'href="/projects/{project.id}"' in html  # at risk: its milestone is five days overdue
    assert f'href="/projects/{waiting.id}"' not in html


def test_overview_links_workflow_actions_to_the_tab_holding_their_form(app, monkeypatch):
    import grants.projects.views.tracking as tracking
    from grants.projects.tabs import ProjectTab

    changes_tab = ProjectTab("test-changes", "Changes", "projects.milestones", "project.view", 60)
    monkeypatch.setattr(tracking, "TABS", {"test-changes": changes_tab})
    project = running_project()
    html = client_for(app, bureau_officer()).get(f"/projects/{project.id}").get_data(as_text=True)
    actions = html.split('id="actions-heading"')[1]
    assert (
        f'href="/projects/{project.id}/milestones"' in actions
    )  # terminate: its form lives on tab 60
    html = client_for(app, owner_of(project)).get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'id="actions-heading"' not in html  # the owner may not terminate
