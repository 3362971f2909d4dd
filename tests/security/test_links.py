"""Absolute links come from BASE_URL, foreign Host headers are refused, proxy headers are
believed only as configured (issue 15, item 1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, request

from grants.config import Config, trusted_hosts
from grants.core.links import absolute_url, external_url, site_path
from grants.core.models import AuditEvent
from grants.core.security import init_proxy_fix
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from grants.notifications.operations import notify
from tests.conftest import PASSWORD
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://grants.test"


def outbox_bodies(address: str) -> list[str]:
    return db.session.scalars(
        sa.select(OutboxEmail.body)
        .where(OutboxEmail.to_address == address)
        .order_by(OutboxEmail.id)
    ).all()


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


@pytest.fixture
def no_server_name(app, monkeypatch):
    """As in production: no SERVER_NAME, so Flask would build external URLs from the request's Host."""
    monkeypatch.setitem(app.config, "SERVER_NAME", None)


# --- foreign Host headers ------------------------------------------------------------------------


def test_reset_request_with_foreign_host_is_refused_before_any_view(client, no_server_name):
    user = make_user("applicant")
    response = client.post(
        "/password/forgot", data={"email": user.email}, headers={"Host": "evil.example"}
    )
    assert response.status_code == 400
    assert "本站不响应您请求中的地址" in response.get_data(as_text=True)
    assert outbox_bodies(user.email) == []
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(
                AuditEvent.action == "password.reset_requested"
            )
        )
        == 0
    )


@pytest.mark.parametrize(
    "host",
    ["evil.example", "grants.test.evil.example", "evil.example:80", "grants.test@evil.example"],
)
def test_page_with_foreign_host_gets_400(client, host):
    response = client.get("/login", headers={"Host": host})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "evil" not in page


@pytest.mark.parametrize("host", ["grants.test", "localhost", "127.0.0.1:5000"])
def test_trusted_hosts_are_served(client, host):
    assert client.get("/login", headers={"Host": host}).status_code == 200


# --- links in e-mails ----------------------------------------------------------------------------


def test_reset_link_starts_with_base_url_whatever_trusted_host_was_used(
    client, no_server_name, run_jobs
):
    user = make_user("expert")
    response = client.post(
        "/password/forgot", data={"email": user.email}, headers={"Host": "localhost:5000"}
    )
    assert response.status_code == 302
    run_jobs()
    (body,) = outbox_bodies(user.email)
    (link,) = links_in(body)
    assert link.startswith(f"{BASE}/password/reset/")
    assert client.get(link[len(BASE) :]).status_code == 200


def test_invitation_link_starts_with_base_url(app, no_server_name, run_jobs):
    inviter = make_user("applicant")
    browser = app.test_client()
    base = "http://127.0.0.1:5000"
    assert (
        browser.post(
            "/login", data={"email": inviter.email, "password": PASSWORD}, base_url=base
        ).status_code
        == 302
    )
    response = browser.post(
        f"/organisations/{inviter.organisation_id}/invitations",
        data={"invite-email": "colleague@test.example"},
        base_url=base,
    )
    assert response.status_code == 302
    run_jobs()
    (body,) = outbox_bodies("colleague@test.example")
    (link,) = links_in(body)
    assert link.startswith(f"{BASE}/invitations/")


def test_notification_email_link_is_on_base_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://grants.example.cn/portal")
    user = make_user("bureau")
    with app.test_request_context("/", base_url="http://localhost:5000"):
        notify([user], "test.kind", "Subject", "Body", link="/portal/calls")
    (body,) = outbox_bodies(user.email)
    assert links_in(body) == ["https://grants.example.cn/portal/calls"]


def test_notification_email_leaves_out_a_link_that_is_not_a_site_path(app):
    user = make_user("bureau")
    notify([user], "test.kind", "Subject", "Body", link="//evil.example/x")
    (body,) = outbox_bodies(user.email)
    assert body == "Body"


def test_link_helpers_ignore_the_request_host(app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://grants.example.cn/portal")
    with app.test_request_context("/", base_url="http://localhost:5000"):
        assert (
            external_url("accounts.reset_password", token="t")
            == "https://grants.example.cn/portal/password/reset/t"
        )
        assert (
            site_path("projects.detail", project_id=5, _anchor="midterm")
            == "/portal/projects/5#midterm"
        )
        assert (
            absolute_url("/portal/calls?page=2") == "https://grants.example.cn/portal/calls?page=2"
        )
    with pytest.raises(ValueError):
        absolute_url("https://evil.example/")


def test_templates_have_external_link(app):
    template = app.jinja_env.from_string("{{ external_link('accounts.login') }}")
    with app.test_request_context("/", base_url="http://localhost"):
        assert template.render() == f"{BASE}/login"


SOURCES = [
    p
    for folder in ("grants", "templates")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in (".py", ".html", ".txt") and p.name != "links.py"
]


def test_no_absolute_link_is_built_from_the_request_outside_links_module():
    pattern = re.compile(
        r"_external\s*=\s*True|\.host_url|\.url_root|request\.host\b|request\.base_url"
    )
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in SOURCES
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and "grants/core/redirects.py" not in str(p)
    ]
    assert SOURCES and offenders == []


# --- settings ------------------------------------------------------------------------------------


def test_trusted_hosts_default_and_override(monkeypatch):
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    monkeypatch.setenv("BASE_URL", "https://grants.example.cn:8443/portal/")
    config = Config(SECRET_KEY="x")
    assert config.BASE_URL == "https://grants.example.cn:8443/portal"
    assert config.TRUSTED_HOSTS == ["grants.example.cn", "localhost", "127.0.0.1"]
    monkeypatch.setenv("TRUSTED_HOSTS", "www.grants.example.cn, .edj.gov.cn")
    assert Config(SECRET_KEY="x").TRUSTED_HOSTS == [
        "grants.example.cn",
        "www.grants.example.cn",
        ".edj.gov.cn",
    ]
    assert trusted_hosts(None, "http://a.example", "b.example:5000") == [
        "a.example",
        "b.example",
        "localhost",
        "127.0.0.1",
    ]


@pytest.mark.parametrize(
    "value",
    [
        "grants.example.cn",
        "ftp://grants.example.cn",
        "https://",
        "/portal",
        "https://grants.example.cn/?x=1",
        "https://user:pw@grants.example.cn",
    ],
)
def test_base_url_must_be_an_absolute_http_address(value):
    with pytest.raises(ValueError, match="BASE_URL"):
        Config(SECRET_KEY="x", BASE_URL=value)


def _echo_app(**settings) -> Flask:
    app = Flask(__name__)
    app.config.update(settings)
    app.add_url_rule(
        "/",
        "echo",
        lambda: {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host},
    )
    init_proxy_fix(app)
    return app


FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
}


def test_proxy_headers_are_ignored_by_default(monkeypatch):
    for name in ("PROXY_HOPS", "PROXY_FIX_X_FOR", "PROXY_FIX_X_PROTO", "PROXY_FIX_X_HOST"):
        monkeypatch.delenv(name, raising=False)
    config = Config(SECRET_KEY="x")
    app = _echo_app(**{k: getattr(config, k) for k in dir(config) if k.startswith("PROXY_FIX_")})
    seen = (
        app.test_client().get("/", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).json
    )
    assert seen == {"addr": "10.0.0.2", "scheme": "http", "host": "localhost"}


def test_proxy_hops_trusts_for_and_proto_only(monkeypatch):
    monkeypatch.setenv("PROXY_HOPS", "1")
    config = Config(SECRET_KEY="x")
    app = _echo_app(**{k: getattr(config, k) for k in dir(config) if k.startswith("PROXY_FIX_")})
    seen = (
        app.test_client().get("/", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).json
    )
    assert seen == {"addr": "203.0.113.9", "scheme": "https", "host": "localhost"}
