"""The application PDF (申报书): every section, Chinese text, blind copies, hostile text shown literally."""

import http.server
import subprocess
import threading
from decimal import Decimal
from pathlib import Path

from flask_babel import force_locale

from grants.applications.models import TeamMember
from grants.applications.pdf import application_pdf_html, budget_rows, render_application_pdf
from grants.extensions import db
from tests.applications.bureau_helpers import application_in_state
from tests.factories import ApplicationFactory, CallFactory, OrganisationFactory, fill_application


def pdf_text(data: bytes, tmp_path: Path, *, layout: bool = False) -> str:
    path = tmp_path / "application.pdf"
    path.write_bytes(data)
    args = ["pdftotext"] + (["-layout"] if layout else []) + [str(path), "-"]
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return text if layout else "".join(text.split())


def filled(**kwargs):
    org = OrganisationFactory(
        name="通化金马药业集团股份有限公司",
        address="吉林省通化市二道江区",
        legal_representative="王金马",
    )
    call = CallFactory(title="2026年度二道江区科技攻关计划")
    application = application_in_state(
        "submitted",
        call=call,
        organisation=org,
        reference_no="2026-EDJ-001",
        title="中药提取自动化关键技术研究",
        summary="研究中药提取过程在线监测。",
        **kwargs,
    )
    return fill_application(application)


def test_application_pdf_has_title_organisation_and_every_section(app, tmp_path):
    application = filled()
    with app.test_request_context():
        data = render_application_pdf(application)
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    for expected in (
        "中药提取自动化关键技术研究",
        "通化金马药业集团股份有限公司",
        "2026-EDJ-001",
        "2026年度二道江区科技攻关计划",
        "研究中药提取过程在线监测。",
        "严建国",
        "完成中试",
        "中试报告",
        "建立过程模型，开发控制系统，中试验证。",
    ):
        assert expected in text, expected
    # budget in 万元: fiscal 27, self-raised 35, total 62 (from fill_application)
    assert "27.00" in text and "35.00" in text and "62.00" in text
    assert "27.0000" not in text and "62.0000" not in text


def test_application_pdf_budget_rows_add_up(app):
    application = filled()
    with app.test_request_context():
        rows = budget_rows(application)
    total = rows[-1]
    assert total.kind == "total"
    assert (total.fiscal, total.self_raised, total.total) == (
        Decimal("270000"),
        Decimal("350000"),
        Decimal("620000"),
    )
    direct = next(r for r in rows if r.kind == "subtotal")
    assert direct.fiscal == Decimal("250000")
    assert [r.kind for r in rows].count("sub-item") == 1


def test_blind_pdf_leaves_out_organisation_and_people(app, tmp_path):
    application = filled()
    with app.test_request_context():
        html = application_pdf_html(application, blind=True)
        data = render_application_pdf(application, blind=True)
    text = pdf_text(data, tmp_path)
    assert "中药提取自动化关键技术研究" in text
    for hidden in (
        "通化金马药业集团股份有限公司",
        "严建国",
        "王金马",
        "吉林省通化市二道江区",
        application.organisation.uscc,
    ):
        assert hidden not in text and hidden not in html
    assert "研究员" in text  # the team's professional titles stay


def test_pdf_shows_hostile_text_literally_and_fetches_nothing(app, tmp_path):
    secret = tmp_path / "s.css"
    secret.write_text('body::after { content: "LEAKEDSECRET"; }')
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    title = f'<img src="http://127.0.0.1:{port}/t.png"> https://example.com'
    summary = f'<link rel="stylesheet" href="file://{secret}"><img src="file:///etc/passwd">'
    application = application_in_state("submitted", title=title, summary=summary)
    application.team.append(TeamMember(position=1, name="<b>张三</b>", role="principal"))
    db.session.flush()
    try:
        with app.test_request_context():
            html = application_pdf_html(application)
            data = render_application_pdf(application)
    finally:
        server.shutdown()
        server.server_close()
    assert (
        "&lt;img src=&#34;http://127.0.0.1" in html
        and f'<img src="http://127.0.0.1:{port}' not in html
    )
    assert '<link rel="stylesheet" href="file://' not in html
    text = pdf_text(data, tmp_path)
    assert f'<imgsrc="http://127.0.0.1:{port}/t.png">https://example.com' in text
    assert "<b>张三</b>" in text
    assert "LEAKEDSECRET" not in text and "root:" not in text
    assert hits == []


def test_pdf_follows_the_locale(app, tmp_path):
    application = filled()
    with app.test_request_context():
        with force_locale("en"):
            html = application_pdf_html(application)
        zh_html = application_pdf_html(application)
    assert '<html lang="en">' in html and "Application form" in html
    assert '<html lang="zh-CN">' in zh_html


def test_long_tables_break_across_pages_with_repeated_headers(app, tmp_path):
    application = filled()
    for i in range(80):
        application.team.append(
            TeamMember(
                position=i + 2,
                name=f"成员{i:02d}",
                role="member",
                title="工程师",
                organisation_name="通化金马药业集团股份有限公司",
            )
        )
    db.session.flush()
    with app.test_request_context(), force_locale("en"):
        data = render_application_pdf(application)
    pages = pdf_text(data, tmp_path, layout=True).split("\f")
    team_pages = [p for p in pages if "成员" in p]
    assert len(team_pages) >= 2
    assert all("Months" in p for p in team_pages)
    assert "Page 2 of" in pages[1]


def test_pdf_of_a_draft_without_sections_renders(app, tmp_path):
    application = ApplicationFactory(title="", summary="")
    with app.test_request_context():
        data = render_application_pdf(application)
    assert data.startswith(b"%PDF")
