"""Settings read from the environment, with embedded defaults for a single-machine run.

Without ``DATABASE_URL`` the app uses a SQLite file under ``instance/``; without
``REDIS_URL`` background jobs run in-process and rate limits are kept in memory.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgres URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    """Configuration for one app instance; every value may come from the environment."""

    def __init__(self, **overrides):
        instance = Path(os.environ.get("GRANTS_INSTANCE_DIR", BASE_DIR / "instance"))
        self.INSTANCE_DIR = str(instance)
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_secret(instance)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'grants.sqlite3'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.JOBS_MODE = os.environ.get("JOBS_MODE") or ("rq" if self.REDIS_URL else "thread")
        self.RQ_QUEUE = os.environ.get("RQ_QUEUE", "grants")
        self.SCHEDULER_IN_PROCESS = _bool("SCHEDULER_IN_PROCESS", self.JOBS_MODE == "thread")
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(instance / "uploads")
        # Stored files (grants.core.storage): the local folder UPLOAD_DIR, or an S3-compatible
        # bucket; AWS_* variables are the keys' defaults, as boto3 names them.
        self.STORAGE_BACKEND = (os.environ.get("STORAGE_BACKEND") or "local").lower()
        self.S3_BUCKET = os.environ.get("S3_BUCKET") or None
        self.S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
        self.S3_REGION = os.environ.get("S3_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID")
        self.S3_SECRET_ACCESS_KEY = (os.environ.get("S3_SECRET_ACCESS_KEY")
                                     or os.environ.get("AWS_SECRET_ACCESS_KEY"))
        self.S3_SIGNED_URL_SECONDS = _int("S3_SIGNED_URL_SECONDS", 300)
        self.S3_DOWNLOADS = os.environ.get("S3_DOWNLOADS") or "redirect"  # or "stream"
        self.S3_CONNECT_TIMEOUT = _int("S3_CONNECT_TIMEOUT", 5)
        self.S3_READ_TIMEOUT = _int("S3_READ_TIMEOUT", 30)
        self.S3_MAX_ATTEMPTS = _int("S3_MAX_ATTEMPTS", 3)
        self.STORAGE_ORPHAN_GRACE_HOURS = _int("STORAGE_ORPHAN_GRACE_HOURS", 24)
        # Backups on PostgreSQL also hold a pg_dump of the same snapshot: "auto" (when pg_dump is
        # on PATH), "0" (never) or the program's path; and its time limit in seconds.
        self.BACKUP_PG_DUMP = os.environ.get("BACKUP_PG_DUMP") or "auto"
        self.BACKUP_PG_DUMP_TIMEOUT = _int("BACKUP_PG_DUMP_TIMEOUT", 3600)
        self.MAX_UPLOAD_MB = _int("MAX_UPLOAD_MB", 20)  # per file, checked by grants.core.storage
        self.MAX_CONTENT_LENGTH = (self.MAX_UPLOAD_MB + 1) * 1024 * 1024  # the file and its form

        self.BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
        self.BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
        self.BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "grants" / "translations")
        self.LANGUAGES = {"zh_Hans_CN": "中文", "en": "English"}

        # The address users reach the app at: links in e-mails sent by background jobs.
        self.BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
        https = _bool("HTTPS", False)
        self.PREFERRED_URL_SCHEME = "https" if https else "http"
        self.FORCE_HTTPS = https
        self.SESSION_COOKIE_NAME = "grants_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = https
        self.SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 60)
        self.SESSION_ABSOLUTE_HOURS = _int("SESSION_ABSOLUTE_HOURS", 12)
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=self.SESSION_ABSOLUTE_HOURS)
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.WTF_CSRF_SSL_STRICT = https

        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_HEADERS_ENABLED = False
        self.LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "20 per 10 minutes")
        self.LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")

        self.MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
        self.MAIL_PORT = _int("MAIL_PORT", 25)
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
        self.MAIL_SENDER = os.environ.get("MAIL_SENDER", "grants@localhost")
        self.MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 5)
        self.SHOW_OUTBOX = _bool("SHOW_OUTBOX", not self.MAIL_SERVER)

        self.PASSWORD_RESET_HOURS = _int("PASSWORD_RESET_HOURS", 2)
        self.INVITATION_DAYS = _int("INVITATION_DAYS", 14)
        self.PAGE_SIZE = _int("PAGE_SIZE", 25)
        # Project codes (立项编号): a str.format pattern with {year} (the call's year) and {seq}, the
        # project's number within that year, taken atomically; e.g. 2026-EDJ-KJ-001.
        self.PROJECT_CODE_FORMAT = os.environ.get("PROJECT_CODE_FORMAT") or "{year}-EDJ-KJ-{seq:03d}"
        # A budget category may run this share over its fiscal budget before the spending tab warns.
        self.BUDGET_ADJUSTMENT_TOLERANCE = Decimal(os.environ.get("BUDGET_ADJUSTMENT_TOLERANCE", "0.10"))
        # Project tracking: a running project without a progress report for this many days is at
        # risk, and so is one whose verified spending share of the award lags the share of its
        # period elapsed by more than this fraction.
        self.PROJECT_SILENCE_DAYS = _int("PROJECT_SILENCE_DAYS", 120)
        self.PROJECT_SPENDING_LAG = Decimal(os.environ.get("PROJECT_SPENDING_LAG") or "0.30")
        # Portfolio reports (stored under reports/ in the file store): the PDF render's time
        # limit in seconds, and the identifier prefix of the 360Giving open-data export (a
        # registered 360G- prefix).
        self.REPORT_PDF_TIMEOUT = _int("REPORT_PDF_TIMEOUT", 600)
        self.OPEN_DATA_PREFIX = os.environ.get("OPEN_DATA_PREFIX") or None
        self.BOOTSTRAP_SERVE_LOCAL = True
        self.BOOTSTRAP_BTN_SIZE = "md"
        self.TESTING = False

        for key, value in overrides.items():
            setattr(self, key, value)
        validate_project_code_format(self.PROJECT_CODE_FORMAT)


PROJECT_CODE_FIELDS = frozenset({"year", "seq"})
PROJECT_CODE_MAX_LENGTH = 60  # the width of projects.code


def validate_project_code_format(pattern: str) -> str:
    """Refuse a project code pattern that could not give unique codes; returns it unchanged.

    The pattern must name ``{seq}`` and ``{year}`` (numbers restart every year), no other
    field, and give a code of at most 60 characters.
    """
    import string

    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("PROJECT_CODE_FORMAT must be a non-empty text")
    try:
        fields = {name for _text, name, _spec, _conv in string.Formatter().parse(pattern) if name is not None}
    except ValueError as exc:
        raise ValueError(f"PROJECT_CODE_FORMAT {pattern!r} is not a valid format: {exc}") from None
    if fields != PROJECT_CODE_FIELDS:
        raise ValueError(f"PROJECT_CODE_FORMAT {pattern!r} must use exactly the fields {{year}} and {{seq}}")
    try:
        samples = {pattern.format(year=2026, seq=seq) for seq in (1, 2, 99999)}
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"PROJECT_CODE_FORMAT {pattern!r} cannot format a code: {exc}") from None
    if len(samples) != 3 or max(len(s) for s in samples) > PROJECT_CODE_MAX_LENGTH:
        raise ValueError(f"PROJECT_CODE_FORMAT {pattern!r} must give distinct codes of at most "
                         f"{PROJECT_CODE_MAX_LENGTH} characters")
    return pattern


def _dev_secret(instance: Path) -> str:
    """A per-installation random key kept in instance/, for runs without SECRET_KEY."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()
