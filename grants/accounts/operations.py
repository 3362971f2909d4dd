"""Verbs on accounts. Each flushes and leaves the commit to the request or job."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from grants.accounts.models import ROLES, User, UserRole
from grants.accounts.sessions import end_all_sessions, end_session, start_session
from grants.core import audit
from grants.core.signals import organisation_changed
from grants.core.types import utcnow
from grants.extensions import db
from grants.notifications.operations import notify, queue_email

_DUMMY_HASH = generate_password_hash("not a real password", method="scrypt")
RESET_SALT = "password-reset"


class AccountError(ValueError):
    """A refused account operation; the message is user-facing, ``field`` names the form field at fault."""

    field = "email"


class StaffMembershipRefused(AccountError):
    """A bureau, finance or admin account may not belong to an applicant organisation."""

    field = "organisation_id"


#: Roles whose holders act for the bureau and so may never belong to an applicant organisation.
STAFF_ROLES = frozenset({"bureau", "finance", "admin"})


def check_staff_membership(roles, organisation_id: int | None) -> None:
    """Refuse an account that would hold a staff role and belong to an applicant organisation."""
    if organisation_id and STAFF_ROLES & set(roles):
        raise StaffMembershipRefused(_l(
            "Bureau, finance and administrator accounts cannot belong to an applicant organisation: "
            "remove the organisation or the staff role."))


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None; failures are audited."""
    user = find_user(email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # same time whether or not the user exists
        audit.record("login.failed", after={"email": normalise_email(email)[:255], "reason": "unknown"})
        return None
    if not user.check_password(password):
        audit.record("login.failed", user, after={"email": user.email, "reason": "password"})
        return None
    if not user.active:
        audit.record("login.failed", user, after={"email": user.email, "reason": "disabled"})
        return None
    return user


def log_in(user: User) -> str:
    """Open a new server-side session for ``user`` and audit the login."""
    token = start_session(user)
    user.last_login_at = utcnow()
    audit.record("login", user, actor=user)
    return token


def log_out(user: User) -> None:
    """End the current session of ``user``."""
    end_session(user.session_token)
    audit.record("logout", user, actor=user)


def change_password(user: User, current: str, new: str) -> None:
    """Change the password after checking the current one; other sessions end."""
    if not user.check_password(current):
        raise AccountError(_l("The current password is not correct."))
    user.set_password(new)
    ended = end_all_sessions(user, keep_token=user.session_token)
    audit.record("password.changed", user, actor=user, after={"sessions_ended": ended})
    notify([user], "account.password_changed", _l("Your password was changed"),
           _l("The password of your account was changed. If this was not you, "
              "reset your password at once and tell the administrator."))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def make_reset_token(user: User) -> str:
    """A signed, expiring token that stops working once the password changes."""
    return _serializer().dumps({"uid": user.id, "ph": user.password_hash[-16:]})


def request_password_reset(email: str) -> None:
    """E-mail a reset link if an active account has this address (silently otherwise)."""
    user = find_user(email)
    audit.record("password.reset_requested", user, after={"email": normalise_email(email)[:255]})
    if user is None or not user.active:
        return
    link = url_for("accounts.reset_password", token=make_reset_token(user), _external=True)
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    from flask_babel import force_locale, gettext

    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = gettext("Reset your password")
        body = gettext("Open this link within %(hours)d hours to choose a new password:\n\n%(link)s\n\n"
                       "If you did not ask for this, ignore this e-mail.", hours=hours, link=link)
    queue_email(user.email, subject, body, user_id=user.id)


def user_for_reset_token(token: str) -> User:
    """The user a valid reset token names; raises AccountError otherwise."""
    max_age = current_app.config["PASSWORD_RESET_HOURS"] * 3600
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise AccountError(_l("This link has expired. Please ask for a new one.")) from exc
    except BadSignature as exc:
        raise AccountError(_l("This link is not valid. Please ask for a new one.")) from exc
    user = db.session.get(User, data.get("uid"))
    if user is None or not user.active or user.password_hash[-16:] != data.get("ph"):
        raise AccountError(_l("This link has already been used or is no longer valid."))
    return user


def reset_password(token: str, new: str) -> User:
    """Set a new password from a reset link; every session of the user ends."""
    user = user_for_reset_token(token)
    user.set_password(new)
    end_all_sessions(user)
    audit.record("password.reset", user, actor=user)
    return user


def set_roles(user: User, roles, actor) -> None:
    """Give ``user`` exactly ``roles``; the change is audited."""
    wanted = {r for r in roles if r in ROLES}
    before = sorted(user.role_names)
    user.roles = [r for r in user.roles if r.role in wanted] + [
        UserRole(role=r) for r in sorted(wanted - user.role_names)]
    db.session.flush()
    after = sorted(user.role_names)
    if before != after:
        audit.record("user.roles_changed", user, actor=actor, before={"roles": before},
                     after={"roles": after})


def create_user(*, email: str, name: str, password: str | None = None, roles=(),
                organisation_id: int | None = None, phone: str = "", actor=None,
                locale: str | None = None) -> User:
    """Create an account; without a password the person gets a link to set one."""
    email = normalise_email(email)
    if find_user(email) is not None:
        raise AccountError(_l("An account with this e-mail address already exists."))
    check_staff_membership(roles, organisation_id)
    user = User(email=email, name=name.strip(), phone=phone or "", active=True,
                organisation_id=organisation_id or None, locale=locale)
    if password:
        user.set_password(password)
    else:
        user.password_hash = "!" + secrets.token_hex(16)  # matches no password until one is set
    db.session.add(user)
    db.session.flush()
    set_roles(user, roles, actor)
    audit.record("user.created", user, actor=actor,
                 after={"email": email, "roles": sorted(user.role_names)})
    organisation_changed(user, None, user.organisation_id, actor=actor or user,
                         via="admin" if actor is not None else "registration")
    if not password:
        request_password_reset(email)
    return user


def update_user(user: User, *, email: str, name: str, phone: str, roles,
                organisation_id: int | None, actor) -> None:
    """Change an account's details and roles."""
    email = normalise_email(email)
    other = find_user(email)
    if other is not None and other.id != user.id:
        raise AccountError(_l("An account with this e-mail address already exists."))
    check_staff_membership(roles, organisation_id)
    before = {"email": user.email, "name": user.name, "organisation_id": user.organisation_id}
    user.email, user.name, user.phone = email, name.strip(), phone or ""
    user.organisation_id = organisation_id or None
    set_roles(user, roles, actor)
    after = {"email": user.email, "name": user.name, "organisation_id": user.organisation_id}
    if before != after:
        audit.record("user.updated", user, actor=actor, before=before, after=after)
    organisation_changed(user, before["organisation_id"], user.organisation_id, actor=actor, via="admin")


def set_active(user: User, active: bool, actor) -> None:
    """Enable or disable an account; disabling ends all of its sessions at once."""
    if user.active == active:
        return
    user.active = active
    ended = 0 if active else end_all_sessions(user)
    audit.record("user.enabled" if active else "user.disabled", user, actor=actor,
                 after={"sessions_ended": ended})
