"""The shortcuts that keep long pages cheap give the same answers as the slow paths."""

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale, format_date, format_datetime
from sqlalchemy import event

from grants.core.i18n import translations
from grants.core.templating import local_date, local_datetime
from grants.extensions import db
from grants.review.experts import expert_for_user
from tests.factories import ExpertFactory, fill_application, make_user


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_dates_and_times_read_as_flask_babel_writes_them(app, locale):
    values = [
        datetime(2026, 3, 31, 16, 5, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59),  # naive: UTC
        datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
    ]
    with app.test_request_context("/"), force_locale(locale):
        for value in values:
            assert local_datetime(value) == format_datetime(value, "yyyy-MM-dd HH:mm")
            assert local_date(value) == format_date(value, "yyyy-MM-dd")
        assert local_date(date(2026, 2, 28)) == "2026-02-28"
        assert local_datetime(values[0]) == "2026-04-01 00:05"  # Beijing time
        assert local_datetime(None) == local_date(None) == "—"


def test_the_catalogue_follows_a_forced_locale(app):
    with app.test_request_context("/"), force_locale("zh_Hans_CN"):
        chinese = translations()
        assert translations() is chinese
        assert chinese.ugettext("My reviews") == "我的评审"
        with force_locale("en"):
            assert translations().ugettext("My reviews") == "My reviews"
        assert translations().ugettext("My reviews") == "我的评审"


def test_the_expert_of_a_user_is_looked_up_once_per_request_and_forgotten_on_flush(app):
    expert = ExpertFactory()
    user = expert.user
    db.session.flush()
    seen = []

    def count(conn, cursor, statement, *args):
        if "FROM experts" in statement:
            seen.append(statement)

    with app.test_request_context("/"):
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert expert_for_user(user) is expert
            assert expert_for_user(user) is expert
            assert len(seen) == 1
            expert.active = False
            db.session.flush()
            assert expert_for_user(user) is None
            assert len(seen) == 2
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert expert_for_user(make_user("expert")) is None


def test_the_expert_queue_shows_due_notes_and_links(client, login, english_ui):
    from tests.factories import AssignmentFactory

    expert = ExpertFactory()
    invited = AssignmentFactory(expert=expert)
    db.session.flush()
    login(expert.user)
    html = client.get("/expert/reviews").get_data(as_text=True)
    assert f'href="/expert/assignments/{invited.id}"' in html
    assert "days left" in html


def test_an_autosave_answer_costs_no_unread_count_and_shows_the_saved_section(app, client, login):
    from tests.factories import ApplicationFactory

    user = make_user("applicant")
    application = fill_application(ApplicationFactory(organisation=user.organisation))
    db.session.flush()
    login(user)
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.post(
            f"/applications/{application.id}/sections/basic",
            headers={"HX-Request": "true"},
            data={
                "basic-title": "新的项目名称",
                "basic-cluster_id": str(application.cluster_id),
                "basic-start_date": "2026-03-01",
                "basic-end_date": "2027-12-31",
                "basic-summary": "摘要",
                "basic-objectives": "目标",
                "basic-technical_route": "路线",
            },
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.headers["X-Section-Saved"] == "basic"
    html = response.get_data(as_text=True)
    assert 'value="新的项目名称"' in html and 'hx-swap-oob="true"' in html
    assert not [s for s in seen if "FROM notifications" in s]
    assert (
        len([s for s in seen if s.lstrip().startswith("SELECT users")]) <= 1
    )  # the user is not loaded again
