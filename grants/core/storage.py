"""Uploaded files: sniffed by content, stored under generated names, removed with the transaction.

A file is streamed to a temporary file under ``UPLOAD_DIR`` while its size and SHA-256
are taken, its type is read from its content (never from its name or the browser's
word), and it is moved into place atomically as ``ab/cd/<uuid>.<ext>``. The user's file
name never reaches the disk: it is cleaned and kept in the database for downloads.

Files written during a request are removed again if the session rolls back; files
scheduled for deletion go only once the session commits (see :func:`delete_after_commit`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

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


class UploadRefused(ValueError):
    """The upload was refused; ``message`` tells the user why (already translated)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredFile:
    """What the database keeps about a stored file."""

    stored_name: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    kind: str


def upload_root() -> Path:
    """The directory uploads live under (config ``UPLOAD_DIR``)."""
    return Path(current_app.config["UPLOAD_DIR"])


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


def save_upload(upload, *, kinds: tuple[str, ...] = DOCUMENTS_AND_IMAGES,
                max_bytes: int | None = None) -> StoredFile:
    """Store a werkzeug ``FileStorage``; raise :class:`UploadRefused` for a wrong type or size.

    The file's extension must be one of ``kinds`` and its content must be that same kind.
    """
    original = clean_filename(getattr(upload, "filename", None))
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    allowed_ext = {ext: kind for kind in kinds for ext in FILE_KINDS[kind][1]}
    claimed = allowed_ext.get(_extension(original))
    if claimed is None:
        raise UploadRefused(_("“%(name)s” is not an allowed type. Upload PDF, Word (DOCX), "
                              "Excel (XLSX), PNG or JPEG files.", name=original))
    root = upload_root()
    tmp_dir = root / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            stream = upload.stream
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(_("“%(name)s” is larger than the limit of %(mb)s MB.",
                                          name=original, mb=_megabytes(limit)))
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise UploadRefused(_("“%(name)s” is empty.", name=original))
        kind = sniff(tmp_path)
        if kind != claimed:
            raise UploadRefused(_("The content of “%(name)s” does not match its file type. Upload PDF, "
                                  "Word (DOCX), Excel (XLSX), PNG or JPEG files.", name=original))
        token = uuid.uuid4().hex
        stored_name = f"{token[:2]}/{token[2:4]}/{token}.{kind}"
        target = root / stored_name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _remember(_session_info(), "storage_written", stored_name)
    return StoredFile(stored_name=stored_name, original_name=original, content_type=FILE_KINDS[kind][0],
                      size=size, sha256=digest.hexdigest(), kind=kind)


def _megabytes(limit: int) -> str:
    mb = limit / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else f"{mb:.1f}"


def path_of(stored_name: str) -> Path:
    """The absolute path of a stored file; refuses names this module did not generate."""
    if not _STORED_NAME.match(stored_name or ""):
        raise ValueError(f"not a stored file name: {stored_name!r}")
    return upload_root() / stored_name


def delete(stored_name: str) -> bool:
    """Remove a stored file now; True when it existed."""
    path = path_of(stored_name)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def delete_after_commit(stored_name: str) -> None:
    """Remove a stored file once the current database transaction commits (kept on rollback)."""
    path_of(stored_name)
    _remember(_session_info(), "storage_doomed", stored_name)


def _session_info() -> dict:
    """The info dict of the request's session, with its transaction begun so that it ends in an event."""
    from grants.extensions import db

    session = db.session()
    if not session.in_transaction():
        session.begin()
    return session.info


def _remember(info: dict, key: str, stored_name: str) -> None:
    info.setdefault(key, []).append(stored_name)


def _delete_quietly(names) -> None:
    for name in names:
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            delete(name)


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    session.info.pop("storage_written", None)
    _delete_quietly(session.info.pop("storage_doomed", []))


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is not None:
        return  # a savepoint: files are cleaned up with the outermost transaction
    session.info.pop("storage_doomed", None)
    _delete_quietly(session.info.pop("storage_written", []))
