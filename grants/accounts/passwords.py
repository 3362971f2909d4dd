"""Password hashing: argon2id at OWASP's parameters, with old werkzeug hashes still accepted.

New hashes are argon2id with the parameters of ``PASSWORD_ARGON2`` (default OWASP's
m=19456 KiB, t=2, p=1). Hashes written before (werkzeug ``scrypt:`` and ``pbkdf2:``) are
still verified; :func:`needs_rehash` tells the sign-in to replace them, and argon2 hashes
with other parameters, by a hash of the current setting. :func:`dummy_verify` spends the
time of one verification where no account exists, so that the answer for an unknown
e-mail address takes as long as for a known one.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from werkzeug.security import check_password_hash

from grants.config import OWASP_ARGON2

WERKZEUG_PREFIXES = ("scrypt:", "pbkdf2:")


def argon2_settings() -> dict:
    """The argon2id parameters in force: ``PASSWORD_ARGON2`` of the app, else OWASP's."""
    if has_app_context():
        return dict(current_app.config.get("PASSWORD_ARGON2") or OWASP_ARGON2)
    return dict(OWASP_ARGON2)


@lru_cache(maxsize=8)
def _hasher(memory_cost: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        memory_cost=memory_cost,
        time_cost=time_cost,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def _current_hasher() -> PasswordHasher:
    settings = argon2_settings()
    return _hasher(
        int(settings["memory_cost"]), int(settings["time_cost"]), int(settings["parallelism"])
    )


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with the parameters in force."""
    return _current_hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (argon2, or an old werkzeug scrypt/pbkdf2 hash)."""
    if not stored:
        return False
    if stored.startswith("$argon2"):
        try:
            return _current_hasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    if stored.startswith(WERKZEUG_PREFIXES):
        try:
            return check_password_hash(stored, password)
        except ValueError:
            return False
    return False  # "!…": no password has been set yet


def needs_rehash(stored: str | None) -> bool:
    """Whether a hash that just verified should be replaced by one of the current setting."""
    if not stored or not stored.startswith("$argon2"):
        return True
    try:
        return _current_hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True


def dummy_verify(password: str) -> None:
    """Spend the time of one verification (for an e-mail address that has no account)."""
    settings = argon2_settings()
    stored = _dummy_hash(
        int(settings["memory_cost"]), int(settings["time_cost"]), int(settings["parallelism"])
    )
    verify_password(stored, password)


@lru_cache(maxsize=8)
def _dummy_hash(memory_cost: int, time_cost: int, parallelism: int) -> str:
    return _hasher(memory_cost, time_cost, parallelism).hash("not a real password")
