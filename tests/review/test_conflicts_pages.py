"""The applicant's excluded experts and the bureau's conflicts page with its rulings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from grants.core.types import utcnow
from grants.extensions import db
from grants.review.conflicts import MAX_EXCLUDED_EXPERTS, conflicts_for
from grants.review.models import ConflictRuling, ExcludedExpert
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    ExpertFactory,
    OrganisationFactory,
    make_user,
)
from tests.review.pool_helpers import (
    as_rendered,
    audit_count,
    exclude,
    last_audit,
    plain_expert,
    submitted,
)


def excluded_of(application) -> list[ExcludedExpert]:
    return db.session.scalars(
        sa.select(ExcludedExpert)
        .where(ExcludedExpert.application_id == application.id)
        .order_by(ExcludedExpert.id)
    ).all()


@pytest.fixture
def applicant_draft(app):
    user = make_user("applicant")
    return user, ApplicationFactory(organisation=user.organisation)


# --- excluded experts --------------------------------------------------------------------------


def test_excluded_experts_applicant_names_three_and_a_fourth_is_refused(
    client, login, applicant_draft
):
    user, application = applicant_draft
    login(user)
    url = f"/applications/{application.id}/excluded-experts"
    assert client.get(url).status_code == 200
    for name in ("张伟", "王芳", "李娜"):
        response = client.post(
            url, data={"name": name, "employer_name": "吉林大学", "reason": "存在学术竞争"}
        )
        assert response.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert 'name="reason"' not in html  # the form is gone once three are named
    response = client.post(url, data={"name": "刘洋", "employer_name": "", "reason": "合作关系"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="name-error"' in html and 'value="刘洋"' in html
    assert (
        as_rendered(
            _l(
                "You can name at most %(max)d experts who should not review the application. "
                "Remove one to name another.",
                max=MAX_EXCLUDED_EXPERTS,
            )
        )
        in html
    )
    assert [r.name for r in excluded_of(application)] == ["张伟", "王芳", "李娜"]
    assert audit_count("application.expert_excluded") == 3


def test_excluded_experts_reason_is_required(client, login, applicant_draft):
    user, application = applicant_draft
    login(user)
    response = client.post(
        f"/applications/{application.id}/excluded-experts", data={"name": "张伟", "reason": ""}
    )
    assert response.status_code == 422
    assert 'id="reason-error"' in response.get_data(as_text=True)
    assert excluded_of(application) == []


def test_excluded_experts_remove(client, login, applicant_draft):
    user, application = applicant_draft
    row = exclude(application, "张伟")
    login(user)
    response = client.post(f"/applications/{application.id}/excluded-experts/{row.id}/remove")
    assert response.status_code == 302
    assert excluded_of(application) == []
    assert last_audit("application.expert_exclusion_removed").before["name"] == "张伟"


def test_excluded_experts_are_frozen_after_submission(client, login, app):
    user = make_user("applicant")
    application = submitted(organisation=user.organisation)
    row = exclude(application, "张伟")
    login(user)
    url = f"/applications/{application.id}/excluded-experts"
    html = client.get(url).get_data(as_text=True)
    assert "张伟" in html and 'name="reason"' not in html and "/remove" not in html
    assert client.post(url, data={"name": "王芳", "reason": "竞争"}).status_code == 403
    assert client.post(f"{url}/{row.id}/remove").status_code == 403
    assert [r.name for r in excluded_of(application)] == ["张伟"]


def test_excluded_experts_of_another_organisation_are_hidden(client, login, applicant_draft):
    _user, application = applicant_draft
    login(make_user("applicant"))
    url = f"/applications/{application.id}/excluded-experts"
    assert client.get(url).status_code == 404
    assert client.post(url, data={"name": "王芳", "reason": "竞争"}).status_code == 404


def test_excluded_experts_bureau_reads_but_cannot_change(client, login):
    application = ApplicationFactory(
        state="submitted", reference_no="X-00001", submitted_at=utcnow()
    )
    exclude(application, "张伟", "吉林大学", "存在竞争")
    login(make_user("bureau"))
    html = client.get(f"/applications/{application.id}/excluded-experts").get_data(as_text=True)
    assert "张伟" in html and "存在竞争" in html and 'name="reason"' not in html
    assert (
        client.post(
            f"/applications/{application.id}/excluded-experts",
            data={"name": "王芳", "reason": "竞争"},
        ).status_code
        == 403
    )


def test_excluded_experts_of_a_draft_not_found_for_the_bureau(client, login, applicant_draft):
    _user, application = applicant_draft
    exclude(application, "张伟", "吉林大学", "存在竞争")
    login(make_user("bureau"))
    assert client.get(f"/applications/{application.id}/excluded-experts").status_code == 404


def test_excluded_experts_experts_cannot_see_them(client, login, applicant_draft):
    _user, application = applicant_draft
    expert = ExpertFactory()
    login(expert.user)
    assert client.get(f"/applications/{application.id}/excluded-experts").status_code == 404


# --- the conflicts page ------------------------------------------------------------------------


@pytest.fixture
def call_with_flags(app):
    """A call with a 金马 application: one soft-flagged, one hard-conflicted and one free expert."""
    call = CallFactory()
    application = submitted(
        call=call, organisation=OrganisationFactory(name="通化金马药业集团股份有限公司")
    )
    ApplicationFactory(
        call=call, organisation=OrganisationFactory(name="金马药业草稿"), state="draft"
    )
    soft = ExpertFactory(name="王研究员", employer_name="金马药业（通化）有限公司")
    hard = ExpertFactory(
        name="赵高工", employer_name="另一家", employer_id=application.organisation_id
    )
    free = ExpertFactory(name="孙教授", employer_name="长春中医药大学")
    exclude(application, "李娜", "吉林大学", "曾有学术争议")
    return call, application, soft, hard, free


def test_conflicts_page_lists_soft_flags_hard_conflicts_and_exclusions(
    client, login, call_with_flags
):
    call, application, soft, _hard, _free = call_with_flags
    login(make_user("bureau"))
    response = client.get(f"/calls/{call.id}/conflicts")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    soft_part, rest = html.split('id="hard-heading"')
    hard_part, excluded_part = rest.split('id="excluded-heading"')
    assert (
        f'id="pair-{application.id}-{soft.id}"' in soft_part
        and "金马药业（通化）有限公司" in soft_part
    )
    assert f"/calls/{call.id}/conflicts/{application.id}/{soft.id}" in soft_part
    assert "赵高工" in hard_part and "赵高工" not in soft_part
    assert "孙教授" not in html
    assert "金马药业草稿" not in html  # drafts are not up for review
    assert "李娜" in excluded_part and "曾有学术争议" in excluded_part


def test_conflicts_page_ruling_allow_clears_the_flag(client, login, call_with_flags):
    call, application, soft, _hard, _free = call_with_flags
    bureau = make_user("bureau")
    login(bureau)
    prefix = f"r{application.id}-{soft.id}-"
    response = client.post(
        f"/calls/{call.id}/conflicts/{application.id}/{soft.id}",
        data={prefix + "decision": "allow", prefix + "reason": "同名不同企业"},
    )
    assert response.status_code == 302
    ruling = db.session.scalars(sa.select(ConflictRuling)).one()
    assert (ruling.blocked, ruling.reason, ruling.decided_by_id) == (
        False,
        "同名不同企业",
        bureau.id,
    )
    assert conflicts_for(soft, application) == []
    assert last_audit("conflict.ruled").after["blocked"] is False
    html = client.get(f"/calls/{call.id}/conflicts").get_data(as_text=True)
    assert "同名不同企业" in html


def test_conflicts_page_ruling_block_makes_the_flag_hard(client, login, call_with_flags):
    call, application, soft, _hard, _free = call_with_flags
    login(make_user("bureau"))
    prefix = f"r{application.id}-{soft.id}-"
    client.post(
        f"/calls/{call.id}/conflicts/{application.id}/{soft.id}",
        data={prefix + "decision": "block", prefix + "reason": "实为关联企业"},
    )
    assert [(c.hard, c.ruled) for c in conflicts_for(soft, application)] == [(True, True)]


def test_conflicts_page_ruling_without_reason_keeps_the_choice(client, login, call_with_flags):
    call, application, soft, _hard, _free = call_with_flags
    login(make_user("bureau"))
    prefix = f"r{application.id}-{soft.id}-"
    response = client.post(
        f"/calls/{call.id}/conflicts/{application.id}/{soft.id}",
        data={prefix + "decision": "block", prefix + "reason": ""},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{prefix}reason-error"' in html
    assert f'<input checked class="form-check-input" id="{prefix}decision-0"' in html
    assert db.session.scalar(sa.select(sa.func.count(ConflictRuling.id))) == 0


def test_conflicts_page_refuses_to_rule_on_a_hard_conflict(client, login, call_with_flags):
    call, application, _soft, hard, _free = call_with_flags
    login(make_user("bureau"))
    prefix = f"r{application.id}-{hard.id}-"
    response = client.post(
        f"/calls/{call.id}/conflicts/{application.id}/{hard.id}",
        data={prefix + "decision": "allow", prefix + "reason": "允许"},
    )
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(ConflictRuling.id))) == 0


def test_conflicts_page_pair_of_another_call_is_404(client, login, call_with_flags):
    _call, application, soft, _hard, _free = call_with_flags
    other = CallFactory()
    login(make_user("bureau"))
    prefix = f"r{application.id}-{soft.id}-"
    assert (
        client.post(
            f"/calls/{other.id}/conflicts/{application.id}/{soft.id}",
            data={prefix + "decision": "allow", prefix + "reason": "x"},
        ).status_code
        == 404
    )


@pytest.mark.parametrize("role", ["applicant", "expert", "finance"])
def test_conflicts_page_refuses_non_staff(client, login, call_with_flags, role):
    call, application, soft, _hard, _free = call_with_flags
    login(make_user(role))
    assert client.get(f"/calls/{call.id}/conflicts").status_code == 403
    prefix = f"r{application.id}-{soft.id}-"
    assert (
        client.post(
            f"/calls/{call.id}/conflicts/{application.id}/{soft.id}",
            data={prefix + "decision": "allow", prefix + "reason": "x"},
        ).status_code
        == 403
    )
    assert db.session.scalar(sa.select(sa.func.count(ConflictRuling.id))) == 0


def test_conflicts_page_expert_without_account_is_listed(client, login, call_with_flags):
    call, _application, _soft, _hard, _free = call_with_flags
    plain_expert(name="周研究员", employer_name="通化金马")
    login(make_user("admin"))
    assert "周研究员" in client.get(f"/calls/{call.id}/conflicts").get_data(as_text=True)
