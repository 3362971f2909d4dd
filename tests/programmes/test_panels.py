"""The bureau's dashboard panel: calls open now and drafts not yet published."""

from __future__ import annotations

from datetime import timedelta

import grants.programmes.panels as panels
from grants.core.types import utcnow
from tests.factories import CallFactory, make_user


def test_calls_panel_lists_open_calls_and_drafts(app):
    open_call = CallFactory()
    draft = CallFactory(state="draft", published_at=None)
    CallFactory(state="closed", closed_at=utcnow())
    CallFactory(opens_at=utcnow() + timedelta(days=3), closes_at=utcnow() + timedelta(days=20))
    data = panels.calls_overview(make_user("bureau"))
    assert data["open"] == [open_call]
    assert data["drafts"] == [draft]


def test_bureau_dashboard_shows_the_calls_panel(client, login):
    open_call = CallFactory(title="开放中的指南")
    draft = CallFactory(title="待发布的草稿", state="draft", published_at=None)
    login(make_user("bureau"))
    html = client.get("/").get_data(as_text=True)
    assert "开放中的指南" in html and "待发布的草稿" in html
    assert f"/calls/{open_call.id}" in html and f"/calls/{draft.id}" in html
    assert 'href="/calls/manage"' in html


def test_applicant_dashboard_has_no_calls_panel(client, login):
    CallFactory(title="待发布的草稿", state="draft", published_at=None)
    login(make_user("applicant"))
    html = client.get("/").get_data(as_text=True)
    assert "待发布的草稿" not in html
    assert "programmes-calls" not in html
