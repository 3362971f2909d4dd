"""Starting an application, the sectioned form, autosave of sections, the checklist, who may edit."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.applications.models import Application, BudgetLine, TeamMember
from grants.core.types import utcnow
from grants.extensions import db
from tests.applications.helpers import (
    HTMX,
    applicant_with_draft,
    as_rendered,
    audit_actions,
    budget_data,
    reload,
)
from tests.factories import ApplicationFactory, CallFactory, ClusterFactory, make_user

pytestmark = pytest.mark.usefixtures("untranslated_ui")  # asserts on English source text

# --- starting -------------------------------------------------------------------------------


def test_new_application_get_shows_call_and_start_button(client, login):
    user = make_user("applicant")
    call = CallFactory(title="2026年度科技攻关计划")
    login(user)
    response = client.get(f"/calls/{call.id}/apply")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "2026年度科技攻关计划" in html and user.organisation.name in html
    assert f'action="/calls/{call.id}/apply"' in html
    assert db.session.scalar(sa.select(sa.func.count(Application.id))) == 0


def test_new_application_post_creates_draft_with_organisation_cluster(client, login):
    user = make_user("applicant")
    call = CallFactory()
    call.clusters.append(user.organisation.cluster)
    db.session.flush()
    login(user)
    response = client.post(f"/calls/{call.id}/apply")
    application = db.session.scalars(sa.select(Application)).one()
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/applications/{application.id}/edit")
    assert (
        application.state,
        application.organisation_id,
        application.cluster_id,
        application.created_by_id,
    ) == ("draft", user.organisation_id, user.organisation.cluster_id, user.id)
    assert audit_actions(application) == ["application.created"]


def test_new_application_cluster_not_targeted_is_left_to_choose(client, login):
    user = make_user("applicant")
    call = CallFactory()
    call.clusters.append(ClusterFactory())
    db.session.flush()
    login(user)
    client.post(f"/calls/{call.id}/apply")
    assert db.session.scalars(sa.select(Application)).one().cluster_id is None


def test_new_application_closed_call_is_refused(client, login):
    user = make_user("applicant")
    call = CallFactory(
        opens_at=utcnow() - timedelta(days=30), closes_at=utcnow() - timedelta(minutes=1)
    )
    login(user)
    response = client.post(f"/calls/{call.id}/apply", follow_redirects=True)
    assert response.status_code == 200
    assert "is not open for applications" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Application.id))) == 0


def test_new_application_by_bureau_is_403(client, login):
    call = CallFactory()
    login(make_user("bureau"))
    assert client.post(f"/calls/{call.id}/apply").status_code == 403


def test_new_application_shows_eligibility_warning(client, login):
    user = make_user("applicant")
    call = CallFactory(required_qualification="national_high_tech")
    login(user)
    html = client.get(f"/calls/{call.id}/apply").get_data(as_text=True)
    assert "does not hold it on that day" in html


# --- my applications ------------------------------------------------------------------------


def test_mine_lists_own_applications_with_returned_reasons_highlighted(client, login):
    user, application = applicant_with_draft(filled=False)
    application.title = "我的草稿"
    returned = ApplicationFactory(
        organisation=user.organisation,
        title="被退回的申报书",
        state="returned",
        reference_no="2026-R-001",
        submitted_at=utcnow(),
    )
    from grants.applications.models import FormalCheck

    returned.checks.append(FormalCheck(decision="return", reasons="预算说明不完整"))
    ApplicationFactory(title="别人的申报书")
    db.session.flush()
    login(user)
    response = client.get("/applications")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "我的草稿" in html and "被退回的申报书" in html and "2026-R-001" in html
    assert "预算说明不完整" in html and "table-warning" in html
    assert "别人的申报书" not in html
    assert html.index("被退回的申报书") < html.index("我的草稿")


def test_mine_for_bureau_is_403(client, login):
    login(make_user("bureau"))
    assert client.get("/applications").status_code == 403


# --- the form -------------------------------------------------------------------------------


def test_edit_page_shows_every_section_and_checklist(client, login):
    user, application = applicant_with_draft()
    login(user)
    response = client.get(f"/applications/{application.id}/edit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for section in ("basic", "team", "budget", "milestones", "kpis", "attachments"):
        assert f'id="section-{section}"' in html
    for text in (
        application.title,
        "严建国",
        'value="10"',
        'value="15"',
        ">62.00<",
        ">27.00<",
        ">35.00<",
        'id="checklist"',
        "Upload the required attachment “营业执照”.",
        'data-updated-at="',
        'hx-trigger="change delay:800ms, submit"',
        "data-save-banner",
        "team-members-__index__-name",
    ):
        assert text in html, text
    assert "<script>" not in html and " style=" not in html


def test_save_basic_section_htmx_returns_partial_with_saved(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = {
        "basic-title": "新的项目名称",
        "basic-cluster_id": str(application.cluster_id),
        "basic-start_date": "2026-03-01",
        "basic-end_date": "2027-12-31",
        "basic-summary": "摘要",
        "basic-objectives": "目标",
        "basic-technical_route": "路线",
    }
    response = client.post(
        f"/applications/{application.id}/sections/basic", data=data, headers=HTMX
    )
    assert response.status_code == 200
    assert response.headers["X-Section-Saved"] == "basic"
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<form id="form-basic"')
    assert "Saved " in html and 'value="新的项目名称"' in html
    assert (
        'id="checklist" class="card checklist" aria-labelledby="checklist-heading" hx-swap-oob="true"'
        in html
    )
    assert "<html" not in html
    saved = reload(application)
    assert (saved.title, saved.start_date, saved.summary) == (
        "新的项目名称",
        date(2026, 3, 1),
        "摘要",
    )
    assert audit_actions(saved) == ["application.section_saved"]


def test_save_same_section_twice_is_audited_once(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = {"basic-title": "同样的标题", "basic-cluster_id": str(application.cluster_id)}
    client.post(f"/applications/{application.id}/sections/basic", data=data, headers=HTMX)
    version = reload(application).version
    client.post(f"/applications/{application.id}/sections/basic", data=data, headers=HTMX)
    assert audit_actions(application) == ["application.section_saved"]
    assert reload(application).version == version


def test_a_changed_section_is_one_write_of_the_application(client, login):
    """Saving a section moves the application's version by one (one UPDATE), not once per flush."""
    user, application = applicant_with_draft()
    login(user)
    version = reload(application).version
    data = {"basic-title": "改过的标题", "basic-cluster_id": str(application.cluster_id)}
    client.post(f"/applications/{application.id}/sections/basic", data=data, headers=HTMX)
    assert reload(application).title == "改过的标题"
    assert reload(application).version == version + 1


def test_save_section_with_error_keeps_typed_values_and_saves_nothing(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = {
        "basic-title": "保留我的输入",
        "basic-cluster_id": str(application.cluster_id),
        "basic-start_date": "2027-01-01",
        "basic-end_date": "2026-01-01",
        "basic-summary": "这段摘要不能丢",
    }
    response = client.post(
        f"/applications/{application.id}/sections/basic", data=data, headers=HTMX
    )
    assert response.status_code == 200
    assert "X-Section-Saved" not in response.headers
    html = response.get_data(as_text=True)
    assert 'value="保留我的输入"' in html and "这段摘要不能丢" in html
    assert 'value="2027-01-01"' in html and 'value="2026-01-01"' in html
    assert "The end must come after the start." in html and 'aria-invalid="true"' in html
    assert reload(application).title != "保留我的输入"
    assert audit_actions(application) == []


def test_save_section_without_htmx_redirects_back_to_the_section(client, login):
    user, application = applicant_with_draft()
    login(user)
    response = client.post(
        f"/applications/{application.id}/sections/basic",
        data={"basic-title": "普通提交", "basic-cluster_id": "0"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/applications/{application.id}/edit#section-basic"
    )
    assert reload(application).cluster_id is None


def test_save_basic_cluster_outside_choices_is_an_error(client, login):
    user, application = applicant_with_draft()
    foreign = ClusterFactory()
    login(user)
    response = client.post(
        f"/applications/{application.id}/sections/basic",
        data={"basic-title": "x", "basic-cluster_id": str(foreign.id)},
        headers=HTMX,
    )
    assert "Not a valid choice" in response.get_data(
        as_text=True
    ) or "Choose one of" in response.get_data(as_text=True)
    assert reload(application).cluster_id != foreign.id


def team_data(*rows) -> dict:
    data = {}
    for i, (name, role) in enumerate(rows):
        data.update(
            {
                f"team-members-{i}-name": name,
                f"team-members-{i}-role": role,
                f"team-members-{i}-title": "",
                f"team-members-{i}-organisation_name": "",
                f"team-members-{i}-expertise": "",
                f"team-members-{i}-workload_months": "",
            }
        )
    return data


def test_save_team_replaces_rows_and_ignores_blank_rows(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = team_data(("王一", "principal"), ("", "member"), ("赵二", "core"))
    data["team-members-2-workload_months"] = "6"
    response = client.post(f"/applications/{application.id}/sections/team", data=data, headers=HTMX)
    assert response.status_code == 200 and response.headers["X-Section-Saved"] == "team"
    members = db.session.scalars(
        sa.select(TeamMember)
        .where(TeamMember.application_id == application.id)
        .order_by(TeamMember.position)
    ).all()
    assert [(m.name, m.role, m.position, m.workload_months) for m in members] == [
        ("王一", "principal", 1, None),
        ("赵二", "core", 2, 6),
    ]


def test_save_team_two_principals_is_refused_with_input_kept(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = team_data(("王一", "principal"), ("赵二", "principal"))
    response = client.post(f"/applications/{application.id}/sections/team", data=data, headers=HTMX)
    html = response.get_data(as_text=True)
    assert "Only one member can be the principal investigator; 2 are marked as such." in html
    assert 'value="赵二"' in html
    assert [m.name for m in reload(application).team] == ["严建国"]


def test_save_team_row_without_name_is_an_error_beside_the_field(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = team_data(("王一", "principal"), ("", "core"))
    data["team-members-1-title"] = "工程师"
    html = client.post(
        f"/applications/{application.id}/sections/team", data=data, headers=HTMX
    ).get_data(as_text=True)
    assert 'id="team-members-1-name-error"' in html and "s name, or clear the row." in html
    assert 'value="工程师"' in html


def test_save_budget_stores_yuan_lines_and_totals(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = budget_data(
        equipment=("10", "20"),
        business_materials=("5.5", ""),
        business_testing=("0.0001", "1"),
        labour=("3", "3"),
        indirect=("2", ""),
    )
    response = client.post(
        f"/applications/{application.id}/sections/budget", data=data, headers=HTMX
    )
    assert response.status_code == 200 and response.headers["X-Section-Saved"] == "budget"
    lines = {
        (b.category, b.sub_item): (b.fiscal, b.self_raised)
        for b in db.session.scalars(
            sa.select(BudgetLine).where(BudgetLine.application_id == application.id)
        )
    }
    assert lines == {
        ("equipment", ""): (Decimal("100000.00"), Decimal("200000.00")),
        ("business", "materials"): (Decimal("55000.00"), Decimal("0.00")),
        ("business", "testing"): (Decimal("1.00"), Decimal("10000.00")),
        ("labour", ""): (Decimal("30000.00"), Decimal("30000.00")),
        ("indirect", ""): (Decimal("20000.00"), Decimal("0.00")),
    }
    saved = reload(application)
    assert (saved.fiscal_total, saved.self_raised_total) == (
        Decimal("205001.00"),
        Decimal("240000.00"),
    )
    html = response.get_data(as_text=True)
    # read in 万元 to two decimals; the yuan is kept in the lines and totals above
    assert '<span id="budget-total-all" class="budget-amount">44.50</span>' in html
    assert '<span id="budget-fiscal-business" class="budget-amount">5.50</span>' in html


def test_save_budget_with_five_decimals_is_refused_and_kept(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = budget_data(equipment=("10.00001", "20"))
    html = client.post(
        f"/applications/{application.id}/sections/budget", data=data, headers=HTMX
    ).get_data(as_text=True)
    assert as_rendered(_l("Use at most four decimal places: 0.0001 is one yuan.")) in html
    assert 'value="10.00001"' in html
    assert '<span id="budget-total-equipment" class="budget-amount">—</span>' in html
    assert reload(application).fiscal_total == Decimal("270000.00")


def test_budget_preview_computes_totals_and_rules_without_saving(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = budget_data(equipment=("60", "60"))
    response = client.post(
        f"/applications/{application.id}/sections/budget/preview", data=data, headers=HTMX
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (
        '<span id="budget-total-equipment" class="budget-amount" hx-swap-oob="true">120.00</span>'
        in html
    )
    assert (
        "The fiscal request of 600,000.00 元 exceeds the call&#39;s cap of 500,000.00 元." in html
    )
    assert 'id="budget-checks"' in html
    assert reload(application).fiscal_total == Decimal("270000.00")


def milestone_data(*rows) -> dict:
    data = {}
    for i, (title, due, share) in enumerate(rows):
        data.update(
            {
                f"milestones-milestones-{i}-title": title,
                f"milestones-milestones-{i}-due_date": due,
                f"milestones-milestones-{i}-deliverable": "",
                f"milestones-milestones-{i}-share": share,
            }
        )
    return data


def test_save_milestones_stores_shares_as_fractions(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = milestone_data(
        ("样机", "2026-06-30", "33.33"),
        ("中试", "2026-12-31", "33.33"),
        ("验收", "2027-12-31", "33.34"),
    )
    response = client.post(
        f"/applications/{application.id}/sections/milestones", data=data, headers=HTMX
    )
    assert response.headers["X-Section-Saved"] == "milestones"
    saved = reload(application)
    assert [(m.title, m.funding_share) for m in saved.milestones] == [
        ("样机", Decimal("0.3333")),
        ("中试", Decimal("0.3333")),
        ("验收", Decimal("0.3334")),
    ]
    assert "This section is complete." in response.get_data(as_text=True)


def test_save_milestones_shares_not_100_saves_and_lists_the_problem(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = milestone_data(("样机", "2026-06-30", "40"), ("验收", "2027-12-31", "40"))
    html = client.post(
        f"/applications/{application.id}/sections/milestones", data=data, headers=HTMX
    ).get_data(as_text=True)
    assert "add up to 80 %; they must add up to exactly 100 %." in html
    assert len(reload(application).milestones) == 2


def test_save_milestones_bad_share_and_missing_date_are_errors(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = milestone_data(("样机", "", "140"))
    html = client.post(
        f"/applications/{application.id}/sections/milestones", data=data, headers=HTMX
    ).get_data(as_text=True)
    assert "Give the due date." in html and "Enter a percentage between 0 and 100." in html
    assert 'value="样机"' in html and 'value="140"' in html


def test_save_kpis_keeps_only_rows_with_content(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = {
        "kpis-patents_filed-target": "3",
        "kpis-revenue-target": "1500.5",
        "kpis-revenue-note": "三年累计",
        "kpis-jobs-target": "",
    }
    response = client.post(f"/applications/{application.id}/sections/kpis", data=data, headers=HTMX)
    assert response.headers["X-Section-Saved"] == "kpis"
    assert sorted((k.kind, k.target, k.note) for k in reload(application).kpis) == [
        ("patents_filed", Decimal("3.00"), ""),
        ("revenue", Decimal("1500.50"), "三年累计"),
    ]


def test_unknown_section_is_404(client, login):
    user, application = applicant_with_draft()
    login(user)
    assert client.post(f"/applications/{application.id}/sections/state", data={}).status_code == 404


# --- who may edit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/applications/{id}"),
        ("get", "/applications/{id}/edit"),
        ("post", "/applications/{id}/sections/basic"),
        ("post", "/applications/{id}/sections/budget/preview"),
        ("post", "/applications/{id}/attachments"),
        ("get", "/applications/{id}/pdf"),
        ("post", "/applications/{id}/submit"),
        ("post", "/applications/{id}/withdraw"),
        ("post", "/applications/{id}/delete"),
    ],
)
def test_other_organisation_gets_404(client, login, method, path):
    _owner, application = applicant_with_draft()
    login(make_user("applicant"))
    response = getattr(client, method)(path.format(id=application.id), data={"basic-title": "偷改"})
    assert response.status_code == 404
    assert reload(application).title != "偷改"


@pytest.mark.parametrize("role, expected", [("expert", 404), ("finance", 404)])
def test_expert_or_finance_cannot_edit(client, login, role, expected):
    _owner, application = applicant_with_draft()
    login(make_user(role))
    assert client.get(f"/applications/{application.id}/edit").status_code == expected
    response = client.post(
        f"/applications/{application.id}/sections/basic", data={"basic-title": "改"}, headers=HTMX
    )
    assert response.status_code == expected
    assert reload(application).title != "改"


def test_finance_may_view_the_application_once_submitted_not_as_a_draft(client, login):
    from tests.applications.bureau_helpers import application_in_state

    _owner, draft = applicant_with_draft()
    application = application_in_state("submitted")
    login(make_user("finance"))
    assert client.get(f"/applications/{draft.id}").status_code == 404
    response = client.get(f"/applications/{application.id}")
    assert response.status_code == 200
    assert application.title in response.get_data(as_text=True)


def test_anonymous_htmx_save_gets_401_not_a_redirect(client):
    _owner, application = applicant_with_draft()
    response = client.post(
        f"/applications/{application.id}/sections/basic", data={"basic-title": "x"}, headers=HTMX
    )
    assert response.status_code == 401


def test_anonymous_page_request_redirects_to_login(client):
    _owner, application = applicant_with_draft()
    response = client.get(f"/applications/{application.id}/edit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_submitted_application_section_save_is_409_for_htmx(client, login):
    user, application = applicant_with_draft()
    login(user)
    db.session.execute(
        sa.update(Application)
        .where(Application.id == application.id)
        .values(state="submitted", reference_no="R-1", submitted_at=utcnow())
    )
    response = client.post(
        f"/applications/{application.id}/sections/basic", data={"basic-title": "x"}, headers=HTMX
    )
    assert response.status_code == 409
    response = client.get(f"/applications/{application.id}/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/applications/{application.id}"
    )


def test_csrf_failure_on_htmx_save_is_400_and_saves_nothing(app, client, login):
    user, application = applicant_with_draft()
    login(user)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(
            f"/applications/{application.id}/sections/basic",
            data={"basic-title": "过期令牌"},
            headers={**HTMX, "X-CSRFToken": "stale"},
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert reload(application).title != "过期令牌"


def test_delete_draft_removes_it(client, login):
    user, application = applicant_with_draft()
    application_id = application.id
    login(user)
    response = client.post(f"/applications/{application_id}/delete")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Application, application_id) is None
    assert audit_actions_of_deleted(application_id) == ["application.deleted"]


def audit_actions_of_deleted(application_id: int) -> list[str]:
    from grants.core.models import AuditEvent

    return list(
        db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.object_type == "Application",
                AuditEvent.object_id == str(application_id),
                AuditEvent.action == "application.deleted",
            )
        )
    )


def test_delete_submitted_application_is_403(client, login):
    user, application = applicant_with_draft()
    db.session.execute(
        sa.update(Application)
        .where(Application.id == application.id)
        .values(state="submitted", reference_no="R-2", submitted_at=utcnow())
    )
    login(user)
    assert client.post(f"/applications/{application.id}/delete").status_code == 403
    assert reload(application) is not None


# --- dashboard ------------------------------------------------------------------------------


def test_dashboard_panels_show_drafts_with_missing_items_and_closing_calls(client, login):
    import grants.applications.panels  # noqa: F401  (registered by the app factory once wired)

    user, application = applicant_with_draft(filled=False, closes_at=utcnow() + timedelta(days=3))
    application.title = "仪表盘上的草稿"
    CallFactory(title="下月截止的指南", closes_at=utcnow() + timedelta(days=20))
    db.session.flush()
    login(user)
    html = client.get("/").get_data(as_text=True)
    assert "仪表盘上的草稿" in html
    assert "Give the start and end dates of the project period." in html
    assert application.call.title in html
    assert "下月截止的指南" not in html
