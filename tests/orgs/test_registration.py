import sqlalchemy as sa

from grants.accounts.models import User
from grants.core.models import AuditEvent
from grants.extensions import db
from grants.orgs import operations as ops
from grants.orgs.models import Organisation
from grants.orgs.uscc import with_check_digit
from tests.factories import ClusterFactory, OrganisationFactory
from tests.orgs.conftest import as_rendered

VALID = with_check_digit("91220503MA7H8K2N0")


def registration(code: str, **overrides) -> dict:
    data = {
        "name": "通化新注册科技有限公司",
        "uscc": code,
        "org_type": "enterprise",
        "cluster_id": "0",
        "address": "吉林省通化市二道江区",
        "legal_representative": "",
        "contact_name": "",
        "contact_phone": "",
        "founded_on": "",
        "person_name": "孙经理",
        "email": "sun@newco.example",
        "phone": "",
        "password": "Strong-pass-2026",
        "confirm": "Strong-pass-2026",
    }
    data.update(overrides)
    return data


def organisation_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Organisation.id)))


def test_registration_with_valid_code_creates_organisation_user_and_audit(client, register):
    cluster = ClusterFactory()
    response = register(registration(VALID, cluster_id=str(cluster.id)))
    assert response.status_code == 302
    org = db.session.scalars(sa.select(Organisation).where(Organisation.uscc == VALID)).one()
    assert org.name == "通化新注册科技有限公司"
    assert org.cluster_id == cluster.id
    user = db.session.scalars(sa.select(User).where(User.email == "sun@newco.example")).one()
    assert user.organisation_id == org.id
    assert user.role_names == {"applicant"}
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "organisation.registered")
    ).one()
    assert event.object_id == str(org.id)
    assert event.after == {"name": org.name, "uscc": VALID}
    assert client.get("/organisation").status_code == 200


def test_registration_with_lowercase_spaced_code_stores_compact_code(client, register):
    spaced = " ".join([VALID[:6].lower(), VALID[6:12], VALID[12:]])
    assert register(registration(spaced)).status_code == 302
    assert (
        db.session.scalar(
            sa.select(Organisation.uscc).where(Organisation.name == "通化新注册科技有限公司")
        )
        == VALID
    )


def assert_refused(response, code: str):
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert as_rendered(ops.uscc_problem(code)) in html
    assert 'value="通化新注册科技有限公司"' in html
    assert organisation_count() == 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_registration_with_wrong_check_character_is_refused(client):
    wrong = VALID[:17] + ("1" if VALID[17] != "1" else "2")
    assert ops.uscc_problem(wrong) is not None
    assert_refused(client.post("/register", data=registration(wrong)), wrong)


def test_registration_with_wrong_length_is_refused(client):
    short = VALID[:17]
    assert_refused(client.post("/register", data=registration(short)), short)


def test_registration_with_letters_in_region_code_is_refused(client):
    letters = with_check_digit("9122A503MA7H8K2N0")
    assert_refused(client.post("/register", data=registration(letters)), letters)


def test_registration_with_letters_in_first_two_positions_is_accepted(client, register):
    for prefix, email in (("Y1", "y1@newco.example"), ("N2", "n2@newco.example")):
        client.post("/logout")
        code = with_check_digit(prefix + "220503MA7H8K2N1")
        response = register(registration(code, name=f"{prefix}合作社", email=email))
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert (
            db.session.scalar(sa.select(Organisation.name).where(Organisation.uscc == code))
            == f"{prefix}合作社"
        )


def test_registration_with_duplicate_code_names_the_holder(client):
    holder = OrganisationFactory(name="通化已注册药业有限公司")
    response = client.post("/register", data=registration(holder.uscc))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "通化已注册药业有限公司" in html
    assert 'value="通化新注册科技有限公司"' in html
    assert organisation_count() == 1
