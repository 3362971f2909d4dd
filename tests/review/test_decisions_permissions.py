"""Only the bureau decides, notices, records objections and releases; the public pages need no sign-in."""

import pytest

from grants.review import decisions as ops
from tests.factories import ExpertFactory, make_user
from tests.review.decision_helpers import (  # noqa: F401 (english is a fixture)
    approved_application,
    bureau,
    decision_of,
    english,
    notice_for,
    objection_data,
    reload,
    reviewed_application,
    small_call,
)

pytestmark = pytest.mark.usefixtures("english")


def _world():
    call = small_call()
    approved = approved_application(call=call)
    waiting = reviewed_application(call=call)
    notice = notice_for(call)
    objection = ops.record_objection(notice, approved.id, objection_data(), bureau())
    review = ops.submitted_reviews(approved)[0]
    return call, approved, waiting, notice, objection, review


def _bureau_requests(call, approved, waiting, notice, objection, review):
    return [
        ("get", f"/calls/{call.id}/decisions", None),
        (
            "post",
            f"/calls/{call.id}/decisions/{waiting.id}/approve",
            {f"approve-{waiting.id}-amount": "1"},
        ),
        (
            "post",
            f"/calls/{call.id}/decisions/{waiting.id}/decline",
            {f"decline-{waiting.id}-reasons": "x"},
        ),
        ("get", f"/calls/{call.id}/notices/new", None),
        (
            "post",
            f"/calls/{call.id}/notices/new",
            {"title": "t", "starts_on": "2026-05-01", "ends_on": "2026-05-09"},
        ),
        ("get", f"/notices/{notice.id}/manage", None),
        ("get", f"/notices/{notice.id}/edit", None),
        ("post", f"/notices/{notice.id}/publish", None),
        ("post", f"/notices/{notice.id}/close", {"close-force": "y", "close-reason": "x"}),
        ("post", f"/notices/{notice.id}/objections", {"objection-application_id": approved.id}),
        (
            "post",
            f"/objections/{objection.id}/resolve",
            {"event": "uphold", f"resolve-{objection.id}-resolution": "x"},
        ),
        ("post", f"/applications/{approved.id}/overturn", {"overturn-reasons": "x"}),
        ("get", f"/calls/{call.id}/release", None),
        ("post", f"/calls/{call.id}/release", None),
        ("post", f"/reviews/{review.id}/released-comment", {f"comment-{review.id}-text": "x"}),
    ]


@pytest.mark.parametrize("role", ["applicant", "expert", "finance"])
def test_bureau_pages_refuse_other_roles(client, login, role):
    world = _world()
    _call, approved, waiting, notice, objection, review = world
    if role == "applicant":
        user = make_user("applicant", organisation=approved.organisation)
    elif role == "expert":
        user = review.assignment.expert.user
    else:
        user = make_user("finance")
    login(user)
    for method, url, data in _bureau_requests(*world):
        response = getattr(client, method)(url, data=data or {})
        assert response.status_code in (403, 404), (role, method, url, response.status_code)
    assert reload(waiting).state == "reviewed"
    assert reload(objection).state == "open"
    assert reload(notice).state == "published"
    assert decision_of(approved).released_at is None
    assert reload(review).released_comment is None


def test_bureau_pages_send_anonymous_to_login(client):
    world = _world()
    for method, url, data in _bureau_requests(*world):
        response = getattr(client, method)(url, data=data or {})
        assert response.status_code == 302 and "/login" in response.headers["Location"], (
            method,
            url,
        )


def test_bureau_pages_open_for_bureau(client, login):
    call, _approved, _waiting, notice, _objection, _review = _world()
    login(bureau())
    for url in (
        f"/calls/{call.id}/decisions",
        f"/calls/{call.id}/notices/new",
        f"/notices/{notice.id}/manage",
        f"/calls/{call.id}/release",
    ):
        assert client.get(url).status_code == 200, url


def test_public_pages_need_no_login(client):
    _call, _approved, _waiting, notice, _objection, _review = _world()
    assert client.get("/notices").status_code == 200
    assert client.get(f"/notices/{notice.id}").status_code == 200


def test_expert_with_other_role_is_still_refused(client, login):
    expert = ExpertFactory()
    call = small_call()
    login(expert.user)
    assert client.get(f"/calls/{call.id}/decisions").status_code == 403
