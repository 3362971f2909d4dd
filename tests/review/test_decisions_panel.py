"""The bureau's dashboard panel: calls awaiting a decision, running notices with days left, open objections."""

import pytest

from grants.core.dashboard import PANELS
from grants.review import decisions as ops
from tests.factories import make_user
from tests.review.decision_helpers import (  # noqa: F401 (english is a fixture)
    approved_application,
    bureau,
    days,
    english,
    notice_for,
    objection_data,
    reviewed_application,
    small_call,
)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(autouse=True)
def registered(app):
    import grants.review.decision_panels  # noqa: F401  (registered by the app once imported there)


def test_decisions_panel_hidden_when_nothing_waits(app):
    assert PANELS["review.decisions"].load(bureau()) is None


def test_decisions_panel_lists_calls_notices_and_objections(app):
    from grants.core.timeutil import local_today

    waiting_call = small_call()
    reviewed_application(call=waiting_call)
    reviewed_application(call=waiting_call)
    call = small_call()
    application = approved_application(call=call)
    notice = notice_for(call, ends_on=local_today() + days(6))
    objection = ops.record_objection(notice, application.id, objection_data(), bureau())
    data = PANELS["review.decisions"].load(bureau())
    assert (waiting_call, 2) in data["awaiting"]
    assert (notice, 6) in data["notices"]
    assert objection in data["objections"]


def test_decisions_panel_on_dashboard(client, login):
    call = small_call()
    reviewed_application(call=call)
    login(bureau())
    html = client.get("/").get_data(as_text=True)
    assert "Decisions and public notices" in html
    assert f"/calls/{call.id}/decisions" in html


def test_decisions_panel_not_for_applicants(client, login):
    call = small_call()
    application = reviewed_application(call=call)
    login(make_user("applicant", organisation=application.organisation, locale="en"))
    assert "Decisions and public notices" not in client.get("/").get_data(as_text=True)
