"""The flask commands: seed-demo (idempotent, --if-empty) and create-user."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grants.accounts.models import User, UserRole
from grants.demo import CLUSTERS, DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USERS
from grants.extensions import db
from grants.orgs.models import IndustryCluster, Organisation, Qualification, YearFigure
from tests.factories import make_user

SEEDED_MODELS = (IndustryCluster, Organisation, Qualification, YearFigure, User, UserRole)
PLAN_ENTERPRISES = ("通化金马药业集团股份有限公司", "通化双龙化工股份有限公司", "通化师范学院")
PLAN_CLUSTERS = (
    "医药健康",
    "装备制造",
    "新材料",
    "环保科技",
    "数字信息",
    "钢铁延伸及配套",
    "现代旅游",
)


def row_counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in SEEDED_MODELS
    }


def flask(app, *args: str):
    """Run a flask command in the test's app context and transaction."""
    result = app.test_cli_runner().invoke(args=list(args))
    db.session.expire_all()
    return result


@pytest.fixture
def seeded(app):
    result = flask(app, "seed-demo")
    assert result.exit_code == 0, result.output
    return result


def demo_accounts_only() -> bool:
    """The roster's accounts and, for the other organisations that apply in the history, one
    applicant account each (``applicant-org<index>``)."""
    roster = {f"{handle}@{DEMO_DOMAIN}" for handle, *_ in DEMO_USERS}
    emails = set(db.session.scalars(sa.select(User.email)))
    history = emails - roster
    applicants = db.session.scalars(sa.select(User).where(User.email.in_(history))).all()
    return (
        roster <= emails
        and bool(history)
        and all(
            u.email.startswith("applicant-org")
            and u.role_names == {"applicant"}
            and u.organisation_id
            for u in applicants
        )
    )


def test_seed_demo_twice_gives_the_same_rows(app, seeded):
    first = row_counts()
    assert demo_accounts_only()
    assert first["industry_clusters"] == len(CLUSTERS) == 8
    assert first["organisations"] >= len(PLAN_ENTERPRISES)

    again = flask(app, "seed-demo")

    assert again.exit_code == 0, again.output
    assert row_counts() == first


def test_seed_demo_loads_the_plan_enterprises_and_clusters(app, seeded):
    names = set(db.session.scalars(sa.select(Organisation.name)))
    assert set(PLAN_ENTERPRISES) <= names
    clusters = set(db.session.scalars(sa.select(IndustryCluster.name_zh)))
    assert set(PLAN_CLUSTERS) <= clusters
    assert len(clusters) == 8

    jinma = db.session.scalar(
        sa.select(Organisation).where(Organisation.name == PLAN_ENTERPRISES[0])
    )
    assert jinma.cluster.name_zh == "医药健康"
    assert jinma.qualifications
    assert jinma.figures


def test_seed_demo_every_account_signs_in_with_the_demo_password(app, seeded, client, login):
    for handle, name, roles, _org in DEMO_USERS:
        user = db.session.scalar(sa.select(User).where(User.email == f"{handle}@{DEMO_DOMAIN}"))
        assert user is not None, handle
        assert user.role_names == frozenset(roles)

        login(user, DEMO_PASSWORD)
        dashboard = client.get("/")
        assert dashboard.status_code == 200, handle
        assert name in dashboard.get_data(as_text=True)
        client.post("/logout")


def test_seed_demo_applicants_belong_to_plan_enterprises(app, seeded):
    applicant = db.session.scalar(sa.select(User).where(User.email == f"applicant@{DEMO_DOMAIN}"))
    assert applicant.organisation.name == "通化金马药业集团股份有限公司"


def test_seed_demo_if_empty_loads_nothing_into_a_database_with_users(app):
    make_user("admin")
    db.session.commit()
    before = row_counts()

    result = flask(app, "seed-demo", "--if-empty")

    assert result.exit_code == 0, result.output
    assert "not empty" in result.output
    assert row_counts() == before


def test_seed_demo_if_empty_loads_an_empty_database(app):
    assert row_counts()["users"] == 0

    result = flask(app, "seed-demo", "--if-empty")

    assert result.exit_code == 0, result.output
    assert demo_accounts_only()


def test_create_user_with_roles(app):
    result = flask(
        app,
        "create-user",
        "--email",
        "Officer@Test.example",
        "--name",
        "赵科员",
        "--role",
        "bureau",
        "--role",
        "admin",
        "--password",
        "Long-enough-2026",
    )

    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "officer@test.example"))
    assert user is not None
    assert user.name == "赵科员"
    assert user.role_names == frozenset({"bureau", "admin"})
    assert user.check_password("Long-enough-2026")


def test_create_user_refuses_a_duplicate(app):
    args = (
        "create-user",
        "--email",
        "twice@test.example",
        "--name",
        "重复",
        "--role",
        "expert",
        "--password",
        "Long-enough-2026",
    )
    assert flask(app, *args).exit_code == 0

    result = flask(app, *args)

    assert result.exit_code == 1
    assert "Error" in result.output
    count = db.session.scalar(
        sa.select(sa.func.count(User.id)).where(User.email == "twice@test.example")
    )
    assert count == 1


def test_create_user_refuses_a_short_password(app):
    result = flask(
        app,
        "create-user",
        "--email",
        "short@test.example",
        "--name",
        "短密码",
        "--role",
        "applicant",
        "--password",
        "short",
    )

    assert result.exit_code == 2
    assert db.session.scalar(sa.select(User).where(User.email == "short@test.example")) is None
