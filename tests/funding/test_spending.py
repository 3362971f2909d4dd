"""Spending reports: the owner reports with evidence, finance verifies or returns, the owner corrects;
budget versus actual with the allowed adjustment; who may do what."""

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from grants.core.refusals import OperationError
from grants.core.workflow import TransitionForbidden
from grants.extensions import db
from grants.funding import spending
from grants.funding.models import Expenditure, ProjectBudgetLine
from grants.notifications.models import Notification
from grants.projects.models import ProjectFile
from tests.factories import ExpertFactory, make_project, make_user
from tests.funding.spending_helpers import (
    PDF_BYTES,
    PNG_BYTES,
    add_expenditure,
    audit_actions,
    evidence,
    expenditures_of,
    form_data,
    post_report,
    running_project,
)


def stored_files(app) -> set[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return (
        {p for p in root.rglob("*") if p.is_file() and "tmp" not in p.parts}
        if root.exists()
        else set()
    )


def files_of(expenditure) -> list[ProjectFile]:
    return db.session.scalars(
        sa.select(ProjectFile)
        .where(ProjectFile.expenditure_id == expenditure.id)
        .order_by(ProjectFile.id)
    ).all()


# --- reporting ------------------------------------------------------------------------------


def test_report_by_owner_creates_submitted_report_with_evidence(app, client, login):
    project, owner = running_project()
    login(owner)
    response = post_report(
        client,
        project,
        files=[(io.BytesIO(PDF_BYTES), "设备发票.pdf"), (io.BytesIO(PNG_BYTES), "入库单.png")],
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/projects/{project.id}/spending#reports")
    [expenditure] = expenditures_of(project)
    assert (
        expenditure.state,
        expenditure.category,
        expenditure.amount,
        expenditure.submitted_by_id,
    ) == ("submitted", "equipment", Decimal("12500.50"), owner.id)
    assert isinstance(expenditure.amount, Decimal)
    assert expenditure.verified_at is None
    files = files_of(expenditure)
    assert [(f.purpose, f.original_name, f.content_type) for f in files] == [
        ("spending_evidence", "设备发票.pdf", "application/pdf"),
        ("spending_evidence", "入库单.png", "image/png"),
    ]
    assert all(f.project_id == project.id for f in files)
    assert "expenditure.reported" in audit_actions(expenditure)
    page = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert "设备发票.pdf" in page and f'data-expenditure="{expenditure.id}"' in page


def test_report_amount_typed_with_separators_is_exact_yuan(app, client, login):
    project, owner = running_project()
    login(owner)
    assert post_report(client, project, amount="1，234,567.89").status_code == 302
    [expenditure] = expenditures_of(project)
    assert expenditure.amount == Decimal("1234567.89")


@pytest.mark.parametrize(
    ("overrides", "field_id"),
    [
        ({"period_start": "2025-12-01", "period_end": "2026-01-31"}, "period_start"),
        ({"period_start": "2027-12-01", "period_end": "2028-01-31"}, "period_end"),
        ({"period_start": "2026-06-30", "period_end": "2026-06-01"}, "period_end"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"category": "travel"}, "category"),
    ],
)
def test_report_invalid_values_are_refused_with_422_and_inputs_kept(
    app, client, login, overrides, field_id
):
    project, owner = running_project()
    login(owner)
    response = post_report(client, project, note="留在表单里的说明", **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field_id}-error"' in html
    assert "留在表单里的说明" in html
    for key in ("period_start", "period_end", "amount"):
        value = overrides.get(key, form_data(project)[key]).replace(",", "")
        assert f'value="{value}"' in html
    assert expenditures_of(project) == []


def test_report_category_without_budget_line_is_refused(app, client, login, english_ui):
    project, owner = running_project()
    db.session.execute(
        sa.delete(ProjectBudgetLine).where(
            ProjectBudgetLine.project_id == project.id, ProjectBudgetLine.category == "indirect"
        )
    )
    db.session.commit()
    db.session.expire_all()
    login(owner)
    response = post_report(client, project, category="indirect")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="category-error"' in html and 'value="indirect"' not in html
    with pytest.raises(
        OperationError, match=r"Choose one of the categories of the project's budget\."
    ):
        spending.report_expenditure(
            project,
            owner,
            category="indirect",
            period_start=project.start_date,
            period_end=project.start_date,
            amount="10",
            evidence=[evidence()],
        )
    assert expenditures_of(project) == []


def test_report_messages_name_the_project_period(app, client, login, english_ui):
    project, owner = running_project()
    login(owner)
    html = post_report(client, project, period_start="2025-12-01").get_data(as_text=True)
    assert "The period must lie within the project period, 2026-01-01 to 2027-12-31." in html


def test_report_without_evidence_is_refused(app, client, login, english_ui):
    project, owner = running_project()
    login(owner)
    response = post_report(client, project, files=[])
    assert response.status_code == 422
    assert "Attach at least one invoice, voucher or other evidence." in response.get_data(
        as_text=True
    )
    assert expenditures_of(project) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("发票.pdf", b"just some text pretending to be a PDF"),
        ("发票.png", PDF_BYTES),
        ("发票.exe", b"MZ\x90\x00" + b"\x00" * 200),
        ("发票.html", b"<html><script>alert(1)</script></html>"),
    ],
)
def test_report_evidence_of_wrong_content_type_is_refused(app, client, login, name, content):
    project, owner = running_project()
    login(owner)
    before = stored_files(app)
    response = post_report(
        client, project, files=[(io.BytesIO(PDF_BYTES), "好发票.pdf"), (io.BytesIO(content), name)]
    )
    assert response.status_code == 422
    assert 'id="evidence-error"' in response.get_data(as_text=True)
    assert expenditures_of(project) == []
    assert (
        db.session.scalar(
            sa.select(sa.func.count(ProjectFile.id)).where(ProjectFile.project_id == project.id)
        )
        == 0
    )
    assert stored_files(app) == before  # the good file stored first was removed with the rollback


def test_report_operation_refuses_float_amount(app):
    project, owner = running_project()
    with pytest.raises(TypeError):
        spending.report_expenditure(
            project,
            owner,
            category="equipment",
            period_start=project.start_date,
            period_end=project.start_date,
            amount=1000.5,
            evidence=[evidence()],
        )


def test_report_operation_names_field_at_fault(app):
    project, owner = running_project()
    with pytest.raises(OperationError) as caught:
        spending.report_expenditure(
            project,
            owner,
            category="equipment",
            period_start=project.start_date,
            period_end=project.start_date - timedelta(days=1),
            amount="10",
            evidence=[evidence()],
        )
    assert caught.value.field == "period_end"


# --- finance verifies or returns ------------------------------------------------------------


def test_verify_by_finance_records_who_and_when_and_counts_as_spent(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    response = client.post(f"/spending/{expenditure.id}/verify", data={"origin": "project"})
    assert response.status_code == 302
    db.session.refresh(expenditure)
    assert expenditure.state == "verified"
    assert expenditure.verified_by_id == finance.id and expenditure.verified_at is not None
    assert "expenditure.verify" in audit_actions(expenditure)
    [row] = [r for r in spending.budget_vs_actual(project).rows if r.category == "equipment"]
    assert (row.spent, row.pending) == (Decimal("30000.00"), Decimal("0"))


def test_return_without_note_is_refused_and_keeps_report_submitted(app, client, login, english_ui):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    response = client.post(
        f"/spending/{expenditure.id}/return", data={f"return-{expenditure.id}-note": " "}
    )
    assert response.status_code == 422
    assert f'id="return-{expenditure.id}-note-error"' in response.get_data(as_text=True)
    db.session.refresh(expenditure)
    assert expenditure.state == "submitted"


def test_return_by_finance_keeps_note_and_notifies_owner_organisation(app, client, login):
    project, owner = running_project()
    colleague = make_user("applicant", organisation=project.organisation)
    outsider = make_user("applicant")
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    response = client.post(
        f"/spending/{expenditure.id}/return",
        data={f"return-{expenditure.id}-note": "发票抬头与单位名称不符", "origin": "queue"},
    )
    assert response.status_code == 302 and "/finance/spending" in response.headers["Location"]
    db.session.refresh(expenditure)
    assert (expenditure.state, expenditure.finance_note) == ("returned", "发票抬头与单位名称不符")
    assert expenditure.verified_by_id == finance.id and expenditure.verified_at is not None
    notified = set(
        db.session.scalars(
            sa.select(Notification.user_id).where(Notification.kind == "expenditure.returned")
        )
    )
    assert notified == {owner.id, colleague.id}
    assert outsider.id not in notified
    body = db.session.scalar(sa.select(Notification.body).where(Notification.user_id == owner.id))
    assert "发票抬头与单位名称不符" in body and "30,000.00" in body


def test_resubmit_applies_corrected_values_and_waits_for_finance_again(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="returned", by=owner)
    db.session.commit()
    login(owner)
    page = client.get(f"/spending/{expenditure.id}/resubmit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "请补充发票" in html and 'value="30000.00"' in html
    data = form_data(
        project,
        files=[(io.BytesIO(PDF_BYTES), "补充发票.pdf")],
        amount="29800.00",
        category="business",
        note="更正后的金额",
    )
    response = client.post(
        f"/spending/{expenditure.id}/resubmit", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    db.session.refresh(expenditure)
    assert (expenditure.state, expenditure.amount, expenditure.category, expenditure.note) == (
        "submitted",
        Decimal("29800.00"),
        "business",
        "更正后的金额",
    )
    assert expenditure.verified_at is None and expenditure.verified_by_id is None
    assert expenditure.finance_note == "请补充发票"  # finance sees what it asked for
    assert [f.original_name for f in files_of(expenditure)] == ["补充发票.pdf"]
    assert "expenditure.resubmit" in audit_actions(expenditure)


def test_resubmit_without_new_evidence_is_allowed(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="returned", by=owner)
    db.session.commit()
    login(owner)
    response = client.post(
        f"/spending/{expenditure.id}/resubmit",
        data=form_data(project, files=[]),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.refresh(expenditure)
    assert (expenditure.state, expenditure.amount) == ("submitted", Decimal("12500.50"))


def test_resubmit_invalid_values_422_keeps_inputs_and_state(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="returned", by=owner)
    db.session.commit()
    login(owner)
    data = form_data(project, files=[], amount="0", note="仍需修改")
    response = client.post(
        f"/spending/{expenditure.id}/resubmit", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="amount-error"' in html and "仍需修改" in html and 'value="0"' in html
    db.session.refresh(expenditure)
    assert (expenditure.state, expenditure.amount) == ("returned", Decimal("30000.00"))


def test_resubmit_effect_applies_values_passed_in_data(app):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="returned", by=owner)
    spending.resubmit_expenditure(
        expenditure,
        owner,
        category="labour",
        period_start=project.start_date,
        period_end=project.start_date + timedelta(days=10),
        amount="100.10",
        note="",
    )
    assert (expenditure.state, expenditure.category, expenditure.amount) == (
        "submitted",
        "labour",
        Decimal("100.10"),
    )


def test_resubmit_of_report_not_returned_redirects(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    db.session.commit()
    login(owner)
    response = client.get(f"/spending/{expenditure.id}/resubmit")
    assert (
        response.status_code == 302
        and f"/projects/{project.id}/spending" in response.headers["Location"]
    )


def test_verify_of_report_already_checked_changes_nothing(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="returned", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    assert client.post(f"/spending/{expenditure.id}/verify").status_code == 302
    db.session.refresh(expenditure)
    assert expenditure.state == "returned"


# --- permissions ----------------------------------------------------------------------------


def test_other_organisation_cannot_see_report_or_download(app, client, login):
    project, owner = running_project()
    expenditure = spending.report_expenditure(
        project,
        owner,
        category="equipment",
        period_start=project.start_date,
        period_end=project.start_date,
        amount="100",
        evidence=[evidence()],
    )
    returned = add_expenditure(project, "50.00", state="returned", by=owner)
    [item] = files_of(expenditure)
    outsider = make_user("applicant")
    db.session.commit()
    login(outsider)
    assert client.get(f"/projects/{project.id}/spending").status_code == 403
    assert post_report(client, project).status_code == 403
    assert client.get(f"/spending/files/{item.id}").status_code == 404
    assert client.get(f"/spending/{returned.id}/resubmit").status_code == 403
    assert client.post(f"/spending/{expenditure.id}/verify").status_code == 403
    assert len(expenditures_of(project)) == 2


def test_expert_cannot_see_spending(app, client, login):
    project, _owner = running_project()
    expert = ExpertFactory().user
    db.session.commit()
    login(expert)
    assert client.get(f"/projects/{project.id}/spending").status_code == 403
    assert client.get("/finance/spending").status_code == 403


def test_finance_cannot_report_spending(app, client, login):
    project, _owner = running_project()
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    assert client.get(f"/projects/{project.id}/spending").status_code == 200
    assert post_report(client, project).status_code == 403
    assert expenditures_of(project) == []


def test_owner_cannot_verify_or_return_own_report(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    db.session.commit()
    login(owner)
    html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert f"/spending/{expenditure.id}/verify" not in html
    assert client.post(f"/spending/{expenditure.id}/verify").status_code == 403
    assert (
        client.post(
            f"/spending/{expenditure.id}/return", data={f"return-{expenditure.id}-note": "自己退回"}
        ).status_code
        == 403
    )
    assert client.get("/finance/spending").status_code == 403
    db.session.refresh(expenditure)
    assert expenditure.state == "submitted"
    with pytest.raises(TransitionForbidden):
        spending.verify_expenditure(expenditure, owner)


def spending_rows(project) -> list[tuple]:
    """(amount, state, verified_at) of every spending report of ``project``, read afresh."""
    return [
        (row.amount, row.state, row.verified_at)
        for row in db.session.scalars(
            sa.select(Expenditure)
            .where(Expenditure.project_id == project.id)
            .order_by(Expenditure.id)
        )
    ]


def test_bureau_sees_spending_but_neither_reports_nor_verifies(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    bureau = make_user("bureau")
    db.session.commit()
    login(bureau)
    assert client.get(f"/projects/{project.id}/spending").status_code == 200
    assert post_report(client, project).status_code == 403
    assert client.post(f"/spending/{expenditure.id}/verify").status_code == 403
    db.session.expire_all()
    assert spending_rows(project) == [(Decimal("30000.00"), "submitted", None)]


def test_finance_sees_check_buttons_and_owner_sees_report_form(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "30000.00", state="submitted", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert (
        f"/spending/{expenditure.id}/verify" in html
        and f'action="/projects/{project.id}/spending"' not in html
    )
    client.post("/logout")
    login(owner)
    html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert f'action="/projects/{project.id}/spending"' in html


def test_owner_cannot_report_on_closed_project(app, client, login):
    project = make_project(state="closed")
    owner = make_user("applicant", organisation=project.organisation)
    db.session.commit()
    login(owner)
    assert client.get(f"/projects/{project.id}/spending").status_code == 200
    assert post_report(client, project).status_code == 403
    db.session.expire_all()
    assert spending_rows(project) == []


def test_evidence_download_for_owner_finance_and_bureau(app, client, login):
    project, owner = running_project()
    expenditure = spending.report_expenditure(
        project,
        owner,
        category="equipment",
        period_start=project.start_date,
        period_end=project.start_date,
        amount="100",
        evidence=[evidence("合同.pdf")],
    )
    [item] = files_of(expenditure)
    finance = make_user("finance")
    bureau = make_user("bureau")
    db.session.commit()
    for user in (owner, finance, bureau):
        login(user)
        response = client.get(f"/spending/files/{item.id}")
        assert response.status_code == 200 and response.data == PDF_BYTES
        assert "private" in response.headers["Cache-Control"]
        client.post("/logout")


# --- finance's queue and the dashboard ------------------------------------------------------


def test_queue_lists_submitted_reports_with_evidence_and_verifies_from_there(app, client, login):
    project, owner = running_project()
    expenditure = spending.report_expenditure(
        project,
        owner,
        category="labour",
        period_start=project.start_date,
        period_end=project.start_date,
        amount="2000",
        evidence=[evidence("工资表.pdf")],
    )
    verified = add_expenditure(project, "500.00", state="verified", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    html = client.get("/finance/spending").get_data(as_text=True)
    assert (
        f'data-expenditure="{expenditure.id}"' in html
        and f'data-expenditure="{verified.id}"' not in html
    )
    assert "工资表.pdf" in html and project.code in html
    response = client.post(f"/spending/{expenditure.id}/verify", data={"origin": "queue"})
    assert response.status_code == 302 and "/finance/spending" in response.headers["Location"]
    db.session.refresh(expenditure)
    assert expenditure.state == "verified"


def test_queue_flags_report_that_would_break_the_allowed_adjustment(app, client, login):
    project, owner = running_project()
    add_expenditure(project, "80000.00", state="verified", by=owner)
    expenditure = add_expenditure(project, "8000.01", state="submitted", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    html = client.get("/finance/spending").get_data(as_text=True)
    row = html[html.index(f'data-expenditure="{expenditure.id}"') :]
    assert "data-would-warn" in row[: row.index("</tr>")]


def test_dashboard_panels_for_finance_and_owner(app, client, login):
    project, owner = running_project()
    add_expenditure(project, "300.00", state="submitted", by=owner)
    returned = add_expenditure(project, "400.00", state="returned", by=owner)
    finance = make_user("finance")
    db.session.commit()
    login(finance)
    html = client.get("/").get_data(as_text=True)
    assert "data-panel-spending" in html and project.code in html
    client.post("/logout")
    login(owner)
    html = client.get("/").get_data(as_text=True)
    assert "data-panel-returned" in html and f"/spending/{returned.id}/resubmit" in html


# --- budget versus actual -------------------------------------------------------------------


def _equipment(project):
    return next(r for r in spending.budget_vs_actual(project).rows if r.category == "equipment")


def test_budget_vs_actual_exactly_at_tolerance_is_not_a_warning(app, client, login):
    project, owner = running_project()  # equipment budget 80,000.00; 10 % allowed → 88,000.00
    add_expenditure(project, "80000.00", by=owner)
    add_expenditure(project, "8000.00", by=owner)
    row = _equipment(project)
    assert (row.budget, row.spent, row.limit) == (
        Decimal("80000.00"),
        Decimal("88000.00"),
        Decimal("88000.0000"),
    )
    assert row.status == "over"
    assert row.share == Decimal("110.0")
    db.session.commit()
    login(owner)
    html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert "data-budget-warning" not in html
    assert 'data-category="equipment" data-status="over"' in html


def test_budget_vs_actual_one_fen_above_tolerance_warns(app, client, login):
    project, owner = running_project()
    add_expenditure(project, "88000.01", by=owner)
    assert _equipment(project).status == "warning"
    table = spending.budget_vs_actual(project)
    assert [r.category for r in table.warnings] == ["equipment"]
    db.session.commit()
    login(owner)
    html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert "data-budget-warning" in html
    banner = html[html.index("data-budget-warning") : html.index('id="budget"')]
    assert "设备费" in banner or "Equipment" in banner


def test_budget_vs_actual_within_budget_is_ok_and_pending_is_not_spent(app):
    project, owner = running_project()
    add_expenditure(project, "79999.99", by=owner)
    add_expenditure(project, "50000.00", state="submitted", by=owner)
    add_expenditure(project, "70000.00", state="returned", by=owner)
    row = _equipment(project)
    assert (row.spent, row.pending, row.status) == (Decimal("79999.99"), Decimal("50000.00"), "ok")
    assert row.pending_breaks_limit


def test_budget_vs_actual_follows_configured_tolerance(app):
    project, owner = running_project()
    add_expenditure(project, "80000.01", by=owner)
    app.config["BUDGET_ADJUSTMENT_TOLERANCE"] = Decimal("0")
    try:
        assert _equipment(project).status == "warning"
        app.config["BUDGET_ADJUSTMENT_TOLERANCE"] = Decimal("0.25")
        assert _equipment(project).status == "over"
        app.config["BUDGET_ADJUSTMENT_TOLERANCE"] = 0.1
        with pytest.raises(TypeError):
            spending.budget_vs_actual(project)
    finally:
        app.config["BUDGET_ADJUSTMENT_TOLERANCE"] = Decimal("0.10")


def test_budget_vs_actual_figures_are_decimal_and_add_up(app):
    project, owner = running_project(award="123456.78")
    add_expenditure(project, "0.10", by=owner)
    add_expenditure(project, "0.20", by=owner)
    add_expenditure(project, "0.07", category="labour", by=owner)
    table = spending.budget_vs_actual(project)
    values = [v for r in table.rows for v in (r.budget, r.spent, r.pending, r.limit)] + [
        table.budget,
        table.spent,
    ]
    assert all(isinstance(v, Decimal) for v in values)
    assert table.budget == Decimal("123456.78")
    assert table.spent == Decimal("0.37")
    assert _equipment(project).spent == Decimal("0.30")


def test_category_status_boundaries():
    budget = Decimal("1000.00")
    allowed = Decimal("0.10")
    assert spending.category_status(budget, Decimal("1000.00"), allowed) == "ok"
    assert spending.category_status(budget, Decimal("1000.01"), allowed) == "over"
    assert spending.category_status(budget, Decimal("1100.00"), allowed) == "over"
    assert spending.category_status(budget, Decimal("1100.01"), allowed) == "warning"
    assert spending.category_status(Decimal("0"), Decimal("0.01"), allowed) == "warning"


def test_spending_tab_shows_tab_and_amounts(app, client, login):
    project, owner = running_project()
    expenditure = add_expenditure(project, "12345.67", state="submitted", by=owner)
    db.session.commit()
    login(owner)
    html = client.get(f"/projects/{project.id}/spending").get_data(as_text=True)
    assert project.code in html
    row = html[html.index(f'id="expenditure-{expenditure.id}"') :]
    assert "12,345.67" in row[: row.index("</tr>")]
    assert isinstance(db.session.get(Expenditure, expenditure.id).amount, Decimal)
