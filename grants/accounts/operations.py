"""Verbs on accounts. Each flushes and leaves the commit to the request or job."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from grants.accounts import throttle
from grants.accounts.models import ROLES, User, UserRole, normalise_email
from grants.accounts.passwords import dummy_verify, hash_password, needs_rehash
from grants.accounts.sessions import end_all_sessions, end_session, start_session
from grants.core import audit
from grants.core.jobs import enqueue, job
from grants.core.links import external_url
from grants.core.refusals import OperationError
from grants.core.signals import organisation_changed, password_changed, password_reset_issued
from grants.core.types import utcnow
from grants.extensions import db

RESET_SALT = "password-reset"


class AccountError(OperationError, ValueError):
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
        raise StaffMembershipRefused(
            _l(
                "Bureau, finance and administrator accounts cannot belong to an applicant organisation: "
                "remove the organisation or the staff role."
            )
        )


class SignInDelayed(Exception):
    """Sign-in refused without checking the password: the account or address must wait."""

    def __init__(self, seconds: int):
        super().__init__(f"sign-in delayed for {seconds} s")
        self.seconds = seconds


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def authenticate(email: str, password: str, address: str | None = None) -> User | None:
    """The active user with these credentials, or None; failures are audited and throttled.

    Raises :class:`SignInDelayed`, without looking at the password, while the e-mail
    address or the client ``address`` is backed off (see :mod:`grants.accounts.throttle`);
    unknown and known addresses are treated alike, and an unknown one costs the same
    hashing time. A correct password stored with an old hash or old parameters is
    rehashed with the current argon2id setting.
    """
    keys = [throttle.account_key(normalise_email(email))]
    if address is not None:
        keys.append(throttle.address_key(address))
    wait = throttle.wait_seconds(keys)
    if wait:
        audit.record(
            "login.throttled", after={"email": normalise_email(email)[:255], "wait_seconds": wait}
        )
        raise SignInDelayed(wait)
    user = find_user(email)
    if user is None:
        dummy_verify(password)  # same time whether or not the user exists
        reason = "unknown"
    elif not user.check_password(password):
        reason = "password"
    elif not user.active:
        reason = "disabled"
    else:
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            audit.record("password.rehashed", user, actor=user)
        throttle.clear(keys[0])
        return user
    audit.record(
        "login.failed", user, after={"email": normalise_email(email)[:255], "reason": reason}
    )
    throttle.record_failure(keys)
    return None


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
    """Change the password after checking the current one; other sessions end.

    Wrong current passwords count against the account's sign-in back-off, so a borrowed
    session cannot be used to guess the password; while it waits, :class:`SignInDelayed`.
    """
    keys = [throttle.account_key(user.email)]
    wait = throttle.wait_seconds(keys)
    if wait:
        raise SignInDelayed(wait)
    if not user.check_password(current):
        audit.record("password.change_failed", user, actor=user)
        throttle.record_failure(keys)
        raise AccountError(_l("The current password is not correct."))
    user.set_password(new)
    ended = end_all_sessions(user, keep_token=user.session_token)
    audit.record("password.changed", user, actor=user, after={"sessions_ended": ended})
    password_changed.send(user)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def make_reset_token(user: User) -> str:
    """A signed, expiring, single-use token that stops working once the password changes.

    It names the account's password version: using the token moves the version on (see
    :func:`reset_password`), and so does every other change of the password.
    """
    return _serializer().dumps(
        {"uid": user.id, "pv": user.password_version or 0, "ph": user.password_hash[-16:]}
    )


def request_password_reset(email: str) -> None:
    """Queue the job that e-mails a reset link if an active account has this address.

    The request itself neither looks the address up nor writes an e-mail, so it answers
    alike, and in the same time, for known and unknown addresses.
    """
    email = normalise_email(email)[:255]
    audit.record("password.reset_requested", after={"email": email})
    enqueue("accounts.send_password_reset", email)


@job("accounts.send_password_reset", label=_l("Send a password-reset e-mail"))
def send_password_reset(ctx, email: str) -> dict:
    """Write the reset e-mail of the active account with this address (nothing for others)."""
    user = find_user(email)
    if user is None or not user.active:
        db.session.commit()
        return {"sent": 0}
    _queue_reset_email(user)
    db.session.commit()
    return {"sent": 1}


def _queue_reset_email(user: User) -> None:
    """Issue a reset link; the notifications domain e-mails it (event ``account.password_reset_issued``)."""
    link = external_url("accounts.reset_password", token=make_reset_token(user))
    password_reset_issued.send(user, link=link, hours=current_app.config["PASSWORD_RESET_HOURS"])


def _reset_claim(token: str) -> tuple[User, int]:
    """The user a valid reset token names and the password version it was issued for."""
    max_age = current_app.config["PASSWORD_RESET_HOURS"] * 3600
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise AccountError(_l("This link has expired. Please ask for a new one.")) from exc
    except BadSignature as exc:
        raise AccountError(_l("This link is not valid. Please ask for a new one.")) from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("uid"), int)
        or not isinstance(data.get("pv"), int)
    ):
        raise AccountError(_l("This link is not valid. Please ask for a new one."))
    user = db.session.get(User, data["uid"])
    if (
        user is None
        or not user.active
        or (user.password_version or 0) != data["pv"]
        or user.password_hash[-16:] != data.get("ph")
    ):
        raise AccountError(_l("This link has already been used or is no longer valid."))
    return user, data["pv"]


def user_for_reset_token(token: str) -> User:
    """The user a valid, unused reset token names; raises AccountError otherwise."""
    return _reset_claim(token)[0]


def reset_password(token: str, new: str) -> User:
    """Set a new password from a reset link; every session of the user ends.

    The link is claimed with one conditional UPDATE on the password version it names: of two
    uses of the same link, even at the same moment, only the first changes the password, and
    the other is refused as used.
    """
    user, version = _reset_claim(token)
    claimed = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.password_version == version)
        .values(
            password_hash=hash_password(new),
            password_changed_at=utcnow(),
            password_version=version + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(user, ["password_hash", "password_changed_at", "password_version"])
    if claimed != 1:
        raise AccountError(_l("This link has already been used or is no longer valid."))
    end_all_sessions(user)
    throttle.clear(throttle.account_key(user.email))
    audit.record("password.reset", user, actor=user)
    return user


def set_roles(user: User, roles, actor) -> None:
    """Give ``user`` exactly ``roles``; the change is audited."""
    wanted = {r for r in roles if r in ROLES}
    before = sorted(user.role_names)
    user.roles = [r for r in user.roles if r.role in wanted] + [
        UserRole(role=r) for r in sorted(wanted - user.role_names)
    ]
    db.session.flush()
    after = sorted(user.role_names)
    if before != after:
        audit.record(
            "user.roles_changed",
            user,
            actor=actor,
            before={"roles": before},
            after={"roles": after},
        )


def create_user(
    *,
    email: str,
    name: str,
    password: str | None = None,
    roles=(),
    organisation_id: int | None = None,
    phone: str = "",
    actor=None,
    locale: str | None = None,
    password_hash: str | None = None,
) -> User:
    """Create an account; without a password (or its hash) the person gets a link to set one."""
    email = normalise_email(email)
    if find_user(email) is not None:
        raise AccountError(_l("An account with this e-mail address already exists."))
    check_staff_membership(roles, organisation_id)
    user = User(
        email=email,
        name=name.strip(),
        phone=phone or "",
        active=True,
        organisation_id=organisation_id or None,
        locale=locale,
    )
    if password:
        user.set_password(password)
    elif password_hash:
        user.password_hash = password_hash
        user.password_changed_at = utcnow()
    else:
        user.password_hash = "!" + secrets.token_hex(16)  # matches no password until one is set
    db.session.add(user)
    db.session.flush()
    set_roles(user, roles, actor)
    audit.record(
        "user.created", user, actor=actor, after={"email": email, "roles": sorted(user.role_names)}
    )
    organisation_changed(
        user,
        None,
        user.organisation_id,
        actor=actor or user,
        via="admin" if actor is not None else "registration",
    )
    if not password and not password_hash:
        request_password_reset(email)
    return user


def update_user(
    user: User, *, email: str, name: str, phone: str, roles, organisation_id: int | None, actor
) -> None:
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
    organisation_changed(
        user, before["organisation_id"], user.organisation_id, actor=actor, via="admin"
    )


def set_active(user: User, active: bool, actor) -> None:
    """Enable or disable an account; disabling ends all of its sessions at once."""
    if user.active == active:
        return
    user.active = active
    ended = 0 if active else end_all_sessions(user)
    audit.record(
        "user.enabled" if active else "user.disabled",
        user,
        actor=actor,
        after={"sessions_ended": ended},
    )
