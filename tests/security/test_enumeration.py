"""No page tells a visitor whether an e-mail address has an account.

Registration answers "check your e-mail" for every address and creates the account only
from the e-mailed link; the owner of a registered address is told instead. Forgot-password
and invitations answer alike for known and unknown addresses.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from grants.accounts.models import User
from grants.core.models import AuditEvent, Job
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxEmail
from grants.orgs.models import Organisation, PendingRegistration
from grants.orgs.uscc import with_check_digit
from tests.factories import OrganisationFactory, make_user

CODE = with_check_digit("91220503MA7H8K2N0")
OTHER_CODE = with_check_digit("91220503MA7H8K2N1")


def registration(email: str, code: str = CODE, **overrides) -> dict:
    data = {
        "name": "通化枚举测试科技有限公司",
        "uscc": code,
        "org_type": "enterprise",
        "cluster_id": "0",
        "address": "吉林省通化市二道江区",
        "legal_representative": "",
        "contact_name": "",
        "contact_phone": "",
        "founded_on": "2019-03-01",
        "person_name": "赵经理",
        "email": email,
        "phone": "13800000000",
        "password": "Strong-pass-2026",
        "confirm": "Strong-pass-2026",
    }
    data.update(overrides)
    return data


def mails_to(address: str) -> list[OutboxEmail]:
    return db.session.scalars(
        sa.select(OutboxEmail).where(OutboxEmail.to_address == address).order_by(OutboxEmail.id)
    ).all()


def confirm_path(address: str) -> str:
    body = mails_to(address)[-1].body
    return re.search(r"https?://[^/\s]+(/register/confirm/\S+)", body).group(1)


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count(User.id))),
        db.session.scalar(sa.select(sa.func.count(Organisation.id))),
    )


def without_token(response) -> str:
    return re.sub(r'name="csrf_token"[^>]*', "", response.get_data(as_text=True))


def sent_page(client, response) -> str:
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    return re.sub(r'name="csrf_token"[^>]*', "", html)


def test_enumeration_registration_answers_alike_for_new_and_registered_addresses(app, client):
    owner = make_user("applicant", email="owner@test.example")
    before = counts()
    taken = client.post("/register", data=registration("Owner@Test.example"))
    fresh = client.post("/register", data=registration("fresh@test.example", code=OTHER_CODE))
    assert taken.status_code == fresh.status_code == 302
    assert taken.headers["Location"] == fresh.headers["Location"]
    assert taken.headers["Location"].endswith("/register/sent")
    assert sent_page(client, taken) == sent_page(client, fresh)
    assert "请查收邮件" in sent_page(client, fresh)
    assert counts() == before  # nothing is created before the link is confirmed
    warning = mails_to(owner.email)
    assert len(warning) == 1 and warning[0].subject == "有人尝试使用您的邮箱注册"
    assert "/register/confirm/" not in warning[0].body and "/password/forgot" in warning[0].body
    assert db.session.scalar(sa.select(sa.func.count(PendingRegistration.id))) == 1
    assert len(mails_to("fresh@test.example")) == 1


def test_enumeration_registration_confirmed_by_link_creates_account_and_organisation(app, client):
    client.post("/register", data=registration("new@test.example"))
    pending = db.session.scalars(sa.select(PendingRegistration)).one()
    assert "Strong-pass-2026" not in str(pending.data)
    assert pending.data["person"]["password_hash"].startswith("$argon2id$")
    path = confirm_path("new@test.example")
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "通化枚举测试科技有限公司" in html and CODE in html and "确认注册" in html
    assert counts() == (0, 0)
    response = client.post(path)
    assert response.status_code == 302
    user = db.session.scalars(sa.select(User).where(User.email == "new@test.example")).one()
    assert user.check_password("Strong-pass-2026")
    assert user.organisation.uscc == CODE and str(user.organisation.founded_on) == "2019-03-01"
    assert user.role_names == {"applicant"} and user.phone == "13800000000"
    assert db.session.scalar(sa.select(sa.func.count(PendingRegistration.id))) == 0
    assert "organisation.registered" in db.session.scalars(sa.select(AuditEvent.action)).all()
    assert client.get("/organisation").status_code == 200  # signed in
    client.post("/logout")
    again = client.post(path)
    assert again.status_code == 302 and again.headers["Location"].endswith("/register")
    assert counts() == (1, 1)


def test_enumeration_registration_link_expires(app, client):
    client.post("/register", data=registration("late@test.example"))
    db.session.execute(
        sa.update(PendingRegistration).values(expires_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    response = client.post(confirm_path("late@test.example"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/register")
    assert counts() == (0, 0)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "该确认链接无效或已过期" in page


def test_enumeration_registration_purge_job_drops_expired_links(app, client, run_jobs):
    client.post("/register", data=registration("late@test.example"))
    client.post("/register", data=registration("soon@test.example", code=OTHER_CODE))
    db.session.execute(
        sa.update(PendingRegistration)
        .where(PendingRegistration.email == "late@test.example")
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    from grants.core.jobs import enqueue

    job = enqueue("orgs.purge_pending_registrations")
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Job, job.id).result == {"purged": 1}
    assert db.session.scalars(sa.select(PendingRegistration.email)).all() == ["soon@test.example"]


def test_enumeration_registration_code_taken_before_confirmation_is_explained(app, client):
    client.post("/register", data=registration("slow@test.example"))
    path = confirm_path("slow@test.example")
    OrganisationFactory(name="通化抢先注册有限公司", uscc=CODE)
    db.session.commit()
    response = client.post(path)
    assert response.status_code == 409
    assert "通化抢先注册有限公司" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_enumeration_registration_address_taken_before_confirmation_is_refused(app, client):
    client.post("/register", data=registration("twice@test.example"))
    path = confirm_path("twice@test.example")
    make_user("expert", email="twice@test.example")
    db.session.commit()
    response = client.post(path)
    assert response.status_code == 409
    assert "该邮箱已有账号" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Organisation.id))) == 0


def test_enumeration_registration_links_use_base_url_not_the_host_header(
    app, client, monkeypatch, run_jobs
):
    monkeypatch.setitem(app.config, "BASE_URL", "https://grants.example.gov.cn")
    make_user("applicant", email="owner@test.example")
    refused = client.post(
        "/register", data=registration("hosted@test.example"), headers={"Host": "evil.example"}
    )
    assert refused.status_code == 400
    for address in ("hosted@test.example", "owner@test.example"):
        client.post(
            "/register", data=registration(address), headers={"X-Forwarded-Host": "evil.example"}
        )
    run_jobs()
    for address in ("hosted@test.example", "owner@test.example"):
        body = mails_to(address)[-1].body
        assert "evil.example" not in body
        assert "https://grants.example.gov.cn/" in body


def test_enumeration_forgot_password_answers_alike_and_defers_the_lookup_to_a_job(
    app, client, run_jobs
):
    user = make_user("expert", email="known@test.example")
    known = client.post("/password/forgot", data={"email": user.email})
    unknown = client.post("/password/forgot", data={"email": "ghost@test.example"})
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    jobs = db.session.scalars(
        sa.select(Job.args).where(Job.name == "accounts.send_password_reset").order_by(Job.id)
    ).all()
    assert jobs == [["known@test.example"], ["ghost@test.example"]]
    requested = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == "password.reset_requested")
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.object_id, e.after) for e in requested] == [
        (None, {"email": "known@test.example"}),
        (None, {"email": "ghost@test.example"}),
    ]
    run_jobs()
    assert len(mails_to("known@test.example")) == 1
    assert mails_to("ghost@test.example") == []


def test_enumeration_invitation_does_not_reveal_membership_of_another_organisation(
    app, client, login, run_jobs
):
    inviter = make_user("applicant")
    make_user("applicant", email="elsewhere@test.example")
    login(inviter)
    org = inviter.organisation
    member = client.post(
        f"/organisations/{org.id}/invitations", data={"invite-email": "elsewhere@test.example"}
    )
    stranger = client.post(
        f"/organisations/{org.id}/invitations", data={"invite-email": "stranger@test.example"}
    )
    assert member.status_code == stranger.status_code == 302
    assert member.headers["Location"] == stranger.headers["Location"]
    run_jobs()
    assert len(mails_to("elsewhere@test.example")) == 1
    assert len(mails_to("stranger@test.example")) == 1


def test_enumeration_sign_in_failure_reads_the_same_for_known_and_unknown(app, client):
    user = make_user("bureau")
    known = client.post("/login", data={"email": user.email, "password": "Wrong-pass-123"})
    unknown = client.post(
        "/login", data={"email": "ghost@test.example", "password": "Wrong-pass-123"}
    )
    assert known.status_code == unknown.status_code == 200
    assert without_token(known).replace(user.email, "E") == without_token(unknown).replace(
        "ghost@test.example", "E"
    )


def test_one_inbox_cannot_be_flooded_with_reset_mail_from_many_addresses(app, client):
    """Per-recipient limit: a sixth reset request for one address within the hour is refused,
    from whichever client address it comes; another address is unaffected."""
    answers = [
        client.post(
            "/password/forgot",
            data={"email": "victim@test.example"},
            environ_overrides={"REMOTE_ADDR": f"10.0.0.{n}"},
        ).status_code
        for n in range(1, 7)
    ]
    assert answers == [302] * 5 + [429]
    other = client.post(
        "/password/forgot",
        data={"email": "other@test.example"},
        environ_overrides={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert other.status_code == 302
