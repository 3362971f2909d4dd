"""The finance ledger: filters, whitelisted sorting, pagination with a constant number of
statements, grouped totals, the xlsx export and who may see it."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import openpyxl
import pytest

from grants.core.workflow import transition
from grants.extensions import db
from grants.funding.ledger import LedgerFilters
from tests.applications.bureau_helpers import count_selects
from tests.factories import (
    CallFactory,
    ClusterFactory,
    OrganisationFactory,
    make_project,
    make_user,
)
from tests.funding.finance_helpers import approved, due_tranche, paid, people, requested


def codes(response) -> list[str]:
    """Project codes in the order the ledger lists its rows."""
    assert response.status_code == 200, response.status_code
    return re.findall(
        r'class="font-monospace small project-code text-nowrap">([^<]+)</a>',
        response.get_data(as_text=True),
    )


def seed():
    pharma, materials = ClusterFactory(name_zh="医药健康"), ClusterFactory(name_zh="新材料")
    jinma = OrganisationFactory(name="通化金马药业集团股份有限公司", cluster=pharma)
    shuanglong = OrganisationFactory(name="通化双龙化工股份有限公司", cluster=materials)
    call_2026 = CallFactory(year=2026, title="2026年度科技攻关计划")
    call_2025 = CallFactory(year=2025, title="2025年度成果转化计划")
    bureau, finance = people()
    p1 = make_project(award="200000.00", call=call_2026, organisation=jinma)
    p2 = make_project(award="100000.00", call=call_2026, organisation=shuanglong)
    p3 = make_project(award="50000.50", call=call_2025, organisation=jinma)
    p4 = make_project(award="80000.00", call=call_2025, organisation=shuanglong)
    d1 = paid(due_tranche(p1), bureau, finance)  # 60,000.00 paid
    d2 = requested(due_tranche(p2), bureau)  # 30,000.00 requested
    d3 = approved(due_tranche(p3), bureau, finance)  # 15,000.15 approved
    d4 = requested(due_tranche(p4), bureau)  # 24,000.00 rejected
    transition(d4, "reject", finance, reason="账户有误")
    return {
        "pharma": pharma,
        "materials": materials,
        "call_2026": call_2026,
        "call_2025": call_2025,
        "p1": p1,
        "p2": p2,
        "p3": p3,
        "p4": p4,
        "d1": d1,
        "d2": d2,
        "d3": d3,
        "d4": d4,
        "bureau": bureau,
        "finance": finance,
    }


@pytest.fixture
def ledger_data(app):
    data = seed()
    db.session.commit()
    return data


def signed_in(client, login, *roles):
    user = make_user(*roles)
    db.session.commit()
    login(user)
    return user


def test_ledger_lists_every_disbursement_newest_first(client, login, ledger_data):
    signed_in(client, login, "finance")
    d = ledger_data
    assert codes(client.get("/finance/ledger")) == [
        d["p4"].code,
        d["p3"].code,
        d["p2"].code,
        d["p1"].code,
    ]


def test_ledger_filters(client, login, ledger_data):
    d = ledger_data
    signed_in(client, login, "finance")
    assert codes(client.get(f"/finance/ledger?call={d['call_2025'].id}")) == [
        d["p4"].code,
        d["p3"].code,
    ]
    assert codes(client.get(f"/finance/ledger?cluster={d['pharma'].id}")) == [
        d["p3"].code,
        d["p1"].code,
    ]
    assert codes(client.get("/finance/ledger?year=2026")) == [d["p2"].code, d["p1"].code]
    assert codes(client.get("/finance/ledger?state=approved")) == [d["p3"].code]
    assert codes(client.get("/finance/ledger?org=双龙")) == [d["p4"].code, d["p2"].code]
    assert codes(client.get(f"/finance/ledger?org={d['p1'].code}")) == [d["p1"].code]
    assert codes(client.get("/finance/ledger?org=%25")) == []
    everything = codes(client.get("/finance/ledger"))
    assert codes(client.get("/finance/ledger?call=abc&cluster=-1&year=x&state=bogus")) == everything


def test_ledger_sorting_is_whitelisted(client, login, ledger_data):
    d = ledger_data
    signed_in(client, login, "bureau")
    assert codes(client.get("/finance/ledger?sort=amount")) == [
        d["p3"].code,
        d["p4"].code,
        d["p2"].code,
        d["p1"].code,
    ]
    assert codes(client.get("/finance/ledger?sort=-amount"))[0] == d["p1"].code
    assert codes(client.get("/finance/ledger?sort=project")) == [
        d["p3"].code,
        d["p4"].code,
        d["p1"].code,
        d["p2"].code,
    ]
    default = codes(client.get("/finance/ledger"))
    assert codes(client.get("/finance/ledger?sort=amount;drop table projects")) == default
    assert codes(client.get("/finance/ledger?sort=__class__")) == default


def test_ledger_paginates(client, login, app, ledger_data):
    signed_in(client, login, "finance")
    app.config["PAGE_SIZE"], size = 3, app.config["PAGE_SIZE"]
    try:
        first = codes(client.get("/finance/ledger"))
        second = codes(client.get("/finance/ledger?page=2"))
        beyond = codes(client.get("/finance/ledger?page=99"))
    finally:
        app.config["PAGE_SIZE"] = size
    assert len(first) == 3 and len(second) == 1 and beyond == []
    assert set(first) | set(second) == {ledger_data[k].code for k in ("p1", "p2", "p3", "p4")}


def test_ledger_statements_do_not_grow_with_the_page(client, login, app, ledger_data):
    signed_in(client, login, "finance")
    app.config["PAGE_SIZE"], size = 50, app.config["PAGE_SIZE"]
    try:
        with count_selects() as few:
            assert len(codes(client.get("/finance/ledger"))) == 4
        bureau, finance = ledger_data["bureau"], ledger_data["finance"]
        for _ in range(8):
            project = make_project(
                organisation=OrganisationFactory(cluster=ClusterFactory()), call=CallFactory()
            )
            paid(due_tranche(project), bureau, finance)
        db.session.commit()
        with count_selects() as many:
            assert len(codes(client.get("/finance/ledger"))) == 12
    finally:
        app.config["PAGE_SIZE"] = size
    assert many["n"] == few["n"], (few["statements"], many["statements"])


def test_ledger_totals_are_grouped_sums(app):
    d = seed()
    everything = LedgerFilters()
    by_state = {r["key"]: (r["count"], r["amount"]) for r in everything.totals_by_state()}
    assert by_state == {
        "requested": (1, Decimal("30000.00")),
        "approved": (1, Decimal("15000.15")),
        "paid": (1, Decimal("60000.00")),
        "rejected": (1, Decimal("24000.00")),
    }
    by_call = {
        r["key"].id: (r["count"], r["pending"], r["paid"]) for r in everything.totals_by_call()
    }
    assert by_call == {
        d["call_2026"].id: (2, Decimal("30000.00"), Decimal("60000.00")),
        d["call_2025"].id: (1, Decimal("15000.15"), Decimal("0.00")),
    }
    by_cluster = {
        r["key"].id: (r["count"], r["pending"], r["paid"]) for r in everything.totals_by_cluster()
    }
    assert by_cluster == {
        d["pharma"].id: (2, Decimal("15000.15"), Decimal("60000.00")),
        d["materials"].id: (1, Decimal("30000.00"), Decimal("0.00")),
    }
    by_year = {r["key"]: (r["count"], r["pending"], r["paid"]) for r in everything.totals_by_year()}
    assert by_year == {
        2025: (1, Decimal("15000.15"), Decimal("0.00")),
        2026: (2, Decimal("30000.00"), Decimal("60000.00")),
    }
    for rows in (
        everything.totals_by_call(),
        everything.totals_by_cluster(),
        everything.totals_by_year(),
    ):
        for row in rows:
            assert type(row["pending"]) is Decimal and type(row["paid"]) is Decimal
    only_pharma = LedgerFilters(cluster_id=d["pharma"].id)
    assert {r["key"] for r in only_pharma.totals_by_state()} == {"paid", "approved"}


def test_ledger_page_shows_the_totals(client, login, ledger_data):
    signed_in(client, login, "finance")
    html = client.get("/finance/ledger").get_data(as_text=True)
    state_table = html[html.index('id="totals-state"') :]
    assert re.search(r'data-state="approved">.*?15,000\.15 元', state_table, re.S)
    assert re.search(r'data-state="rejected">.*?24,000\.00 元', state_table, re.S)


def workbook(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    return openpyxl.load_workbook(io.BytesIO(response.data))


def test_ledger_export_has_the_filtered_rows_with_exact_amounts(client, login, ledger_data):
    d = ledger_data
    signed_in(client, login, "finance")
    sheet = workbook(
        client.get(f"/finance/ledger.xlsx?call={d['call_2025'].id}&sort=project")
    ).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header, *body = rows
    assert all(isinstance(h, str) and h for h in header)
    assert sorted(r[0] for r in body) == sorted([d["p3"].code, d["p4"].code])
    amounts = {r[0]: r[8] for r in body}
    assert isinstance(amounts[d["p3"].code], int | float)
    assert Decimal(str(amounts[d["p3"].code])) == Decimal("15000.15")
    assert Decimal(str(amounts[d["p4"].code])) == Decimal("24000")
    amount_cells = [row[8] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.number_format == "#,##0.00" for cell in amount_cells)
    p3_row = next(r for r in body if r[0] == d["p3"].code)
    assert (
        p3_row[2] == "通化金马药业集团股份有限公司"
        and p3_row[5] == 2025
        and p3_row[14] == "FK-2026-0001"
    )


def test_ledger_export_follows_the_state_filter(client, login, ledger_data):
    signed_in(client, login, "bureau")
    sheet = workbook(client.get("/finance/ledger.xlsx?state=paid")).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][0] == ledger_data["p1"].code
    assert Decimal(str(rows[1][8])) == Decimal("60000.00")


@pytest.mark.parametrize(
    "roles,status",
    [
        (("finance",), 200),
        (("bureau",), 200),
        (("admin",), 200),
        (("applicant",), 403),
        (("expert",), 403),
    ],
)
def test_ledger_permissions(client, login, roles, status):
    user = make_user(*roles, organisation=OrganisationFactory() if "applicant" in roles else None)
    db.session.commit()
    login(user)
    assert client.get("/finance/ledger").status_code == status
    assert client.get("/finance/ledger.xlsx").status_code == status


def test_ledger_requires_sign_in(client):
    assert client.get("/finance/ledger").status_code == 302
    assert client.get("/finance/ledger.xlsx").status_code == 302


def test_ledger_has_no_edit_links_for_finance(client, login, ledger_data):
    signed_in(client, login, "finance")
    html = client.get("/finance/ledger").get_data(as_text=True)
    assert "/edit" not in html and "/release" not in html
