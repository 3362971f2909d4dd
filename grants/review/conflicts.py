"""Conflicts of interest (回避) between experts and applications.

Conflicts are computed from the facts as they stand when asked: at invitation, automatic
assignment, acceptance of an invitation, opening the proposal, saving and submitting
scores, and in the acceptance panels. Nothing is cached on the assignment.

A **hard** conflict forbids the expert to review the application, whatever anyone
says: the expert's account belongs (``member``) or belonged within three years
(``past_member``) to the applicant organisation; the expert's account created the
application (``author``); the expert works for the applicant (same organisation id or
USCC); the expert has declared a current relation with the applicant organisation; the
expert is named on the applicant's list of excluded experts (不宜评审专家) with no
employer or the same employer; or a member of the application's team works for the
expert's employer (``team_member``: the same organisation name).

A **soft** flag is a resemblance the bureau must judge: the expert's employer, or an
organisation of a declared relation, has a name that equals, contains or is contained
in the applicant's name once both are normalised (``通化金马药业集团股份有限公司`` and
``金马药业``); an excluded-expert row gives the expert's name with another employer; a
team member's organisation resembles the expert's employer (``team_employer_name``); or
a team member has the expert's name (``team_name``).

A :class:`~grants.review.models.ConflictRuling` settles the soft flags of one pair:
``blocked`` turns them into hard conflicts, otherwise they are cleared. Rulings never
touch hard conflicts. After rulings, a pair with any conflict left must not be
assigned: a hard one, or a soft flag nobody has ruled on yet.

:func:`conflicts_for` judges one pair with plain lookups; :func:`conflict_matrix` judges
many pairs at once from indexes built by a fixed number of queries. Both give the same
lists (a test compares them on random instances).
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from grants.accounts.models import User
from grants.applications.models import Application, ApplicationState, TeamMember
from grants.core import audit
from grants.core.refusals import OperationError
from grants.core.timeutil import local_today
from grants.core.types import utcnow
from grants.extensions import db
from grants.orgs.models import Organisation
from grants.review.models import (
    RELATION_KINDS,
    ConflictRuling,
    ExcludedExpert,
    Expert,
    ExpertRelation,
)

# Applications in these states are (or have been) up for expert review.
REVIEWABLE_STATES = (
    ApplicationState.SUBMITTED,
    ApplicationState.UNDER_REVIEW,
    ApplicationState.REVIEWED,
    ApplicationState.APPROVED,
    ApplicationState.DECLINED,
    ApplicationState.CONTRACTED,
)
# A relation that ended more than this many years ago no longer conflicts.
RELATION_LOOKBACK_YEARS = 3
# The applicant may name at most this many experts who should not review (不宜评审专家).
MAX_EXCLUDED_EXPERTS = 3
# Containment between normalised names counts only when the shorter name has this many characters.
MIN_CONTAINED_LENGTH = 2

CONFLICT_KINDS = {
    "member": _l("Account belongs to the applicant"),
    "past_member": _l("Account belonged to the applicant"),
    "author": _l("Created the application"),
    "employer": _l("Employer is the applicant"),
    "relation": _l("Declared relation with the applicant"),
    "excluded": _l("Excluded by the applicant"),
    "employer_name": _l("Employer name resembles the applicant"),
    "relation_name": _l("Related organisation resembles the applicant"),
    "excluded_name": _l("Same name as an excluded expert"),
    "team_member": _l("A team member works for the expert's employer"),
    "team_employer_name": _l("A team member's organisation resembles the expert's employer"),
    "team_name": _l("A team member has the expert's name"),
}
_KIND_ORDER = {kind: n for n, kind in enumerate(CONFLICT_KINDS)}


REASONS = {
    "member": _l("The expert's account belongs to the applicant organisation %(org)s."),
    "past_member": _l(
        "The expert's account belonged to the applicant organisation %(org)s until %(until)s."
    ),
    "author": _l("The expert's account created this application."),
    "employer": _l("The expert works for the applicant, %(org)s."),
    "relation": _l("The expert declared a relation with the applicant %(org)s: %(kind)s."),
    "excluded": _l("The applicant asked that %(who)s not review this application: %(reason)s"),
    "employer_name": _l("The expert's employer “%(employer)s” resembles the applicant “%(org)s”."),
    "relation_name": _l(
        "The expert declared a relation (%(kind)s) with “%(related)s”, which resembles the "
        "applicant “%(org)s”."
    ),
    "excluded_name": _l(
        "The applicant excluded %(name)s of “%(employer)s”; this expert has the same name but "
        "works for “%(expert_employer)s”."
    ),
    "team_member": _l(
        "%(member)s of the application's team works for the expert's employer “%(employer)s”."
    ),
    "team_employer_name": _l(
        "%(member)s of the application's team works for “%(team_org)s”, which resembles "
        "the expert's employer “%(employer)s”."
    ),
    "team_name": _l(
        "%(member)s of the application's team (%(team_org)s) has the same name as the expert."
    ),
}


@dataclass(frozen=True)
class Conflict:
    """One reason why an expert should not review an application.

    ``hard`` conflicts cannot be overruled; ``ruled`` marks a soft flag that a bureau
    ruling has turned into a block. ``params`` fill the wording of ``reason``, which is
    translated only when read.
    """

    kind: str
    hard: bool
    params: tuple[tuple[str, str], ...]
    ruled: bool = False

    @property
    def reason(self) -> str:
        params = dict(self.params)
        if "kind" in params:
            params["kind"] = str(RELATION_KINDS.get(params["kind"], params["kind"]))
        return str(REASONS[self.kind]) % params

    @property
    def label(self) -> str:
        return str(CONFLICT_KINDS[self.kind])


class ConflictError(OperationError, ValueError):
    """A refused operation on exclusions or rulings; ``field`` names the form field at fault."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


# --- normalisation -----------------------------------------------------------------------

_PROVINCES = (
    "北京市",
    "天津市",
    "上海市",
    "重庆市",
    "河北省",
    "山西省",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "海南省",
    "四川省",
    "贵州省",
    "云南省",
    "陕西省",
    "甘肃省",
    "青海省",
    "台湾省",
    "内蒙古自治区",
    "广西壮族自治区",
    "西藏自治区",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
    "香港特别行政区",
    "澳门特别行政区",
)
_JILIN_CITIES = (
    "长春市",
    "吉林市",
    "四平市",
    "辽源市",
    "通化市",
    "白山市",
    "松原市",
    "白城市",
    "延边朝鲜族自治州",
    "梅河口市",
    "公主岭市",
    "集安市",
)
_TONGHUA_DISTRICTS = ("东昌区", "二道江区", "通化县", "辉南县", "柳河县")
_PLACE_PREFIXES = tuple(
    sorted(_PROVINCES + _JILIN_CITIES + _TONGHUA_DISTRICTS, key=len, reverse=True)
)
_LEGAL_FORMS = re.compile(
    "|".join(("股份有限公司", "有限责任公司", "有限公司", "集团", "股份", "公司", "有限"))
)
_SPACES_AND_MARKS = re.compile(r"[\s·・•.,，、;；:：\-–—_'\"“”‘’/&]+")
_BRACKETED = re.compile(r"[(\[{【〔〖「『][^()\[\]{}【】〔〕〖〗「」『』]*[)\]}】〕〗」』]")
_BRACKETS = re.compile(r"[()\[\]{}【】〔〕〖〗「」『』]")


@lru_cache(maxsize=65536)
def normalise_org_name(name: str | None) -> str:
    """A comparison key for an organisation name.

    NFKC (full-width to half-width) and lower case; spaces and punctuation dropped;
    bracketed parts dropped (``金马药业(通化)有限公司`` → ``金马药业``); province, city and
    district prefixes such as 吉林省 and 通化市 dropped while more text follows; the
    legal-form words 股份有限公司, 有限责任公司, 有限公司, 集团, 股份, 公司 and 有限 dropped.
    """
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = _SPACES_AND_MARKS.sub("", text)
    previous = None
    while previous != text:
        previous = text
        text = _BRACKETED.sub("", text) or previous
    text = _BRACKETS.sub("", text)
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PLACE_PREFIXES:
            if text.startswith(prefix) and len(text) > len(prefix):
                text = text[len(prefix) :]
                stripped = True
                break
    return _LEGAL_FORMS.sub("", text)


def person_key(name: str | None) -> str:
    """A comparison key for a person's name: NFKC, lower case, without spaces or middle dots."""
    return _SPACES_AND_MARKS.sub("", unicodedata.normalize("NFKC", name or "").lower())


def names_resemble(a: str, b: str) -> bool:
    """Whether two normalised names are equal, or the shorter (2+ characters) lies inside the longer."""
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return len(shorter) >= MIN_CONTAINED_LENGTH and shorter in longer


def relation_is_current(relation_until: date | None, today: date) -> bool:
    """A relation counts until three years after it ended (or for ever while it lasts)."""
    return relation_until is None or relation_until >= _years_before(today, RELATION_LOOKBACK_YEARS)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day - timedelta(days=365 * years)


# --- the conflicts (one construction for both ways of judging) ---------------------------------


def _conflict(kind: str, hard: bool, /, **params: str) -> Conflict:
    return Conflict(kind, hard, tuple(params.items()))


def _employer(org_name: str) -> Conflict:
    return _conflict("employer", True, org=org_name)


def _relation(kind: str, org_name: str) -> Conflict:
    return _conflict("relation", True, org=org_name, kind=kind)


def _excluded(name: str, employer: str, reason: str) -> Conflict:
    who = f"{name} ({employer})" if employer.strip() else name
    return _conflict("excluded", True, who=who, reason=reason or "—")


def _employer_name(employer: str, org_name: str) -> Conflict:
    return _conflict("employer_name", False, employer=employer, org=org_name)


def _relation_name(kind: str, related: str, org_name: str) -> Conflict:
    return _conflict("relation_name", False, kind=kind, related=related, org=org_name)


def _excluded_name(name: str, employer: str, expert_employer: str) -> Conflict:
    return _conflict(
        "excluded_name", False, name=name, employer=employer, expert_employer=expert_employer or "—"
    )


def _member(org_name: str) -> Conflict:
    return _conflict("member", True, org=org_name)


def _past_member(org_name: str, until: date) -> Conflict:
    return _conflict("past_member", True, org=org_name, until=until.isoformat())


def _author() -> Conflict:
    return _conflict("author", True)


def _membership(org_name: str, until: date | None) -> Conflict:
    """The conflict of a membership relation: current while it has no end (the day the account left), past after."""
    return _member(org_name) if until is None else _past_member(org_name, until)


def _team_member(member: str, employer: str) -> Conflict:
    return _conflict("team_member", True, member=member, employer=employer)


def _team_employer_name(member: str, team_org: str, employer: str) -> Conflict:
    return _conflict(
        "team_employer_name", False, member=member, team_org=team_org, employer=employer
    )


def _team_name(member: str, team_org: str) -> Conflict:
    return _conflict("team_name", False, member=member, team_org=team_org or "—")


def exact_org_key(name: str | None) -> str:
    """The organisation name as written, without spaces, punctuation or case (same organisation, same key)."""
    return person_key(name)


def _team_rows(team, org_name: str) -> list[tuple[str, str]]:
    """(name, organisation) of the team members who are not the applicant's own staff."""
    org_key = normalise_org_name(org_name)
    return [
        (name, team_org or "")
        for name, team_org in team
        if not (team_org and normalise_org_name(team_org) == org_key)
    ]


def _team_conflicts(team_rows, expert_name: str, employer_name: str) -> list[Conflict]:
    """The team conflicts of one expert (the single-pair rules)."""
    found = []
    employer_exact, employer_key = exact_org_key(employer_name), normalise_org_name(employer_name)
    for name, team_org in team_rows:
        if employer_exact and exact_org_key(team_org) == employer_exact:
            found.append(_team_member(name, employer_name))
        elif names_resemble(normalise_org_name(team_org), employer_key):
            found.append(_team_employer_name(name, team_org, employer_name))
        if person_key(name) and person_key(name) == person_key(expert_name):
            found.append(_team_name(name, team_org))
    return found


def _finish(found: Iterable[Conflict], blocked: bool | None, apply_rulings: bool) -> list[Conflict]:
    """Deduplicate and order the conflicts of a pair, then apply the pair's ruling."""
    conflicts = sorted(set(found), key=lambda c: (_KIND_ORDER[c.kind], c.params))
    if not apply_rulings or blocked is None:
        return conflicts
    if blocked:
        return [c if c.hard else replace(c, hard=True, ruled=True) for c in conflicts]
    return [c for c in conflicts if c.hard]


def _relation_names(registered: str | None, typed: str | None) -> list[str]:
    names = []
    for name in (registered, typed):
        if name and name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names


def _excluded_conflict(
    row_name: str, row_employer: str, row_reason: str, expert_employer: str
) -> Conflict:
    row_key = normalise_org_name(row_employer)
    if not row_key or row_key == normalise_org_name(expert_employer):
        return _excluded(row_name, row_employer, row_reason)
    return _excluded_name(row_name, row_employer, expert_employer)


# --- one pair ------------------------------------------------------------------------------


def conflicts_for(
    expert: Expert, application, *, apply_rulings: bool = True, today: date | None = None
) -> list[Conflict]:
    """The conflicts between ``expert`` and ``application``, rulings applied unless told otherwise.

    An empty list means the expert may review the application.
    """
    today = today or local_today()
    org = application.organisation
    org_key = normalise_org_name(org.name)
    found: list[Conflict] = []
    user = expert.user if expert.user_id is not None else None
    if user is not None and user.organisation_id is not None and user.organisation_id == org.id:
        found.append(_member(org.name))
    if expert.user_id is not None and application.created_by_id == expert.user_id:
        found.append(_author())
    if (expert.employer_id is not None and expert.employer_id == org.id) or (
        expert.employer_uscc and expert.employer_uscc == org.uscc
    ):
        found.append(_employer(org.name))
    elif names_resemble(normalise_org_name(expert.employer_name), org_key):
        found.append(_employer_name(expert.employer_name, org.name))
    for relation in expert.relations:
        if not relation_is_current(relation.until, today):
            continue
        if relation.organisation_id is not None and relation.organisation_id == org.id:
            found.append(
                _membership(org.name, relation.until)
                if relation.source == "membership"
                else _relation(relation.kind, org.name)
            )
            continue
        registered = relation.organisation.name if relation.organisation is not None else None
        for name in _relation_names(registered, relation.organisation_name):
            if names_resemble(normalise_org_name(name), org_key):
                found.append(_relation_name(relation.kind, name, org.name))
    rows = db.session.scalars(
        sa.select(ExcludedExpert)
        .where(ExcludedExpert.application_id == application.id)
        .order_by(ExcludedExpert.id)
    ).all()
    for row in rows:
        if person_key(row.name) and person_key(row.name) == person_key(expert.name):
            found.append(
                _excluded_conflict(row.name, row.employer_name, row.reason, expert.employer_name)
            )
    team = _team_rows([(m.name, m.organisation_name) for m in application.team], org.name)
    found.extend(_team_conflicts(team, expert.name, expert.employer_name))
    blocked = db.session.scalar(
        sa.select(ConflictRuling.blocked).where(
            ConflictRuling.application_id == application.id, ConflictRuling.expert_id == expert.id
        )
    )
    return _finish(found, blocked, apply_rulings)


def is_blocked(expert: Expert, application) -> bool:
    """Whether the expert may not be assigned: a hard conflict, a blocked flag or an unruled soft flag."""
    return bool(conflicts_for(expert, application))


# --- many pairs ----------------------------------------------------------------------------

CHUNK = 500


def _identity(obj) -> int:
    """The primary key of an object (or an id given as such) without loading expired attributes."""
    if isinstance(obj, int):
        return obj
    identity = sa.inspect(obj).identity
    return identity[0] if identity else obj.id


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _rows(stmt_for, ids: list[int]) -> list:
    """Rows of ``stmt_for(chunk)`` over ``ids`` in chunks (bounded IN lists)."""
    rows = []
    for chunk in _chunks(ids):
        rows.extend(db.session.execute(stmt_for(chunk)).all())
    return rows


def _substrings(text: str) -> set[str]:
    return {
        text[i:j] for i in range(len(text)) for j in range(i + MIN_CONTAINED_LENGTH, len(text) + 1)
    }


@dataclass
class _ExpertIndex:
    """The expert side of the matrix, indexed for lookups by organisation and by name."""

    employer_by_id: dict[int, list[int]]
    employer_by_uscc: dict[str, list[int]]
    employer_name: dict[int, str]
    # organisation id -> [(expert id, kind, source, until)]
    relations_by_org: dict[int, list[tuple]]
    # normalised name -> [(expert id, source)], source ("employer",) or ("relation", org id, kind, name)
    by_key: dict[str, list[tuple[int, tuple]]]
    containing: dict[str, set[str]]
    by_person: dict[str, list[int]]
    member_by_org: dict[int, list[int]]
    by_user: dict[int, int]
    employer_exact: dict[str, list[int]]


def _index_experts(expert_ids: list[int], today: date) -> _ExpertIndex:
    experts = _rows(
        lambda chunk: (
            sa.select(
                Expert.id,
                Expert.name,
                Expert.employer_id,
                Expert.employer_uscc,
                Expert.employer_name,
                Expert.user_id,
                User.organisation_id,
            )
            .outerjoin(User, User.id == Expert.user_id)
            .where(Expert.id.in_(chunk))
        ),
        expert_ids,
    )

    relations = _rows(
        lambda chunk: (
            sa.select(
                ExpertRelation.expert_id,
                ExpertRelation.kind,
                ExpertRelation.organisation_id,
                ExpertRelation.organisation_name,
                ExpertRelation.until,
                ExpertRelation.source,
                Organisation.name,
            )
            .outerjoin(Organisation, Organisation.id == ExpertRelation.organisation_id)
            .where(ExpertRelation.expert_id.in_(chunk))
        ),
        expert_ids,
    )
    index = _ExpertIndex(
        defaultdict(list),
        defaultdict(list),
        {},
        defaultdict(list),
        defaultdict(list),
        {},
        defaultdict(list),
        defaultdict(list),
        {},
        defaultdict(list),
    )
    for expert_id, name, employer_id, employer_uscc, employer_name, user_id, user_org_id in experts:
        index.employer_name[expert_id] = employer_name or ""
        if user_id is not None:
            index.by_user[user_id] = expert_id
        if user_org_id is not None:
            index.member_by_org[user_org_id].append(expert_id)
        if exact_org_key(employer_name):
            index.employer_exact[exact_org_key(employer_name)].append(expert_id)
        if employer_id is not None:
            index.employer_by_id[employer_id].append(expert_id)
        if employer_uscc:
            index.employer_by_uscc[employer_uscc].append(expert_id)
        key = normalise_org_name(employer_name)
        if key:
            index.by_key[key].append((expert_id, ("employer",)))
        if person_key(name):
            index.by_person[person_key(name)].append(expert_id)
    for expert_id, kind, org_id, typed, until, source, registered in relations:
        if not relation_is_current(until, today):
            continue
        if org_id is not None:
            index.relations_by_org[org_id].append((expert_id, kind, source, until))
        for name in _relation_names(registered, typed):
            key = normalise_org_name(name)
            if key:
                index.by_key[key].append((expert_id, ("relation", org_id, kind, name)))
    containing: dict[str, set[str]] = defaultdict(set)
    for key in index.by_key:
        for part in _substrings(key):
            containing[part].add(key)
    index.containing = containing
    return index


def _resembling_keys(org_key: str, index: _ExpertIndex) -> set[str]:
    """The experts' name keys that equal, contain or lie inside ``org_key``."""
    if not org_key:
        return set()
    keys = set(index.containing.get(org_key, ()) if len(org_key) >= MIN_CONTAINED_LENGTH else ())
    if org_key in index.by_key:
        keys.add(org_key)
    keys.update(part for part in _substrings(org_key) if part in index.by_key)
    return keys


def conflict_matrix(
    applications, experts, *, apply_rulings: bool = True, today: date | None = None
) -> dict[tuple[int, int], list[Conflict]]:
    """The conflicts of every (application id, expert id) pair that has any.

    Pairs without a conflict (or whose soft flags the bureau allowed) are absent: a pair
    absent from the result may be assigned. Objects or ids are accepted; a fixed number
    of queries loads everything, whatever the number of pairs.
    """
    today = today or local_today()
    app_ids = sorted({_identity(a) for a in applications})
    expert_ids = sorted({_identity(e) for e in experts})
    if not app_ids or not expert_ids:
        return {}
    wanted_experts = set(expert_ids)
    index = _index_experts(expert_ids, today)

    apps = _rows(
        lambda chunk: (
            sa.select(
                Application.id,
                Organisation.id,
                Organisation.name,
                Organisation.uscc,
                Application.created_by_id,
            )
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Application.id.in_(chunk))
        ),
        app_ids,
    )
    teams: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for app_id, name, team_org in _rows(
        lambda chunk: (
            sa.select(TeamMember.application_id, TeamMember.name, TeamMember.organisation_name)
            .where(TeamMember.application_id.in_(chunk))
            .order_by(TeamMember.position, TeamMember.id)
        ),
        app_ids,
    ):
        teams[app_id].append((name, team_org))
    excluded: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for app_id, name, employer, reason in _rows(
        lambda chunk: (
            sa.select(
                ExcludedExpert.application_id,
                ExcludedExpert.name,
                ExcludedExpert.employer_name,
                ExcludedExpert.reason,
            )
            .where(ExcludedExpert.application_id.in_(chunk))
            .order_by(ExcludedExpert.id)
        ),
        app_ids,
    ):
        excluded[app_id].append((name, employer, reason))
    rulings = {
        (a, e): blocked
        for a, e, blocked in _rows(
            lambda chunk: sa.select(
                ConflictRuling.application_id, ConflictRuling.expert_id, ConflictRuling.blocked
            ).where(ConflictRuling.application_id.in_(chunk)),
            app_ids,
        )
        if e in wanted_experts
    }

    with _gc_paused():
        return _judge(apps, index, excluded, teams, rulings, apply_rulings, today)


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while many small objects are made (none form cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _judge(
    apps, index: _ExpertIndex, excluded, teams, rulings, apply_rulings: bool, today: date
) -> dict[tuple[int, int], list[Conflict]]:
    found: dict[tuple[int, int], list[Conflict]] = defaultdict(list)
    for app_id, org_id, org_name, org_uscc, created_by_id in apps:
        for expert_id in index.member_by_org.get(org_id, ()):
            found[app_id, expert_id].append(_member(org_name))
        if created_by_id is not None and created_by_id in index.by_user:
            found[app_id, index.by_user[created_by_id]].append(_author())
        hard_employer = set(index.employer_by_id.get(org_id, ())) | set(
            index.employer_by_uscc.get(org_uscc, ())
        )
        for expert_id in hard_employer:
            found[app_id, expert_id].append(_employer(org_name))
        for expert_id, kind, source, until in index.relations_by_org.get(org_id, ()):
            found[app_id, expert_id].append(
                _membership(org_name, until)
                if source == "membership"
                else _relation(kind, org_name)
            )
        for key in _resembling_keys(normalise_org_name(org_name), index):
            for expert_id, source in index.by_key[key]:
                if source[0] == "employer":
                    if expert_id not in hard_employer:
                        found[app_id, expert_id].append(
                            _employer_name(index.employer_name[expert_id], org_name)
                        )
                elif source[1] is None or source[1] != org_id:
                    found[app_id, expert_id].append(_relation_name(source[2], source[3], org_name))
        for name, employer, reason in excluded.get(app_id, ()):
            for expert_id in index.by_person.get(person_key(name), ()) if person_key(name) else ():
                found[app_id, expert_id].append(
                    _excluded_conflict(name, employer, reason, index.employer_name[expert_id])
                )
        for name, team_org in _team_rows(teams.get(app_id, ()), org_name):
            exact = (
                set(index.employer_exact.get(exact_org_key(team_org), ()))
                if exact_org_key(team_org)
                else set()
            )
            for expert_id in exact:
                found[app_id, expert_id].append(_team_member(name, index.employer_name[expert_id]))
            for key in _resembling_keys(normalise_org_name(team_org), index):
                for expert_id, source in index.by_key[key]:
                    if source[0] == "employer" and expert_id not in exact:
                        found[app_id, expert_id].append(
                            _team_employer_name(name, team_org, index.employer_name[expert_id])
                        )
            for expert_id in index.by_person.get(person_key(name), ()) if person_key(name) else ():
                found[app_id, expert_id].append(_team_name(name, team_org))
    matrix = {}
    for pair, conflicts in found.items():
        final = _finish(conflicts, rulings.get(pair), apply_rulings)
        if final:
            matrix[pair] = final
    return matrix


# --- the bureau's view of a call -----------------------------------------------------------


@dataclass
class PairConflicts:
    """The conflicts of one application and one expert, before rulings, with the ruling if any."""

    application: object
    expert: Expert
    conflicts: list[Conflict]
    ruling: ConflictRuling | None

    @property
    def hard(self) -> bool:
        return any(c.hard for c in self.conflicts)


def call_conflicts(call) -> tuple[list[PairConflicts], list[PairConflicts]]:
    """The soft-flagged pairs and the hard-conflicted pairs of a call's applications and active experts."""
    applications = db.session.scalars(
        sa.select(Application)
        .where(Application.call_id == call.id, Application.state.in_(REVIEWABLE_STATES))
        .options(selectinload(Application.organisation))
        .order_by(Application.reference_no, Application.id)
    ).all()
    experts = db.session.scalars(
        sa.select(Expert).where(Expert.active.is_(True)).order_by(Expert.name, Expert.id)
    ).all()
    matrix = conflict_matrix(applications, experts, apply_rulings=False)
    rulings = (
        {
            (r.application_id, r.expert_id): r
            for r in db.session.scalars(
                sa.select(ConflictRuling).where(
                    ConflictRuling.application_id.in_([a.id for a in applications])
                )
            )
        }
        if applications
        else {}
    )
    soft, hard = [], []
    for application in applications:
        for expert in experts:
            conflicts = matrix.get((application.id, expert.id))
            if not conflicts:
                continue
            pair = PairConflicts(
                application, expert, conflicts, rulings.get((application.id, expert.id))
            )
            (hard if pair.hard else soft).append(pair)
    return soft, hard


def excluded_by_application(application_ids: list[int]) -> dict[int, list[ExcludedExpert]]:
    """The excluded-expert rows of these applications."""
    rows: dict[int, list[ExcludedExpert]] = defaultdict(list)
    for chunk in _chunks(sorted(set(application_ids))):
        for row in db.session.scalars(
            sa.select(ExcludedExpert)
            .where(ExcludedExpert.application_id.in_(chunk))
            .order_by(ExcludedExpert.id)
        ):
            rows[row.application_id].append(row)
    return rows


def rule_conflict(
    application, expert: Expert, *, blocked: bool, reason: str, actor
) -> ConflictRuling:
    """The bureau blocks or allows a soft-flagged pair; a hard conflict cannot be ruled on.

    A second ruling replaces the first; both are in the audit log.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ConflictError(
            _l("Give the reason for the ruling: it is kept in the audit log."), "reason"
        )
    conflicts = conflicts_for(expert, application, apply_rulings=False)
    if any(c.hard for c in conflicts):
        raise ConflictError(
            _l(
                "%(name)s has a hard conflict with this application: it cannot be overruled.",
                name=expert.name,
            )
        )
    if not conflicts:
        raise ConflictError(
            _l("Nothing is flagged between %(name)s and this application.", name=expert.name)
        )
    ruling = db.session.scalar(
        sa.select(ConflictRuling).where(
            ConflictRuling.application_id == application.id, ConflictRuling.expert_id == expert.id
        )
    )
    before = {"blocked": ruling.blocked, "reason": ruling.reason} if ruling else None
    if ruling is None:
        ruling = ConflictRuling(application_id=application.id, expert_id=expert.id)
        db.session.add(ruling)
    ruling.blocked = blocked
    ruling.reason = reason[:500]
    ruling.decided_by_id = actor.id
    ruling.decided_at = utcnow()
    db.session.flush()
    audit.record(
        "conflict.ruled",
        ruling,
        actor=actor,
        before=before,
        after={
            "application_id": application.id,
            "expert_id": expert.id,
            "blocked": blocked,
            "reason": ruling.reason,
            "flags": [c.kind for c in conflicts],
        },
    )
    return ruling


# --- the applicant's excluded experts --------------------------------------------------------


def add_excluded_expert(
    application, *, name: str, employer_name: str, reason: str, actor
) -> ExcludedExpert:
    """Name an expert who should not review the application; at most three per application."""
    name, employer_name, reason = (
        (name or "").strip(),
        (employer_name or "").strip(),
        (reason or "").strip(),
    )
    if not name:
        raise ConflictError(_l("Give the expert's name."), "name")
    # Lock the application row so that two requests cannot both add a third expert.
    db.session.execute(
        sa.select(Application.id).where(Application.id == application.id).with_for_update()
    )
    rows = db.session.scalars(
        sa.select(ExcludedExpert).where(ExcludedExpert.application_id == application.id)
    ).all()
    if len(rows) >= MAX_EXCLUDED_EXPERTS:
        raise ConflictError(
            _l(
                "You can name at most %(max)d experts who should not review the application. "
                "Remove one to name another.",
                max=MAX_EXCLUDED_EXPERTS,
            ),
            "name",
        )
    if any(
        person_key(r.name) == person_key(name)
        and normalise_org_name(r.employer_name) == normalise_org_name(employer_name)
        for r in rows
    ):
        raise ConflictError(_l("%(name)s is already on the list.", name=name), "name")
    row = ExcludedExpert(
        application_id=application.id,
        name=name[:100],
        employer_name=employer_name[:200],
        reason=reason[:500],
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "application.expert_excluded",
        application,
        actor=actor,
        after={"name": row.name, "employer_name": row.employer_name, "reason": row.reason},
    )
    return row


def remove_excluded_expert(row: ExcludedExpert, application, actor) -> None:
    """Take an expert off the application's list of excluded experts."""
    audit.record(
        "application.expert_exclusion_removed",
        application,
        actor=actor,
        before={"name": row.name, "employer_name": row.employer_name, "reason": row.reason},
    )
    db.session.delete(row)
    db.session.flush()
