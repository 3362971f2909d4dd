"""The whole lifecycle in Chromium, in the Chinese UI: from registration to the portfolio PDF.

Each step ends with a screenshot in tests/e2e/screenshots/<nn>-<step>.png.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from grants.orgs.uscc import with_check_digit
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e

USCC = with_check_digit("91220503MAE2E0001")
APPLICANT = "liu@jinma-e2e.example"
ORG_NAME = "通化端到端药业有限公司"
BUREAU, FINANCE, FINANCE2 = "bureau@e2e.example", "finance@e2e.example", "finance2@e2e.example"
EXPERTS = ["expert1@e2e.example", "expert2@e2e.example"]
EXPERT_NAMES = ["张教授", "王研究员"]
REVIEW_COMMENT = (
    "技术路线清晰，研究目标明确，团队具备完成项目的能力；中试方案可行，"
    "经费预算合理，成果具备在本区中药企业推广应用的产业化前景，建议资助。"
)
ACCEPTANCE_EXPERT, ACCEPTANCE_EXPERT_NAME = "expert3@e2e.example", "李教授"
ACCEPTANCE_COMMENT = (
    "项目按任务书完成了中试线建设和工艺优化，提取收率提升明显，绩效目标全部达成，"
    "经费决算与账目相符，佐证材料齐全，同意通过验收。"
)
TITLE = "中药提取自动化关键技术研究"


def today() -> str:
    from grants.core.timeutil import local_today

    return local_today().isoformat()


def pdf_file(name: str) -> dict:
    """A small valid one-page PDF to upload."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return {"name": name, "mimeType": "application/pdf", "buffer": body}


class Lifecycle:
    """One browser context per person, signed in once; ``shot`` numbers the screenshots."""

    def __init__(self, browser, server, screenshots: Path):
        self.browser = browser
        self.base = server["url"]
        self.folder = screenshots
        self.count = 0
        self.pages = {}

    def page(self, email: str):
        """The page of ``email``'s browser, signed in through the login form the first time."""
        if email not in self.pages:
            page = self.new_page()
            page.goto(self.base + "/login")
            page.fill("#email", email)
            page.fill("#password", PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.wait_for_load_state()
            assert "/login" not in page.url, page.inner_text("main")[:500]
            self.pages[email] = page
        return self.pages[email]

    def new_page(self):
        """A fresh browser context (its own cookies) that accepts the confirmation prompts."""
        context = self.browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    def shot(self, page, name: str) -> None:
        """Save the whole page as the next numbered screenshot."""
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)

    def go(self, page, path: str):
        """Open ``path``; the answer must not be an error."""
        response = page.goto(self.base + path)
        assert response.status < 400, f"{path}: {response.status}"
        return page

    def submit(self, page, form_selector: str, button: str = "button[type=submit]"):
        """Click the form's submit button (or the ``button`` selector within it); the answer must not be an error."""
        with page.expect_navigation() as navigation:
            page.locator(form_selector).locator(button).first.click()
        response = navigation.value
        assert response is not None and response.status < 400, (
            f"{form_selector}: {response and response.status}"
        )
        return page

    def send(self, page):
        """Press the "submit" (not "save draft") button of a form that has both."""
        return self.submit(
            page,
            "main form[method=post]:has(button[name=action][value=submit])",
            "button[name=action][value=submit]",
        )

    def save(self, page, form_selector: str) -> None:
        """Submit one section form (saved with or without a page load) and wait for the network to settle."""
        page.locator(form_selector).locator("button[type=submit]").last.click()
        page.wait_for_load_state("networkidle")

    def disburse(
        self, bureau, finance, project_id: int, *, voucher_no: str, screenshots: bool = False
    ) -> None:
        """The bureau requests the first due tranche; finance approves it with payee and voucher, then pays it."""
        self.go(bureau, f"/projects/{project_id}/money")
        release = bureau.locator(
            f"main form[action^='/projects/{project_id}/tranches/'][action$='/release']"
        )
        self.submit(bureau, f"main form[action='{release.first.get_attribute('action')}']")
        self.flash_ok(bureau)
        if screenshots:
            self.shot(bureau, "tranche-requested")
        self.go(finance, "/finance/queue")
        approve = finance.locator("main form[action^='/disbursements/'][action$='/approve']").first
        approve_action = approve.get_attribute("action")
        prefix = "#" + approve.locator("input[id$='-payee_bank']").get_attribute("id").removesuffix(
            "payee_bank"
        )
        finance.fill(prefix + "payee_bank", "中国工商银行通化二道江支行")
        finance.fill(prefix + "payee_account", "0806 0123 4567 8901 234")
        finance.fill(prefix + "voucher_no", voucher_no)
        finance.fill(prefix + "voucher_date", today())
        self.submit(finance, f"main form[action='{approve_action}']")
        self.flash_ok(finance)
        if screenshots:
            self.shot(finance, "disbursement-approved")
        pay = finance.locator(
            "main form[action^='/disbursements/'][action$='/pay']"
        ).first.get_attribute("action")
        self.submit(finance, f"main form[action='{pay}']")
        self.flash_ok(finance)
        if screenshots:
            self.shot(finance, "disbursement-paid")

    def flash_ok(self, page) -> None:
        """No error message on the page."""
        errors = page.locator(".alert-danger, .invalid-feedback:visible")
        assert errors.count() == 0, " | ".join(errors.all_inner_texts())


def test_lifecycle_in_chromium(live_server, browser, screenshots):
    run = Lifecycle(browser, live_server, screenshots)

    # 1. An enterprise registers itself.
    page = run.new_page()
    run.go(page, "/register")
    page.fill("#name", ORG_NAME)
    page.fill("#uscc", USCC)
    page.select_option("#cluster_id", str(live_server["cluster_id"]))
    page.fill("#address", "吉林省通化市二道江区东通化大街1号")
    page.fill("#contact_name", "刘经理")
    page.fill("#contact_phone", "0435-3500001")
    page.fill("#person_name", "刘经理")
    page.fill("#email", APPLICANT)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    run.submit(page, "main form")
    run.flash_ok(page)
    assert "请查收邮件" in page.content()
    run.shot(page, "registration-sent")
    run.go(page, emailed_path(live_server["app"], APPLICANT, "/register/confirm/"))
    assert ORG_NAME in page.content()
    run.shot(page, "registration-confirm")
    run.submit(page, "main form")
    run.flash_ok(page)
    assert ORG_NAME in page.content()
    run.pages[APPLICANT] = page
    run.shot(page, "registered")

    # 2. It starts an application to the open call and fills every section.
    call_id, call_year = live_server["call_id"], live_server["call_year"]
    run.go(page, f"/calls/{call_id}")
    run.shot(page, "call")
    run.go(page, f"/calls/{call_id}/apply")
    run.submit(page, f"main form[action='/calls/{call_id}/apply']")
    application_id = int(re.search(r"/applications/(\d+)/edit", page.url).group(1))
    base = f"main form[action='/applications/{application_id}/sections/"
    page.fill("#basic-title", TITLE)
    page.fill("#basic-start_date", f"{call_year + 1}-01-01")
    page.fill("#basic-end_date", f"{call_year + 2}-12-31")
    page.fill("#basic-summary", "针对中药提取过程自动化控制的关键技术开展研究。")
    page.fill("#basic-objectives", "实现提取过程在线监测与自动控制。")
    page.fill("#basic-technical_route", "建立过程模型，开发控制系统，中试验证。")
    run.save(page, base + "basic']")
    page.fill("#team-members-0-name", "严建国")
    page.select_option("#team-members-0-role", "principal")
    page.fill("#team-members-0-title", "研究员")
    page.fill("#team-members-0-organisation_name", ORG_NAME)
    run.save(page, base + "team']")
    for key, fiscal, self_raised in [
        ("equipment", "10", "10"),
        ("business_materials", "10", "15"),
        ("labour", "5", "10"),
        ("indirect", "2", "0"),
    ]:
        page.fill(f"#budget-{key}-fiscal", fiscal)
        page.fill(f"#budget-{key}-self_raised", self_raised)
    run.save(page, base + "budget']")
    page.fill("#milestones-milestones-0-title", "完成中试")
    page.fill("#milestones-milestones-0-due_date", f"{call_year + 1}-12-31")
    page.fill("#milestones-milestones-0-deliverable", "中试报告")
    page.fill("#milestones-milestones-0-share", "50")
    page.locator(base + "milestones']").get_by_role("button", name="添加节点").click()
    page.fill("#milestones-milestones-1-title", "通过验收")
    page.fill("#milestones-milestones-1-due_date", f"{call_year + 2}-12-31")
    page.fill("#milestones-milestones-1-deliverable", "验收报告")
    page.fill("#milestones-milestones-1-share", "50")
    run.save(page, base + "milestones']")
    page.fill("#kpis-patents_filed-target", "2")
    run.save(page, base + "kpis']")
    run.shot(page, "application-filled")
    run.submit(page, f"main form[action='/applications/{application_id}/submit']")
    run.flash_ok(page)
    run.shot(page, "application-submitted")

    # 3. The bureau passes the formal check.
    bureau = run.page(BUREAU)
    run.go(bureau, f"/applications/{application_id}/check")
    run.submit(bureau, f"main form[action='/applications/{application_id}/check/pass']")
    run.flash_ok(bureau)
    run.shot(bureau, "formal-check-passed")

    # 4. It invites two experts; each accepts the invitation.
    run.go(bureau, f"/applications/{application_id}/assignments")
    for name in EXPERT_NAMES:
        value = bureau.locator("#expert_id option", has_text=name).get_attribute("value")
        bureau.select_option("#expert_id", value)
        run.submit(bureau, f"main form[action='/applications/{application_id}/assignments']")
        run.flash_ok(bureau)
    run.shot(bureau, "experts-assigned")
    for email in EXPERTS:
        expert = run.page(email)
        run.go(expert, "/expert/reviews")
        expert.locator("main a[href^='/expert/assignments/']").first.click()
        expert.wait_for_load_state()
        assignment_path = re.search(r"/expert/assignments/\d+", expert.url).group(0)
        expert.check("#no_conflict")
        run.submit(expert, f"main form[action='{assignment_path}/accept']")
        run.flash_ok(expert)
    run.shot(expert, "invitation-accepted")

    # 5. The experts score the proposal.
    for email, scores in zip(EXPERTS, [("8.5", "8"), ("9", "7.5")], strict=True):
        expert = run.page(email)
        run.go(expert, "/expert/reviews")
        expert.locator("main a[href^='/expert/assignments/']").first.click()
        expert.wait_for_load_state()
        assignment_path = re.search(r"/expert/assignments/\d+", expert.url).group(0)
        run.go(expert, assignment_path + "/review")
        inputs = expert.locator("main input[id^='score_']")
        for index, score in enumerate(scores):
            inputs.nth(index).fill(score)
        expert.select_option("#recommendation", "fund")
        expert.fill("#comment", REVIEW_COMMENT)
        run.send(expert)
        run.flash_ok(expert)
    run.shot(expert, "review-submitted")

    # 6. The bureau closes the review and approves 27 万元.
    run.go(bureau, f"/calls/{call_id}/ranking")
    run.submit(bureau, f"main form[action='/applications/{application_id}/finish-review']")
    run.flash_ok(bureau)
    run.shot(bureau, "review-closed")
    run.go(bureau, f"/calls/{call_id}/decisions")
    approve = f"main form[action='/calls/{call_id}/decisions/{application_id}/approve']"
    bureau.locator(approve).locator("input[type=text], input:not([type])").first.fill("27")
    run.submit(bureau, approve)
    run.flash_ok(bureau)
    run.shot(bureau, "approved")

    # 7. It publishes the public notice, closes it early (with the reason) and releases the decisions.
    run.go(bureau, f"/calls/{call_id}/notices/new")
    run.submit(bureau, "main form:has(#title)")
    run.flash_ok(bureau)
    notice_id = int(re.search(r"/notices/(\d+)", bureau.url).group(1))
    run.go(bureau, f"/notices/{notice_id}/manage")
    run.submit(bureau, f"main form[action='/notices/{notice_id}/publish']")
    run.flash_ok(bureau)
    run.shot(bureau, "notice-published")
    bureau.check("#close-force")
    bureau.fill("#close-reason", "公示期内无异议，经局务会研究提前结束公示。")
    run.submit(bureau, f"main form[action='/notices/{notice_id}/close']")
    run.flash_ok(bureau)
    run.shot(bureau, "notice-closed")
    run.go(bureau, f"/calls/{call_id}/release")
    for form in bureau.locator("main form[action$='/released-comment']").all():
        action = form.get_attribute("action")
        run.submit(bureau, f"main form[action='{action}']")
        run.flash_ok(bureau)
    run.submit(bureau, f"main form[action='/calls/{call_id}/release']")
    run.flash_ok(bureau)
    run.shot(bureau, "decision-released")

    # 8. The bureau contracts the project with the suggested budget and tranche plan.
    run.go(bureau, "/contracting")
    run.shot(bureau, "contracting")
    run.go(bureau, f"/applications/{application_id}/contract")
    run.submit(bureau, f"main form[action='/applications/{application_id}/contract']")
    run.flash_ok(bureau)
    project_id = int(re.search(r"/projects/(\d+)", bureau.url).group(1))
    run.shot(bureau, "project-contracted")

    # 9. The enterprise uploads the signed task book.
    run.go(page, f"/projects/{project_id}/contract")
    page.set_input_files(
        f"main form[action='/projects/{project_id}/task-book/signed'] input[type=file]",
        pdf_file("任务书签署件.pdf"),
    )
    run.submit(page, f"main form[action='/projects/{project_id}/task-book/signed']")
    run.flash_ok(page)
    run.shot(page, "task-book-uploaded")
    run.go(bureau, f"/projects/{project_id}/contract")
    run.submit(bureau, f"main form[action='/projects/{project_id}/sign']")
    run.flash_ok(bureau)
    run.shot(bureau, "project-started")

    # 10-11. The bureau asks for the first tranche; finance checks the payee and the voucher, approves it
    # and marks it paid.
    finance = run.page(FINANCE)
    run.disburse(bureau, finance, project_id, voucher_no="记-2026-0001", screenshots=True)

    # 12. The enterprise reports on each milestone; the bureau approves the reports.
    for number, (text, patents) in enumerate(
        [
            ("完成中试线建设和三批次中试，提取收率提高12%。", "1"),
            ("完成全部研究内容，形成验收报告。", "2"),
        ],
        start=1,
    ):
        run.go(page, f"/projects/{project_id}/milestones")
        report_links = page.locator(
            f"main a[href^='/projects/{project_id}/milestones/'][href$='/report']"
        )
        report_path = report_links.nth(0).get_attribute("href")
        run.go(page, report_path)
        page.fill("#text", text)
        page.fill("#kpi_patents_filed", patents)
        page.set_input_files("#evidence", pdf_file(f"里程碑{number}佐证材料.pdf"))
        run.send(page)
        run.flash_ok(page)
        run.shot(page, f"milestone-{number}-reported")
        run.go(bureau, "/projects/progress-reports")
        run.go(
            bureau,
            bureau.locator(f"main a[href^='/projects/{project_id}/reports/']").first.get_attribute(
                "href"
            ),
        )
        run.submit(
            bureau, f"main form[action^='/projects/{project_id}/reports/'][action$='/approve']"
        )
        run.flash_ok(bureau)
        run.shot(bureau, f"milestone-{number}-approved")

    # 13. The enterprise follows the acceptance steps: it uploads its final report and statement
    #     and writes the summary and KPIs (step 1), then enters the statement and submits (step 2).
    run.go(page, f"/projects/{project_id}/acceptance")
    page.locator("main [data-next-step=report] a.btn").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/projects/{project_id}/acceptance/report")
    documents = f"main form[action='/projects/{project_id}/acceptance/documents']"
    for purpose, name in [("final_report", "结题报告.pdf"), ("final_statement", "经费决算表.pdf")]:
        page.select_option(f"{documents} select[name=purpose]", purpose)
        page.set_input_files(f"{documents} input[type=file]", pdf_file(name))
        run.submit(page, documents)
        run.flash_ok(page)
    page.fill(
        "#summary",
        "项目完成任务书规定的全部研究内容，建成中试线一条，提取收率提高12%，申请发明专利2项。",
    )
    page.fill("#kpi_patents_filed", "2")
    run.submit(
        page,
        f"main form[action='/projects/{project_id}/acceptance/report']",
        "button[name=action][value=save]",
    )
    run.flash_ok(page)
    run.shot(page, "acceptance-report-step")
    run.go(page, f"/projects/{project_id}/acceptance/statement")
    for key, amount in [
        ("equipment", "50000"),
        ("business", "20000"),
        ("labour", "10000"),
        ("indirect", "1000"),
    ]:
        page.fill(f"#spent_{key}", amount)
    run.send(page)
    run.flash_ok(page)
    run.shot(page, "final-report-submitted")

    # 14. Another finance officer verifies the final financial statement.
    verifier = run.page(FINANCE2)
    run.go(verifier, f"/projects/{project_id}/acceptance/statement")
    run.submit(verifier, f"main form[action='/projects/{project_id}/acceptance/statement/verify']")
    run.flash_ok(verifier)
    run.shot(verifier, "statement-verified")

    # 15. The bureau convenes the acceptance panel; the expert accepts and scores the final report.
    run.go(bureau, f"/projects/{project_id}/acceptance")
    run.shot(bureau, "acceptance-overview")
    run.go(bureau, f"/projects/{project_id}/acceptance/panel")
    value = bureau.locator(
        "#invite-expert_id option", has_text=ACCEPTANCE_EXPERT_NAME
    ).get_attribute("value")
    bureau.select_option("#invite-expert_id", value)
    run.submit(bureau, f"main form[action='/projects/{project_id}/acceptance/panel/invite']")
    run.flash_ok(bureau)
    run.shot(bureau, "acceptance-panel-invited")
    expert = run.page(ACCEPTANCE_EXPERT)
    run.go(expert, "/expert/reviews")
    expert.locator("main a[href^='/expert/assignments/']").first.click()
    expert.wait_for_load_state()
    assignment_path = re.search(r"/expert/assignments/\d+", expert.url).group(0)
    expert.check("#no_conflict")
    run.submit(expert, f"main form[action='{assignment_path}/accept']")
    run.flash_ok(expert)
    run.go(expert, assignment_path + "/review")
    expert.locator("main input[id^='score_']").first.fill("9")
    expert.select_option("#recommendation", "fund")
    expert.fill("#comment", ACCEPTANCE_COMMENT)
    run.send(expert)
    run.flash_ok(expert)
    run.shot(expert, "acceptance-scored")

    # 16. The bureau records that the project passes acceptance.
    run.go(bureau, f"/projects/{project_id}/acceptance/conclusion")
    bureau.select_option("#conclusion", "pass")
    bureau.fill("#reasons", "项目完成任务书规定的研究内容和绩效目标，经费使用规范，同意通过验收。")
    run.submit(bureau, f"main form[action='/projects/{project_id}/acceptance/conclude']")
    run.flash_ok(bureau)
    run.shot(bureau, "acceptance-passed")

    # 17. The three remaining tranches are disbursed; the bureau closes the project.
    for number in (2, 3, 4):
        run.disburse(bureau, finance, project_id, voucher_no=f"记-2026-000{number}")
    run.go(bureau, f"/projects/{project_id}/money")
    run.shot(bureau, "all-tranches-paid")
    run.go(bureau, f"/projects/{project_id}/acceptance/conclusion")
    run.submit(bureau, f"main form[action='/projects/{project_id}/acceptance/close']")
    run.flash_ok(bureau)
    run.shot(bureau, "project-closed")

    # 18. The bureau generates this year's portfolio report and downloads the PDF.
    run.go(bureau, "/reports/")
    bureau.select_option("#period", str(call_year))
    run.submit(bureau, "main form[action='/reports/']")
    run.flash_ok(bureau)
    bureau.wait_for_selector("main a[href*='/download/pdf']", timeout=120_000)
    run.shot(bureau, "portfolio-report")
    pdf_path = bureau.locator("main a[href*='/download/pdf']").first.get_attribute("href")
    response = bureau.request.get(run.base + pdf_path)
    assert response.status == 200
    assert response.body().startswith(b"%PDF")
    (screenshots / "portfolio-report.pdf").write_bytes(response.body())

    assert_recorded(live_server["app"], application_id, project_id)


def emailed_path(app, address: str, prefix: str) -> str:
    """The path of the newest link starting with ``prefix`` e-mailed to ``address`` (read from the outbox)."""
    import sqlalchemy as sa

    from grants.extensions import db
    from grants.notifications.models import OutboxEmail

    with app.app_context():
        bodies = db.session.scalars(
            sa.select(OutboxEmail.body)
            .where(OutboxEmail.to_address == address)
            .order_by(OutboxEmail.id.desc())
        ).all()
        db.session.remove()
    for body in bodies:
        found = re.search(r"https?://[^/\s]+(" + re.escape(prefix) + r"\S+)", body)
        if found:
            return found.group(1)
    raise AssertionError(f"no link {prefix}… was e-mailed to {address}")


def assert_recorded(app, application_id: int, project_id: int) -> None:
    """What the browser did is in the database: states, the payment, the acceptance."""
    import sqlalchemy as sa

    from grants.applications.models import Application
    from grants.extensions import db
    from grants.funding.models import Disbursement
    from grants.projects.models import Project

    with app.app_context():
        application = db.session.get(Application, application_id)
        project = db.session.get(Project, project_id)
        assert application.organisation.uscc == USCC
        assert project.state == "closed"
        assert [m.state for m in project.milestones] == ["achieved", "achieved"]
        paid = db.session.scalars(
            sa.select(Disbursement).where(
                Disbursement.project_id == project_id, Disbursement.state == "paid"
            )
        ).all()
        assert sorted(d.amount for d in paid) == sorted(
            Decimal(x) for x in ("81000", "67500", "67500", "54000")
        )
        assert sum(d.amount for d in paid) == project.award
        assert all(d.requested_by_id != d.approved_by_id for d in paid)
