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


# --- calls and applications -------------------------------------------------------------

from decimal import Decimal  # noqa: E402

from grants.applications.models import (  # noqa: E402
    Application,
    BudgetLine,
    KpiTarget,
    PlannedMilestone,
    TeamMember,
)
from grants.programmes.models import AttachmentRequirement, Call, RubricCriterion  # noqa: E402


class CallFactory(BaseFactory):
    """A published call, open from yesterday for thirty days, with a two-criterion rubric."""

    class Meta:
        model = Call

    code = factory.Sequence(lambda n: f"2026-EDJ-T{n:03d}")
    year = 2026
    title = factory.Sequence(lambda n: f"2026年度二道江区科技攻关计划第{n}批")
    funding_level = "district"
    category = "research"
    guide = "申报指南正文"
    opens_at = factory.LazyFunction(lambda: utcnow() - timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=30))
    total_budget = Decimal("5000000.00")
    cap_per_project = Decimal("500000.00")
    min_self_raised_ratio = Decimal("0.5000")
    indirect_cost_ratio = Decimal("0.2000")
    max_duration_months = 36
    reviewers_per_application = 3
    trimmed_mean_min_reviews = 5
    blind_review = True
    state = "published"
    published_at = factory.LazyFunction(lambda: utcnow() - timedelta(days=1))

    @factory.post_generation
    def rubric(obj, create, extracted, **kwargs):
        if extracted is False:
            return
        obj.criteria.append(
            RubricCriterion(
                position=1,
                name_zh="技术先进性",
                name_en="Technical merit",
                weight=Decimal("60"),
                min_score=Decimal("0"),
                max_score=Decimal("10"),
            )
        )
        obj.criteria.append(
            RubricCriterion(
                position=2,
                name_zh="经济社会效益",
                name_en="Impact",
                weight=Decimal("40"),
                min_score=Decimal("0"),
                max_score=Decimal("10"),
            )
        )
        obj.attachment_requirements.append(
            AttachmentRequirement(
                position=1,
                code="licence",
                name_zh="营业执照",
                name_en="Business licence",
                required=True,
            )
        )
        if create:
            db.session.flush()


class ApplicationFactory(BaseFactory):
    """A draft application of an organisation to a call (sections empty unless filled)."""

    class Meta:
        model = Application

    call = factory.SubFactory(CallFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    cluster = factory.SelfAttribute("organisation.cluster")
    title = factory.Sequence(lambda n: f"中药提取自动化关键技术研究{n}")
    summary = "针对中药提取过程自动化控制的关键技术开展研究。"
    state = "draft"


def fill_application(application: Application) -> Application:
    """Give a draft every section a valid value: team, budget within the call's rules, plan, KPIs."""
    from datetime import date

    call = application.call
    application.objectives = "实现提取过程在线监测与自动控制。"
    application.technical_route = "建立过程模型，开发控制系统，中试验证。"
    application.start_date = date(call.year, 1, 1)
    application.end_date = date(call.year + 1, 12, 31)
    application.team.append(
        TeamMember(
            position=1,
            name="严建国",
            role="principal",
            title="研究员",
            organisation_name=application.organisation.name,
        )
    )
    lines = [
        ("equipment", "", "100000", "100000"),
        ("business", "materials", "100000", "150000"),
        ("labour", "", "50000", "100000"),
        ("indirect", "", "20000", "0"),
    ]
    for category, sub_item, fiscal, self_raised in lines:
        application.budget_lines.append(
            BudgetLine(
                category=category,
                sub_item=sub_item,
                fiscal=Decimal(fiscal),
                self_raised=Decimal(self_raised),
            )
        )
    application.fiscal_total = Decimal("270000")
    application.self_raised_total = Decimal("350000")
    application.milestones.append(
        PlannedMilestone(
            position=1,
            title="完成中试",
            due_date=date(call.year, 12, 31),
            deliverable="中试报告",
            funding_share=Decimal("0.5"),
        )
    )
    application.milestones.append(
        PlannedMilestone(
            position=2,
            title="通过验收",
            due_date=date(call.year + 1, 12, 31),
            deliverable="验收报告",
            funding_share=Decimal("0.5"),
        )
    )
    application.kpis.append(KpiTarget(kind="patents_filed", target=Decimal("2")))
    db.session.flush()
    return application


# --- review -------------------------------------------------------------------------------

from grants.review.models import Assignment, Expert  # noqa: E402


class ExpertFactory(BaseFactory):
    """An active expert in the pool, with an account holding the expert role."""

    class Meta:
        model = Expert

    name = factory.Sequence(lambda n: f"专家{n}")
    title = "教授"
    employer_name = factory.Sequence(lambda n: f"吉林大学第{n}研究所")
    keywords = "中药, 提取工艺, 质量控制"
    email = factory.Sequence(lambda n: f"expert{n}@test.example")
    active = True
    user = factory.LazyAttribute(lambda o: make_user("expert", email=o.email, name=o.name))


class AssignmentFactory(BaseFactory):
    """An invitation of an expert to review an application, due in fourteen days."""

    class Meta:
        model = Assignment

    application = factory.SubFactory(ApplicationFactory)
    expert = factory.SubFactory(ExpertFactory)
    purpose = "proposal"
    state = "invited"
    source = "manual"
    due_at = factory.LazyFunction(lambda: utcnow() + timedelta(days=14))


# --- funding and projects -------------------------------------------------------------------

from grants.funding.models import ProjectBudgetLine, Tranche  # noqa: E402
from grants.projects.models import Milestone, Project, ProjectKpi, ProjectMember  # noqa: E402

_project_serial = itertools.count(1)


def make_project(
    *,
    state: str = "in_progress",
    award: str | Decimal = "200000.00",
    organisation=None,
    call=None,
    milestones: int = 2,
    tranches: bool = True,
    **kwargs,
) -> Project:
    """A contracted project built from a filled application, without going through the views.

    Budget lines split ``award`` over the four categories; milestones fall due at the
    end of each half of the period; the tranche plan is 30 % on contract, 40 % on the
    first milestone, 30 % on acceptance (``tranches=False`` leaves the plan empty).
    Projects past contracting are signed; their contract tranche is due.
    """
    from datetime import date

    award = Decimal(award)
    application = ApplicationFactory(
        call=call or CallFactory(),
        state="contracted",
        submitted_at=utcnow() - timedelta(days=120),
        reference_no=f"T-{next(_project_serial):06d}",
        **({"organisation": organisation} if organisation is not None else {}),
    )
    fill_application(application)
    year = application.call.year
    serial = next(_project_serial)
    signed = state != "contracting"
    project = Project(
        application=application,
        call=application.call,
        organisation=application.organisation,
        cluster=application.cluster,
        code=f"{year}-EDJ-KJ-T{serial:04d}",
        year=year,
        title=application.title,
        summary=application.summary,
        objectives=application.objectives,
        start_date=kwargs.pop("start_date", date(year, 1, 1)),
        end_date=kwargs.pop("end_date", date(year + 1, 12, 31)),
        award=award,
        self_raised=Decimal("350000.00"),
        state=state,
        task_book_issued_at=utcnow() - timedelta(days=60),
        signed_at=utcnow() - timedelta(days=50) if signed else None,
        **kwargs,
    )
    project.members.append(
        ProjectMember(
            position=1,
            name="严建国",
            role="principal",
            title="研究员",
            organisation_name=application.organisation.name,
        )
    )
    project.members.append(
        ProjectMember(
            position=2,
            name="李红",
            role="core",
            title="工程师",
            organisation_name=application.organisation.name,
        )
    )
    project.kpis.append(ProjectKpi(kind="patents_filed", target=Decimal("2")))
    project.kpis.append(ProjectKpi(kind="revenue", target=Decimal("500")))
    shares = [
        ("equipment", Decimal("0.4")),
        ("business", Decimal("0.3")),
        ("labour", Decimal("0.2")),
    ]
    allocated = Decimal(0)
    for category, share in shares:
        amount = (award * share).quantize(Decimal("0.01"))
        allocated += amount
        project.budget_lines.append(
            ProjectBudgetLine(category=category, fiscal=amount, self_raised=Decimal("100000.00"))
        )
    project.budget_lines.append(
        ProjectBudgetLine(category="indirect", fiscal=award - allocated, self_raised=Decimal("0"))
    )
    for i in range(milestones):
        project.milestones.append(
            Milestone(
                position=i + 1,
                title=f"里程碑{i + 1}",
                deliverable="阶段报告",
                due_date=date(year + i, 12, 31),
            )
        )
    db.session.add(project)
    db.session.flush()
    if tranches:
        first = (award * Decimal("0.3")).quantize(Decimal("0.01"))
        second = (award * Decimal("0.4")).quantize(Decimal("0.01"))
        plan = [
            Tranche(
                position=1,
                amount=first,
                trigger="contract",
                due_since=project.signed_at if signed else None,
            )
        ]
        if project.milestones:
            plan.append(
                Tranche(
                    position=2,
                    amount=second,
                    trigger="milestone",
                    milestone_id=project.milestones[0].id,
                )
            )
        else:
            second = Decimal(0)
        plan.append(
            Tranche(position=len(plan) + 1, amount=award - first - second, trigger="acceptance")
        )
        project.tranches.extend(plan)
        db.session.flush()
    return project
