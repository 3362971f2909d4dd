"""The bureau's list of applications: filters, sorting, pagination, one SELECT per page."""

import re
from datetime import datetime
from decimal import Decimal

from grants.core.timeutil import local_to_utc
from tests.applications.bureau_helpers import application_in_state, count_selects
from tests.factories import CallFactory, ClusterFactory, OrganisationFactory, make_user


def refs(response) -> list[str]:
    """Reference numbers in the order the list shows them."""
    assert response.status_code == 200, response.status_code
    return re.findall(
        r'<td class="text-nowrap font-monospace small">([^<]+)</td>',
        response.get_data(as_text=True),
    )


def seed():
    pharma, materials = ClusterFactory(name_zh="医药健康"), ClusterFactory(name_zh="新材料")
    jinma = OrganisationFactory(name="通化金马药业集团股份有限公司", cluster=pharma)
    shuanglong = OrganisationFactory(name="通化双龙化工股份有限公司", cluster=materials)
    call_2026, call_2025 = CallFactory(year=2026), CallFactory(year=2025)
    day = lambda d: local_to_utc(datetime(2026, 3, d, 9, 0))  # noqa: E731
    a = application_in_state(
        "submitted",
        reference_no="A-001",
        call=call_2026,
        organisation=jinma,
        title="中药提取自动化关键技术研究",
        summary="在线监测与自动控制",
        fiscal_total=Decimal("300000"),
        self_raised_total=Decimal("450000"),
        submitted_at=day(2),
    )
    b = application_in_state(
        "under_review",
        reference_no="B-002",
        call=call_2026,
        organisation=shuanglong,
        title="高分散白炭黑制备工艺",
        summary="沉淀法白炭黑",
        fiscal_total=Decimal("500000"),
        self_raised_total=Decimal("900000"),
        submitted_at=day(10),
    )
    c = application_in_state(
        "returned",
        reference_no="C-003",
        call=call_2025,
        organisation=jinma,
        title="人参皂苷纯化",
        summary="膜分离纯化",
        fiscal_total=Decimal("120000.50"),
        self_raised_total=Decimal("200000"),
        submitted_at=day(20),
    )
    application_in_state("draft", call=call_2026, organisation=jinma, title="草稿不应出现")
    return {
        "pharma": pharma,
        "materials": materials,
        "jinma": jinma,
        "shuanglong": shuanglong,
        "call_2026": call_2026,
        "call_2025": call_2025,
        "a": a,
        "b": b,
        "c": c,
    }


def test_bureau_list_shows_submitted_applications_but_no_drafts(client, login):
    seed()
    login(make_user("bureau"))
    response = client.get("/applications/all")
    assert refs(response) == ["C-003", "B-002", "A-001"]
    html = response.get_data(as_text=True)
    assert "草稿不应出现" not in html
    assert ">30.00<" in html and ">45.00<" in html
    assert "通化金马药业集团股份有限公司" in html and "医药健康" in html
    assert "2026-03-02 09:00" in html


def test_bureau_list_filters_on_call_cluster_state(client, login):
    data = seed()
    login(make_user("bureau"))
    assert refs(client.get(f"/applications/all?call={data['call_2025'].id}")) == ["C-003"]
    assert refs(client.get(f"/applications/all?cluster={data['materials'].id}")) == ["B-002"]
    assert refs(client.get("/applications/all?state=submitted")) == ["A-001"]
    assert refs(client.get("/applications/all?state=draft")) == ["C-003", "B-002", "A-001"]
    assert refs(client.get("/applications/all?call=abc&cluster=-1")) == ["C-003", "B-002", "A-001"]


def test_bureau_list_filters_on_organisation_name_or_credit_code(client, login):
    data = seed()
    login(make_user("bureau"))
    assert refs(client.get("/applications/all?org=双龙")) == ["B-002"]
    code = data["jinma"].uscc
    assert refs(client.get(f"/applications/all?org={code[-6:].lower()}")) == ["C-003", "A-001"]
    assert refs(client.get("/applications/all?org=%25")) == []


def test_bureau_list_filters_on_text_in_title_summary_or_reference(client, login):
    seed()
    login(make_user("bureau"))
    assert refs(client.get("/applications/all?q=白炭黑")) == ["B-002"]
    assert refs(client.get("/applications/all?q=膜分离")) == ["C-003"]
    assert refs(client.get("/applications/all?q=a-00")) == ["A-001"]
    assert refs(client.get("/applications/all?q=_")) == []


def test_bureau_list_filters_on_period_of_submission_in_beijing_days(client, login):
    seed()
    login(make_user("bureau"))
    assert refs(client.get("/applications/all?from=2026-03-10")) == ["C-003", "B-002"]
    assert refs(client.get("/applications/all?to=2026-03-10")) == ["B-002", "A-001"]
    assert refs(client.get("/applications/all?from=2026-03-03&to=2026-03-19")) == ["B-002"]
    response = client.get("/applications/all?from=2026-02-31")
    assert refs(response) == ["C-003", "B-002", "A-001"]
    assert "2026-02-31" in response.get_data(as_text=True)


def test_bureau_list_sorts_by_whitelisted_keys(client, login):
    seed()
    login(make_user("bureau"))
    assert refs(client.get("/applications/all?sort=reference")) == ["A-001", "B-002", "C-003"]
    assert refs(client.get("/applications/all?sort=-reference")) == ["C-003", "B-002", "A-001"]
    assert refs(client.get("/applications/all?sort=submitted")) == ["A-001", "B-002", "C-003"]
    assert refs(client.get("/applications/all?sort=-fiscal")) == ["B-002", "A-001", "C-003"]
    assert refs(client.get("/applications/all?sort=fiscal")) == ["C-003", "A-001", "B-002"]


def test_bureau_list_sorts_by_organisation_and_title(client, login):
    call = CallFactory()
    for ref, org, title in (
        ("X-1", "Beta 双龙化工", "Alpha 白炭黑"),
        ("X-2", "Alpha 金马药业", "Gamma 人参"),
        ("X-3", "Gamma 鑫鸿新材料", "Beta 中药"),
    ):
        application_in_state(
            "submitted",
            call=call,
            reference_no=ref,
            organisation=OrganisationFactory(name=org),
            title=title,
        )
    login(make_user("bureau"))
    base = f"/applications/all?call={call.id}&sort="
    assert refs(client.get(base + "organisation")) == ["X-2", "X-1", "X-3"]
    assert refs(client.get(base + "-organisation")) == ["X-3", "X-1", "X-2"]
    assert refs(client.get(base + "title")) == ["X-1", "X-3", "X-2"]
    assert refs(client.get(base + "-title")) == ["X-2", "X-3", "X-1"]


def test_bureau_list_unknown_sort_key_falls_back_to_newest_first(client, login):
    seed()
    login(make_user("bureau"))
    for sort in ("title;drop table applications", "fiscal_total", "__class__", "-"):
        assert refs(client.get("/applications/all", query_string={"sort": sort})) == [
            "C-003",
            "B-002",
            "A-001",
        ]


def test_bureau_list_header_links_keep_the_filters(client, login):
    data = seed()
    login(make_user("bureau"))
    html = client.get(f"/applications/all?call={data['call_2026'].id}&sort=reference").get_data(
        as_text=True
    )
    assert "sort=-reference" in html and f"call={data['call_2026'].id}" in html
    assert 'aria-sort="ascending"' in html
    assert f"/applications/all.xlsx?call={data['call_2026'].id}" in html


def test_bureau_list_paginates(client, login, app):
    call = CallFactory()
    size = app.config["PAGE_SIZE"]
    for i in range(size + 3):
        application_in_state("submitted", call=call, reference_no=f"P-{i:03d}")
    login(make_user("bureau"))
    first = refs(client.get("/applications/all?sort=reference"))
    second = refs(client.get("/applications/all?sort=reference&page=2"))
    assert len(first) == size and len(second) == 3
    assert first[0] == "P-000" and second[-1] == f"P-{size + 2:03d}"
    assert refs(client.get("/applications/all?sort=reference&page=99")) == []


def _selects_for_page(client, count: int) -> int:
    call = CallFactory()
    for i in range(count):
        application_in_state(
            "submitted",
            call=call,
            organisation=OrganisationFactory(),
            reference_no=f"N{count}-{i:03d}",
        )
    with count_selects() as counter:
        response = client.get(f"/applications/all?call={call.id}")
    assert len(refs(response)) == min(count, 25)
    return counter["n"]


def test_bureau_list_statement_count_does_not_grow_with_rows(client, login, app):
    app.config["PAGE_SIZE"] = 25
    login(make_user("bureau"))
    few = _selects_for_page(client, 5)
    many = _selects_for_page(client, 30)
    assert few == many


def test_bureau_list_is_forbidden_to_applicants_and_finance(client, login):
    login(make_user("applicant"))
    assert client.get("/applications/all").status_code == 403
    assert client.get("/applications/all.xlsx").status_code == 403


def test_bureau_list_with_timezones_at_day_edges(client, login):
    """An application sent at 23:30 Beijing on 3 March belongs to 3 March, not 4 March (UTC)."""
    call = CallFactory()
    application_in_state(
        "submitted",
        call=call,
        reference_no="EDGE-1",
        submitted_at=local_to_utc(datetime(2026, 3, 3, 23, 30)),
    )
    login(make_user("bureau"))
    assert refs(client.get(f"/applications/all?call={call.id}&from=2026-03-03&to=2026-03-03")) == [
        "EDGE-1"
    ]
    assert refs(client.get(f"/applications/all?call={call.id}&from=2026-03-04")) == []
