"""Open redirects: a ``next`` or Referer target from the user never leaves the site (issue 15, item 8)."""

from __future__ import annotations

import pytest

from grants.core.redirects import is_safe_path, safe_next
from grants.extensions import db
from grants.notifications.operations import notify
from tests.conftest import PASSWORD
from tests.factories import make_user

# Known ways to make a browser leave the site from a "relative" redirect target.
BYPASSES = [
    None,
    "",
    "evil.example",
    "@evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0a/evil.example",
    "/%00/evil.example",
    "/\x00/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "\t//evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "%2F%5Cevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%255Cevil.example",
    "/%252F/evil.example",
    "/%25252F/evil.example",
    "https://evil.example",
    "HTTPS://evil.example/",
    "http:evil.example",
    "https:/evil.example",
    "http:\\\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "／／evil.example",
    "/／evil.example",
    "/\uff3cevil.example",
    "/%EF%BC%8Fevil.example",
    "/%E2%80%8B/evil.example",
    "/\u200b/evil.example",
    "/\u3000/evil.example",
    "/%E3%80%80/evil.example",
    "/\u2028/evil.example",
    "/\u202e/evil.example",
    "/\xa0/evil.example",
    "/%FF/evil.example",
    "/ /evil.example",
    "/" + "a" * 3000,
]

SAFE = [
    "/",
    "/applications/5",
    "/calls?page=2",
    "/applications?q=%E5%8C%BB%E8%8D%AF&page=3",
    "/projects/5/acceptance#panel",
    "/reports?q=a%2Fb",
    "/login?next=%2Fapplications",
    "/review/calls/3/assignments",
]


@pytest.mark.parametrize("target", BYPASSES, ids=repr)
def test_is_safe_path_refuses_known_bypasses(target):
    assert is_safe_path(target) is False
    assert safe_next(target, "/fallback") == "/fallback"


@pytest.mark.parametrize("target", SAFE)
def test_is_safe_path_keeps_paths_on_the_site(target):
    assert is_safe_path(target) is True
    assert safe_next(target, "/fallback") == target


LOGIN_BYPASSES = [
    "/%09/evil.example",
    "/\\evil.example",
    "//evil.example",
    "https://evil.example",
    "/%5Cevil.example",
    "/%2F%2Fevil.example",
    "／／evil.example",
]


@pytest.mark.parametrize("target", LOGIN_BYPASSES)
def test_login_next_bypass_lands_on_the_dashboard(client, target):
    user = make_user("bureau")
    response = client.post(
        "/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_next_on_the_site_is_followed(client):
    user = make_user("bureau")
    response = client.post(
        "/login?next=/calls%3Fpage%3D2", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/calls?page=2"


@pytest.mark.parametrize("target", [*LOGIN_BYPASSES, "/\t/evil.example"])
def test_language_switch_next_bypass_lands_on_the_dashboard(client, target):
    response = client.post("/language", data={"locale": "en", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switch_returns_to_the_page(client):
    response = client.post("/language", data={"locale": "en", "next": "/login?x=1"})
    assert response.headers["Location"] == "/login?x=1"


@pytest.mark.parametrize(
    "referrer, expected",
    [
        ("http://grants.test/admin/users?page=2&q=wang", "/admin/users?page=2&q=wang"),
        ("http://evil.example/admin/users", "/admin/users"),
        ("http://grants.test.evil.example/x", "/admin/users"),
        ("http://grants.test//evil.example", "/admin/users"),
        ("http://grants.test/%5Cevil.example", "/admin/users"),
        ("javascript:alert(1)", "/admin/users"),
        ("", "/admin/users"),
    ],
)
def test_disable_user_returns_to_the_referring_page_of_this_site_only(
    client, login, referrer, expected
):
    admin = make_user("admin")
    target = make_user("expert")
    login(admin)
    response = client.post(
        f"/admin/users/{target.id}/active",
        data={"active": "0"},
        headers={"Referer": referrer} if referrer else {},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


@pytest.mark.parametrize(
    "link, expected",
    [
        ("/calls?page=2", "/calls?page=2"),
        ("/\\evil.example", "/inbox"),
        ("/\t/evil.example", "/inbox"),
        ("https://evil.example/", "/inbox"),
    ],
)
def test_opening_a_message_follows_its_link_only_on_the_site(client, login, link, expected):
    user = make_user("expert")
    (note,) = notify([user], "test.kind", "Subject", "Body", link=link, email=False)
    db.session.commit()
    login(user)
    response = client.post(f"/inbox/{note.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == expected
