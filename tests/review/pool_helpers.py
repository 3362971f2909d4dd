"""Helpers for the pool and conflict tests: submitted applications, workbooks, random instances."""

from __future__ import annotations

import io
import itertools
import random
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from markupsafe import escape
from openpyxl import Workbook

from grants.applications.models import Application
from grants.core.models import AuditEvent
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs.models import Organisation
from grants.review.experts import IMPORT_HEADERS
from grants.review.models import ConflictRuling, ExcludedExpert, Expert, ExpertRelation
from tests.factories import ApplicationFactory, CallFactory, OrganisationFactory, next_uscc

_serial = itertools.count(1)


def as_rendered(message) -> str:
    """A (lazy) message as a page in the default language shows it, HTML-escaped."""
    with force_locale("zh_Hans_CN"):
        return str(escape(str(message)))


def audit_count(action: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == action)
    )


def last_audit(action: str) -> AuditEvent:
    return db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one()


def submitted(call=None, organisation=None, state: str = "submitted", **kwargs) -> Application:
    """An application of ``organisation`` to ``call`` in a state after submission."""
    n = next(_serial)
    kwargs.setdefault("reference_no", f"P-{n:05d}")
    kwargs.setdefault("submitted_at", utcnow())
    return ApplicationFactory(
        call=call or CallFactory(),
        organisation=organisation or OrganisationFactory(),
        state=state,
        **kwargs,
    )


def plain_expert(**kwargs) -> Expert:
    """An expert without an account (the conflict rules need none)."""
    kwargs.setdefault("name", f"测试专家{next(_serial)}")
    kwargs.setdefault("employer_name", "")
    expert = Expert(**kwargs)
    db.session.add(expert)
    db.session.flush()
    return expert


def relation(
    expert: Expert,
    kind: str = "shareholding",
    organisation=None,
    name: str = "",
    until: date | None = None,
) -> ExpertRelation:
    row = ExpertRelation(
        kind=kind,
        organisation_id=organisation.id if organisation else None,
        organisation_name=name or (organisation.name if organisation else ""),
        until=until,
    )
    expert.relations.append(row)
    db.session.flush()
    return row


def exclude(
    application, name: str, employer: str = "", reason: str = "曾有学术争议"
) -> ExcludedExpert:
    row = ExcludedExpert(
        application_id=application.id, name=name, employer_name=employer, reason=reason
    )
    db.session.add(row)
    db.session.flush()
    return row


def rule(application, expert, blocked: bool) -> ConflictRuling:
    ruling = ConflictRuling(
        application_id=application.id, expert_id=expert.id, blocked=blocked, reason="测试"
    )
    db.session.add(ruling)
    db.session.flush()
    return ruling


def workbook(rows, headers=IMPORT_HEADERS) -> bytes:
    """An xlsx of one sheet: the header row, then ``rows``."""
    book = Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- random instances ----------------------------------------------------------------------

CORES = [
    "金马药业",
    "吉林大学",
    "通化钢铁",
    "修正药业",
    "东宝实业",
    "万通药业",
    "华夏药业",
    "通化葡萄酒",
    "紫鑫药业",
    "长白山制药",
    "鑫源化工",
    "二道江冶金",
    "通钢",
    "白山林业",
    "长春中医药大学",
    "中科院应化所",
]
PREFIXES = ["", "", "吉林省", "通化市", "通化", "吉林省通化市"]
SUFFIXES = [
    "有限公司",
    "集团股份有限公司",
    "股份有限公司",
    "第一医院",
    "研究所",
    "（通化）有限公司",
    "",
    "分公司",
    "科技有限责任公司",
]
PEOPLE = [
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄勇",
    "周杰",
    "吴霞",
    "徐明",
    "孙丽",
]
KINDS = ["employer", "shareholding", "collaboration", "family", "other"]


SYLLABLES = "华通吉长白山鑫源东宝万紫金马修正恒盛安康泰瑞丰达利信诚明德宏远兴旺祥和天成海川嘉禾润泽"


def _random_org_name(rng: random.Random, clash: float = 1.0) -> str:
    """A company name; with probability ``clash`` its core is one of a few well-known ones."""
    core = (
        rng.choice(CORES)
        if rng.random() < clash
        else "".join(rng.choices(SYLLABLES, k=rng.randint(3, 5)))
    )
    return rng.choice(PREFIXES) + core + rng.choice(SUFFIXES)


def build_instance(
    n_applications: int, n_experts: int, seed: int = 1, rulings: int = 0, clash: float = 1.0
) -> tuple[list[int], list[int]]:
    """Bulk-insert a random call: organisations, submitted applications, experts with relations,
    excluded-expert lists and (if asked) rulings on random pairs; returns the application and expert ids.

    ``clash`` is the share of names built on a few well-known cores (1.0: conflicts everywhere)."""
    rng = random.Random(seed)

    def random_org_name(rng):
        return _random_org_name(rng, clash)

    call = CallFactory()
    n_orgs = max(2, n_applications * 2 // 3)
    org_rows = [
        {
            "name": random_org_name(rng) + f"{i}" * (i % 3 == 0),
            "uscc": next_uscc(),
            "org_type": "enterprise",
        }
        for i in range(n_orgs)
    ]
    org_ids = list(
        db.session.scalars(
            sa.insert(Organisation).returning(Organisation.id, sort_by_parameter_order=True),
            org_rows,
        )
    )
    usccs = {oid: row["uscc"] for oid, row in zip(org_ids, org_rows, strict=True)}
    now = utcnow()
    batch = next(_serial)
    app_rows = [
        {
            "call_id": call.id,
            "organisation_id": rng.choice(org_ids),
            "title": f"项目{i}",
            "state": rng.choice(["submitted", "under_review", "reviewed"]),
            "reference_no": f"B{batch}-{i:05d}",
            "submitted_at": now,
            "version": 1,
        }
        for i in range(n_applications)
    ]
    app_ids = list(
        db.session.scalars(
            sa.insert(Application).returning(Application.id, sort_by_parameter_order=True), app_rows
        )
    )
    expert_rows = []
    for i in range(n_experts):
        employer_id = rng.choice(org_ids) if rng.random() < 0.1 else None
        uscc = usccs[rng.choice(org_ids)] if rng.random() < 0.05 else None
        expert_rows.append(
            {
                "name": rng.choice(PEOPLE) + ("" if rng.random() < 0.5 else str(i)),
                "employer_name": random_org_name(rng) if rng.random() < 0.9 else "",
                "employer_id": employer_id,
                "employer_uscc": uscc,
                "active": True,
                "title": "",
                "keywords": "",
                "email": "",
                "phone": "",
                "created_at": now,
            }
        )
    expert_ids = list(
        db.session.scalars(
            sa.insert(Expert).returning(Expert.id, sort_by_parameter_order=True), expert_rows
        )
    )
    today = date.today()
    relation_rows = []
    for expert_id in expert_ids:
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            org_id = rng.choice(org_ids) if rng.random() < 0.4 else None
            until = None if rng.random() < 0.6 else today - timedelta(days=rng.randint(0, 2500))
            relation_rows.append(
                {
                    "expert_id": expert_id,
                    "kind": rng.choice(KINDS),
                    "organisation_id": org_id,
                    "organisation_name": random_org_name(rng)
                    if org_id is None or rng.random() < 0.3
                    else "",
                    "note": "",
                    "until": until,
                    "declared_at": now,
                }
            )
    if relation_rows:
        db.session.execute(sa.insert(ExpertRelation), relation_rows)
    names = {eid: row["name"] for eid, row in zip(expert_ids, expert_rows, strict=True)}
    employers = {
        eid: row["employer_name"] for eid, row in zip(expert_ids, expert_rows, strict=True)
    }
    excluded_rows = []
    for app_id in app_ids:
        for _ in range(rng.choice([0, 0, 0, 1, 2, 3])):
            expert_id = rng.choice(expert_ids)
            employer = rng.choice(
                ["", employers[expert_id], "吉林省" + employers[expert_id], random_org_name(rng)]
            )
            excluded_rows.append(
                {
                    "application_id": app_id,
                    "name": names[expert_id],
                    "employer_name": employer,
                    "reason": "测试",
                }
            )
    if excluded_rows:
        db.session.execute(sa.insert(ExcludedExpert), excluded_rows)
    pairs = {(rng.choice(app_ids), rng.choice(expert_ids)) for _ in range(rulings)}
    if pairs:
        db.session.execute(
            sa.insert(ConflictRuling),
            [
                {
                    "application_id": a,
                    "expert_id": e,
                    "blocked": rng.random() < 0.5,
                    "reason": "测试",
                    "decided_at": now,
                }
                for a, e in pairs
            ],
        )
    _add_teams_and_memberships(
        random.Random(seed + 1000),
        app_ids,
        expert_ids,
        org_ids,
        names,
        employers,
        random_org_name,
        now,
    )
    db.session.flush()
    return app_ids, expert_ids


def _add_teams_and_memberships(
    rng, app_ids, expert_ids, org_ids, names, employers, random_org_name, now
) -> None:
    """Team members (some named like experts, some from the experts' employers) and membership relations."""
    from grants.applications.models import TeamMember

    org_names = dict(
        db.session.execute(
            sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))
        ).all()
    )
    applicant = dict(
        db.session.execute(
            sa.select(Application.id, Application.organisation_id).where(
                Application.id.in_(app_ids)
            )
        ).all()
    )
    team_rows = []
    for app_id in app_ids:
        for position in range(rng.choice([0, 1, 2, 3, 4])):
            expert_id = rng.choice(expert_ids)
            name = names[expert_id] if rng.random() < 0.2 else rng.choice(PEOPLE)
            org = rng.choice(
                [
                    org_names[applicant[app_id]],
                    employers[expert_id],
                    "吉林省" + employers[expert_id],
                    random_org_name(rng),
                    "",
                ]
            )
            team_rows.append(
                {
                    "application_id": app_id,
                    "position": position,
                    "name": name,
                    "role": "member",
                    "title": "",
                    "organisation_name": org,
                    "expertise": "",
                }
            )
    if team_rows:
        db.session.execute(sa.insert(TeamMember), team_rows)
    today = date.today()
    membership_rows = [
        {
            "expert_id": expert_id,
            "kind": "employer",
            "organisation_id": rng.choice(org_ids),
            "organisation_name": "",
            "note": "",
            "source": "membership",
            "since": today - timedelta(days=3000),
            "until": None if rng.random() < 0.5 else today - timedelta(days=rng.randint(0, 2000)),
            "declared_at": now,
        }
        for expert_id in expert_ids
        if rng.random() < 0.1
    ]
    if membership_rows:
        db.session.execute(sa.insert(ExpertRelation), membership_rows)
