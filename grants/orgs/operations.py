"""Verbs on organisations: registration, profile, qualifications, figures, invitations, clusters.

Every function flushes and leaves the commit to the request. State changes of
invitations go through the workflow engine.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l

from grants.accounts import operations as account_ops
from grants.accounts.models import User, hash_token
from grants.accounts.passwords import hash_password
from grants.core import audit
from grants.core.links import external_url
from grants.core.permissions import can
from grants.core.refusals import OperationError
from grants.core.types import utcnow
from grants.core.workflow import transition
from grants.extensions import db
from grants.notifications.operations import queue_email
from grants.orgs import hooks, uscc
from grants.orgs.models import (
    IndustryCluster,
    Invitation,
    Organisation,
    PendingRegistration,
    Qualification,
    YearFigure,
)

PROFILE_FIELDS = (
    "name",
    "org_type",
    "cluster_id",
    "address",
    "legal_representative",
    "contact_name",
    "contact_phone",
    "founded_on",
)


class OrganisationError(OperationError, ValueError):
    """A refused organisation operation; ``field`` names the form field at fault."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


def uscc_problem(code: str) -> str | None:
    """A user-facing reason why ``code`` is not a valid USCC, or None."""
    try:
        uscc.validate(code)
    except uscc.USCCError as exc:
        return str(
            {
                "length": _l("The unified social credit code has 18 characters."),
                "format": _l(
                    "The code may hold digits and capital letters except I, O, S, V and Z; "
                    "characters 3 to 8 are digits (the region code)."
                ),
                "checksum": _l(
                    "The check character (the last one) does not match: please check the code."
                ),
            }[exc.reason]
        )
    return None


def holder_of(code: str) -> Organisation | None:
    """The organisation registered with this USCC, if any."""
    return db.session.scalar(sa.select(Organisation).where(Organisation.uscc == uscc.compact(code)))


def check_new_uscc(code: str, exclude_id: int | None = None) -> str:
    """The compact code if valid and free; raises OrganisationError naming the holder."""
    problem = uscc_problem(code)
    if problem:
        raise OrganisationError(problem, "uscc")
    compact = uscc.compact(code)
    holder = holder_of(compact)
    if holder is not None and holder.id != exclude_id:
        raise OrganisationError(
            _l(
                "This code is already registered by “%(name)s”. If you work there, ask a colleague "
                "who has an account to invite you.",
                name=holder.name,
            ),
            "uscc",
        )
    return compact


def start_registration(*, org: dict, person: dict) -> None:
    """Self-registration, step one: e-mail a confirmation link; nothing is created yet.

    The answer is the same whether or not the e-mail address has an account: for a new
    address a :class:`PendingRegistration` keeps the form (with the password's hash) and its
    link is e-mailed; for an address that has an account, its owner is told by e-mail that
    someone tried to register with it. Both paths hash the password and write one e-mail,
    so they take the same time. An invalid or already registered credit code is refused at
    once (it names an organisation, not a person).
    """
    code = check_new_uscc(org["uscc"])
    email = account_ops.normalise_email(person["email"])
    password_hash = hash_password(person["password"])
    existing = account_ops.find_user(email)
    if existing is not None:
        audit.record("registration.existing_email", existing, after={"email": email})
        _queue_existing_account_email(existing)
        return
    token = secrets.token_urlsafe(32)
    profile = {k: _plain(org.get(k)) for k in PROFILE_FIELDS if k in org}
    pending = PendingRegistration(
        token_hash=hash_token(token),
        email=email,
        data={
            "org": {**profile, "uscc": code},
            "person": {
                "name": (person.get("name") or "").strip(),
                "phone": person.get("phone") or "",
                "locale": person.get("locale"),
                "password_hash": password_hash,
            },
        },
        expires_at=utcnow() + timedelta(hours=current_app.config["REGISTRATION_CONFIRM_HOURS"]),
    )
    db.session.add(pending)
    db.session.flush()
    audit.record("registration.requested", pending, after={"email": email, "uscc": code})
    link = external_url("orgs.confirm_registration", token=token)
    with force_locale(person.get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = gettext("Confirm the registration of %(org)s", org=profile.get("name") or "")
        body = gettext(
            "Open this link within %(hours)d hours to confirm the registration of %(org)s "
            "and create your account:\n\n%(link)s\n\n"
            "If you did not register, ignore this e-mail: nothing will be created.",
            hours=current_app.config["REGISTRATION_CONFIRM_HOURS"],
            org=profile.get("name") or "",
            link=link,
        )
    queue_email(email, subject, body)


def _queue_existing_account_email(user: User) -> None:
    """Tell the owner of an address that someone tried to register a new account with it."""
    login = external_url("accounts.login")
    forgot = external_url("accounts.forgot_password")
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = gettext("Someone tried to register with your e-mail address")
        body = gettext(
            "Someone tried to register a new organisation with this e-mail address, which "
            "already has an account. No new account was created.\n\n"
            "To sign in: %(login)s\nIf you forgot your password: %(forgot)s\n\n"
            "If this was not you, you can ignore this e-mail.",
            login=login,
            forgot=forgot,
        )
    queue_email(user.email, subject, body, user_id=user.id)


def pending_registration_for_token(token: str) -> PendingRegistration | None:
    """The unexpired registration waiting for this link, or None."""
    return db.session.scalar(
        sa.select(PendingRegistration).where(
            PendingRegistration.token_hash == hash_token(token),
            PendingRegistration.expires_at > utcnow(),
        )
    )


def confirm_registration(token: str) -> User:
    """Self-registration, step two: the e-mail link creates the organisation and its first account."""
    pending = pending_registration_for_token(token)
    if pending is None:
        raise OrganisationError(
            _l("This confirmation link is not valid or has expired. Please register again.")
        )
    if account_ops.find_user(pending.email) is not None:
        raise OrganisationError(
            _l(
                "This e-mail address already has an account. Please sign in, "
                "or reset your password if you forgot it."
            )
        )
    data = pending.data
    org = dict(data["org"])
    code = check_new_uscc(org.pop("uscc"))
    if org.get("founded_on"):
        org["founded_on"] = date.fromisoformat(org["founded_on"])
    organisation = Organisation(uscc=code, **{k: org.get(k) for k in PROFILE_FIELDS if k in org})
    organisation.name = (organisation.name or "").strip()
    db.session.add(organisation)
    db.session.flush()
    person = data["person"]
    user = account_ops.create_user(
        email=pending.email,
        name=person["name"],
        password_hash=person["password_hash"],
        roles=["applicant"],
        organisation_id=organisation.id,
        phone=person.get("phone") or "",
        locale=person.get("locale"),
    )
    db.session.execute(
        sa.delete(PendingRegistration)
        .where(PendingRegistration.email == pending.email)
        .execution_options(synchronize_session=False)
    )
    db.session.expunge(pending)
    audit.record(
        "organisation.registered",
        organisation,
        actor=user,
        after={"name": organisation.name, "uscc": code},
    )
    return user


def purge_pending_registrations() -> int:
    """Delete registrations whose link has expired; returns how many."""
    result = db.session.execute(
        sa.delete(PendingRegistration)
        .where(PendingRegistration.expires_at <= utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def update_profile(organisation: Organisation, data: dict, actor) -> None:
    """Change the profile; the USCC itself can be corrected by bureau or admin only."""
    before = {k: _plain(getattr(organisation, k)) for k in (*PROFILE_FIELDS, "uscc")}
    if "uscc" in data and data["uscc"] and uscc.compact(data["uscc"]) != organisation.uscc:
        if not can(actor, "org.correct_uscc", organisation):
            raise OrganisationError(_l("Only the bureau can correct the credit code."), "uscc")
        organisation.uscc = check_new_uscc(data["uscc"], exclude_id=organisation.id)
    for key in PROFILE_FIELDS:
        if key in data:
            setattr(organisation, key, data[key])
    db.session.flush()
    after = {k: _plain(getattr(organisation, k)) for k in (*PROFILE_FIELDS, "uscc")}
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        audit.record(
            "organisation.updated",
            organisation,
            actor=actor,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )


def _plain(value):
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def add_qualification(
    organisation: Organisation,
    *,
    kind: str,
    granted_on: date,
    expires_on: date | None,
    certificate_no: str,
    actor,
) -> Qualification:
    """Record a dated qualification."""
    if expires_on and expires_on < granted_on:
        raise OrganisationError(_l("The expiry date is before the date granted."), "expires_on")
    q = Qualification(
        kind=kind, granted_on=granted_on, expires_on=expires_on, certificate_no=certificate_no or ""
    )
    organisation.qualifications.append(q)
    db.session.flush()
    audit.record(
        "organisation.qualification_added",
        organisation,
        actor=actor,
        after={
            "kind": kind,
            "granted_on": str(granted_on),
            "expires_on": str(expires_on) if expires_on else None,
        },
    )
    return q


def remove_qualification(qualification: Qualification, actor) -> None:
    organisation = qualification.organisation
    audit.record(
        "organisation.qualification_removed",
        organisation,
        actor=actor,
        before={"kind": qualification.kind, "granted_on": str(qualification.granted_on)},
    )
    organisation.qualifications.remove(qualification)
    db.session.flush()


def set_year_figure(
    organisation: Organisation,
    *,
    year: int,
    revenue: Decimal,
    rd_spending: Decimal,
    staff: int,
    rd_staff: int,
    actor,
) -> YearFigure:
    """Create or replace the figures of one year."""
    if rd_staff > staff:
        raise OrganisationError(_l("R&D staff cannot exceed total staff."), "rd_staff")
    figure = next((f for f in organisation.figures if f.year == year), None)
    before = None
    if figure is None:
        figure = YearFigure(year=year)
        organisation.figures.append(figure)
    else:
        before = {
            "revenue": str(figure.revenue),
            "rd_spending": str(figure.rd_spending),
            "staff": figure.staff,
            "rd_staff": figure.rd_staff,
        }
    figure.revenue, figure.rd_spending = revenue, rd_spending
    figure.staff, figure.rd_staff = staff, rd_staff
    db.session.flush()
    audit.record(
        "organisation.figures_set",
        organisation,
        actor=actor,
        before=before,
        after={
            "year": year,
            "revenue": str(revenue),
            "rd_spending": str(rd_spending),
            "staff": staff,
            "rd_staff": rd_staff,
        },
    )
    return figure


def remove_year_figure(figure: YearFigure, actor) -> None:
    organisation = figure.organisation
    audit.record(
        "organisation.figures_removed", organisation, actor=actor, before={"year": figure.year}
    )
    organisation.figures.remove(figure)
    db.session.flush()


def invite(organisation: Organisation, email: str, actor) -> tuple[Invitation, str]:
    """Invite a person by e-mail to join the organisation; returns the invitation and its token."""
    email = account_ops.normalise_email(email)
    existing = account_ops.find_user(email)
    if existing is not None and existing.organisation_id == organisation.id:
        raise OrganisationError(_l("This person is already a member."), "email")
    pending = db.session.scalar(
        sa.select(Invitation).where(
            Invitation.organisation_id == organisation.id,
            Invitation.email == email,
            Invitation.state == "pending",
            Invitation.expires_at > utcnow(),
        )
    )
    if pending is not None:
        raise OrganisationError(_l("An invitation to this address is still open."), "email")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organisation_id=organisation.id,
        email=email,
        token_hash=hash_token(token),
        state="pending",
        invited_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        "invitation.created",
        invitation,
        actor=actor,
        after={"email": email, "organisation_id": organisation.id},
    )
    link = external_url("orgs.accept_invitation", token=token)
    with force_locale(
        (existing.locale if existing else None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    ):
        subject = gettext("Invitation to join %(org)s", org=organisation.name)
        body = gettext(
            "%(name)s invites you to apply for science and technology funding on behalf of "
            "%(org)s. Open this link to accept:\n\n%(link)s",
            name=actor.name,
            org=organisation.name,
            link=link,
        )
    queue_email(email, subject, body, user_id=existing.id if existing else None)
    return invitation, token


def invitation_for_token(token: str) -> Invitation | None:
    return db.session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == hash_token(token))
    )


def accept_invitation(invitation: Invitation, user: User) -> None:
    """The signed-in (or just registered) user joins the organisation."""
    transition(invitation, "accept", user)


def register_from_invitation(
    invitation: Invitation, *, name: str, password: str, phone: str = "", locale: str | None = None
) -> User:
    """Create the invitee's account and accept the invitation in one step."""
    user = account_ops.create_user(
        email=invitation.email,
        name=name,
        password=password,
        roles=["applicant"],
        phone=phone,
        locale=locale,
    )
    transition(invitation, "accept", user)
    return user


def revoke_invitation(invitation: Invitation, actor) -> None:
    transition(invitation, "revoke", actor)


def active_clusters() -> list[IndustryCluster]:
    return db.session.scalars(
        sa.select(IndustryCluster)
        .where(IndustryCluster.active.is_(True))
        .order_by(IndustryCluster.sort_order, IndustryCluster.id)
    ).all()


def local_today() -> date:
    """Today's date in the bureau's time zone (Beijing time)."""
    return utcnow().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


EXPIRY_WARNING_DAYS = 90


def qualification_status(qualification: Qualification, today: date) -> str:
    """One of ``future``, ``expired``, ``expiring`` (within 90 days) or ``valid``."""
    if qualification.granted_on > today:
        return "future"
    if qualification.expires_on is not None:
        if qualification.expires_on < today:
            return "expired"
        if qualification.expires_on <= today + timedelta(days=EXPIRY_WARNING_DAYS):
            return "expiring"
    return "valid"


def qualification_alerts(
    organisation: Organisation, today: date
) -> list[tuple[Qualification, str]]:
    """Per kind, the latest qualification when it has expired or expires within 90 days.

    A kind that was renewed (another certificate valid beyond the warning window)
    raises no alert.
    """
    alerts = []
    by_kind: dict[str, list[Qualification]] = {}
    for q in organisation.qualifications:
        by_kind.setdefault(q.kind, []).append(q)
    for items in by_kind.values():
        statuses = [qualification_status(q, today) for q in items]
        if "valid" in statuses or "future" in statuses:
            continue
        latest = max(items, key=lambda q: q.expires_on or date.max)
        alerts.append((latest, qualification_status(latest, today)))
    return sorted(alerts, key=lambda a: a[0].expires_on or date.max)


CLUSTER_FIELDS = ("code", "name_zh", "name_en", "description", "sort_order", "active")


def cluster_usage(cluster: IndustryCluster) -> int:
    """How many organisations, calls and applications refer to the cluster (the domains above
    count theirs through :data:`grants.orgs.hooks.cluster_references`)."""
    organisations = db.session.scalar(
        sa.select(sa.func.count(Organisation.id)).where(Organisation.cluster_id == cluster.id)
    )
    return (organisations or 0) + sum(hooks.cluster_references.collect(cluster))


def _clean_cluster_data(data: dict) -> dict:
    clean = {k: data[k] for k in CLUSTER_FIELDS if k in data}
    for key in ("code", "name_zh", "name_en", "description"):
        if key in clean:
            clean[key] = (clean[key] or "").strip()
    if "code" in clean:
        clean["code"] = clean["code"].lower()
    return clean


def _check_cluster_unique(data: dict, exclude_id: int | None) -> None:
    checks = (
        ("code", IndustryCluster.code, _l("Another cluster already uses this code.")),
        ("name_zh", IndustryCluster.name_zh, _l("Another cluster already has this Chinese name.")),
    )
    for key, column, message in checks:
        if key not in data:
            continue
        stmt = sa.select(IndustryCluster.id).where(sa.func.lower(column) == data[key].lower())
        if exclude_id is not None:
            stmt = stmt.where(IndustryCluster.id != exclude_id)
        if db.session.scalar(stmt.limit(1)) is not None:
            raise OrganisationError(message, key)


def _flush_cluster() -> None:
    """Flush in a savepoint so that a concurrent duplicate becomes a field message."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        raise OrganisationError(
            _l("Another cluster already uses this code or Chinese name."), "code"
        ) from exc


def create_cluster(data: dict, actor) -> IndustryCluster:
    """Add an industry cluster; code and Chinese name must be unique."""
    clean = _clean_cluster_data(data)
    _check_cluster_unique(clean, None)
    cluster = IndustryCluster(
        **{"description": "", "name_en": "", "sort_order": 0, "active": True, **clean}
    )
    db.session.add(cluster)
    _flush_cluster()
    audit.record(
        "cluster.created",
        cluster,
        actor=actor,
        after={k: getattr(cluster, k) for k in CLUSTER_FIELDS},
    )
    return cluster


def update_cluster(cluster: IndustryCluster, data: dict, actor) -> None:
    """Change a cluster (deactivating one hides it from new choices but keeps its members)."""
    clean = _clean_cluster_data(data)
    _check_cluster_unique(clean, cluster.id)
    before = {k: getattr(cluster, k) for k in CLUSTER_FIELDS}
    for key, value in clean.items():
        setattr(cluster, key, value)
    _flush_cluster()
    after = {k: getattr(cluster, k) for k in CLUSTER_FIELDS}
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        audit.record(
            "cluster.updated",
            cluster,
            actor=actor,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )


def delete_cluster(cluster: IndustryCluster, actor) -> None:
    """Remove an unused cluster; one that organisations belong to can only be deactivated."""
    if cluster_usage(cluster):
        raise OrganisationError(
            _l("Organisations, calls or applications use this cluster: deactivate it instead.")
        )
    audit.record(
        "cluster.deleted",
        cluster,
        actor=actor,
        before={k: getattr(cluster, k) for k in CLUSTER_FIELDS},
    )
    db.session.delete(cluster)
    db.session.flush()
