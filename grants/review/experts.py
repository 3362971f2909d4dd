"""The expert pool: records, accounts, the expert's own profile, declared relations, xlsx import.

Every function flushes and leaves the commit to the request. Each change is audited.
An expert's e-mail address links the record to a user account: an existing account
gets the ``expert`` role, otherwise an account is created and its holder receives a
link to choose a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import g, has_app_context, has_request_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from grants.accounts import operations as account_ops
from grants.accounts.models import User
from grants.core import audit
from grants.core.refusals import OperationError
from grants.core.xlsx import Column, ImportFileError, ImportLimits, WorkbookWriter, read_rows
from grants.extensions import db
from grants.orgs import uscc
from grants.orgs.models import IndustryCluster, Organisation
from grants.orgs.operations import uscc_problem as problem
from grants.review.assignments import recheck_expert
from grants.review.conflicts import normalise_org_name, person_key
from grants.review.models import RELATION_KINDS, Expert, ExpertRelation


def expert_for_user(user) -> Expert | None:
    """The active expert record linked to ``user``'s account, if any.

    Within a request the answer is kept: the permission rule, the view and the navigation
    all ask. Any flush or rollback of the session forgets it.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not has_request_context():
        return _active_expert(user.id)
    known = g.setdefault(_EXPERTS_OF_USERS, {})
    if user.id not in known:
        known[user.id] = _active_expert(user.id)
    return known[user.id]


_EXPERTS_OF_USERS = "grants_experts_of_users"


def _active_expert(user_id: int) -> Expert | None:
    return db.session.scalar(
        sa.select(Expert).where(Expert.user_id == user_id, Expert.active.is_(True))
    )


@sa.event.listens_for(Session, "after_flush")
@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_experts_of_users(session, *args) -> None:
    if has_app_context():
        g.pop(_EXPERTS_OF_USERS, None)


class ExpertError(OperationError, ValueError):
    """A refused pool operation; ``field`` names the form field at fault."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


EXPERT_FIELDS = (
    "name",
    "title",
    "employer_name",
    "employer_uscc",
    "employer_id",
    "keywords",
    "email",
    "phone",
    "active",
    "max_load",
)
_KEYWORD_SEPARATORS = re.compile(r"[,，、;；\n\r]+")


def split_keywords(text: str | None) -> list[str]:
    """Keywords typed with commas or 、 (also ; and new lines), trimmed, without repeats."""
    words: list[str] = []
    seen: set[str] = set()
    for word in (w.strip() for w in _KEYWORD_SEPARATORS.split(text or "")):
        if word and word.lower() not in seen:
            seen.add(word.lower())
            words.append(word[:50])
    return words


def join_keywords(words: list[str]) -> str:
    return "、".join(words)


def uscc_problem(code: str) -> str | None:
    return problem(code)


def organisation_with_uscc(code: str) -> Organisation | None:
    """The registered organisation with this (valid) code, if any."""
    return db.session.scalar(sa.select(Organisation).where(Organisation.uscc == uscc.compact(code)))


def clusters_by_ids(ids) -> list[IndustryCluster]:
    ids = {int(i) for i in ids or ()}
    if not ids:
        return []
    return db.session.scalars(
        sa.select(IndustryCluster)
        .where(IndustryCluster.id.in_(ids))
        .order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()


def _snapshot(expert: Expert) -> dict:
    data = {k: getattr(expert, k) for k in EXPERT_FIELDS}
    data["clusters"] = sorted(c.code for c in expert.clusters)
    data["user_id"] = expert.user_id
    return data


def _changes(before: dict, after: dict) -> tuple[dict, dict]:
    changed = [k for k in after if after[k] != before.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _set_employer(expert: Expert, employer_name: str, employer_uscc: str | None) -> None:
    """The employer's name and code; a code registered here links the organisation."""
    code = uscc.compact(employer_uscc or "") or None
    organisation = None
    if code:
        problem = uscc_problem(code)
        if problem:
            raise ExpertError(problem, "employer_uscc")
        organisation = organisation_with_uscc(code)
    expert.employer_uscc = code
    expert.employer_id = organisation.id if organisation else None
    expert.employer_name = (employer_name or "").strip()[:200] or (
        organisation.name if organisation else ""
    )


def _check_email_free(email: str, expert: Expert) -> None:
    stmt = sa.select(Expert).where(sa.func.lower(Expert.email) == email)
    if expert.id is not None:
        stmt = stmt.where(Expert.id != expert.id)
    other = db.session.scalars(stmt.limit(1)).first()
    if other is not None:
        raise ExpertError(
            _l("The expert %(name)s already has this e-mail address.", name=other.name), "email"
        )


def link_account(expert: Expert, actor) -> None:
    """Link the expert to the account of their e-mail address, creating it if needed.

    An existing account gets the ``expert`` role added; a new one is created with that
    role and no password, so that its holder receives a link to choose one. Without an
    e-mail address the record stays without an account.
    """
    email = account_ops.normalise_email(expert.email)
    previous = expert.user_id
    if not email:
        if previous is not None:
            expert.user = None
            db.session.flush()
            audit.record(
                "expert.account_unlinked", expert, actor=actor, before={"user_id": previous}
            )
        return
    user = account_ops.find_user(email)
    if user is None:
        user = account_ops.create_user(
            email=email, name=expert.name, roles=["expert"], phone=expert.phone, actor=actor
        )
    else:
        holder = db.session.scalar(
            sa.select(Expert).where(Expert.user_id == user.id, Expert.id != expert.id)
        )
        if holder is not None:
            raise ExpertError(
                _l(
                    "The account %(email)s already belongs to the expert %(name)s.",
                    email=email,
                    name=holder.name,
                ),
                "email",
            )
        if "expert" not in user.role_names:
            account_ops.set_roles(user, user.role_names | {"expert"}, actor)
    if user.id != previous:
        expert.user = user
        db.session.flush()
        audit.record(
            "expert.account_linked",
            expert,
            actor=actor,
            before={"user_id": previous},
            after={"user_id": user.id, "email": email},
        )


def _apply(expert: Expert, data: dict) -> None:
    name = (data.get("name") or "").strip()
    if not name:
        raise ExpertError(_l("Give the expert's name."), "name")
    expert.name = name[:100]
    expert.title = (data.get("title") or "").strip()[:100]
    _set_employer(expert, data.get("employer_name") or "", data.get("employer_uscc"))
    expert.keywords = join_keywords(split_keywords(data.get("keywords")))
    email = account_ops.normalise_email(data.get("email") or "")
    if email:
        _check_email_free(email, expert)
    expert.email = email
    expert.phone = (data.get("phone") or "").strip()[:40]
    expert.active = bool(data.get("active", True))
    expert.max_load = data.get("max_load")
    expert.clusters = clusters_by_ids(data.get("cluster_ids"))


def create_expert(data: dict, actor) -> Expert:
    """Add an expert to the pool by hand and link (or create) their account."""
    expert = Expert()
    _apply(expert, data)
    db.session.add(expert)
    db.session.flush()
    link_account(expert, actor)
    audit.record("expert.created", expert, actor=actor, after=_snapshot(expert))
    return expert


def update_expert(expert: Expert, data: dict, actor) -> None:
    """Change an expert's record; a new e-mail address links the expert to that address's account."""
    before = _snapshot(expert)
    _apply(expert, data)
    db.session.flush()
    if expert.email != before["email"] or (expert.email and expert.user_id is None):
        link_account(expert, actor)
    old, new = _changes(before, _snapshot(expert))
    if new:
        audit.record("expert.updated", expert, actor=actor, before=old, after=new)


# --- the expert's own profile ---------------------------------------------------------------


def update_own_profile(
    expert: Expert, *, title: str, keywords: str, cluster_ids, phone: str, actor
) -> None:
    """The expert keeps their title, keywords, clusters and phone up to date."""
    before = _snapshot(expert)
    expert.title = (title or "").strip()[:100]
    expert.keywords = join_keywords(split_keywords(keywords))
    expert.clusters = clusters_by_ids(cluster_ids)
    expert.phone = (phone or "").strip()[:40]
    db.session.flush()
    old, new = _changes(before, _snapshot(expert))
    if new:
        audit.record("expert.profile_updated", expert, actor=actor, before=old, after=new)


def add_relation(
    expert: Expert,
    *,
    kind: str,
    organisation_uscc: str = "",
    organisation_name: str = "",
    note: str = "",
    since: date | None = None,
    until: date | None = None,
    actor,
) -> ExpertRelation:
    """Declare a relation with an organisation, named by its credit code or by its name.

    A code or an exact name registered here links the organisation itself, so that its
    applications are blocked for the expert; any other name is compared by resemblance.
    Open assignments that the declaration now forbids are withdrawn and the bureau told.
    """
    if kind not in RELATION_KINDS:
        raise ExpertError(_l("Choose the kind of relation."), "kind")
    if since and until and until < since:
        raise ExpertError(_l("The end date is before the start date."), "until")
    name = (organisation_name or "").strip()[:200]
    code = uscc.compact(organisation_uscc or "")
    organisation = None
    if code:
        problem = uscc_problem(code)
        if problem:
            raise ExpertError(problem, "organisation_uscc")
        organisation = organisation_with_uscc(code)
        if organisation is None and not name:
            raise ExpertError(
                _l("No organisation with this code is registered here: type its name as well."),
                "organisation_name",
            )
    elif not name:
        raise ExpertError(
            _l("Name the organisation, or give its unified social credit code."),
            "organisation_name",
        )
    if organisation is None and name:
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.name == name).limit(1)
        )
    relation = ExpertRelation(
        kind=kind,
        organisation_id=organisation.id if organisation else None,
        organisation_name=organisation.name if organisation else name,
        note=(note or "").strip()[:500],
        since=since,
        until=until,
    )
    expert.relations.append(relation)
    db.session.flush()
    audit.record(
        "expert.relation_declared",
        expert,
        actor=actor,
        after={
            "relation_id": relation.id,
            "kind": kind,
            "organisation_id": relation.organisation_id,
            "organisation_name": relation.organisation_name,
            "uscc": code or None,
            "since": str(since) if since else None,
            "until": str(until) if until else None,
        },
    )

    recheck_expert(expert, actor)
    return relation


def remove_relation(relation: ExpertRelation, actor) -> None:
    """Withdraw a declared relation (the declaration stays in the audit log).

    A relation recorded from the expert's membership of an organisation is a fact, not a
    declaration: it cannot be removed.
    """
    if relation.source == "membership":
        raise ExpertError(
            _l(
                "This relation was recorded when your account joined the organisation: "
                "it cannot be removed."
            )
        )
    expert = relation.expert
    audit.record(
        "expert.relation_removed",
        expert,
        actor=actor,
        before={
            "relation_id": relation.id,
            "kind": relation.kind,
            "organisation_id": relation.organisation_id,
            "organisation_name": relation.organisation_name,
        },
    )
    expert.relations.remove(relation)
    db.session.flush()


def profile_gaps(expert: Expert) -> list[str]:
    """What the expert's profile lacks: ``relations`` declared, ``keywords``."""
    gaps = []
    if not expert.relations:
        gaps.append("relations")
    if not expert.keyword_list:
        gaps.append("keywords")
    return gaps


# --- xlsx import -------------------------------------------------------------------------------

IMPORT_COLUMNS = (
    ("name", "姓名"),
    ("title", "职称"),
    ("employer_name", "工作单位"),
    ("employer_uscc", "统一社会信用代码"),
    ("clusters", "产业集群"),
    ("keywords", "关键词"),
    ("email", "电子邮箱"),
    ("phone", "电话"),
    ("active", "是否启用"),
)
IMPORT_HEADERS = tuple(header for _key, header in IMPORT_COLUMNS)
HEADER_OF = dict(IMPORT_COLUMNS)
_CLUSTER_SEPARATORS = re.compile(r"[,，、;；\s]+")
YES, NO = "是", "否"


@dataclass(frozen=True)
class RowError:
    """A problem in the uploaded sheet: row number as Excel shows it (0 for the file), column, message."""

    row: int
    column: str
    message: str


class ImportRefused(ValueError):
    """The sheet has errors; nothing was imported."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    experts: list[Expert] = field(default_factory=list)


def import_template() -> bytes:
    """An empty xlsx with the header row, a 是/否 list for 是否启用 and a sheet of instructions."""
    widths = (12, 14, 32, 22, 24, 32, 28, 16, 10)
    book = WorkbookWriter()
    sheet = book.sheet("专家", [Column(h, w) for h, w in zip(IMPORT_HEADERS, widths, strict=True)])
    for number in (4, 7, 8):
        sheet.text_column(number)
    sheet.choice_list(len(IMPORT_HEADERS), (YES, NO), 2, ImportLimits.from_config().max_rows + 1)
    notes = book.sheet(gettext("Instructions"), [Column("", 20), Column("", 90)], header=False)
    clusters = "、".join(c.name_zh for c in _active_clusters())
    for header, text in (
        ("姓名", gettext("Required.")),
        (
            "统一社会信用代码",
            gettext("Optional; 18 characters. A code registered here links the employer."),
        ),
        (
            "产业集群",
            gettext(
                "Names of industry clusters separated by 、 or commas: %(names)s", names=clusters
            ),
        ),
        ("关键词", gettext("Keywords separated by 、 or commas.")),
        (
            "电子邮箱",
            gettext(
                "Links the expert to an account; a new account receives a link to choose a password."
            ),
        ),
        (
            "是否启用",
            gettext("是 or 否; empty means 是 for a new expert and no change for an existing one."),
        ),
        (
            "",
            gettext(
                "Existing experts are matched by e-mail, else by name and employer; empty cells leave "
                "their data unchanged. If any row has an error, nothing is imported."
            ),
        ),
    ):
        notes.row([header, text])
    return book.to_bytes()


def _active_clusters() -> list[IndustryCluster]:
    return db.session.scalars(
        sa.select(IndustryCluster)
        .where(IndustryCluster.active.is_(True))
        .order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_sheet(data) -> list[tuple[int, dict[str, str]]]:
    """The rows of the first sheet as (Excel row number, {field: text}); raises ImportRefused.

    The file is read within the ``IMPORT_*`` limits by :func:`grants.core.xlsx.read_rows`."""
    try:
        rows = read_rows(data, ImportLimits.from_config())
    except ImportFileError as exc:
        raise ImportRefused([RowError(0, "", exc.message)]) from None
    if not rows or rows[0][0] != 1:
        rows = [(1, ()), *rows]
    header = [_cell_text(v) for v in rows[0][1]]
    columns = {text: n for n, text in enumerate(header) if text}
    if HEADER_OF["name"] not in columns:
        raise ImportRefused(
            [
                RowError(
                    1,
                    "",
                    gettext(
                        "The first row must hold the column headers of the template: %(headers)s.",
                        headers="、".join(IMPORT_HEADERS),
                    ),
                )
            ]
        )
    result = []
    for number, values in rows[1:]:
        texts = {
            key: _cell_text(values[columns[title]])
            if title in columns and columns[title] < len(values)
            else ""
            for key, title in IMPORT_COLUMNS
        }
        if any(texts.values()):
            result.append((number, texts))
    return result


@dataclass
class _Row:
    number: int
    values: dict
    clusters: list[IndustryCluster] | None
    active: bool | None
    expert: Expert | None = None


def _check_row(
    number: int, texts: dict, clusters_by_name: dict, inactive_names: set
) -> tuple[_Row, list[RowError]]:
    errors = []

    def error(key: str, message: str) -> None:
        errors.append(RowError(number, HEADER_OF[key], message))

    limits = {"name": 100, "title": 100, "employer_name": 200, "phone": 40, "email": 255}
    if not texts["name"]:
        error("name", gettext("The name is required."))
    for key, limit in limits.items():
        if len(texts[key]) > limit:
            error(key, gettext("At most %(max)d characters.", max=limit))
    if texts["employer_uscc"]:
        problem = uscc_problem(texts["employer_uscc"])
        if problem:
            error("employer_uscc", problem)
    clusters = None
    if texts["clusters"]:
        clusters = []
        for name in (n for n in _CLUSTER_SEPARATORS.split(texts["clusters"]) if n):
            cluster = clusters_by_name.get(name.lower())
            if cluster is not None:
                if cluster not in clusters:
                    clusters.append(cluster)
            elif name.lower() in inactive_names:
                error(
                    "clusters",
                    gettext("The industry cluster “%(name)s” is no longer in use.", name=name),
                )
            else:
                error(
                    "clusters",
                    gettext(
                        "Unknown industry cluster “%(name)s”. Use one of: %(names)s.",
                        name=name,
                        names="、".join(
                            c.name_zh for c in dict.fromkeys(clusters_by_name.values())
                        ),
                    ),
                )
    if texts["email"]:
        try:
            validate_email(texts["email"], check_deliverability=False)
        except EmailNotValidError:
            error(
                "email", gettext("“%(email)s” is not a valid e-mail address.", email=texts["email"])
            )
    active = None
    if texts["active"]:
        if texts["active"] in (YES, NO):
            active = texts["active"] == YES
        else:
            error("active", gettext("Write 是 or 否."))
    return _Row(number, texts, clusters, active), errors


def _match_key(name: str, employer: str) -> tuple[str, str]:
    return person_key(name), normalise_org_name(employer)


def _validate(rows: list[tuple[int, dict]]) -> list[_Row]:
    """Check every row and find the experts they update; raises ImportRefused listing every problem."""
    clusters = db.session.scalars(sa.select(IndustryCluster)).all()
    clusters_by_name = {}
    for cluster in clusters:
        if cluster.active:
            clusters_by_name[cluster.name_zh.lower()] = cluster
            clusters_by_name[cluster.code.lower()] = cluster
    inactive_names = {c.name_zh.lower() for c in clusters if not c.active}
    experts = db.session.scalars(sa.select(Expert)).all()
    by_email = {e.email.lower(): e for e in experts if e.email}
    by_key: dict[tuple[str, str], list[Expert]] = {}
    for expert in experts:
        by_key.setdefault(_match_key(expert.name, expert.employer_name), []).append(expert)
    emails = {account_ops.normalise_email(t["email"]) for _n, t in rows if t["email"]}
    users = (
        {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(emails)))}
        if emails
        else {}
    )
    expert_of_user = {e.user_id: e for e in experts if e.user_id is not None}

    checked, errors = [], []
    seen_emails: dict[str, int] = {}
    seen_keys: dict[tuple[str, str], int] = {}
    for number, texts in rows:
        row, row_errors = _check_row(number, texts, clusters_by_name, inactive_names)
        errors.extend(row_errors)
        email = account_ops.normalise_email(texts["email"])
        key = _match_key(texts["name"], texts["employer_name"])
        if email and email in seen_emails:
            errors.append(
                RowError(
                    number,
                    HEADER_OF["email"],
                    gettext("Row %(row)d already has this e-mail address.", row=seen_emails[email]),
                )
            )
        elif not email and key in seen_keys:
            errors.append(
                RowError(
                    number,
                    HEADER_OF["name"],
                    gettext("Row %(row)d already has this name and employer.", row=seen_keys[key]),
                )
            )
        if email:
            seen_emails.setdefault(email, number)
        seen_keys.setdefault(key, number)
        if email and email in by_email:
            row.expert = by_email[email]
        elif texts["name"]:
            matches = by_key.get(key, [])
            if len(matches) > 1:
                errors.append(
                    RowError(
                        number,
                        HEADER_OF["name"],
                        gettext(
                            "Several experts in the pool have this name and employer: give the e-mail address."
                        ),
                    )
                )
            elif matches:
                row.expert = matches[0]
                if email and matches[0].email and matches[0].email != email:
                    row.expert = None  # a namesake with another address is another person
        if email and email in users:
            holder = expert_of_user.get(users[email].id)
            if holder is not None and holder is not row.expert:
                errors.append(
                    RowError(
                        number,
                        HEADER_OF["email"],
                        gettext(
                            "The account %(email)s already belongs to the expert %(name)s.",
                            email=email,
                            name=holder.name,
                        ),
                    )
                )
        checked.append(row)
    if errors:
        raise ImportRefused(errors)
    return checked


def _row_data(row: _Row, expert: Expert | None) -> dict:
    """The row as data for :func:`_apply`; for an existing expert an empty cell keeps the value."""
    texts = row.values
    current = _snapshot(expert) if expert else {}

    def value(key: str):
        return texts[key] or (current.get(key) if expert else "")

    data = {
        key: value(key) for key in ("name", "title", "employer_name", "keywords", "email", "phone")
    }
    data["employer_uscc"] = texts["employer_uscc"] or (expert.employer_uscc if expert else None)
    if (
        expert is not None
        and not texts["employer_uscc"]
        and texts["employer_name"]
        and texts["employer_name"] != expert.employer_name
    ):
        data["employer_uscc"] = (
            None  # a new employer without a code: the old code no longer applies
        )
    data["active"] = row.active if row.active is not None else (expert.active if expert else True)
    data["max_load"] = expert.max_load if expert else None
    clusters = (
        row.clusters if row.clusters is not None else (list(expert.clusters) if expert else [])
    )
    data["cluster_ids"] = [c.id for c in clusters]
    return data


def import_experts(data, actor, *, filename: str = "") -> ImportResult:
    """Import the experts of an uploaded workbook: every row, or none.

    Each row is checked first (name, credit code, cluster names, e-mail, 是/否, repeats);
    any error raises :class:`ImportRefused` listing them all and nothing changes. Rows
    update the expert with the same e-mail address, else the one with the same name and
    employer, else add a new expert.
    """
    rows = _validate(read_sheet(data))
    result = ImportResult()
    errors = []
    for row in rows:
        try:
            with db.session.begin_nested():
                if row.expert is None:
                    expert = create_expert(_row_data(row, None), actor)
                    result.added += 1
                else:
                    expert = row.expert
                    before = _snapshot(expert)
                    update_expert(expert, _row_data(row, expert), actor)
                    if _snapshot(expert) != before:
                        result.updated += 1
                    else:
                        result.unchanged += 1
                result.experts.append(expert)
        except (ExpertError, account_ops.AccountError) as exc:
            column = HEADER_OF.get(getattr(exc, "field", None) or "", "")
            errors.append(RowError(row.number, column, getattr(exc, "message", str(exc))))
    if errors:
        raise ImportRefused(errors)
    audit.record(
        "expert.imported",
        actor=actor,
        after={
            "file": filename[:200],
            "rows": len(rows),
            "added": result.added,
            "updated": result.updated,
            "unchanged": result.unchanged,
        },
    )
    return result
