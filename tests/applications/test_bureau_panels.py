"""The bureau's dashboard panel: applications waiting for the formal check."""

from datetime import datetime, timedelta

import grants.applications.bureau_panels  # noqa: F401 - registers the panel
from grants.applications.bureau_panels import days_waiting, formal_check_queue
from grants.core.timeutil import local_to_utc
from grants.core.types import utcnow
from tests.applications.bureau_helpers import application_in_state
from tests.factories import make_user


def test_panel_counts_waiting_applications_and_lists_the_oldest_five(app):
    officer = make_user("bureau")
    for days in (1, 3, 12, 5, 8, 20, 2):
        application_in_state(
            "submitted", reference_no=f"Q-{days:02d}", submitted_at=utcnow() - timedelta(days=days)
        )
    application_in_state("under_review")
    application_in_state("returned")
    data = formal_check_queue(officer)
    assert data["total"] == 7
    assert [a.reference_no for a, _days in data["oldest"]] == [
        "Q-20",
        "Q-12",
        "Q-08",
        "Q-05",
        "Q-03",
    ]
    assert [days for _a, days in data["oldest"]] == [20, 12, 8, 5, 3]


def test_days_waiting_counts_beijing_calendar_days(app):
    application = application_in_state(
        "submitted", submitted_at=local_to_utc(datetime(2026, 3, 3, 23, 50))
    )
    assert days_waiting(application, datetime(2026, 3, 4).date()) == 1
    assert days_waiting(application, datetime(2026, 3, 3).date()) == 0


def test_dashboard_shows_the_panel_to_the_bureau_only(client, login):
    application = application_in_state(
        "submitted", title="等待形式审查的项目", submitted_at=utcnow() - timedelta(days=4)
    )
    login(make_user("bureau"))
    html = client.get("/").get_data(as_text=True)
    assert "等待形式审查的项目" in html
    assert f"/applications/{application.id}/check" in html
    assert 'href="/applications/check"' in html
    client.post("/logout")
    login(make_user("finance"))
    assert "等待形式审查的项目" not in client.get("/").get_data(as_text=True)
