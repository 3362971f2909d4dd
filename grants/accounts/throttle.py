"""Sign-in back-off per account and per client address, instead of locking accounts.

Each failed sign-in counts against two keys: ``account:<normalised e-mail>`` and
``ip:<client address>``. The first ``LOGIN_BACKOFF_FREE_ATTEMPTS`` failures of an account
(``LOGIN_BACKOFF_IP_FREE_ATTEMPTS`` of an address) cost nothing; each one after that makes
the key wait before the next try, ``LOGIN_BACKOFF_BASE_SECONDS`` doubled per further
failure up to ``LOGIN_BACKOFF_MAX_SECONDS``. Whether an account exists makes no
difference: unknown addresses are counted the same way. A successful sign-in and a
password reset clear the account's key, so the owner is never locked out: a reset link
always works. Rows that stayed quiet for ``LOGIN_THROTTLE_RETENTION_HOURS`` are purged by a
periodic job.
"""

from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request
from flask_babel import lazy_gettext as _l

from grants.accounts.models import LoginThrottle, normalise_email
from grants.core.jobs import job
from grants.core.scheduler import schedule
from grants.core.types import utcnow
from grants.extensions import db

KEY_LENGTH = 300


def account_key(email: str) -> str:
    """The throttle key of an e-mail address (normalised, whether or not it has an account)."""
    return ("account:" + normalise_email(email))[:KEY_LENGTH]


def address_key(address: str | None) -> str:
    """The throttle key of a client address."""
    return ("ip:" + (address or "unknown"))[:KEY_LENGTH]


def _free_attempts(key: str) -> int:
    config = current_app.config
    if key.startswith("ip:"):
        return config["LOGIN_BACKOFF_IP_FREE_ATTEMPTS"]
    return config["LOGIN_BACKOFF_FREE_ATTEMPTS"]


def backoff_seconds(key: str, failures: int) -> int:
    """How long ``key`` waits after its ``failures``-th failure (0 while failures are free)."""
    over = failures - _free_attempts(key)
    if over <= 0:
        return 0
    config = current_app.config
    ceiling = config["LOGIN_BACKOFF_MAX_SECONDS"]
    base = config["LOGIN_BACKOFF_BASE_SECONDS"]
    if over > 32:  # 2**32 × any base is past any sensible ceiling
        return ceiling
    return min(base * 2 ** (over - 1), ceiling)


def wait_seconds(keys: list[str]) -> int:
    """Seconds until every one of ``keys`` may try again (0: a try is allowed now)."""
    now = utcnow()
    latest = db.session.scalar(
        sa.select(sa.func.max(LoginThrottle.next_allowed_at)).where(
            LoginThrottle.key.in_(keys), LoginThrottle.next_allowed_at > now
        )
    )
    if latest is None:
        return 0
    return max(1, math.ceil((latest - now).total_seconds()))


def record_failure(keys: list[str]) -> None:
    """Count one failed sign-in against each key and set the back-off it earns."""
    now = utcnow()
    for key in keys:
        failures = db.session.scalar(
            sa.update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(failures=LoginThrottle.failures + 1, updated_at=now)
            .returning(LoginThrottle.failures)
            .execution_options(synchronize_session=False)
        )
        if failures is None:
            failures = _insert_first(key, now)
        delay = backoff_seconds(key, failures)
        if delay:
            db.session.execute(
                sa.update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(next_allowed_at=now + timedelta(seconds=delay))
                .execution_options(synchronize_session=False)
            )


def _insert_first(key: str, now) -> int:
    """Insert the key's first failure; if a concurrent request did, count on its row."""
    try:
        with db.session.begin_nested():
            db.session.execute(sa.insert(LoginThrottle).values(key=key, failures=1, updated_at=now))
        return 1
    except sa.exc.IntegrityError:
        return db.session.scalar(
            sa.update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(failures=LoginThrottle.failures + 1, updated_at=now)
            .returning(LoginThrottle.failures)
            .execution_options(synchronize_session=False)
        )


def clear(key: str) -> None:
    """Forget the failures of one key (after a successful sign-in or a password reset)."""
    db.session.execute(
        sa.delete(LoginThrottle)
        .where(LoginThrottle.key == key)
        .execution_options(synchronize_session=False)
    )


def purge(older_than: timedelta | None = None) -> int:
    """Delete rows whose last failure is older than the retention period and that wait no more."""
    if older_than is None:
        older_than = timedelta(hours=current_app.config["LOGIN_THROTTLE_RETENTION_HOURS"])
    now = utcnow()
    result = db.session.execute(
        sa.delete(LoginThrottle)
        .where(
            LoginThrottle.updated_at < now - older_than,
            sa.or_(LoginThrottle.next_allowed_at.is_(None), LoginThrottle.next_allowed_at <= now),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@job("accounts.purge_login_throttles", label=_l("Remove old sign-in back-off records"))
def purge_login_throttles(ctx) -> dict:
    """Periodic: drop the failure counts of keys that have been quiet for the retention period."""
    purged = purge()
    db.session.commit()
    return {"purged": purged}


schedule("accounts.purge_login_throttles", every=timedelta(hours=1))


def recipient_key() -> str:
    """The rate-limit key of the address a form would mail (forgot-password, registration).

    Limits per recipient stop anyone flooding one inbox from many addresses; the key is the
    typed address, known or not, so the limit itself tells nothing about accounts.
    """
    return "mail-to:" + normalise_email(request.form.get("email", ""))[:255]
