"""Demo history 2016–2026: calls, applications, reviews, projects, money and outcomes.

The 13th Five-Year period (2016–2020) reproduces the figures of the district's 14th
Five-Year S&T plan: 21 provincial projects with 1,014 万元 and 13 municipal projects with
510 万元; of these 34 projects and 1,524 万元, 19 medical-health projects with 1,219 万元;
at the end of 2020 eight national high-tech enterprises, two provincial little giants, one
technology-based SME, five provincial innovative enterprises, four provincial enterprise
technology centres and one provincial key laboratory. 2021–2025 show the progress towards
the plan's 2025 targets (technology enterprises +50 %, ten national high-tech enterprises,
R&D intensity +1 percentage point), with district calls beside the municipal, provincial
and national ones. On the demo's today (``AS_OF``) projects stand in every state of their
lifecycle: one waits for its signed task book, some have a tranche due or a disbursement
waiting for finance, a milestone report, a spending report or a change request waiting
for the bureau, others are in acceptance review; a call is in expert review and one is open.

Everything is deterministic (a seeded random generator and fixed dates). :class:`History`
plans it; the calls, their applications up to the formal check and the public notices are
then made by the real operations at the historical time (:mod:`grants.demo.replay`), the
rest is still written in bulk, one multi-row INSERT per table, past the workflow engine. Loading is idempotent: the
organisations, their qualifications and yearly figures are reconciled on every run; the
rest is loaded once (the first historical call marks it as loaded).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from grants.applications.models import Application
from grants.core.timeutil import add_months
from grants.extensions import db
from grants.funding.models import (
    Disbursement,
    Expenditure,
    FundRecovery,
    ProjectBudgetLine,
    ProjectCodeCounter,
    Tranche,
)
from grants.orgs.models import Organisation, YearFigure
from grants.programmes.models import Call, RubricCriterion
from grants.projects.models import (
    AcceptanceDecision,
    ChangeRequest,
    FinalReport,
    MidtermCheck,
    Milestone,
    Outcome,
    ProgressReport,
    Project,
    ProjectKpi,
    ProjectMember,
)
from grants.review.aggregation import weighted_total
from grants.review.models import Assignment, Decision, Review, Score

AS_OF = date(2026, 11, 20)
"""The demo's today: events after it have not happened yet."""
NEVER = date(2099, 12, 31)
SEED = 20160101
MARKER_CALL = "2016-JL-GG"
FIRST_YEAR, LAST_FIGURE_YEAR = 2016, 2025
CENT = Decimal("0.01")
YUAN = Decimal("1")
WAN = Decimal(10000)

# The plan's own figures for 2016–2020 (万元) and its 2025 targets, for checks and tests.
THIRTEENTH_PLAN = {
    "province": (21, 1014),
    "city": (13, 510),
    "total": (34, 1524),
    "pharma": (19, 1219),
    "national_high_tech_2020": 8,
}
TARGETS_2025 = {
    "tech_enterprise_growth": Decimal("0.50"),
    "national_high_tech": 10,
    "rd_intensity_points": Decimal("0.0100"),
}


def nhte(*starts: date) -> list[tuple[str, date, date]]:
    """National high-tech certificates, each valid for three years from its start."""
    return [
        ("national_high_tech", s, date(s.year + 3, s.month, s.day) - timedelta(days=1))
        for s in starts
    ]


def tech_sme(*years: int) -> list[tuple[str, date, date]]:
    """Technology-based SME registrations, valid for the calendar year."""
    return [("tech_sme", date(y, 4, 1), date(y, 12, 31)) for y in years]


# Organisations of the district beyond the plan's named ones, shaped like grants.demo.ORGANISATIONS:
# (index, name, type, cluster code, USCC prefix, qualifications, revenue 2020 in 万元).
HISTORY_ORGANISATIONS = [
    (
        12,
        "通化宏信冶金装备有限公司",
        "enterprise",
        "steel",
        "91",
        [
            ("provincial_innovative", date(2020, 4, 1), None),
            ("provincial_tech_centre", date(2020, 8, 1), None),
            *nhte(date(2020, 11, 1), date(2023, 11, 1), date(2026, 11, 1)),
        ],
        8000,
    ),
    (
        13,
        "通化绿源环保科技有限公司",
        "enterprise",
        "env_tech",
        "91",
        [*tech_sme(2021), *nhte(date(2021, 11, 1), date(2024, 11, 1))],
        2500,
    ),
    (
        14,
        "二道江区数智信息技术有限公司",
        "enterprise",
        "digital",
        "91",
        [*tech_sme(2022, 2023, 2024), *nhte(date(2025, 10, 1))],
        1200,
    ),
    (
        15,
        "通化百草园中药饮片有限公司",
        "enterprise",
        "pharma",
        "91",
        [("provincial_innovative", date(2020, 6, 1), None)],
        2600,
    ),
    (
        16,
        "通化恒固新型建材有限公司",
        "enterprise",
        "new_materials",
        "91",
        [("provincial_innovative", date(2018, 5, 1), None)],
        4000,
    ),
    (17, "通化鼎盛铸造有限公司", "enterprise", "steel", "91", tech_sme(2024, 2025, 2026), 3500),
    (
        18,
        "通化康源医疗器械有限公司",
        "enterprise",
        "pharma",
        "91",
        tech_sme(2022, 2023, 2024, 2025, 2026),
        1500,
    ),
]

# Qualifications an earlier version of the demo gave and the plan does not count (the
# university's laboratory is not one of the district's enterprises).
RETIRED_QUALIFICATIONS = [(11, "provincial_key_lab", date(2015, 10, 1))]

# Yearly figures: growth of revenue per year (%) and R&D spending as basis points of revenue in 2020.
FIGURE_PARAMS = {
    1: (8, 260),
    2: (9, 240),
    3: (6, 220),
    4: (15, 310),
    5: (7, 150),
    6: (10, 160),
    7: (8, 170),
    8: (9, 140),
    9: (12, 110),
    10: (10, 60),
    12: (6, 120),
    13: (14, 200),
    14: (18, 350),
    15: (10, 130),
    16: (7, 100),
    17: (8, 90),
    18: (16, 280),
}
# Every organisation's R&D intensity moves by the same basis points, so the district's moves by them too.
RD_SHIFT_BP = {
    2016: -30,
    2017: -22,
    2018: -15,
    2019: -8,
    2020: 0,
    2021: 18,
    2022: 38,
    2023: 60,
    2024: 82,
    2025: 105,
}

CLUSTER_ORGS = {
    "pharma": [1, 1, 2, 3, 4, 4, 11, 15, 18],
    "equipment": [7, 8],
    "new_materials": [5, 6, 16],
    "env_tech": [13],
    "digital": [14],
    "steel": [12, 17],
    "tourism": [10],
    "food": [9],
}
CLUSTER_WEIGHTS = {
    "pharma": 40,
    "equipment": 12,
    "new_materials": 12,
    "env_tech": 8,
    "digital": 8,
    "steel": 10,
    "tourism": 4,
    "food": 6,
}
APPLICANT_HANDLES = {1: "applicant", 5: "applicant2"}

LEVELS = {
    "province": ("JL", "吉林省科技发展计划"),
    "city": ("TH", "通化市科技发展计划"),
    "district": ("EDJ", "二道江区科技计划"),
    "national": ("GJ", "国家重点研发计划"),
}
CATEGORY_NAMES = {
    "research": ("GG", "科技攻关"),
    "transfer": ("ZH", "成果转化"),
    "platform": ("PT", "平台建设"),
    "talent": ("RC", "人才团队"),
}
AWARD_RANGE_WAN = {
    "district": (10, 30, 1),
    "city": (15, 50, 5),
    "province": (30, 120, 10),
    "national": (150, 300, 50),
}
DEFAULT_MONTHS = {"district": 24, "city": 24, "province": 24, "national": 36}

# The 34 provincial and municipal projects of 2016–2020:
# (year, level, category, organisation, title, award in 万元, options).
PLAN_PROJECTS = [
    (2016, "province", "research", 1, "琥珀八氢氨吖啶片治疗阿尔茨海默病临床前研究", 80, {}),
    (2016, "province", "research", 3, "中药注射剂质量标准提升关键技术研究", 45, {}),
    (2016, "province", "research", 5, "高分散沉淀法白炭黑制备关键技术研究", 25, {}),
    (2016, "province", "research", 7, "汽车发动机缸盖精密铸造工艺研究", 20, {}),
    (2016, "city", "talent", 1, "通化市重大科技项目研发人才团队：金马药业中药新药研发团队", 80, {}),
    (2016, "city", "research", 8, "汽车零部件智能化柔性生产线研发", 20, {}),
    (
        2017,
        "province",
        "research",
        1,
        "壮骨伸筋胶囊对治疗骨质疏松症的作用研究及生物效价",
        60,
        {"awards": [("吉林省科技进步三等奖", "吉林省人民政府", date(2019, 5, 20))]},
    ),
    (2017, "province", "platform", 2, "吉林省中药提取工程技术研究中心建设", 60, {"months": 36}),
    (2017, "province", "research", 6, "硅基环保新材料制备技术研究", 20, {}),
    (2017, "province", "research", 11, "长白山道地药材资源评价与质量控制研究", 40, {}),
    (2017, "city", "talent", 2, "通化市重大科技项目研发人才团队：玉圣药业中药提取工艺团队", 70, {}),
    (2017, "city", "talent", 5, "通化市重大科技项目研发人才团队：双龙化工白炭黑研发团队", 30, {}),
    (2017, "city", "research", 16, "工业固废制备新型墙体材料技术研究", 15, {"fate": "fail"}),
    (
        2018,
        "province",
        "transfer",
        2,
        "中药提取自动化",
        70,
        {"awards": [("通化市科技进步一等奖", "通化市人民政府", date(2020, 4, 28))]},
    ),
    (
        2018,
        "province",
        "transfer",
        4,
        "天麻抗菌肽系列抑菌产品研发及产业化",
        60,
        {"awards": [("通化市科技进步三等奖", "通化市人民政府", date(2020, 5, 12))]},
    ),
    (2018, "province", "research", 8, "商用车制动零部件轻量化技术研究", 20, {}),
    (2018, "province", "research", 1, "琥珀八氢氨吖啶片Ⅲ期临床研究", 150, {"months": 36}),
    (2018, "city", "research", 3, "中药注射剂一致性评价关键技术研究", 50, {"fate": "rectify"}),
    (2018, "city", "research", 12, "钢铁冶炼余热高效回收利用技术研究", 20, {}),
    (2018, "city", "transfer", 7, "汽车底盘零部件表面处理工艺改进及产业化", 15, {}),
    (
        2019,
        "province",
        "transfer",
        4,
        "天麻多肽专利成果转化与产业化",
        70,
        {"awards": [("第九届中国创新创业大赛优秀奖", "中国创新创业大赛组委会", date(2020, 11, 6))]},
    ),
    (2019, "province", "transfer", 3, "中药配方颗粒关键制备技术研究及产业化", 50, {}),
    (2019, "province", "platform", 5, "吉林省白炭黑工程技术研究中心建设", 30, {}),
    (2019, "province", "research", 12, "冶金设备关键零部件耐磨修复技术研究", 20, {}),
    (2019, "province", "research", 13, "冶金固废资源化综合利用技术研究", 15, {}),
    (2019, "city", "talent", 4, "通化市重大科技项目研发人才团队：仁生源天麻多肽研发团队", 80, {}),
    (2019, "city", "research", 6, "高性能硅橡胶补强填料研究", 20, {}),
    (
        2020,
        "province",
        "transfer",
        4,
        "天麻肽消毒系列产品升级及产业化",
        60,
        {
            "awards": [
                (
                    "第十届中国创新创业大赛优秀奖（进入国赛生物组）",
                    "中国创新创业大赛组委会",
                    date(2021, 10, 15),
                )
            ]
        },
    ),
    (2020, "province", "research", 1, "中药复方新药临床前药效学研究", 70, {}),
    (2020, "province", "transfer", 15, "中药饮片炮制工艺规范化及产业化", 34, {}),
    (2020, "province", "research", 7, "新能源汽车电机壳体铝合金压铸技术研究", 15, {}),
    (2020, "city", "research", 15, "长白山中药材饮片质量追溯体系建设", 40, {}),
    (2020, "city", "research", 1, "中药经典名方物质基准研究", 50, {}),
    (2020, "city", "research", 9, "人参深加工系列食品开发", 20, {}),
]

# The calls of 2021–2026 with their number of funded projects; (year, level, category) → (count, opening month).
LATER_CALLS = {
    2021: [
        ("district", "research", 4),
        ("district", "transfer", 2),
        ("city", "research", 2),
        ("city", "talent", 1),
        ("province", "research", 2),
        ("province", "transfer", 1),
    ],
    2022: [
        ("district", "research", 4),
        ("district", "transfer", 2),
        ("district", "talent", 1),
        ("city", "research", 2),
        ("city", "transfer", 1),
        ("province", "research", 2),
        ("province", "platform", 1),
    ],
    2023: [
        ("district", "research", 5),
        ("district", "transfer", 2),
        ("district", "platform", 1),
        ("city", "research", 2),
        ("city", "talent", 1),
        ("province", "research", 2),
        ("province", "transfer", 1),
        ("national", "research", 1),
    ],
    2024: [
        ("district", "research", 5),
        ("district", "transfer", 3),
        ("city", "research", 2),
        ("city", "transfer", 1),
        ("province", "research", 3),
        ("province", "platform", 1),
    ],
    2025: [
        ("district", "research", 5),
        ("district", "transfer", 3),
        ("district", "talent", 1),
        ("city", "research", 2),
        ("city", "talent", 1),
        ("province", "research", 3),
        ("province", "transfer", 1),
    ],
    2026: [
        ("district", "research", 5),
        ("district", "transfer", 2),
        ("city", "research", 2),
        ("province", "research", 1),
    ],
}
OPENING_MONTH = {
    (2026, "district", "research"): 5,
    (2026, "city", "research"): 5,
    (2026, "province", "research"): 5,
    (2026, "district", "transfer"): 7,
}

# Projects of 2021–2026 whose organisation, title or fate matter (the rest is drawn at random).
# Options: months, fate (pass | rectify | fail | terminate), awards, and the live states on AS_OF.
FIXED_PROJECTS = [
    (
        2021,
        "province",
        "research",
        1,
        "琥珀八氢氨吖啶片Ⅲ期临床研究（续）",
        100,
        {"awards": [("吉林省科技进步二等奖", "吉林省人民政府", date(2023, 6, 16))]},
    ),
    (2021, "district", "transfer", 4, "吉林大学天麻多肽技术入股成果转化", 20, {}),
    (2022, "province", "platform", 4, "吉林省天麻多肽工程研究中心建设", 50, {}),
    (2022, "district", "research", 17, "高强度铸钢件铸造工艺优化", 15, {"fate": "terminate"}),
    (2022, "district", "research", 16, "轻质保温板材绿色生产工艺研发", 15, {"fate": "fail"}),
    (
        2023,
        "national",
        "research",
        1,
        "中药创新药临床评价关键技术研究（国家重点研发计划课题）",
        200,
        {"months": 36},
    ),
    (2023, "district", "research", 14, "医药生产车间数字化管理系统研发", 20, {}),
    (
        2024,
        "district",
        "research",
        1,
        "人参皂苷Rg3提取纯化工艺优化及产业化",
        25,
        {"final": "submitted"},
    ),
    (
        2024,
        "district",
        "transfer",
        5,
        "绿色轮胎用白炭黑表面改性技术产业化",
        20,
        {"final": "verified", "months": 24},
    ),
    (
        2024,
        "city",
        "research",
        2,
        "中药智能提取生产线升级改造",
        40,
        {"fate": "rectify", "rectify_now": True},
    ),
    (2024, "province", "research", 7, "商用车制动鼓轻量化设计与制造", 60, {"accepted_due": True}),
    (2025, "district", "research", 1, "中药配方颗粒智能制造关键技术研究", 25, {"ms_reported": 1}),
    (
        2025,
        "district",
        "transfer",
        2,
        "北五味子提取物新产品开发及产业化",
        20,
        {"change": "extension"},
    ),
    (2025, "district", "research", 5, "高性能硅橡胶补强填料产业化示范", 22, {"change": "budget"}),
    (2025, "province", "research", 5, "气相法白炭黑绿色生产工艺研发", 80, {"ms_reported": 1}),
    (2025, "city", "research", 16, "工业固废基新型墙体材料产业化", 25, {"ms_silent": 1}),
    (2025, "district", "transfer", 4, "天麻多肽口服液新产品开发", 20, {"due_tranche": True}),
    (
        2026,
        "district",
        "research",
        1,
        "中药注射剂智能灯检关键技术研究",
        28,
        {"pending_spending": True},
    ),
    (2026, "district", "research", 5, "沉淀法白炭黑连续化生产关键技术研究", 25, {"d1": "due"}),
    (2026, "district", "research", 4, "天麻多肽抗菌敷料研发", 20, {"d1": "requested"}),
    (2026, "district", "research", 6, "环保型硅酸盐涂料研发", 18, {"d1": "approved"}),
    (2026, "district", "research", 14, "基于物联网的冶金企业能耗在线监测系统", 15, {}),
    (2026, "district", "transfer", 1, "琥珀八氢氨吖啶片成果转化生产线建设", 30, {"unsigned": True}),
    (2026, "district", "transfer", 15, "长白山中药饮片数字化炮制示范", 15, {}),
    (2026, "city", "research", 7, "新能源汽车电机壳体一体化压铸技术研究", 40, {}),
    (2026, "city", "research", 12, "高炉煤气综合利用技术研究", 30, {}),
    (2026, "province", "research", 2, "中药提取过程在线质量控制技术研究", 90, {}),
]

SUBJECTS = {
    "pharma": [
        "人参皂苷Rg3",
        "五味子木脂素",
        "天麻素",
        "林蛙油",
        "刺五加",
        "黄芪多糖",
        "鹿茸多肽",
        "灵芝孢子粉",
        "中药注射剂",
        "中药配方颗粒",
        "天麻多肽",
        "细辛挥发油",
        "淫羊藿",
        "北苍术",
        "关防风",
        "平贝母",
        "红景天",
        "人参茎叶总皂苷",
        "复方丹参",
        "骨质疏松治疗中药复方",
    ],
    "equipment": [
        "汽车发动机缸盖",
        "商用车制动鼓",
        "新能源汽车电机壳体",
        "汽车转向节",
        "变速箱壳体",
        "底盘悬架支架",
        "汽车轮毂",
        "排气歧管",
        "曲轴箱体",
        "智能装配工装",
    ],
    "new_materials": [
        "沉淀法白炭黑",
        "气相法白炭黑",
        "硅橡胶补强填料",
        "工业固废基墙体材料",
        "高性能硅酸盐",
        "环保型涂料",
        "纳米二氧化硅",
        "轻质保温板材",
        "橡胶用偶联剂",
    ],
    "env_tech": [
        "冶金固废",
        "工业废水",
        "燃煤锅炉烟气",
        "医药废渣",
        "城镇污泥",
        "钢渣尾泥",
        "挥发性有机物",
    ],
    "digital": [
        "医药生产车间",
        "冶金企业能耗",
        "中小企业设备",
        "智慧园区",
        "供应链",
        "药品追溯",
        "安全生产",
    ],
    "steel": [
        "钢铁冶炼余热",
        "冶金设备关键零部件",
        "高强度铸钢件",
        "轧辊",
        "高炉煤气",
        "连铸坯",
        "冶金渣",
    ],
    "tourism": ["二道江智慧旅游", "长白山文旅融合", "工业遗址旅游", "乡村旅游", "红色旅游资源"],
    "food": ["人参", "林蛙", "山葡萄", "蓝莓", "长白山山野菜", "五味子", "黑木耳", "松花粉"],
}
ACTIONS = {
    "pharma": [
        "提取纯化工艺优化及产业化",
        "质量标准提升研究",
        "新剂型开发",
        "药效物质基础研究",
        "绿色制备关键技术研究",
        "新产品开发及产业化",
        "临床前研究",
    ],
    "equipment": [
        "精密铸造工艺研究",
        "轻量化设计与制造",
        "智能化柔性生产线研发",
        "表面强化处理技术研究",
        "数字化检测系统开发",
        "关键工艺装备研制",
    ],
    "new_materials": [
        "制备关键技术研究",
        "表面改性及应用研究",
        "绿色生产工艺研发",
        "产业化示范",
        "性能提升研究",
        "连续化生产技术研究",
    ],
    "env_tech": [
        "资源化利用技术研究",
        "深度处理与回用技术",
        "超低排放改造技术",
        "无害化处置示范",
        "在线监测与治理技术",
    ],
    "digital": [
        "数字化管理系统研发",
        "在线监测平台建设",
        "工业互联网应用示范",
        "数据分析与预警系统开发",
        "智能决策平台研发",
    ],
    "steel": [
        "高效回收利用技术",
        "耐磨修复技术研究",
        "铸造工艺优化",
        "延寿技术研究",
        "综合利用研究",
        "质量在线检测技术",
    ],
    "tourism": ["服务平台建设", "数字化展示系统研发", "客流监测与引导系统", "智慧导览应用开发"],
    "food": [
        "深加工系列食品开发",
        "保鲜加工技术研究",
        "功能性饮品研发",
        "精深加工关键技术研究",
        "质量安全检测技术研究",
    ],
}
JOURNALS = {
    "pharma": "《中草药》",
    "equipment": "《特种铸造及有色合金》",
    "new_materials": "《无机盐工业》",
    "env_tech": "《环境工程》",
    "digital": "《计算机集成制造系统》",
    "steel": "《钢铁》",
    "tourism": "《旅游学刊》",
    "food": "《食品科学》",
}
PRINCIPALS = {1: "严建国", 2: "邱久文", 3: "夏广清", 7: "李宣霖"}
PEOPLE = [
    "王立新",
    "张晓峰",
    "刘洪波",
    "陈思远",
    "杨雪梅",
    "赵德明",
    "孙丽娟",
    "周志强",
    "吴海燕",
    "郑国栋",
    "冯建华",
    "蒋春雷",
    "沈玉兰",
    "韩振宇",
    "朱晓东",
    "秦红梅",
    "许文博",
    "何晓光",
    "吕建军",
    "孔令伟",
    "曹明辉",
    "金海涛",
    "魏晓丽",
    "陶永刚",
    "姜丽华",
    "谢志勇",
    "邹静",
    "苏晓燕",
    "潘伟东",
    "葛长青",
    "范晓辉",
    "彭立军",
    "马春生",
]
TITLES = [
    "高级工程师",
    "工程师",
    "研究员",
    "副研究员",
    "助理研究员",
    "主管药师",
    "技术员",
    "副教授",
]
BANKS = [
    "中国工商银行通化二道江支行",
    "中国建设银行通化分行营业部",
    "吉林银行通化二道江支行",
    "中国农业银行通化二道江支行",
]
PROPOSAL_CRITERIA = [
    ("创新性与技术先进性", "Innovation and technical merit", 40),
    ("实施方案与基础条件", "Work plan and capacity", 30),
    ("经济社会效益", "Economic and social benefit", 30),
]
ACCEPTANCE_CRITERIA = [
    ("目标任务完成情况", "Targets achieved", 50),
    ("经费使用规范性", "Use of funds", 30),
    ("成果水平与效益", "Quality and benefit of the outcomes", 20),
]
MILESTONE_PLANS = {
    2: [
        ("完成关键技术研究与小试", "小试研究报告"),
        ("完成中试验证及产业化应用", "中试报告及应用证明"),
    ],
    3: [
        ("完成技术方案设计与小试", "技术方案及小试报告"),
        ("完成中试放大与样品试制", "中试报告及样品检测报告"),
        ("完成产业化验证并形成成果", "产业化应用证明及成果清单"),
    ],
}
MILESTONE_SHARES = {
    2: [Decimal("0.5"), Decimal("0.5")],
    3: [Decimal("0.3"), Decimal("0.4"), Decimal("0.3")],
}
GOOD_COMMENTS = [
    "项目技术路线清晰，创新性较强，具有较好的产业化前景，建议支持。",
    "申报单位研发基础扎实，目标合理可行，预期效益明显，建议立项。",
    "项目符合区域重点产业方向，实施方案可行，建议给予支持。",
]
WEAK_COMMENTS = [
    "项目创新点不够突出，预期效益论证不足。",
    "技术方案较为常规，研究基础有待加强，建议完善后再申报。",
    "经费预算编制依据不充分，考核指标偏低。",
]
DECLINE_REASONS = [
    "经专家评审，项目创新性不足，未予立项。",
    "项目实施方案可行性论证不充分，未予立项。",
    "综合评分未进入立项范围，未予立项。",
    "项目经费预算编制不合理，未予立项。",
]
REJECT_REASONS = [
    "申报单位不符合申报条件（注册地不在本区）。",
    "申报材料不完整，缺少营业执照及上年度财务审计报告。",
    "项目内容与已立项项目重复。",
]
TERMINATION_REASON = "受市场环境变化影响，企业调整经营方向，项目无法继续实施，经企业申请予以终止。"


def ts(day: date, hour: int = 2, minute: int = 0) -> datetime:
    """A UTC timestamp on ``day`` (02:00 UTC is 10:00 in Beijing, the same date)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def wan(amount) -> Decimal:
    """万元 as yuan."""
    return (Decimal(amount) * WAN).quantize(CENT)


def round_wan(amount: Decimal) -> Decimal:
    """Yuan rounded to whole 万元."""
    return ((amount / WAN).to_integral_value(rounding=ROUND_HALF_UP) * WAN).quantize(CENT)


def round_up(amount: Decimal, step: Decimal) -> Decimal:
    return ((amount / step).to_integral_value(rounding=ROUND_CEILING) * step).quantize(CENT)


def happened(day: date | None) -> bool:
    return day is not None and day <= AS_OF


# --- bulk writing ---------------------------------------------------------------------------------


class Row:
    """One row to insert; ``refs`` name rows of other tables whose ids it needs, ``late`` adds
    values computed once every other table has been written."""

    __slots__ = ("id", "late", "refs", "table", "values")

    def __init__(self, table, values: dict, refs: dict, late: Callable[[], dict] | None):
        self.table, self.values, self.refs, self.late, self.id = table, values, refs, late, None


class Batch:
    """Rows collected per table and inserted in dependency order, many rows per statement."""

    def __init__(self):
        self.rows: dict[sa.Table, list[Row]] = defaultdict(list)

    def add(
        self, model, refs: dict | None = None, late: Callable[[], dict] | None = None, **values
    ) -> Row:
        table = getattr(model, "__table__", model)
        row = Row(table, values, refs or {}, late)
        self.rows[table].append(row)
        return row

    def write(self) -> None:
        tables = [t for t in db.metadata.sorted_tables if t in self.rows]
        deferred = [t for t in tables if any(r.late for r in self.rows[t])]
        for table in [t for t in tables if t not in deferred] + deferred:
            self._insert(table, self.rows[table])

    def _insert(self, table: sa.Table, rows: list[Row]) -> None:
        groups: dict[tuple, list[Row]] = defaultdict(list)
        for row in rows:
            for column, ref in row.refs.items():
                row.values[column] = ref.id if ref is not None else None
            if row.late is not None:
                row.values.update(row.late())
            groups[tuple(sorted(row.values))].append(row)
        for group in groups.values():
            params = [r.values for r in group]
            if "id" in table.c:
                stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
                for row, new_id in zip(
                    group, db.session.execute(stmt, params).scalars().all(), strict=True
                ):
                    row.id = new_id
            else:
                db.session.execute(table.insert(), params)


# --- organisations, qualifications and yearly figures ---------------------------------------------


def retire_qualifications(orgs: dict[int, Organisation]) -> None:
    """Remove qualifications an earlier demo version gave that the plan does not count."""
    for index, kind, granted in RETIRED_QUALIFICATIONS:
        org = orgs.get(index)
        if org is None:
            continue
        for qualification in [
            q for q in org.qualifications if q.kind == kind and q.granted_on == granted
        ]:
            org.qualifications.remove(qualification)
    db.session.flush()


def figures_for(index: int, base_wan: int, year: int) -> tuple[Decimal, Decimal, int, int]:
    """Revenue, R&D spending (yuan), staff and R&D staff of demo organisation ``index`` in ``year``."""
    growth, rd_bp = FIGURE_PARAMS[index]
    factor = (Decimal(100 + growth) / Decimal(100)) ** (year - 2020)
    revenue = (Decimal(base_wan) * WAN * factor).quantize(YUAN, rounding=ROUND_HALF_UP)
    rd = (revenue * Decimal(rd_bp + RD_SHIFT_BP[year]) / WAN).quantize(YUAN, rounding=ROUND_HALF_UP)
    staff = max(20, int(revenue / WAN / 55))
    rd_staff = min(staff, max(3, int(staff * (rd_bp + RD_SHIFT_BP[year]) / 4000)))
    return revenue.quantize(CENT), rd.quantize(CENT), staff, rd_staff


def seed_year_figures(orgs: dict[int, Organisation], roster) -> int:
    """Revenue, R&D spending and staff of every demo enterprise for 2016–2025 (set to the demo's values)."""
    existing = {
        (f.organisation_id, f.year): f
        for f in db.session.scalars(
            sa.select(YearFigure).where(
                YearFigure.organisation_id.in_([o.id for o in orgs.values()])
            )
        )
    }
    count = 0
    for index, *_rest, base in roster:
        if not base or index not in FIGURE_PARAMS:
            continue
        org = orgs[index]
        for year in range(FIRST_YEAR, LAST_FIGURE_YEAR + 1):
            revenue, rd, staff, rd_staff = figures_for(index, base, year)
            figure = existing.get((org.id, year))
            if figure is None:
                db.session.add(
                    YearFigure(
                        organisation_id=org.id,
                        year=year,
                        revenue=revenue,
                        rd_spending=rd,
                        staff=staff,
                        rd_staff=rd_staff,
                    )
                )
            elif (figure.revenue, figure.rd_spending, figure.staff, figure.rd_staff) != (
                revenue,
                rd,
                staff,
                rd_staff,
            ):
                figure.revenue, figure.rd_spending, figure.staff, figure.rd_staff = (
                    revenue,
                    rd,
                    staff,
                    rd_staff,
                )
            count += 1
    db.session.flush()
    return count


# --- the plans of calls, applications and projects ------------------------------------------------


@dataclass(frozen=True)
class CallDates:
    opens: date
    closes: date
    checked: date
    invited: date
    due: date
    decided: date
    notice_from: date
    notice_to: date
    issued: date
    start: date

    @classmethod
    def for_month(cls, year: int, month: int) -> CallDates:
        opens = date(year, month, 1)
        closes = opens + timedelta(days=40)
        checked = closes + timedelta(days=10)
        invited = checked + timedelta(days=5)
        decided = invited + timedelta(days=40)
        notice_from = decided + timedelta(days=3)
        notice_to = notice_from + timedelta(days=9)
        issued = notice_to + timedelta(days=5)
        start = add_months(date(issued.year, issued.month, 1), 1)
        return cls(
            opens,
            closes,
            checked,
            invited,
            invited + timedelta(days=30),
            decided,
            notice_from,
            notice_to,
            issued,
            start,
        )


@dataclass
class CallPlan:
    row: Row
    code: str
    year: int
    level: str
    category: str
    dates: CallDates
    criteria: list[tuple[Row, SimpleNamespace]]
    max_request: Decimal = Decimal(0)
    awarded: Decimal = Decimal(0)
    cluster_ids: set[int] = field(default_factory=set)
    approvals: int = 0


@dataclass(frozen=True)
class FormalCheckPlan:
    """A formal-check decision to replay: pass, return or reject, by a bureau handle, at a time."""

    decision: str
    reasons: str
    bureau: str
    at: datetime


@dataclass
class AppPlan:
    row: Row
    call: CallPlan
    org: int
    cluster: str
    title: str
    subject: str
    request: Decimal
    self_raised: dict[str, Decimal]
    start: date
    end: date
    months: int
    team: list[tuple[str, str, str]]
    kpis: dict[str, Decimal]
    milestones: list[tuple[str, str, date]]
    state: str = "draft"
    created: datetime | None = None
    submitted_at: datetime | None = None
    team_rows: list[dict] = field(default_factory=list)
    budget_rows: dict[str, tuple[Decimal, Decimal, str]] = field(default_factory=dict)
    milestone_rows: list[dict] = field(default_factory=list)
    checks: list[FormalCheckPlan] = field(default_factory=list)


class History:
    """Builds the rows of the demo history; :meth:`write` inserts them."""

    def __init__(self, clusters: dict, orgs: dict[int, Organisation], users: dict, experts: list):
        self.rng = random.Random(SEED)
        self.batch = Batch()
        self.clusters = clusters
        self.orgs = orgs
        self.users = users
        self.experts = experts
        self.titles: set[str] = set()
        self.numbers: dict[int, int] = defaultdict(int)
        self.vouchers = itertools.count(1)
        self.calls: dict[tuple, CallPlan] = {}
        self.applications: list[AppPlan] = []
        self.projects = 0

    # -- small helpers

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def user_id(self, handle: str) -> int | None:
        user = self.users.get(handle)
        return user.id if user is not None else None

    def applicant_id(self, org: int) -> int | None:
        return self.user_id(APPLICANT_HANDLES[org]) if org in APPLICANT_HANDLES else None

    def bureau_handle(self) -> str:
        return self.rng.choice(("bureau", "bureau", "bureau2"))

    def bureau_id(self) -> int | None:
        return self.user_id(self.bureau_handle())

    def new_title(self, cluster: str) -> tuple[str, str]:
        for _attempt in range(200):
            subject = self.rng.choice(SUBJECTS[cluster])
            title = subject + self.rng.choice(ACTIONS[cluster])
            if title not in self.titles:
                self.titles.add(title)
                return title, subject
        for subject in SUBJECTS[cluster]:
            for action in ACTIONS[cluster]:
                for suffix in ("（二期）", "（三期）"):
                    if subject + action + suffix not in self.titles:
                        self.titles.add(subject + action + suffix)
                        return subject + action + suffix, subject
        raise RuntimeError(f"no fresh title left for {cluster}")

    def pick_cluster(self) -> str:
        codes = list(CLUSTER_WEIGHTS)
        return self.rng.choices(codes, weights=[CLUSTER_WEIGHTS[c] for c in codes])[0]

    def cluster_of(self, org: int) -> str:
        return next(code for code, members in CLUSTER_ORGS.items() if org in members)

    def random_award(self, level: str) -> Decimal:
        low, high, step = AWARD_RANGE_WAN[level]
        return wan(self.rng.randrange(low, high + 1, step))

    # -- calls

    def call(
        self,
        year: int,
        level: str,
        category: str,
        *,
        month: int = 3,
        batch: int = 1,
        cluster_codes: tuple[str, ...] = (),
    ) -> CallPlan:
        key = (year, level, category, batch)
        if key in self.calls:
            return self.calls[key]
        prefix, level_name = LEVELS[level]
        cat_code, cat_name = CATEGORY_NAMES[category]
        code = f"{year}-{prefix}-{cat_code}" + (f"-{batch}" if batch > 1 else "")
        batch_name = f"（第{'一二三四'[batch - 1]}批）" if batch > 1 else ""
        if level == "national":
            title = f"{year}年度国家重点研发计划项目（课题）申报"
        else:
            title = f"{year}年度{level_name}项目（{cat_name}类）{batch_name}"
        dates = CallDates.for_month(year, month)
        state = (
            "closed"
            if dates.closes <= AS_OF
            else ("published" if dates.opens - timedelta(days=7) <= AS_OF else "draft")
        )
        row = Row(
            Call.__table__,
            {
                "code": code,
                "year": year,
                "title": title,
                "funding_level": level,
                "category": category,
                "guide": (
                    f"{title}申报指南。重点支持医药健康、装备制造、新材料、环保科技、数字信息等产业的关键技术攻关、"
                    "科技成果转化、创新平台与人才团队建设。申报单位须在二道江区注册，自筹资金不低于总预算的30%。"
                ),
                "opens_at": ts(dates.opens, 0),
                "closes_at": ts(dates.closes, 9),
                "total_budget": Decimal(0),
                "cap_per_project": Decimal(0),
                "min_self_raised_ratio": Decimal("0.3000"),
                "indirect_cost_ratio": Decimal("0.2000"),
                "max_duration_months": 36,
                "required_qualification": None,
                "concurrent_cap": None,
                "reviewers_per_application": 3,
                "trimmed_mean_min_reviews": 5,
                "blind_review": True,
                "state": state,
            },
            {},
            None,
        )
        criteria = []
        for position, (_zh, _en, weight) in enumerate(PROPOSAL_CRITERIA, start=1):
            criterion = Row(RubricCriterion.__table__, {"position": position}, {}, None)
            criteria.append(
                (
                    criterion,
                    SimpleNamespace(
                        id=position,
                        weight=Decimal(weight),
                        min_score=Decimal(0),
                        max_score=Decimal(10),
                    ),
                )
            )
        plan = CallPlan(row, code, year, level, category, dates, criteria)
        plan.cluster_ids.update(self.clusters[c].id for c in cluster_codes)
        self.calls[key] = plan
        return plan

    def finish_calls(self) -> None:
        """Budgets and caps of every call, once all its applications are planned.

        The calls themselves, their rubric, clusters and public notices are made by
        :mod:`grants.demo.replay` through the programmes and review operations.
        """
        for plan in self.calls.values():
            cap = round_up(max(plan.max_request, wan(30)), wan(10))
            total = max(cap * 5, round_up(plan.awarded * Decimal("1.2"), wan(50)))
            plan.row.values.update(total_budget=total, cap_per_project=cap)

    # -- applications

    def application(
        self,
        call: CallPlan,
        org: int,
        state: str,
        *,
        title: str | None = None,
        subject: str | None = None,
        cluster: str | None = None,
        request: Decimal | None = None,
        months: int | None = None,
        quality: str = "good",
        award: Decimal | None = None,
    ) -> AppPlan:
        """An application to ``call`` in ``state`` with its sections, formal check, reviews and decision."""
        rng = self.rng
        dates = call.dates
        cluster = cluster or self.cluster_of(org)
        if title is None:
            title, subject = self.new_title(cluster)
        else:
            self.titles.add(title)
            subject = subject or rng.choice(SUBJECTS[cluster])
        if request is None:
            request = round_wan(
                self.random_award(call.level) * Decimal(rng.choice(("1", "1.2", "1.5")))
            )
        months = months or DEFAULT_MONTHS[call.level]
        start = dates.start
        end = add_months(start, months) - timedelta(days=1)
        submitted = state != "draft"
        call.max_request = max(call.max_request, request)
        call.cluster_ids.add(self.clusters[cluster].id)
        created = dates.opens + self.days(2, 15)
        submitted_at = (
            ts(min(dates.closes - self.days(1, 12), AS_OF), 3, rng.randint(0, 59))
            if submitted
            else None
        )
        kpis = self.kpi_targets(cluster, call.category, request)
        objectives = "；".join(
            f"{self.kpi_phrase(kind)}{value.normalize():f}" for kind, value in kpis.items()
        )
        row = Row(
            Application.__table__,
            {
                "organisation_id": self.orgs[org].id,
                "cluster_id": self.clusters[cluster].id,
                "title": title,
                "summary": f"项目围绕{subject}开展技术攻关与产业化应用，"
                "突破关键工艺，形成自主知识产权，带动企业提质增效。",
                "objectives": f"项目完成时实现：{objectives}。",
                "technical_route": "需求分析与方案设计 → 小试工艺研究 → 中试放大与验证 → 产业化应用与推广。",
                "start_date": start,
                "end_date": end,
                "fiscal_total": request,
                "self_raised_total": Decimal(0),
                "state": state,
            },
            {"call_id": call.row},
            None,
        )
        team = self.team(org)
        team_rows = [
            {
                "name": name,
                "role": role,
                "title": title_,
                "organisation_name": self.orgs[org].name,
                "expertise": "",
                "workload_months": rng.choice((6, 8, 10, 12)),
            }
            for name, role, title_ in team
        ]
        self_raised, budget_rows = self.application_budget(request)
        row.values["self_raised_total"] = sum(self_raised.values(), Decimal(0))
        count = 2 if months <= 18 else 3
        milestones, milestone_rows = [], []
        for position, ((ms_title, deliverable), share) in enumerate(
            zip(MILESTONE_PLANS[count], MILESTONE_SHARES[count], strict=True), start=1
        ):
            due = add_months(start, round(months * position / count)) - timedelta(days=1)
            milestones.append((ms_title, deliverable, due))
            milestone_rows.append(
                {
                    "title": ms_title,
                    "due_date": due,
                    "deliverable": deliverable,
                    "funding_share": share,
                }
            )
        plan = AppPlan(
            row,
            call,
            org,
            cluster,
            title,
            subject,
            request,
            self_raised,
            start,
            end,
            months,
            team,
            kpis,
            milestones,
            state=state,
            created=ts(created),
            submitted_at=submitted_at,
            team_rows=team_rows,
            budget_rows=budget_rows,
            milestone_rows=milestone_rows,
        )
        self.applications.append(plan)
        self.formal_check(plan, state)
        if state in ("under_review", "reviewed", "approved", "declined", "contracted"):
            self.reviews(plan, state, quality)
        if state in ("approved", "declined", "contracted"):
            self.decision(plan, state, award)
        return plan

    def team(self, org: int) -> list[tuple[str, str, str]]:
        rng = self.rng
        names = rng.sample(PEOPLE, 5)
        principal = PRINCIPALS.get(org) or names[0]
        others = [n for n in names if n != principal]
        team = [(principal, "principal", rng.choice(("研究员", "高级工程师", "教授", "主任药师")))]
        team += [(others[0], "core", rng.choice(TITLES))]
        team += [
            (name, rng.choice(("core", "member")), rng.choice(TITLES))
            for name in others[1 : rng.randint(2, 4)]
        ]
        return team

    def application_budget(
        self, request: Decimal
    ) -> tuple[dict[str, Decimal], dict[str, tuple[Decimal, Decimal, str]]]:
        """The application's self-raised money by category and its budget by row of the form."""
        rng = self.rng
        shares = [
            ("equipment", "", Decimal("0.30")),
            ("business", "materials", Decimal("0.25")),
            ("business", "testing", Decimal("0.15")),
            ("labour", "", Decimal("0.20")),
        ]
        own = (request * Decimal(rng.choice(("1.0", "1.2", "1.5", "2.0")))).quantize(
            Decimal("1000")
        )
        own_shares = {
            "equipment": Decimal("0.5"),
            "materials": Decimal("0.3"),
            "labour": Decimal("0.2"),
        }
        used, own_used = Decimal(0), Decimal(0)
        self_raised: dict[str, Decimal] = defaultdict(Decimal)
        rows: dict[str, tuple[Decimal, Decimal, str]] = {}
        for category, sub_item, share in shares:
            fiscal = (request * share).quantize(Decimal("100"), rounding=ROUND_DOWN)
            mine = (own * own_shares.get(sub_item or category, Decimal(0))).quantize(CENT)
            if category == "labour":
                mine = own - own_used
            used += fiscal
            own_used += mine
            self_raised[category] += mine
            rows[f"{category}_{sub_item}" if sub_item else category] = (
                fiscal.quantize(CENT),
                mine,
                "",
            )
        rows["indirect"] = ((request - used).quantize(CENT), Decimal("0.00"), "")
        return dict(self_raised), rows

    def kpi_targets(self, cluster: str, category: str, request: Decimal) -> dict[str, Decimal]:
        rng = self.rng
        request_wan = request / WAN
        kpis = {"patents_filed": Decimal(rng.randint(1, 3) + (1 if request_wan >= 50 else 0))}
        if cluster == "digital":
            kpis["software"] = Decimal(rng.randint(1, 3))
        else:
            kpis["new_products"] = Decimal(rng.randint(1, 2))
        kpis["revenue"] = Decimal(int(request_wan * rng.randint(3, 8) / 10) * 10 or 50)
        kpis["jobs"] = Decimal(rng.randint(3, 15))
        if category in ("talent", "platform"):
            kpis["talent"] = Decimal(rng.randint(2, 6))
            kpis["papers"] = Decimal(rng.randint(1, 4))
        elif rng.random() < 0.3:
            kpis["papers"] = Decimal(rng.randint(1, 2))
        if rng.random() < 0.2:
            kpis["standards"] = Decimal(1)
        return kpis

    @staticmethod
    def kpi_phrase(kind: str) -> str:
        return {
            "patents_filed": "申请发明专利（项）",
            "software": "登记软件著作权（项）",
            "new_products": "开发新产品（个）",
            "revenue": "新增销售收入（万元）",
            "jobs": "新增就业（人）",
            "talent": "培养科技人才（人）",
            "papers": "发表论文（篇）",
            "standards": "制定标准（项）",
        }[kind]

    def formal_check(self, plan: AppPlan, state: str) -> None:
        """The bureau's formal checks of the application (made by the replay).

        A return for revision comes while the call is still open, three days after a first
        submission five days before the last one: the applicant can resubmit only then.
        """
        dates = plan.call.dates
        if state in ("draft", "submitted", "withdrawn"):
            return
        if state == "rejected":
            reasons = self.rng.choice(REJECT_REASONS)
            plan.checks.append(
                FormalCheckPlan("reject", reasons, self.bureau_handle(), ts(dates.checked))
            )
            return
        if self.rng.random() < 0.08:
            plan.checks.append(
                FormalCheckPlan(
                    "return",
                    "自筹资金证明材料不全，请补充后重新提交。",
                    self.bureau_handle(),
                    plan.submitted_at - timedelta(days=3),
                )
            )
        plan.checks.append(FormalCheckPlan("pass", "", self.bureau_handle(), ts(dates.checked, 3)))

    def reviews(self, plan: AppPlan, state: str, quality: str) -> None:
        """Three experts of the pool (no conflict of interest, the cluster's experts first) review it."""
        rng = self.rng
        dates = plan.call.dates
        org_id = self.orgs[plan.org].id
        cluster_id = self.clusters[plan.cluster].id
        eligible = [e for e in self.experts if e.employer_id != org_id]
        rng.shuffle(eligible)
        eligible.sort(key=lambda e: cluster_id not in {c.id for c in e.clusters})
        chosen = eligible[: plan.call.row.values["reviewers_per_application"]]
        centre = {"good": 8.0, "fair": 6.8, "weak": 5.8}[quality]
        live = state == "under_review"
        due = max(dates.due, AS_OF + timedelta(days=21)) if live else dates.due
        for position, expert in enumerate(chosen):
            invited = dates.invited
            if live and expert.user_id == self.user_id("expert"):
                self.batch.add(
                    Assignment,
                    refs={"application_id": plan.row},
                    expert_id=expert.id,
                    purpose="proposal",
                    round=1,
                    state="invited",
                    source="auto",
                    due_at=ts(due, 9),
                    invited_at=ts(invited),
                    responded_at=None,
                    created_by_id=self.user_id("bureau"),
                )
                continue
            responded = invited + self.days(0, 3)
            assignment = self.batch.add(
                Assignment,
                refs={"application_id": plan.row},
                expert_id=expert.id,
                purpose="proposal",
                round=1,
                state="accepted",
                source="auto",
                due_at=ts(due, 9),
                invited_at=ts(invited),
                responded_at=ts(responded, 6),
                no_conflict_declared_at=ts(responded, 6),
                created_by_id=self.user_id("bureau"),
            )
            submitted = responded + self.days(4, 25)
            if not live and plan.call.year == AS_OF.year:
                submitted = min(submitted, AS_OF - timedelta(days=1))
            finished = not live or (position < 2 and happened(submitted))
            scores = {}
            for _row, criterion in plan.call.criteria:
                value = min(10.0, max(2.0, rng.gauss(centre, 0.8)))
                scores[criterion.id] = Decimal(str(round(value * 2) / 2)).quantize(Decimal("0.1"))
            total = weighted_total(scores, [c for _r, c in plan.call.criteria])
            recommendation = (
                "fund" if total >= 75 else ("fund_with_changes" if total >= 62 else "do_not_fund")
            )
            comment = rng.choice(GOOD_COMMENTS if total >= 68 else WEAK_COMMENTS)
            review = self.batch.add(
                Review,
                refs={"assignment_id": assignment},
                state="submitted" if finished else "draft",
                comment=comment,
                recommendation=recommendation if finished else None,
                total=total if finished else None,
                submitted_at=ts(submitted, 7) if finished else None,
                updated_at=ts(min(submitted, AS_OF), 7),
                version=1,
            )
            for criterion_row, criterion in plan.call.criteria:
                self.batch.add(
                    Score,
                    refs={"review_id": review, "criterion_id": criterion_row},
                    value=scores[criterion.id],
                    min_score=criterion.min_score,
                    max_score=criterion.max_score,
                )

    def decision(self, plan: AppPlan, state: str, award: Decimal | None) -> None:
        dates = plan.call.dates
        approve = state in ("approved", "contracted")
        if approve:
            plan.call.approvals += 1
        self.batch.add(
            Decision,
            refs={"application_id": plan.row},
            outcome="approve" if approve else "decline",
            amount=(award or plan.request) if approve else None,
            requested=plan.request,
            reasons="" if approve else self.rng.choice(DECLINE_REASONS),
            decided_by_id=self.user_id("bureau"),
            decided_at=ts(dates.decided, 6),
            released_at=ts(dates.notice_from, 2) if happened(dates.notice_from) else None,
        )

    def unsuccessful(self, call: CallPlan, funded: int) -> None:
        """The applications of a call that were declined, rejected at the formal check or withdrawn."""
        rng = self.rng
        states = ["declined"] * max(1, round(funded * rng.uniform(0.55, 0.95)))
        states += ["rejected"] * (1 if rng.random() < 0.55 else 0)
        states += ["withdrawn"] * (1 if rng.random() < 0.3 else 0)
        for state in states:
            cluster = self.pick_cluster()
            org = rng.choice(CLUSTER_ORGS[cluster])
            self.application(
                call, org, state, cluster=cluster, quality=rng.choice(("fair", "weak"))
            )

    # -- projects

    def funded(
        self,
        year: int,
        level: str,
        category: str,
        org: int,
        title: str | None,
        award: Decimal,
        options: dict,
        month: int = 3,
    ) -> None:
        """An approved and contracted application and its project."""
        call = self.call(year, level, category, month=month)
        cluster = self.cluster_of(org)
        factor = Decimal(self.rng.choice(("1", "1", "1.2", "1.25", "1.5")))
        request = max(award, round_wan(award * factor))
        months = options.get("months") or (
            18 if level == "district" and category == "transfer" else None
        )
        app = self.application(
            call,
            org,
            "contracted",
            title=title,
            cluster=cluster,
            request=request,
            months=months,
            award=award,
        )
        call.awarded += award
        self.project(app, award, options)

    def project(self, app: AppPlan, award: Decimal, options: dict) -> None:
        rng = self.rng
        call = app.call
        year = call.year
        fate = options.get("fate", "pass")
        bureau = self.user_id("bureau")
        self.numbers[year] += 1
        self.projects += 1
        code = f"{year}-EDJ-KJ-{self.numbers[year]:03d}"
        issued = call.dates.issued + self.days(0, 3)
        signed = NEVER if options.get("unsigned") else issued + self.days(4, 12)
        start, end = app.start, app.end
        extension = fate == "pass" and year <= 2023 and rng.random() < 0.08
        original_end = end
        if extension:
            end = add_months(end + timedelta(days=1), 6) - timedelta(days=1)
        dues = [due for _t, _d, due in app.milestones]
        dues[-1] = end

        # Milestones: reported, then achieved (most on time).
        reported, achieved = [], []
        for index, due in enumerate(dues):
            late = rng.random() < 0.16
            done = due + self.days(12, 80) if late else due - self.days(2, 20)
            report = done - self.days(2, 8)
            if options.get("ms_reported") == index:
                report, done = AS_OF - timedelta(days=6), NEVER
            if options.get("ms_silent") == index or (fate == "terminate" and index == 0):
                report, done = NEVER, NEVER
            if done <= start:
                done = start + self.days(20, 40)
                report = done - timedelta(days=3)
            reported.append(report)
            achieved.append(done)

        # Acceptance rounds: (final report submitted, verified, decided, conclusion).
        rounds: list[list] = []
        terminated_on = None
        if fate == "terminate":
            terminated_on = dues[0] + self.days(30, 60)
        else:
            first = max(end, max((d for d in achieved if d != NEVER), default=end)) + self.days(
                15, 45
            )
            if options.get("final") == "submitted":
                rounds.append([AS_OF - timedelta(days=6), NEVER, NEVER, None])
            elif options.get("final") == "verified":
                rounds.append([AS_OF - timedelta(days=25), AS_OF - timedelta(days=8), NEVER, None])
            else:
                verified = first + self.days(7, 20)
                decided = verified + self.days(15, 40)
                conclusion = {"pass": "pass", "rectify": "rectify", "fail": "fail"}[fate]
                if options.get("rectify_now"):
                    first, verified, decided = (
                        AS_OF - timedelta(days=70),
                        AS_OF - timedelta(days=55),
                        AS_OF - timedelta(days=30),
                    )
                rounds.append([first, verified, decided, conclusion])
                if conclusion == "rectify" and not options.get("rectify_now"):
                    second = decided + self.days(40, 75)
                    verified2 = second + self.days(5, 15)
                    rounds.append([second, verified2, verified2 + self.days(10, 25), "pass"])
            if options.get("accepted_due"):
                rounds[-1][2] = min(rounds[-1][2], AS_OF - timedelta(days=12))
                rounds[-1][1] = min(rounds[-1][1], rounds[-1][2] - timedelta(days=10))
                rounds[-1][0] = min(rounds[-1][0], rounds[-1][1] - timedelta(days=10))
        last_decided = next((r for r in reversed(rounds) if happened(r[2])), None)
        passed_on = last_decided[2] if last_decided and last_decided[3] == "pass" else None
        failed_on = last_decided[2] if last_decided and last_decided[3] == "fail" else None

        # Tranches: 30 % on signing, 50 % over the milestones by their shares, the rest on acceptance.
        shares = MILESTONE_SHARES[len(dues)]
        first_amount = (award * Decimal("0.30")).quantize(CENT, rounding=ROUND_HALF_UP)
        pot = (award * Decimal("0.50")).quantize(CENT, rounding=ROUND_HALF_UP)
        parts = [(pot * s).quantize(CENT, rounding=ROUND_DOWN) for s in shares]
        parts[shares.index(max(shares))] += pot - sum(parts)
        plan = [("contract", None, first_amount, signed)]
        plan += [("milestone", i, parts[i], achieved[i]) for i in range(len(dues))]
        plan.append(("acceptance", None, award - first_amount - pot, passed_on or NEVER))

        project = self.batch.add(
            Project,
            refs={"application_id": app.row, "call_id": call.row},
            organisation_id=self.orgs[app.org].id,
            cluster_id=self.clusters[app.cluster].id,
            code=code,
            year=year,
            title=app.title,
            summary=app.row.values["summary"],
            objectives=app.row.values["objectives"],
            start_date=start,
            end_date=end,
            award=award,
            self_raised=sum(app.self_raised.values(), Decimal(0)).quantize(CENT),
            task_book_sha256=None,
            task_book_issued_at=ts(issued, 3),
            created_by_id=bureau,
            created_at=ts(issued, 3),
            version=1,
        )
        for position, (name, role, title_) in enumerate(app.team, start=1):
            self.batch.add(
                ProjectMember,
                refs={"project_id": project},
                position=position,
                name=name,
                role=role,
                title=title_,
                organisation_name=self.orgs[app.org].name,
                active=True,
            )
        budget = self.project_budget(project, award, app.self_raised)
        milestone_rows = []
        for index, (ms_title, deliverable, _due) in enumerate(app.milestones):
            done = happened(achieved[index]) and not (
                terminated_on and achieved[index] > terminated_on
            )
            sent = happened(reported[index]) and not (
                terminated_on and reported[index] > terminated_on
            )
            state = "achieved" if done else ("reported" if sent else "open")
            ms = self.batch.add(
                Milestone,
                refs={"project_id": project},
                position=index + 1,
                title=ms_title,
                deliverable=deliverable,
                due_date=dues[index],
                state=state,
                achieved_at=ts(achieved[index], 6) if done else None,
                overdue_notified_at=None,
            )
            milestone_rows.append(ms)
            if sent:
                self.batch.add(
                    ProgressReport,
                    refs={"milestone_id": ms, "project_id": project},
                    text=f"已{ms_title}，提交{deliverable}。各项工作按任务书要求推进，经费使用规范。",
                    kpi_progress={
                        k: str(int(v * (index + 1) / len(dues))) for k, v in app.kpis.items()
                    },
                    state="approved" if done else "submitted",
                    submitted_by_id=self.applicant_id(app.org),
                    submitted_at=ts(reported[index], 3),
                    reviewed_by_id=bureau if done else None,
                    reviewed_at=ts(achieved[index], 6) if done else None,
                    review_note="",
                    created_at=ts(reported[index] - timedelta(days=3), 3),
                )

        # Disbursements of the tranches that fell due (bureau requests, finance approves, another pays).
        committed = disbursed = Decimal(0)
        stop = terminated_on or failed_on
        for position, (trigger, ms_index, amount, due_on) in enumerate(plan, start=1):
            is_due = happened(due_on) and not (terminated_on and due_on > terminated_on)
            requested = due_on + self.days(2, 10) if is_due else NEVER
            if trigger == "contract" and options.get("d1"):
                requested = {
                    "due": NEVER,
                    "requested": AS_OF - timedelta(days=4),
                    "approved": AS_OF - timedelta(days=9),
                }[options["d1"]]
            if trigger == "milestone" and ms_index == 0 and options.get("due_tranche"):
                requested = NEVER
            if trigger == "acceptance" and options.get("accepted_due"):
                requested = NEVER
            if terminated_on and requested > terminated_on:
                requested = NEVER
            approved = requested + self.days(1, 5) if requested != NEVER else NEVER
            paid = approved + self.days(1, 4) if approved != NEVER else NEVER
            if options.get("d1") == "requested" and trigger == "contract":
                approved = paid = NEVER
            if options.get("d1") == "approved" and trigger == "contract":
                approved, paid = AS_OF - timedelta(days=3), NEVER
            live = happened(requested)
            cancelled = None
            if not live and stop is not None and trigger != "contract" and happened(stop):
                cancelled = ts(stop, 7)
            tranche = self.batch.add(
                Tranche,
                refs={
                    "project_id": project,
                    "milestone_id": milestone_rows[ms_index] if trigger == "milestone" else None,
                },
                position=position,
                amount=amount,
                trigger=trigger,
                due_since=ts(due_on, 6) if is_due else None,
                cancelled_at=cancelled,
            )
            if live:
                committed += amount
                disbursed += amount if happened(paid) else Decimal(0)
                self.disbursement(
                    project, tranche, app, code, amount, requested, approved, paid, position
                )

        # Spending reports by half-year; the final statement; acceptance; outcomes.
        spent_until = terminated_on or end
        spent = self.expenditures(project, app, budget, start, spent_until, fate, options)
        final_rows = []
        for number, (submitted, verified, decided, conclusion) in enumerate(rounds, start=1):
            if not happened(submitted):
                continue
            final = self.batch.add(
                FinalReport,
                refs={"project_id": project},
                round=number,
                summary=f"项目按任务书要求完成{app.title}各项研究任务，形成了一批知识产权和新产品，经费使用规范。",
                kpi_achieved={},
                statement={k: str(v) for k, v in spent.items()},
                state="verified" if happened(verified) else "submitted",
                submitted_by_id=self.applicant_id(app.org),
                submitted_at=ts(submitted, 3),
                statement_verified_by_id=self.user_id("finance") if happened(verified) else None,
                statement_verified_at=ts(verified, 6) if happened(verified) else None,
                statement_note="",
                created_at=ts(submitted - timedelta(days=5), 3),
            )
            final_rows.append(final)
            if happened(decided):
                score = Decimal(
                    str(
                        round(
                            rng.uniform(
                                *{"pass": (76, 93), "rectify": (60, 70), "fail": (45, 58)}[
                                    conclusion
                                ]
                            ),
                            4,
                        )
                    )
                )
                self.batch.add(
                    AcceptanceDecision,
                    refs={"project_id": project, "final_report_id": final},
                    conclusion=conclusion,
                    panel_score=score,
                    reasons={
                        "pass": "",
                        "rectify": "部分考核指标尚未完成，经费决算材料需补充完善，限期整改。",
                        "fail": "主要考核指标未完成，经费使用不规范，项目未通过验收。",
                    }[conclusion],
                    rectify_by=decided + timedelta(days=90) if conclusion == "rectify" else None,
                    decided_by_id=bureau,
                    decided_at=ts(decided, 7),
                )
        achieved_kpis = self.achieved_kpis(app.kpis, fate)
        if final_rows:
            final_rows[-1].values["kpi_achieved"] = {k: str(v) for k, v in achieved_kpis.items()}
            for final in final_rows[:-1]:
                final.values["kpi_achieved"] = {
                    k: str(v) for k, v in self.achieved_kpis(app.kpis, "fail").items()
                }
            self.outcomes(
                project,
                final_rows[-1],
                app,
                achieved_kpis,
                achieved[0] if achieved[0] != NEVER else start,
                rounds[len(final_rows) - 1][0],
                options,
            )
        concluded = last_decided is not None
        for kind, target in app.kpis.items():
            self.batch.add(
                ProjectKpi,
                refs={"project_id": project},
                kind=kind,
                target=target,
                achieved=achieved_kpis[kind]
                if concluded and last_decided[3] != "rectify"
                else None,
                note="",
            )

        # Mid-term check of the longer projects; change requests.
        checked = add_months(start, app.months // 2) + self.days(10, 30)
        if (
            app.months >= 24
            and happened(checked)
            and happened(signed)
            and not (terminated_on and checked > terminated_on)
        ):
            conditional = rng.random() < 0.12
            self.batch.add(
                MidtermCheck,
                refs={"project_id": project},
                batch=f"{checked.year}年度中期检查",
                conclusion="conditional" if conditional else "pass",
                comments="项目进度滞后于计划，需加快中试进度并补充经费使用台账。"
                if conditional
                else "",
                rectify_by=checked + timedelta(days=60) if conditional else None,
                rectified_at=ts(checked + self.days(20, 50))
                if conditional and happened(checked + timedelta(days=50))
                else None,
                checked_by_id=bureau,
                checked_at=ts(checked, 6),
            )
        if extension:
            self.extension(project, milestone_rows, dues, original_end, end, app)
        if options.get("change"):
            self.live_change(
                project,
                options["change"],
                milestone_rows,
                reported,
                achieved,
                dues,
                end,
                app,
                budget,
                spent,
            )

        # The project's state and money on AS_OF.
        values = {
            "committed_total": committed,
            "disbursed_total": disbursed,
            "recovered_total": Decimal(0),
            "signed_at": ts(signed, 6) if happened(signed) else None,
        }
        latest_submitted = max((r[0] for r in rounds if happened(r[0])), default=None)
        if latest_submitted:
            values["acceptance_requested_at"] = ts(latest_submitted, 3)
        if last_decided:
            values.update(
                concluded_at=ts(last_decided[2], 7),
                conclusion=last_decided[3],
                conclusion_reasons="" if last_decided[3] == "pass" else "见验收结论。",
            )
        rectified = [r for r in rounds if r[3] == "rectify" and happened(r[2])]
        if rectified:
            values["rectify_by"] = rectified[0][2] + timedelta(days=90)
        if not happened(signed):
            state = "contracting"
        elif terminated_on and happened(terminated_on):
            state = "terminated"
            values.update(terminated_at=ts(terminated_on, 7), termination_reason=TERMINATION_REASON)
        elif passed_on or failed_on:
            closing = (passed_on or failed_on) + self.days(25, 50)
            state = (
                "closed"
                if happened(closing) and (failed_on or disbursed == award)
                else ("accepted" if passed_on else "acceptance_failed")
            )
            if state == "closed":
                values["closed_at"] = ts(closing, 8)
        elif last_decided and last_decided[3] == "rectify":
            state = "in_progress"
        elif latest_submitted:
            state = "acceptance_review"
        else:
            state = "in_progress"
        if stop and happened(stop) and disbursed > sum(spent.values(), Decimal(0)):
            refund = disbursed - sum(spent.values(), Decimal(0))
            received = stop + self.days(20, 40)
            if happened(received):
                values["recovered_total"] = refund
                self.batch.add(
                    FundRecovery,
                    refs={"project_id": project},
                    amount=refund,
                    voucher_no=f"JK{received.year}-{next(self.vouchers):04d}",
                    received_on=received,
                    note="结余财政资金缴回。",
                    recorded_by_id=self.user_id("finance"),
                    recorded_at=ts(received, 7),
                )
        project.values.update(state=state, **values)
        project.values.setdefault("acceptance_requested_at", None)
        for key in ("concluded_at", "conclusion", "rectify_by", "terminated_at", "closed_at"):
            project.values.setdefault(key, None)
        project.values.setdefault("conclusion_reasons", "")
        project.values.setdefault("termination_reason", "")

    def project_budget(
        self, project: Row, award: Decimal, self_raised: dict[str, Decimal]
    ) -> dict[str, Decimal]:
        shares = {
            "equipment": Decimal("0.30"),
            "business": Decimal("0.40"),
            "labour": Decimal("0.20"),
        }
        budget = {c: (award * s).quantize(CENT, rounding=ROUND_DOWN) for c, s in shares.items()}
        budget["indirect"] = award - sum(budget.values())
        for category, fiscal in budget.items():
            self.batch.add(
                ProjectBudgetLine,
                refs={"project_id": project},
                category=category,
                fiscal=fiscal,
                self_raised=self_raised.get(category, Decimal(0)).quantize(CENT),
            )
        return budget

    def disbursement(
        self,
        project: Row,
        tranche: Row,
        app: AppPlan,
        code: str,
        amount: Decimal,
        requested: date,
        approved: date,
        paid: date,
        position: int,
    ) -> None:
        rng = self.rng
        finance_pair = rng.sample(["finance", "finance2"], 2)
        checked = happened(approved)
        state = "paid" if happened(paid) else ("approved" if checked else "requested")
        account = f"0706{self.orgs[app.org].id:04d}{rng.randint(10**10, 10**11 - 1)}"
        self.batch.add(
            Disbursement,
            refs={"project_id": project, "tranche_id": tranche},
            amount=amount,
            state=state,
            idempotency_key=f"demo-{code}-{position}",
            requested_by_id=self.bureau_id(),
            requested_at=ts(requested, 2),
            request_note=f"{code}第{position}笔资金拨付申请",
            payee_name=self.orgs[app.org].name,
            payee_bank=rng.choice(BANKS),
            payee_account=account,
            approved_by_id=self.user_id(finance_pair[0]) if checked else None,
            approved_at=ts(approved, 5) if checked else None,
            voucher_no=f"JZ{approved.year}-{next(self.vouchers):04d}" if checked else "",
            voucher_date=approved if checked else None,
            paid_by_id=self.user_id(finance_pair[1]) if happened(paid) else None,
            paid_at=ts(paid, 6) if happened(paid) else None,
            rejected_by_id=None,
            rejection_reason="",
            version=1,
        )

    def expenditures(
        self,
        project: Row,
        app: AppPlan,
        budget: dict[str, Decimal],
        start: date,
        until: date,
        fate: str,
        options: dict,
    ) -> dict[str, Decimal]:
        """Half-yearly spending reports per budget category; returns the money reported by category."""
        rng = self.rng
        total_days = (app.end - start).days + 1
        low, high = (0.55, 0.8) if fate in ("fail", "terminate") else (0.9, 1.0)
        targets = {
            c: (b * Decimal(str(round(rng.uniform(low, high), 3)))).quantize(YUAN)
            for c, b in budget.items()
        }
        spent = {c: Decimal(0) for c in budget}
        period_start = start
        last_end = None
        while period_start <= until:
            period_end = min(add_months(period_start, 6) - timedelta(days=1), until)
            submitted = period_end + self.days(10, 25)
            if not happened(submitted):
                break
            verified = submitted + self.days(5, 20)
            final_period = period_end >= app.end
            for category, target in targets.items():
                if final_period:
                    amount = target - spent[category]
                else:
                    share = Decimal((period_end - period_start).days + 1) / Decimal(total_days)
                    amount = (
                        target * share * Decimal(str(round(rng.uniform(0.8, 1.15), 3)))
                    ).quantize(YUAN)
                    amount = min(amount, target - spent[category])
                if amount <= 0:
                    continue
                spent[category] += amount
                self.batch.add(
                    Expenditure,
                    refs={"project_id": project},
                    category=category,
                    period_start=period_start,
                    period_end=period_end,
                    amount=amount.quantize(CENT),
                    note=f"{period_start:%Y年%m月}至"
                    f"{period_end:%Y年%m月}{category_label(category)}支出",
                    state="verified" if happened(verified) else "submitted",
                    submitted_by_id=self.applicant_id(app.org),
                    submitted_at=ts(submitted, 3),
                    verified_by_id=self.user_id(rng.choice(("finance", "finance2")))
                    if happened(verified)
                    else None,
                    verified_at=ts(verified, 6) if happened(verified) else None,
                    finance_note="",
                )
            last_end = period_end
            period_start = period_end + timedelta(days=1)
        if options.get("pending_spending"):
            period_from = (last_end + timedelta(days=1)) if last_end else start
            for category in ("equipment", "business"):
                amount = (budget[category] * Decimal("0.35")).quantize(YUAN)
                spent[category] += amount
                self.batch.add(
                    Expenditure,
                    refs={"project_id": project},
                    category=category,
                    period_start=period_from,
                    period_end=AS_OF - timedelta(days=20),
                    amount=amount.quantize(CENT),
                    note=f"{category_label(category)}支出（设备采购及原辅材料）",
                    state="submitted",
                    submitted_by_id=self.applicant_id(app.org),
                    submitted_at=ts(AS_OF - timedelta(days=3), 3),
                    verified_by_id=None,
                    verified_at=None,
                    finance_note="",
                )
        return {c: v.quantize(CENT) for c, v in spent.items()}

    def achieved_kpis(self, kpis: dict[str, Decimal], fate: str) -> dict[str, Decimal]:
        rng = self.rng
        low, high = (0.3, 0.7) if fate in ("fail", "terminate") else (1.0, 1.45)
        return {
            k: Decimal(int(v * Decimal(str(round(rng.uniform(low, high), 2)))))
            for k, v in kpis.items()
        }

    def outcomes(
        self,
        project: Row,
        final: Row,
        app: AppPlan,
        achieved: dict[str, Decimal],
        since: date,
        until: date,
        options: dict,
    ) -> None:
        rng = self.rng
        until = min(until, AS_OF)
        span = max(1, (until - since).days)

        def on() -> date:
            return since + timedelta(days=rng.randint(0, span))

        def add(kind, title, quantity, reference="", day=None, note=""):
            self.batch.add(
                Outcome,
                refs={"project_id": project, "final_report_id": final},
                kind=kind,
                title=title,
                quantity=Decimal(quantity).quantize(CENT),
                reference=reference,
                achieved_on=day or on(),
                note=note,
                created_at=ts(until, 3),
            )

        subject = app.subject
        for number in range(int(achieved.get("patents_filed", 0))):
            day = on()
            add(
                "patent",
                f"一种{subject}的{rng.choice(('制备方法', '检测方法', '生产装置', '应用'))}（{number + 1}）",
                1,
                f"ZL{day.year}1{rng.randint(0, 9999999):07d}.{rng.randint(0, 9)}",
                day,
            )
        if achieved.get("new_products"):
            add("new_product", f"{subject}系列新产品", achieved["new_products"])
        if achieved.get("software"):
            add(
                "software",
                f"{subject}管理软件V1.0",
                achieved["software"],
                f"{until.year}SR{rng.randint(0, 9999999):07d}",
            )
        if achieved.get("papers"):
            add("paper", f"{subject}研究进展", achieved["papers"], JOURNALS[app.cluster])
        if achieved.get("standards"):
            add(
                "standard",
                f"{subject}企业标准",
                achieved["standards"],
                f"Q/EDJ {rng.randint(1, 99):03d}-{until.year}",
            )
        if achieved.get("revenue"):
            add("revenue", "新增销售收入", achieved["revenue"] * WAN, day=until)
        if achieved.get("jobs"):
            add("jobs", "新增就业岗位", achieved["jobs"], day=until)
        for title, issuer, day in options.get("awards", ()):
            add("award", title, 1, issuer, day)

    def extension(
        self,
        project: Row,
        milestones: list[Row],
        dues: list[date],
        old_end: date,
        new_end: date,
        app: AppPlan,
    ) -> None:
        """An approved six-month extension (the project already carries the new dates)."""
        submitted = old_end - self.days(30, 60)
        decided = submitted + self.days(7, 15)
        old_dues = [*dues[:-1], old_end]

        def values() -> dict:
            return {
                "previous": {
                    "end_date": old_end.isoformat(),
                    "milestones": [
                        {"id": ms.id, "title": ms.values["title"], "due_date": due.isoformat()}
                        for ms, due in zip(milestones, old_dues, strict=True)
                    ],
                },
                "proposed": {
                    "end_date": new_end.isoformat(),
                    "milestones": [{"id": milestones[-1].id, "due_date": new_end.isoformat()}],
                },
            }

        self.batch.add(
            ChangeRequest,
            refs={"project_id": project},
            late=values,
            kind="extension",
            reason="受设备到货及中试条件影响，项目进度滞后，申请延期六个月完成。",
            state="approved",
            created_by_id=self.applicant_id(app.org),
            created_at=ts(submitted - timedelta(days=2)),
            submitted_at=ts(submitted, 3),
            decided_by_id=self.user_id("bureau"),
            decided_at=ts(decided, 7),
            decision_note="同意延期六个月。",
            version=1,
        )

    def live_change(
        self,
        project: Row,
        kind: str,
        milestones: list[Row],
        reported: list[date],
        achieved: list[date],
        dues: list[date],
        end: date,
        app: AppPlan,
        budget: dict[str, Decimal],
        spent: dict[str, Decimal],
    ) -> None:
        """A change request submitted a few days before AS_OF, waiting for the bureau."""
        submitted = AS_OF - timedelta(days=5)
        if kind == "extension":
            new_end = add_months(end + timedelta(days=1), 6) - timedelta(days=1)
            open_rows = [
                (ms, due)
                for ms, due, done in zip(milestones, dues, achieved, strict=True)
                if not happened(done)
            ]
            reason = "受原料供应及中试设备改造影响，研发进度滞后，申请延期六个月。"

            def values() -> dict:
                return {
                    "previous": {
                        "end_date": end.isoformat(),
                        "milestones": [
                            {"id": ms.id, "title": ms.values["title"], "due_date": due.isoformat()}
                            for ms, due in zip(milestones, dues, strict=True)
                        ],
                    },
                    "proposed": {
                        "end_date": new_end.isoformat(),
                        "milestones": [
                            {
                                "id": ms.id,
                                "due_date": (
                                    new_end if ms is open_rows[-1][0] else add_months(due, 6)
                                ).isoformat(),
                            }
                            for ms, due in open_rows
                        ],
                    },
                }
        else:
            moved = min(
                (budget["equipment"] - spent["equipment"]).quantize(
                    Decimal("1000"), rounding=ROUND_DOWN
                ),
                (budget["equipment"] * Decimal("0.2")).quantize(
                    Decimal("1000"), rounding=ROUND_DOWN
                ),
            )
            source = "equipment" if moved > 0 else "labour"
            if moved <= 0:
                moved = Decimal("5000")
            lines = {
                c: {
                    "fiscal": str(budget[c].quantize(CENT)),
                    "self_raised": str(app.self_raised.get(c, Decimal(0)).quantize(CENT)),
                }
                for c in budget
            }
            proposed = {c: dict(v) for c, v in lines.items()}
            proposed[source]["fiscal"] = str((budget[source] - moved).quantize(CENT))
            proposed["business"]["fiscal"] = str((budget["business"] + moved).quantize(CENT))
            reason = (
                "部分检测设备改为委托外部机构测试，申请将设备费调剂至业务费（测试化验加工费）。"
            )

            def values() -> dict:
                return {"previous": {"lines": lines}, "proposed": {"lines": proposed}}

        self.batch.add(
            ChangeRequest,
            refs={"project_id": project},
            late=values,
            kind=kind,
            reason=reason,
            state="submitted",
            created_by_id=self.applicant_id(app.org),
            created_at=ts(submitted - timedelta(days=1)),
            submitted_at=ts(submitted, 3),
            decided_by_id=None,
            decided_at=None,
            decision_note="",
            version=1,
        )

    # -- the pipeline of 2026: a call in expert review and a call open for applications

    def pipeline(self) -> None:
        review = self.call(2026, "district", "research", month=9, batch=2)
        self.application(review, 1, "submitted", cluster="pharma")
        self.application(review, 13, "submitted")
        self.application(review, 9, "rejected")
        for org in (1, 5, 3, 8):
            self.application(review, org, "under_review", quality=self.rng.choice(("good", "fair")))
        self.application(review, 2, "reviewed")
        open_call = self.call(
            2026, "district", "transfer", month=11, batch=2, cluster_codes=tuple(CLUSTER_WEIGHTS)
        )
        self.application(
            open_call, 1, "draft", title="琥珀八氢氨吖啶片原料药绿色合成工艺转化", cluster="pharma"
        )

    # -- everything

    def build(self) -> None:
        self.titles.update(
            title for *_head, title, _award, _options in PLAN_PROJECTS + FIXED_PROJECTS
        )
        for year, level, category, org, title, award_wan, options in PLAN_PROJECTS:
            self.funded(year, level, category, org, title, wan(award_wan), options)
        fixed = defaultdict(list)
        for year, level, category, org, title, award_wan, options in FIXED_PROJECTS:
            fixed[(year, level, category)].append((org, title, wan(award_wan), options))
        for year, calls in LATER_CALLS.items():
            for level, category, count in calls:
                month = OPENING_MONTH.get((year, level, category), 3)
                chosen = fixed.get((year, level, category), [])
                for org, title, award, options in chosen:
                    self.funded(year, level, category, org, title, award, options, month)
                for _index in range(count - len(chosen)):
                    cluster = self.pick_cluster()
                    org = self.rng.choice(CLUSTER_ORGS[cluster])
                    fate = "pass"
                    if year <= 2023:
                        draw = self.rng.random()
                        fate = "fail" if draw < 0.04 else ("rectify" if draw < 0.12 else "pass")
                    self.funded(
                        year,
                        level,
                        category,
                        org,
                        None,
                        self.random_award(level),
                        {"fate": fate},
                        month,
                    )
        for plan in list(self.calls.values()):
            self.unsuccessful(plan, plan.approvals)
        self.pipeline()
        self.finish_calls()

    def write(self) -> None:
        self.batch.write()
        for year, last in self.numbers.items():
            counter = db.session.get(ProjectCodeCounter, year)
            if counter is None:
                db.session.add(ProjectCodeCounter(year=year, last=last))
            elif counter.last < last:
                counter.last = last
        db.session.flush()


def category_label(category: str) -> str:
    return {
        "equipment": "设备费",
        "business": "业务费",
        "labour": "劳务费",
        "indirect": "间接费用",
    }[category]
