"""The bureau's list of all calls: filters and counts."""

from __future__ import annotations

import re

import pytest

from grants.core.types import utcnow
from tests.factories import ApplicationFactory, CallFactory, make_user


@pytest.fixture
def bureau(login):
    user = make_user("bureau", locale="en")
    login(user)
    return user


def state_counts(html: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-state="(\w+)">(\d+)<', html)}


def test_call_list_shows_all_states_with_counts(client, bureau):
    CallFactory(title="发布中的指南")
    CallFactory(title="草稿中的指南", state="draft", published_at=None)
    CallFactory(title="已关闭的指南", state="closed", closed_at=utcnow())
    response = client.get("/calls/manage")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert all(t in html for t in ("发布中的指南", "草稿中的指南", "已关闭的指南"))
    assert state_counts(html) == {"draft": 1, "published": 1, "closed": 1}
    assert "<caption" in html and 'scope="col"' in html


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("year=2025", "二〇二五年指南", "省级成果转化指南"),
        ("state=draft", "草稿指南", "二〇二五年指南"),
        ("level=province", "省级成果转化指南", "草稿指南"),
        ("category=transfer", "省级成果转化指南", "二〇二五年指南"),
    ],
)
def test_call_list_filters(client, bureau, query, shown, hidden):
    CallFactory(title="二〇二五年指南", year=2025)
    CallFactory(title="草稿指南", state="draft", published_at=None)
    CallFactory(title="省级成果转化指南", funding_level="province", category="transfer")
    html = client.get(f"/calls/manage?{query}").get_data(as_text=True)
    body = html[html.index("<tbody>") :]
    assert shown in body and hidden not in body


def test_call_list_counts_submitted_applications_not_drafts(client, bureau):
    """Organisations' drafts are theirs until submitted: the bureau's list does not count them."""
    call = CallFactory(code="2026-COUNT")
    ApplicationFactory(call=call)
    ApplicationFactory(call=call)
    ApplicationFactory(
        call=call, state="submitted", reference_no="2026-COUNT-001", submitted_at=utcnow()
    )
    html = client.get("/calls/manage").get_data(as_text=True)
    row = html[html.index("2026-COUNT") :]
    row = row[: row.index("</tr>")]
    assert re.findall(r'<td class="text-end">(\d+)</td>', row) == ["1"]


def test_call_list_state_counts_follow_the_other_filters(client, bureau):
    CallFactory(year=2025)
    CallFactory(year=2026, state="draft", published_at=None)
    html = client.get("/calls/manage?year=2025&state=draft").get_data(as_text=True)
    assert state_counts(html) == {"draft": 0, "published": 1, "closed": 0}
    assert "No calls match these filters." in html
