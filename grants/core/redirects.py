"""Redirect targets that come from the user (``next=``, the Referer) stay on this site.

Browsers are lenient about what they treat as "another host": ``//evil.example``,
``/\\evil.example``, ``/\t/evil.example`` (a tab is dropped), ``\\\\evil.example``,
``/%2F%2Fevil.example`` once a proxy or the app decodes it, a fullwidth ``／／`` that
normalises to ``//``. Rather than list the bad forms, :func:`is_safe_path` accepts only
what is surely a path on this site: it starts with exactly one ``/``, has no scheme and no
host after normalising, and neither it nor any percent-decoded or Unicode-normalised form
of it holds a backslash, whitespace, a control or formatting character, or starts with
``//``.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import current_app, has_request_context, request

MAX_LENGTH = 2048
_DECODE_ROUNDS = 4


def _variants(value: str) -> list[str]:
    """``value``, its successive percent-decodings and their NFKC normal forms."""
    found = [value]
    current = value
    for _round in range(_DECODE_ROUNDS):
        decoded = unquote(current, errors="strict") if "%" in current else current
        if decoded == current:
            break
        found.append(decoded)
        current = decoded
    found += [unicodedata.normalize("NFKC", v) for v in list(found)]
    return found


def _has_bad_character(text: str) -> bool:
    """A backslash, or a control, formatting, separator or unassigned character (whitespace included)."""
    return any(
        ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in ("C", "Z") for ch in text
    )


def _is_plain_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or _has_bad_character(text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def is_safe_path(value) -> bool:
    """Whether ``value`` is a path on this site (``/…``) and nothing a browser could read as another site."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return False
    try:
        variants = _variants(value)
    except UnicodeDecodeError:
        return False
    return all(_is_plain_path(v) for v in variants)


def safe_next(value, fallback: str) -> str:
    """``value`` if it is a safe path on this site, else ``fallback``."""
    return value if is_safe_path(value) else fallback


def _own_origins() -> set[str]:
    origins = set()
    base = urlsplit(current_app.config["BASE_URL"])
    origins.add(f"{base.scheme}://{base.netloc}".lower())
    if has_request_context():
        origins.add(request.host_url.rstrip("/").lower())
    return origins


def safe_referrer(fallback: str) -> str:
    """The path of the page the request came from, if that page is on this site; else ``fallback``."""
    referrer = request.referrer if has_request_context() else None
    if not referrer or _has_bad_character(referrer):
        return fallback
    parts = urlsplit(referrer)
    if f"{parts.scheme}://{parts.netloc}".lower() not in _own_origins():
        return fallback
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, fallback)
