"""factory_boy factories for the models; they flush into the test's session."""

from __future__ import annotations

import itertools
from datetime import timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from grants.accounts.models import User, UserRole
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs.models import IndustryCluster, Invitation, Organisation, Qualification, YearFigure
from grants.orgs.uscc import with_check_digit

PASSWORD = "Secret-pass-2026"
_uscc_serial = itertools.count(1)


def next_uscc() -> str:
    return with_check_digit(f"91220503MA{next(_uscc_serial):07d}")


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class ClusterFactory(BaseFactory):
    class Meta:
        model = IndustryCluster

    code = factory.Sequence(lambda n: f"cluster{n}")
    name_zh = factory.Sequence(lambda n: f"产业集群{n}")
    name_en = factory.Sequence(lambda n: f"Cluster {n}")
    sort_order = factory.Sequence(lambda n: n)
    active = True


class OrganisationFactory(BaseFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"通化测试{n}号科技有限公司")
    uscc = factory.LazyFunction(next_uscc)
    org_type = "enterprise"
    cluster = factory.SubFactory(ClusterFactory)


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@test.example")
    name = factory.Sequence(lambda n: f"用户{n}")
    active = True
    password_hash = ""

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)

    @factory.post_generation
    def roles(obj, create, extracted, **kwargs):
        for role in extracted or ():
            obj.roles.append(UserRole(role=role))
        if create:
            db.session.flush()


def make_user(*roles: str, organisation=None, **kwargs) -> User:
    """A user with ``roles`` (and an organisation for applicants, created if not given)."""
    if "applicant" in roles and organisation is None:
        organisation = OrganisationFactory()
    return UserFactory(roles=list(roles), organisation=organisation, **kwargs)


class QualificationFactory(BaseFactory):
    class Meta:
        model = Qualification

    organisation = factory.SubFactory(OrganisationFactory)
    kind = "national_high_tech"
    granted_on = factory.LazyFunction(lambda: (utcnow() - timedelta(days=365)).date())
    expires_on = factory.LazyFunction(lambda: (utcnow() + timedelta(days=700)).date())


class YearFigureFactory(BaseFactory):
    class Meta:
        model = YearFigure

    organisation = factory.SubFactory(OrganisationFactory)
    year = 2024
    revenue = 10_000_000
    rd_spending = 400_000
    staff = 120
    rd_staff = 20


class InvitationFactory(BaseFactory):
    class Meta:
        model = Invitation

    organisation = factory.SubFactory(OrganisationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@test.example")
    token_hash = factory.Sequence(lambda n: f"{n:064d}")
    state = "pending"
    expires_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=14))
