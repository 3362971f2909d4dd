"""Stored files: one interface, two backends (a local folder or S3-compatible object storage).

Every file the app keeps (uploads, generated task books, portfolio report versions) is an
object under a *key* such as ``ab/cd/<uuid>.pdf`` or ``reports/<uuid>.pdf``. The backend is
chosen by ``STORAGE_BACKEND``: ``local`` (default: a folder, ``UPLOAD_DIR``) or ``s3`` (a
bucket of any S3-compatible service: AWS S3, MinIO, Ceph …). Code outside this module never
sees a path: it calls :func:`backend` and ``put``/``open``/``exists``/``delete``/``size``/
``iter_keys``, and views answer downloads with ``download_response`` (the local backend
streams the file; S3 redirects to a short-lived signed URL, or streams when configured to).

An upload is spooled to a temporary file while its size and SHA-256 are taken, its type is
read from its content (never from its name or the browser's word), and it is stored under a
generated key *before* the row that points at it is flushed, so a committed row never names
a file that was not written. Files written during a transaction are deleted again if it
rolls back; files scheduled for deletion go only once it commits
(:func:`delete_after_commit`). Whatever a crash leaves behind (an object no row refers to) is
removed by the ``storage.sweep`` job once older than ``STORAGE_ORPHAN_GRACE_HOURS``; each
domain declares which columns hold keys with :func:`holds_stored_keys`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import filetype
import sqlalchemy as sa
from flask import Response, abort, current_app, redirect, send_file, stream_with_context
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from grants.core.transactions import is_outermost
from grants.extensions import db

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
DEFAULT_MAX_MB = 20

# kind -> (MIME type, extensions a user's file of this kind may carry)
FILE_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pdf": ("application/pdf", (".pdf",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",)),
    "png": ("image/png", (".png",)),
    "jpg": ("image/jpeg", (".jpg", ".jpeg")),
}
DOCUMENTS_AND_IMAGES = tuple(FILE_KINDS)
_STORED_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\.[a-z]{3,4}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
TMP_PREFIX = "tmp/"  # the local backend's temporary files: never a stored object


class UploadRefused(ValueError):
    """The upload was refused; ``message`` tells the user why (already translated)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StorageUnavailable(UploadRefused):
    """The file store did not answer or refused the operation; nothing was stored."""

    def __init__(self, detail: str = ""):
        super().__init__(
            _(
                "The file store is not available at the moment, so the file was not "
                "saved. Nothing else was lost: please try again in a few minutes."
            )
        )
        self.detail = detail


@dataclass(frozen=True)
class StoredFile:
    """What the database keeps about a stored file."""

    stored_name: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    kind: str


def max_upload_bytes() -> int:
    """The per-file limit: config ``MAX_UPLOAD_MB`` (else the request limit, else 20 MB)."""
    config = current_app.config
    if config.get("MAX_UPLOAD_MB"):
        return int(config["MAX_UPLOAD_MB"]) * 1024 * 1024
    return int(config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_MB * 1024 * 1024)


def clean_filename(name: str | None, fallback: str = "file") -> str:
    """The last path part of ``name`` without control characters (``../../etc/passwd`` → ``passwd``)."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.split(r"[/\\]", text)[-1].strip().lstrip(".").strip()
    if not text:
        return fallback
    if len(text) > 200:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else text[:200]
    return text


def sniff(path: Path) -> str | None:
    """The kind of file at ``path`` judged by its content, or None when not an allowed kind."""
    guess = filetype.guess(str(path))
    extension = guess.extension if guess else None
    if extension in ("pdf", "png", "jpg", "docx", "xlsx"):
        return extension
    if extension in (None, "zip"):
        return _office_kind(path)
    return None


def _office_kind(path: Path) -> str | None:
    """docx or xlsx by the entries of a zip file that ``filetype`` did not recognise."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    return None


def _extension(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def chosen_files(uploads) -> list:
    """The files a file input actually carried: a browser sends an empty, nameless part for an
    input where nothing was chosen."""
    return [upload for upload in uploads or () if upload and getattr(upload, "filename", "")]


def valid_key(key: str) -> bool:
    """True for a key this module may store: relative, no ``..``, no temporary area."""
    return (
        bool(key)
        and len(key) <= 1024
        and bool(_KEY.match(key))
        and ".." not in key
        and not key.startswith(TMP_PREFIX)
    )


def _checked(key: str) -> str:
    if not valid_key(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    """A key in the store with its size and last modification time (UTC)."""

    key: str
    size: int
    modified: datetime


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


class LocalBackend:
    """Objects as files under a folder; writes are atomic (temporary file, fsync, rename)."""

    name = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file of ``key`` (for this backend and the tests only: views never use it)."""
        return self.root / _checked(key)

    def put(self, key: str, stream: BinaryIO) -> None:
        """Store the bytes of ``stream`` under ``key`` (replacing an object of that key)."""
        target = self.path(key)
        tmp_dir = self.root / "tmp"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        except OSError as exc:
            Path(tmp_name).unlink(missing_ok=True)
            raise StorageUnavailable(str(exc)) from exc
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object; FileNotFoundError when there is none."""
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> bool:
        """Remove the object now; True when it existed."""
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def iter_keys(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every stored object whose key starts with ``prefix`` (temporary files excluded)."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            key = path.relative_to(self.root).as_posix()
            if not key.startswith(prefix) or not valid_key(key):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            yield StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def download_response(
        self,
        key: str,
        filename: str,
        mimetype: str,
        *,
        etag: str | None = None,
        disposition: str | None = None,
    ) -> Response:
        """The file as an attachment named ``filename``; 404 when it is gone."""
        try:
            path = self.path(key)
        except ValueError:
            abort(404)
        if not path.is_file():
            abort(404)
        response = send_file(
            path,
            mimetype=mimetype,
            as_attachment=True,
            download_name=filename,
            max_age=0,
            etag=etag or False,
            conditional=bool(etag),
        )
        if disposition:
            response.headers["Content-Disposition"] = disposition
        return _private(response)


class S3Backend:
    """Objects in a bucket of an S3-compatible service, through boto3 with timeouts and retries."""

    name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        signed_url_seconds: int = 300,
        downloads: str = "redirect",
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_attempts: int = 3,
    ):
        import boto3
        from botocore.config import Config as BotoConfig

        if not bucket:
            raise RuntimeError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        self.bucket = bucket
        self.signed_url_seconds = signed_url_seconds
        self.downloads = downloads
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=BotoConfig(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"total_max_attempts": max_attempts, "mode": "standard"},
                signature_version="s3v4",
                s3={"addressing_style": "path"},
            ),
        )

    def __repr__(self) -> str:
        return f"S3Backend({self.bucket!r})"

    @staticmethod
    def _missing(exc) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if self._missing(exc):
                raise FileNotFoundError(kwargs.get("Key", "")) from exc
            raise StorageUnavailable(str(exc)) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def put(self, key: str, stream: BinaryIO) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.upload_fileobj(stream, self.bucket, _checked(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(str(exc)) from exc

    def open(self, key: str) -> BinaryIO:
        return self._call("get_object", Key=_checked(key))["Body"]

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=_checked(key))
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int | None:
        try:
            return int(self._call("head_object", Key=_checked(key))["ContentLength"])
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> bool:
        existed = self.exists(key)
        if existed:
            self._call("delete_object", Key=key)
        return existed

    def iter_keys(self, prefix: str = "") -> Iterator[StoredObject]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for item in page.get("Contents", ()):
                    if valid_key(item["Key"]):
                        yield StoredObject(item["Key"], int(item["Size"]), item["LastModified"])
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(str(exc)) from exc

    def download_response(
        self,
        key: str,
        filename: str,
        mimetype: str,
        *,
        etag: str | None = None,
        disposition: str | None = None,
    ) -> Response:
        """A redirect to a signed URL valid ``S3_SIGNED_URL_SECONDS`` (or the bytes streamed through)."""
        if not valid_key(key):
            abort(404)
        disposition = disposition or _attachment_header(filename)
        if self.downloads == "redirect":
            if not self.exists(key):
                abort(404)
            url = self.client.generate_presigned_url(
                "get_object",
                ExpiresIn=self.signed_url_seconds,
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentType": mimetype,
                    "ResponseContentDisposition": disposition,
                    "ResponseCacheControl": "private, no-store",
                },
            )
            response = redirect(url, code=302)
            response.headers["Cache-Control"] = "private, no-store"
            return response
        try:
            head = self._call("head_object", Key=key)
            body = self.open(key)
        except FileNotFoundError:
            abort(404)

        def chunks():
            try:
                while chunk := body.read(CHUNK):
                    yield chunk
            finally:
                body.close()

        response = Response(stream_with_context(chunks()), mimetype=mimetype)
        response.headers["Content-Length"] = str(head["ContentLength"])
        response.headers["Content-Disposition"] = disposition
        if etag:
            response.set_etag(etag)
        return _private(response)


def _attachment_header(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode("ascii").replace('"', "") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def backend(app=None):
    """The configured storage backend of ``app`` (the current app by default)."""
    app = app or current_app._get_current_object()
    config = app.config
    kind = (config.get("STORAGE_BACKEND") or "local").lower()
    if kind == "local":
        return LocalBackend(config["UPLOAD_DIR"])
    if kind != "s3":
        raise RuntimeError(f"unknown STORAGE_BACKEND {kind!r} (use local or s3)")
    settings = {
        "bucket": config.get("S3_BUCKET"),
        "endpoint_url": config.get("S3_ENDPOINT_URL"),
        "region": config.get("S3_REGION"),
        "access_key": config.get("S3_ACCESS_KEY_ID"),
        "secret_key": config.get("S3_SECRET_ACCESS_KEY"),
        "signed_url_seconds": int(config.get("S3_SIGNED_URL_SECONDS") or 300),
        "downloads": config.get("S3_DOWNLOADS") or "redirect",
        "connect_timeout": float(config.get("S3_CONNECT_TIMEOUT") or 5),
        "read_timeout": float(config.get("S3_READ_TIMEOUT") or 30),
        "max_attempts": int(config.get("S3_MAX_ATTEMPTS") or 3),
    }
    cache = app.extensions.setdefault("grants_storage", {})
    signature = tuple(sorted((k, str(v)) for k, v in settings.items()))
    if signature not in cache:
        cache.clear()
        cache[signature] = S3Backend(**settings)
    return cache[signature]


def save_upload(
    upload, *, kinds: tuple[str, ...] = DOCUMENTS_AND_IMAGES, max_bytes: int | None = None
) -> StoredFile:
    """Store a werkzeug ``FileStorage``; raise :class:`UploadRefused` for a wrong type or size.

    The file's extension must be one of ``kinds`` and its content must be that same kind.
    :class:`StorageUnavailable` (an ``UploadRefused``) says the store did not take the file.
    """
    original = clean_filename(getattr(upload, "filename", None))
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    allowed_ext = {ext: kind for kind in kinds for ext in FILE_KINDS[kind][1]}
    claimed = allowed_ext.get(_extension(original))
    if claimed is None:
        raise UploadRefused(
            _(
                "“%(name)s” is not an allowed type. Upload PDF, Word (DOCX), "
                "Excel (XLSX), PNG or JPEG files.",
                name=original,
            )
        )
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(prefix="grants-upload-") as spool:
        stream = upload.stream
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadRefused(
                    _(
                        "“%(name)s” is larger than the limit of %(mb)s MB.",
                        name=original,
                        mb=_megabytes(limit),
                    )
                )
            digest.update(chunk)
            spool.write(chunk)
        spool.flush()
        if size == 0:
            raise UploadRefused(_("“%(name)s” is empty.", name=original))
        kind = sniff(Path(spool.name))
        if kind != claimed:
            raise UploadRefused(
                _(
                    "The content of “%(name)s” does not match its file type. Upload PDF, "
                    "Word (DOCX), Excel (XLSX), PNG or JPEG files.",
                    name=original,
                )
            )
        token = uuid.uuid4().hex
        stored_name = f"{token[:2]}/{token[2:4]}/{token}.{kind}"
        spool.seek(0)
        store(stored_name, spool)
    return StoredFile(
        stored_name=stored_name,
        original_name=original,
        content_type=FILE_KINDS[kind][0],
        size=size,
        sha256=digest.hexdigest(),
        kind=kind,
    )


def store(key: str, stream: BinaryIO) -> None:
    """Put ``stream`` under ``key`` now and delete it again if the transaction rolls back."""
    info = _session_info()
    backend().put(key, stream)
    _remember(info, "storage_written", key)


def _megabytes(limit: int) -> str:
    mb = limit / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else f"{mb:.1f}"


def check_stored_name(stored_name: str) -> str:
    """``stored_name`` when it is an upload key this module generates; ValueError otherwise."""
    if not _STORED_NAME.match(stored_name or ""):
        raise ValueError(f"not a stored file name: {stored_name!r}")
    return stored_name


def delete(key: str) -> bool:
    """Remove a stored object now; True when it existed."""
    return backend().delete(_checked(key))


def delete_after_commit(key: str) -> None:
    """Remove a stored object once the current database transaction commits (kept on rollback)."""
    _checked(key)
    _remember(_session_info(), "storage_doomed", key)


def download_response(
    key: str,
    filename: str,
    mimetype: str,
    *,
    etag: str | None = None,
    disposition: str | None = None,
) -> Response:
    """Answer a download of ``key`` under ``filename`` through the configured backend."""
    return backend().download_response(key, filename, mimetype, etag=etag, disposition=disposition)


def _session_info() -> dict:
    """The info dict of the request's session, with its transaction begun so that it ends in an event."""
    session = db.session()
    if not session.in_transaction():
        session.begin()
    return session.info


def _remember(info: dict, key: str, stored_name: str) -> None:
    info.setdefault(key, []).append(stored_name)


def _delete_quietly(names) -> None:
    for name in names:
        try:
            delete(name)
        except (OSError, ValueError, RuntimeError, StorageUnavailable) as exc:
            log.warning("could not delete stored object %s (the sweep will): %s", name, exc)


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    if not is_outermost(session):
        return  # a savepoint released: the outermost transaction may still roll back
    session.info.pop("storage_written", None)
    _delete_quietly(session.info.pop("storage_doomed", []))


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is not None:
        return  # a savepoint: files are cleaned up with the outermost transaction
    session.info.pop("storage_doomed", None)
    _delete_quietly(session.info.pop("storage_written", []))


# --- which rows refer to stored objects; orphans --------------------------------------------

_KEY_COLUMNS: list[tuple[sa.Column, str]] = []


def holds_stored_keys(column, prefix: str = "") -> None:
    """Declare that ``column`` holds keys of stored objects (each prefixed with ``prefix``)."""
    entry = (column, prefix)
    if not any(c is column and p == prefix for c, p in _KEY_COLUMNS):
        _KEY_COLUMNS.append(entry)


def key_columns() -> list[tuple[sa.Column, str]]:
    """The declared columns that hold stored keys, with their prefixes."""
    return list(_KEY_COLUMNS)


def referenced_keys(connection=None) -> set[str]:
    """Every key a row refers to, read on ``connection`` (its snapshot) or the session."""
    run = connection.execute if connection is not None else db.session.execute
    keys: set[str] = set()
    for column, prefix in _KEY_COLUMNS:
        for (value,) in run(sa.select(column).where(column.is_not(None)).distinct()):
            if value:
                keys.add(prefix + value)
    return keys


@dataclass
class StorageCheck:
    """Stored objects no row refers to, and referred keys with no object."""

    orphans: list[StoredObject]
    missing: list[str]


def check(
    grace: timedelta | None = None,
    now: datetime | None = None,
    *,
    read_keys: Callable[[], set[str]] = referenced_keys,
) -> StorageCheck:
    """Compare the store with the rows: orphans older than ``grace`` and keys with no object.

    The objects are listed *before* the keys are read, so a file written and committed while
    the check runs is never taken for an orphan.
    """
    grace = grace if grace is not None else orphan_grace()
    now = now or datetime.now(UTC)
    objects = list(backend().iter_keys())
    referenced = read_keys()
    present = {item.key for item in objects}
    orphans = [
        item
        for item in objects
        if item.key not in referenced and now - _aware(item.modified) >= grace
    ]
    missing = sorted(key for key in referenced if key not in present)
    return StorageCheck(orphans=orphans, missing=missing)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def orphan_grace() -> timedelta:
    """How old an unreferenced object must be before the sweep removes it."""
    return timedelta(hours=float(current_app.config.get("STORAGE_ORPHAN_GRACE_HOURS", 24)))


def _referenced_now() -> set[str]:
    """The keys rows refer to, read on a connection of its own whose read transaction ends at once."""
    bind = db.engine
    if not isinstance(bind, sa.Engine):  # the tests' shared connection
        return referenced_keys()
    with bind.connect() as connection:
        return referenced_keys(connection)


def sweep(grace: timedelta | None = None, now: datetime | None = None) -> list[str]:
    """Delete the stored objects no row refers to that are older than the grace period.

    No transaction is held while the store is listed or objects deleted: each read of the
    keys runs in a read transaction of its own that ends before the disk is touched, and the
    second read sees the rows committed meanwhile (not the first read's snapshot).
    """
    result = check(grace, now, read_keys=_referenced_now)
    removed = []
    store_ = backend()
    referenced = _referenced_now()  # read again: a row may have appeared meanwhile
    for item in result.orphans:
        if item.key in referenced:
            continue
        if store_.delete(item.key):
            removed.append(item.key)
    return removed
