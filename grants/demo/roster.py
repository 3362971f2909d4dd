"""Demo roster drawn from the Erdaojiang 14th Five-Year S&T plan: clusters, organisations, accounts, experts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from grants.accounts import operations as account_ops
from grants.accounts.models import User
from grants.extensions import db
from grants.orgs.models import IndustryCluster, Organisation, Qualification
from grants.orgs.uscc import with_check_digit
from grants.review.models import Expert

DEMO_PASSWORD = "Grants-2026"
REGISTERED_AT = datetime(
    2015, 12, 1, 1, tzinfo=UTC
)  # the demo organisations were registered before 2016
DEMO_DOMAIN = "demo.example"

# The clusters the plan names: 医药健康 as the main battlefield, with 装备制造, 环保新材料,
# 数字信息 and 环保科技; the three clusters of the "132" layout (钢铁延伸及配套, 现代旅游,
# 环保新材料).
CLUSTERS = [
    ("pharma", "医药健康", "Medicine and health", "全区主导产业，以中药现代化、生物医药为重点。"),
    ("equipment", "装备制造", "Equipment manufacturing", "汽车部件、智能装备及配套。"),
    ("new_materials", "新材料", "New materials", "环保新材料产业集群：白炭黑、硅材料、新型建材。"),
    ("env_tech", "环保科技", "Environmental technology", "节能减排、资源综合利用与污染治理。"),
    ("digital", "数字信息", "Digital information", "数字化改造、工业互联网与信息服务。"),
    ("steel", "钢铁延伸及配套", "Steel extension and metallurgy", "冶金产业园区，钢铁产业链延伸。"),
    ("tourism", "现代旅游", "Modern tourism", "现代旅游产业集群，文旅融合与智慧旅游。"),
    (
        "food",
        "食品及特色农产品",
        "Food and speciality agriculture",
        "人参、林蛙等长白山特色资源精深加工。",
    ),
]

# (index, name, type, cluster code, registration-authority+type prefix, qualifications, revenue in 2020 in 万元).
# The qualifications give the plan's count at the end of 2020 (8 national high-tech enterprises, 2
# provincial little giants, 1 technology-based SME, 5 provincial innovative enterprises, 4
# provincial technology centres, 1 provincial key laboratory, with the enterprises of
# grants.demo_history) and the progress of 2021–2025; national high-tech certificates last three years.
ORGANISATIONS = [
    (
        1,
        "通化金马药业集团股份有限公司",
        "enterprise",
        "pharma",
        "91",
        [
            ("national_high_tech", date(2016, 11, 1), date(2019, 10, 31)),
            ("national_high_tech", date(2019, 11, 1), date(2022, 10, 31)),
            ("national_high_tech", date(2022, 11, 1), date(2025, 10, 31)),
            ("national_high_tech", date(2025, 11, 1), date(2028, 10, 31)),
            ("provincial_tech_centre", date(2017, 6, 1), None),
        ],
        68000,
    ),
    (
        2,
        "通化玉圣药业股份有限公司",
        "enterprise",
        "pharma",
        "91",
        [
            ("national_high_tech", date(2017, 9, 1), date(2020, 8, 31)),
            ("national_high_tech", date(2020, 9, 1), date(2023, 8, 31)),
            ("national_high_tech", date(2023, 9, 1), date(2026, 8, 31)),
            ("national_high_tech", date(2026, 9, 1), date(2029, 8, 31)),
            ("provincial_tech_centre", date(2018, 7, 1), None),
            ("provincial_little_giant", date(2019, 5, 1), None),
        ],
        21000,
    ),
    (
        3,
        "通化京辉药业股份有限公司",
        "enterprise",
        "pharma",
        "91",
        [
            ("national_high_tech", date(2015, 10, 1), date(2018, 9, 30)),
            ("national_high_tech", date(2018, 10, 1), date(2021, 9, 30)),
            ("national_high_tech", date(2023, 11, 1), date(2026, 10, 31)),
            ("national_high_tech", date(2026, 11, 1), date(2029, 10, 31)),
            ("provincial_innovative", date(2020, 3, 1), None),
        ],
        9000,
    ),
    (
        4,
        "吉林省仁生源生物科技有限公司",
        "enterprise",
        "pharma",
        "91",
        [
            ("tech_sme", date(2019, 4, 1), date(2019, 12, 31)),
            ("tech_sme", date(2020, 4, 1), date(2020, 12, 31)),
            ("tech_sme", date(2021, 4, 1), date(2021, 12, 31)),
            ("tech_sme", date(2022, 4, 1), date(2022, 12, 31)),
            ("national_high_tech", date(2022, 12, 1), date(2025, 11, 30)),
            ("national_high_tech", date(2025, 12, 1), date(2028, 11, 30)),
            ("provincial_little_giant", date(2024, 5, 1), None),
        ],
        3200,
    ),
    (
        5,
        "通化双龙化工股份有限公司",
        "enterprise",
        "new_materials",
        "91",
        [
            ("national_high_tech", date(2016, 12, 1), date(2019, 11, 30)),
            ("national_high_tech", date(2019, 12, 1), date(2022, 11, 30)),
            ("national_high_tech", date(2022, 12, 1), date(2025, 11, 30)),
            ("national_high_tech", date(2025, 12, 1), date(2028, 11, 30)),
            ("provincial_tech_centre", date(2016, 8, 1), None),
            ("provincial_key_lab", date(2018, 9, 1), None),
        ],
        45000,
    ),
    (
        6,
        "通化鑫鸿新材料有限公司",
        "enterprise",
        "new_materials",
        "91",
        [
            ("national_high_tech", date(2018, 11, 1), date(2021, 10, 31)),
            ("national_high_tech", date(2021, 11, 1), date(2024, 10, 31)),
            ("national_high_tech", date(2024, 11, 1), date(2027, 10, 31)),
            ("provincial_innovative", date(2019, 7, 1), None),
        ],
        12000,
    ),
    (
        7,
        "通化阿尔凯斯特汽车部件有限公司",
        "enterprise",
        "equipment",
        "91",
        [
            ("national_high_tech", date(2020, 10, 1), date(2023, 9, 30)),
            ("national_high_tech", date(2023, 10, 1), date(2026, 9, 30)),
            ("national_high_tech", date(2026, 10, 1), date(2029, 9, 30)),
            ("provincial_little_giant", date(2020, 5, 1), None),
        ],
        15000,
    ),
    (
        8,
        "通化帝翔汽车零部件有限公司",
        "enterprise",
        "equipment",
        "91",
        [
            ("national_high_tech", date(2019, 10, 1), date(2022, 9, 30)),
            ("national_high_tech", date(2022, 10, 1), date(2025, 9, 30)),
            ("national_high_tech", date(2025, 10, 1), date(2028, 9, 30)),
            ("provincial_innovative", date(2021, 6, 1), None),
        ],
        6000,
    ),
    (
        9,
        "通化长白山人参产业科技有限公司",
        "enterprise",
        "food",
        "91",
        [
            ("tech_sme", date(2023, 4, 1), date(2023, 12, 31)),
            ("tech_sme", date(2024, 4, 1), date(2024, 12, 31)),
            ("tech_sme", date(2025, 4, 1), date(2025, 12, 31)),
            ("national_high_tech", date(2025, 11, 1), date(2028, 10, 31)),
        ],
        1800,
    ),
    (
        10,
        "二道江区智慧文旅发展有限公司",
        "enterprise",
        "tourism",
        "91",
        [
            ("tech_sme", date(2025, 4, 1), date(2025, 12, 31)),
            ("tech_sme", date(2026, 4, 1), date(2026, 12, 31)),
        ],
        900,
    ),
    (11, "通化师范学院", "university", "pharma", "12", [], 0),
]

DEMO_USERS = [
    ("admin", "系统管理员", ["admin"], None),
    ("bureau", "王科长（科技局）", ["bureau"], None),
    ("bureau2", "赵科员（科技局）", ["bureau"], None),
    ("finance", "李会计（财务科）", ["finance"], None),
    ("finance2", "周出纳（财务科）", ["finance"], None),
    ("expert", "张教授（评审专家）", ["expert"], None),
    ("expert2", "王研究员", ["expert"], None),
    ("expert3", "李教授", ["expert"], None),
    ("expert4", "赵高工", ["expert"], None),
    ("expert5", "孙教授", ["expert"], None),
    ("expert6", "周研究员", ["expert"], None),
    ("applicant", "刘经理（金马药业）", ["applicant"], 1),
    ("applicant2", "陈主任（双龙化工）", ["applicant"], 5),
]


# The pool: (handle, title, employer, employer's demo organisation index or None, clusters, keywords)
EXPERTS = [
    (
        "expert",
        "教授",
        "长春中医药大学",
        None,
        ["pharma", "food"],
        "中药, 提取工艺, 质量控制, 人参",
    ),
    (
        "expert2",
        "研究员",
        "中国科学院长春应用化学研究所",
        None,
        ["new_materials", "env_tech"],
        "白炭黑, 硅材料, 催化, 环保材料",
    ),
    ("expert3", "教授", "吉林大学", None, ["pharma", "digital"], "生物医药, 多肽, 抗菌, 数字化"),
    (
        "expert4",
        "正高级工程师",
        "一汽解放汽车有限公司",
        None,
        ["equipment", "steel"],
        "汽车零部件, 智能制造, 冶金, 铸造",
    ),
    (
        "expert5",
        "教授",
        "通化师范学院",
        11,
        ["pharma", "tourism", "food"],
        "长白山, 中药资源, 文旅",
    ),
    (
        "expert6",
        "研究员",
        "吉林省科学技术信息研究所",
        None,
        ["digital", "env_tech", "tourism"],
        "信息系统, 节能减排, 智慧旅游",
    ),
]


def demo_uscc(index: int, prefix: str) -> str:
    """A well-formed code in Erdaojiang's region (220503) for demo organisation ``index``."""
    return with_check_digit(f"{prefix}220503MA{index:07d}")


def database_is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def seed_clusters() -> dict[str, IndustryCluster]:
    clusters = {}
    for order, (code, zh, en, description) in enumerate(CLUSTERS, start=1):
        cluster = db.session.scalar(sa.select(IndustryCluster).where(IndustryCluster.code == code))
        if cluster is None:
            cluster = IndustryCluster(
                code=code,
                name_zh=zh,
                name_en=en,
                description=description,
                sort_order=order * 10,
                active=True,
            )
            db.session.add(cluster)
        clusters[code] = cluster
    db.session.flush()
    return clusters


def seed_organisations(clusters, roster=ORGANISATIONS) -> dict[int, Organisation]:
    """The demo organisations of ``roster`` with their qualifications (missing ones added to existing rows)."""
    orgs = {}
    for index, name, org_type, cluster_code, prefix, qualifications, _base in roster:
        code = demo_uscc(index, prefix)
        org = db.session.scalar(sa.select(Organisation).where(Organisation.uscc == code))
        if org is None:
            org = Organisation(
                name=name,
                uscc=code,
                org_type=org_type,
                cluster=clusters[cluster_code],
                address="吉林省通化市二道江区",
                contact_name="",
                contact_phone="0435-3500000",
                created_at=REGISTERED_AT + timedelta(days=index),
            )
            db.session.add(org)
        held = {(q.kind, q.granted_on) for q in org.qualifications}
        for kind, granted, expires in qualifications:
            if (kind, granted) not in held:
                org.qualifications.append(
                    Qualification(
                        kind=kind,
                        granted_on=granted,
                        expires_on=expires,
                        certificate_no=f"GR{granted.year}22{index:06d}",
                    )
                )
        orgs[index] = org
    db.session.flush()
    return orgs


def seed_users(orgs) -> list[User]:
    users = []
    for handle, name, roles, org_index in DEMO_USERS:
        email = f"{handle}@{DEMO_DOMAIN}"
        user = account_ops.find_user(email)
        if user is None:
            user = account_ops.create_user(
                email=email,
                name=name,
                password=DEMO_PASSWORD,
                roles=roles,
                organisation_id=orgs[org_index].id if org_index else None,
            )
        users.append(user)
    return users


def seed_experts(clusters, orgs) -> list:
    """The expert pool, each expert linked to a demo account."""
    experts = []
    for handle, title, employer, org_index, cluster_codes, keywords in EXPERTS:
        user = account_ops.find_user(f"{handle}@{DEMO_DOMAIN}")
        expert = db.session.scalar(sa.select(Expert).where(Expert.user_id == user.id))
        if expert is None:
            employer_org = orgs[org_index] if org_index else None
            expert = Expert(
                user_id=user.id,
                name=user.name,
                title=title,
                employer_name=employer,
                employer_id=employer_org.id if employer_org else None,
                employer_uscc=employer_org.uscc if employer_org else None,
                keywords=keywords,
                email=user.email,
                active=True,
                clusters=[clusters[c] for c in cluster_codes],
            )
            db.session.add(expert)
        experts.append(expert)
    db.session.flush()
    return experts
