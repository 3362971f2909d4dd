"""Settings read from the environment, with embedded defaults for a single-machine run.

Without ``DATABASE_URL`` the app uses a SQLite file under ``instance/``; without
``REDIS_URL`` background jobs run in-process and rate limits are kept in memory.
"""

import os
import string
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgres URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
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
        # Database limits (PostgreSQL; see engine_options): seconds to connect and to wait
        # for a pooled connection, milliseconds a request's statement, lock wait and idle
        # transaction may take, and the longer limits of background jobs.
        self.DB_CONNECT_TIMEOUT = _int("DB_CONNECT_TIMEOUT", 5)
        self.DB_POOL_TIMEOUT = _int("DB_POOL_TIMEOUT", 5)
        self.DB_STATEMENT_TIMEOUT_MS = _int("DB_STATEMENT_TIMEOUT_MS", 10000)
        self.DB_LOCK_TIMEOUT_MS = _int("DB_LOCK_TIMEOUT_MS", 3000)
        self.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = _int("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60000)
        self.DB_JOB_STATEMENT_TIMEOUT_MS = _int("DB_JOB_STATEMENT_TIMEOUT_MS", 600000)
        self.DB_JOB_LOCK_TIMEOUT_MS = _int("DB_JOB_LOCK_TIMEOUT_MS", 30000)
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.REDIS_TIMEOUT = _int("REDIS_TIMEOUT", 3)  # seconds to connect to and hear from Redis
        self.REDIS_PAUSE = _int("REDIS_PAUSE", 30)  # seconds Redis is left alone after a failure
        self.JOBS_MODE = os.environ.get("JOBS_MODE") or ("rq" if self.REDIS_URL else "thread")
        # Without Redis: "wait" keeps jobs in the outbox until it returns, "thread" runs them here.
        self.JOBS_FALLBACK = os.environ.get("JOBS_FALLBACK", "wait")
        self.JOB_TIMEOUT = _int("JOB_TIMEOUT", 1800)
        self.JOB_HEARTBEAT_SECONDS = _int("JOB_HEARTBEAT_SECONDS", 15)
        self.JOB_DEAD_AFTER = _int("JOB_DEAD_AFTER", 120)  # seconds without a heartbeat
        self.JOB_MAX_ATTEMPTS = _int("JOB_MAX_ATTEMPTS", 3)
        self.JOB_RETRY_BACKOFF_SECONDS = _int(
            "JOB_RETRY_BACKOFF_SECONDS", 30
        )  # doubles each attempt
        self.SCHEDULER_MAX_BACKOFF = _int("SCHEDULER_MAX_BACKOFF", 60)
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        self.RQ_QUEUE = os.environ.get("RQ_QUEUE", "grants")
        self.SCHEDULER_IN_PROCESS = _bool("SCHEDULER_IN_PROCESS", self.JOBS_MODE == "thread")
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(instance / "uploads")
        # Stored files (grants.core.storage): the local folder UPLOAD_DIR, or an S3-compatible
        # bucket; AWS_* variables are the keys' defaults, as boto3 names them.
        self.STORAGE_BACKEND = (os.environ.get("STORAGE_BACKEND") or "local").lower()
        self.S3_BUCKET = os.environ.get("S3_BUCKET") or None
        self.S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
        self.S3_REGION = (
            os.environ.get("S3_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        )
        self.S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID") or os.environ.get(
            "AWS_ACCESS_KEY_ID"
        )
        self.S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY") or os.environ.get(
            "AWS_SECRET_ACCESS_KEY"
        )
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

        # Spreadsheet imports (expert pool): upload size, unpacked size, rows, and the run of
        # empty rows after which reading stops.
        self.IMPORT_MAX_MB = _int("IMPORT_MAX_MB", 5)
        self.IMPORT_MAX_UNZIPPED_MB = _int("IMPORT_MAX_UNZIPPED_MB", 50)
        self.IMPORT_MAX_ROWS = _int("IMPORT_MAX_ROWS", 5000)
        self.IMPORT_STOP_AFTER_BLANK_ROWS = _int("IMPORT_STOP_AFTER_BLANK_ROWS", 50)

        self.BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
        self.BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
        self.BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "grants" / "translations")
        self.LANGUAGES = {"zh_Hans_CN": "中文", "en": "English"}

        # The address users reach the app at: every absolute link (e-mails, PDFs, exports) is
        # built from it, never from the request's Host header (grants.core.links).
        self.BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
        # Host names the app answers to; any other Host header gets 400 before a view runs.
        # Empty: the host of BASE_URL, of SERVER_NAME, localhost and 127.0.0.1.
        self.TRUSTED_HOSTS = _list("TRUSTED_HOSTS")
        # Reverse proxies whose X-Forwarded-* headers are believed (werkzeug's ProxyFix): the
        # number of proxies setting each header. 0 (default): no proxy header is trusted.
        # PROXY_HOPS is the shorthand for X-Forwarded-For and X-Forwarded-Proto.
        hops = _int("PROXY_HOPS", 0)
        self.PROXY_FIX_X_FOR = _int("PROXY_FIX_X_FOR", hops)
        self.PROXY_FIX_X_PROTO = _int("PROXY_FIX_X_PROTO", hops)
        self.PROXY_FIX_X_HOST = _int("PROXY_FIX_X_HOST", 0)
        self.PROXY_FIX_X_PORT = _int("PROXY_FIX_X_PORT", 0)
        self.PROXY_FIX_X_PREFIX = _int("PROXY_FIX_X_PREFIX", 0)
        https = _bool("HTTPS", False)
        self.PREFERRED_URL_SCHEME = "https" if https else "http"
        self.FORCE_HTTPS = https
        self.SESSION_COOKIE_NAME = "grants_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = https
        self.SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 60)
        self.SESSION_ABSOLUTE_HOURS = _int("SESSION_ABSOLUTE_HOURS", 12)
        # A session's last-seen time is written after a response at most this often (seconds).
        self.SESSION_TOUCH_SECONDS = _int("SESSION_TOUCH_SECONDS", 60)
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=self.SESSION_ABSOLUTE_HOURS)
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.WTF_CSRF_SSL_STRICT = https

        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_HEADERS_ENABLED = False
        # Sign-in back-off (grants.accounts.throttle): after the free failures of an account
        # (or of a client address), each further failure makes it wait, doubling from the base
        # up to the maximum; rows quiet for the retention period are purged.
        self.LOGIN_BACKOFF_FREE_ATTEMPTS = _int("LOGIN_BACKOFF_FREE_ATTEMPTS", 5)
        self.LOGIN_BACKOFF_IP_FREE_ATTEMPTS = _int("LOGIN_BACKOFF_IP_FREE_ATTEMPTS", 20)
        self.LOGIN_BACKOFF_BASE_SECONDS = _int("LOGIN_BACKOFF_BASE_SECONDS", 30)
        self.LOGIN_BACKOFF_MAX_SECONDS = _int("LOGIN_BACKOFF_MAX_SECONDS", 900)
        self.LOGIN_THROTTLE_RETENTION_HOURS = _int("LOGIN_THROTTLE_RETENTION_HOURS", 24)
        # argon2id parameters of new password hashes ("m=19456,t=2,p=1": KiB, passes, lanes).
        self.PASSWORD_ARGON2 = parse_argon2(os.environ.get("PASSWORD_ARGON2"))
        self.REGISTRATION_CONFIRM_HOURS = _int("REGISTRATION_CONFIRM_HOURS", 24)
        # Redis away: count attempts in this process's memory (one warning logged), never fail.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_STORAGE_OPTIONS = {
            "socket_timeout": self.REDIS_TIMEOUT,
            "socket_connect_timeout": self.REDIS_TIMEOUT,
        }

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
        self.PROJECT_CODE_FORMAT = (
            os.environ.get("PROJECT_CODE_FORMAT") or "{year}-EDJ-KJ-{seq:03d}"
        )
        # A budget category may run this share over its fiscal budget before the spending tab warns.
        self.BUDGET_ADJUSTMENT_TOLERANCE = Decimal(
            os.environ.get("BUDGET_ADJUSTMENT_TOLERANCE", "0.10")
        )
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
        self.BASE_URL = validate_base_url(self.BASE_URL)
        self.TRUSTED_HOSTS = trusted_hosts(
            self.TRUSTED_HOSTS, self.BASE_URL, getattr(self, "SERVER_NAME", None)
        )


ARGON2_NAMES = {"m": "memory_cost", "t": "time_cost", "p": "parallelism"}
OWASP_ARGON2 = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}


def parse_argon2(text: str | None) -> dict:
    """argon2id parameters from "m=19456,t=2,p=1"; OWASP's when ``text`` is empty."""
    settings = dict(OWASP_ARGON2)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _sep, value = part.partition("=")
        if name.strip() not in ARGON2_NAMES or not value.strip().isdigit():
            raise ValueError(f"PASSWORD_ARGON2 {text!r}: expected m=<KiB>,t=<passes>,p=<lanes>")
        settings[ARGON2_NAMES[name.strip()]] = int(value)
    return settings


def engine_options(config: dict) -> dict:
    """SQLAlchemy engine options with the database limits (connect, pool, statement, lock).

    On PostgreSQL every connection starts with a statement, lock and idle-in-transaction
    timeout, so a stalled database answers a request with an error within seconds;
    background jobs raise their own limits per transaction (``grants.core.jobs``).
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", True)
    if not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        return options
    options.setdefault("pool_timeout", config.get("DB_POOL_TIMEOUT", 5))
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", config.get("DB_CONNECT_TIMEOUT", 5))
    limits = (
        f"-c statement_timeout={int(config.get('DB_STATEMENT_TIMEOUT_MS', 10000))} "
        f"-c lock_timeout={int(config.get('DB_LOCK_TIMEOUT_MS', 3000))} "
        f"-c idle_in_transaction_session_timeout="
        f"{int(config.get('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60000))}"
    )
    connect_args["options"] = (connect_args.get("options", "") + " " + limits).strip()
    options["connect_args"] = connect_args
    return options


PROJECT_CODE_FIELDS = frozenset({"year", "seq"})
PROJECT_CODE_MAX_LENGTH = 60  # the width of projects.code


def validate_project_code_format(pattern: str) -> str:
    """Refuse a project code pattern that could not give unique codes; returns it unchanged.

    The pattern must name ``{seq}`` and ``{year}`` (numbers restart every year), no other
    field, and give a code of at most 60 characters.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("PROJECT_CODE_FORMAT must be a non-empty text")
    try:
        fields = {
            name
            for _text, name, _spec, _conv in string.Formatter().parse(pattern)
            if name is not None
        }
    except ValueError as exc:
        raise ValueError(f"PROJECT_CODE_FORMAT {pattern!r} is not a valid format: {exc}") from None
    if fields != PROJECT_CODE_FIELDS:
        raise ValueError(
            f"PROJECT_CODE_FORMAT {pattern!r} must use exactly the fields {{year}} and {{seq}}"
        )
    try:
        samples = {pattern.format(year=2026, seq=seq) for seq in (1, 2, 99999)}
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"PROJECT_CODE_FORMAT {pattern!r} cannot format a code: {exc}") from None
    if len(samples) != 3 or max(len(s) for s in samples) > PROJECT_CODE_MAX_LENGTH:
        raise ValueError(
            f"PROJECT_CODE_FORMAT {pattern!r} must give distinct codes of at most "
            f"{PROJECT_CODE_MAX_LENGTH} characters"
        )
    return pattern


def validate_base_url(url: str) -> str:
    """Refuse a BASE_URL that is not an absolute http(s) address; returns it without a trailing slash."""
    parts = urlsplit(url.strip()) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"BASE_URL {url!r} must be an absolute http:// or https:// address")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"BASE_URL {url!r} must not carry a query, a fragment or credentials")
    return url.strip().rstrip("/")


LOCAL_HOSTS = ("localhost", "127.0.0.1")


def _host_name(address: str | None) -> str | None:
    """The host name (without port) of a URL or of a ``host[:port]`` value."""
    if not address:
        return None
    return urlsplit(address if "//" in address else f"//{address}").hostname


def trusted_hosts(configured, base_url: str, server_name: str | None) -> list[str]:
    """The host names requests may carry: the configured list, or by default those of BASE_URL,
    SERVER_NAME, localhost and 127.0.0.1. The host of BASE_URL is always trusted."""
    if isinstance(configured, str):
        configured = [item.strip() for item in configured.split(",")]
    hosts = [item.strip().lower() for item in (configured or []) if item and item.strip()]
    if not hosts:
        hosts = [h for h in (_host_name(server_name), *LOCAL_HOSTS) if h]
    base_host = _host_name(base_url)
    return list(dict.fromkeys([base_host, *hosts]))


def _dev_secret(instance: Path) -> str:
    """A per-installation random key kept in instance/, for runs without SECRET_KEY."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()
