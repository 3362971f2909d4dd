"""Importing experts from xlsx: the template, all-or-nothing validation, matching, file checks."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook

from grants.accounts.models import User
from grants.extensions import db
from grants.review.models import Expert
from tests.applications.helpers import PDF_BYTES, office_zip
from tests.factories import ClusterFactory, ExpertFactory, OrganisationFactory, make_user
from tests.review.pool_helpers import as_rendered, audit_count, last_audit, workbook

HEADERS = [
    "姓名",
    "职称",
    "工作单位",
    "统一社会信用代码",
    "产业集群",
    "关键词",
    "电子邮箱",
    "电话",
    "是否启用",
]


@pytest.fixture
def bureau(login):
    user = make_user("bureau")
    login(user)
    return user


@pytest.fixture
def clusters(app):
    return ClusterFactory(name_zh="医药健康", code="pharma"), ClusterFactory(
        name_zh="新材料", code="new_materials"
    )


def upload(client, data: bytes, name: str = "experts.xlsx"):
    return client.post(
        "/experts/import",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def expert_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Expert.id)))


def test_import_template_downloads_and_opens_in_openpyxl(client, bureau, clusters):
    response = client.get("/experts/import/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == HEADERS
    assert sheet.max_row == 1 or all(
        c.value is None for row in sheet.iter_rows(min_row=2) for c in row
    )
    notes = "\n".join(
        str(c.value) for row in book.worksheets[1].iter_rows() for c in row if c.value
    )
    assert "医药健康" in notes and "新材料" in notes


def test_import_page_shows_the_form_and_the_template_link(client, bureau):
    html = client.get("/experts/import").get_data(as_text=True)
    assert 'type="file"' in html and "/experts/import/template.xlsx" in html
    assert "统一社会信用代码" in html


def test_import_adds_and_updates_experts(client, bureau, clusters):
    org = OrganisationFactory(name="通化金马药业集团股份有限公司")
    by_email = ExpertFactory(
        name="王研究员", email="wang@test.example", title="副研究员", phone="0435-1234567"
    )
    by_name = ExpertFactory(
        name="李教授", employer_name="吉林大学", email="", user=None, keywords="多肽"
    )
    data = workbook(
        [
            [
                "严建国",
                "研究员",
                "",
                org.uscc,
                "医药健康、新材料",
                "中药，提取工艺",
                "yan@test.example",
                13800000000,
                "是",
            ],
            [
                "王研究员",
                "研究员",
                "中国科学院长春应用化学研究所",
                None,
                "新材料",
                None,
                "WANG@test.example",
                None,
                None,
            ],
            ["李教授", None, "吉林大学", None, None, "多肽、抗菌", "li@test.example", None, "否"],
            [None, None, None, None, None, None, None, None, None],
        ]
    )
    response = upload(client, data)
    assert response.status_code == 302
    db.session.expire_all()
    added = db.session.scalars(sa.select(Expert).where(Expert.name == "严建国")).one()
    assert (added.employer_id, added.employer_name, added.phone, added.active) == (
        org.id,
        org.name,
        "13800000000",
        True,
    )
    assert [c.name_zh for c in added.clusters] == ["医药健康", "新材料"]
    assert added.user.email == "yan@test.example" and "expert" in added.user.role_names
    wang = db.session.get(Expert, by_email.id)
    assert (wang.title, wang.employer_name, wang.phone) == (
        "研究员",
        "中国科学院长春应用化学研究所",
        "0435-1234567",
    )
    li = db.session.get(Expert, by_name.id)
    assert (li.keywords, li.active, li.email) == ("多肽、抗菌", False, "li@test.example")
    assert li.user is not None and li.user.email == "li@test.example"
    assert expert_count() == 3
    event = last_audit("expert.imported")
    assert (event.after["added"], event.after["updated"], event.after["rows"]) == (1, 2, 3)
    page = client.get("/experts").get_data(as_text=True)
    assert (
        as_rendered(
            _l(
                "Import done: %(added)d experts added, %(updated)d updated, %(unchanged)d unchanged.",
                added=1,
                updated=2,
                unchanged=0,
            )
        )
        in page
    )


def test_import_with_row_errors_keeps_nothing_and_lists_every_problem(client, bureau, clusters):
    existing = ExpertFactory(name="王研究员", email="wang@test.example", title="副研究员")
    users_before = db.session.scalar(sa.select(sa.func.count(User.id)))
    data = workbook(
        [
            [
                "严建国",
                "研究员",
                "长春中医药大学",
                None,
                "医药健康",
                "中药",
                "yan@test.example",
                None,
                "是",
            ],
            ["王研究员", "研究员", None, None, None, None, "wang@test.example", None, None],
            [
                None,
                "教授",
                "吉林大学",
                "91220503MA00000010",
                "生物医药",
                None,
                "not-an-email",
                None,
                "可以",
            ],
            ["严建国二", None, None, None, None, None, "yan@test.example", None, None],
        ]
    )
    response = upload(client, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="import-errors"' in html
    rows = html.split('id="import-errors"')[1]
    for row, column in (
        (4, "姓名"),
        (4, "统一社会信用代码"),
        (4, "产业集群"),
        (4, "电子邮箱"),
        (4, "是否启用"),
        (5, "电子邮箱"),
    ):
        assert f"<td>{row}</td><td>{column}</td>" in rows, (row, column)
    assert "生物医药" in rows and "医药健康" in rows
    db.session.expire_all()
    assert expert_count() == 1
    assert db.session.get(Expert, existing.id).title == "副研究员"
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == users_before
    assert audit_count("expert.imported") == 0 and audit_count("expert.created") == 0


def test_import_refuses_a_file_that_is_not_xlsx(client, bureau):
    for data, name in (
        (PDF_BYTES, "experts.xlsx"),
        (office_zip("docx"), "experts.xlsx"),
        (b"a,b\n", "e.csv"),
    ):
        response = upload(client, data, name)
        assert response.status_code == 422
        assert "xlsx" in response.get_data(as_text=True)
        assert expert_count() == 0


def test_import_refuses_a_file_too_large(app, client, bureau, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_MB", 1)
    response = upload(client, workbook([["严建国"] + [""] * 8]) + b"\0" * (1024 * 1024))
    assert response.status_code == 422
    assert 'id="import-errors"' in response.get_data(as_text=True)
    assert expert_count() == 0


def test_import_refuses_a_sheet_without_the_header_row(client, bureau):
    response = upload(client, workbook([["严建国", "研究员"]], headers=["name", "title"]))
    assert response.status_code == 422
    assert "姓名" in response.get_data(as_text=True).split('id="import-errors"')[1]
    assert expert_count() == 0


def test_import_refuses_an_inactive_cluster(client, bureau):
    ClusterFactory(name_zh="现代旅游", active=False)
    response = upload(
        client, workbook([["严建国", None, None, None, "现代旅游", None, None, None, None]])
    )
    assert "<td>2</td><td>产业集群</td>" in response.get_data(as_text=True)
    assert expert_count() == 0


def test_import_refuses_an_email_whose_account_belongs_to_another_expert(client, bureau):
    other = ExpertFactory(email="taken@test.example")
    other.email = "moved@test.example"
    db.session.flush()
    response = upload(
        client,
        workbook([["严建国", None, None, None, None, None, "taken@test.example", None, None]]),
    )
    assert "<td>2</td><td>电子邮箱</td>" in response.get_data(as_text=True)
    assert (
        db.session.scalar(sa.select(sa.func.count(Expert.id)).where(Expert.name == "严建国")) == 0
    )


def test_import_requires_a_file(client, bureau):
    response = client.post("/experts/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert 'id="file-error"' in response.get_data(as_text=True)


def test_import_by_an_expert_is_refused(client, login):
    expert = ExpertFactory()
    login(expert.user)
    assert upload(client, workbook([["严建国"] + [None] * 8])).status_code == 403
    assert (
        db.session.scalar(sa.select(sa.func.count(Expert.id)).where(Expert.name == "严建国")) == 0
    )
