"""HTML to PDF with WeasyPrint, for every domain that prints (申报书, 任务书, annual reports).

Rendering is locked down in two ways. The URL fetcher serves only files of the app's own
static folder, addressed as ``grants-static:css/pdf.css``; ``file:``, ``http(s):``,
``data:`` and every other URL is refused, so content that slips into the HTML can fetch
nothing. And each render runs in a forked child process that is killed when it exceeds
its time limit, so a pathological document cannot hold a worker hostage.
"""

from __future__ import annotations

import mimetypes
import multiprocessing
import os
import traceback
from pathlib import Path

from flask import current_app, has_app_context
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse
from werkzeug.security import safe_join

STATIC_SCHEME = "grants-static"
DEFAULT_TIMEOUT = 60.0
EXIT_GRACE = 5.0

# Fonts are subset to the glyphs used (full_fonts off) without hinting, content streams
# are compressed and images optimised: a Chinese PDF stays small.
WRITE_OPTIONS = {
    "full_fonts": False,
    "hinting": False,
    "uncompressed_pdf": False,
    "optimize_images": True,
}


class PdfError(RuntimeError):
    """The PDF could not be rendered."""


class PdfTimeout(PdfError):
    """Rendering took longer than its time limit; the rendering process was killed."""


class FetchRefused(ValueError):
    """A URL the PDF renderer will not fetch."""


def pdf_static_url(filename: str) -> str:
    """The URL under which templates link a static file into a PDF (``css/pdf.css``)."""
    return f"{STATIC_SCHEME}:{filename.lstrip('/')}"


class StaticFolderFetcher(URLFetcher):
    """A URL fetcher that serves files of one folder by ``grants-static:`` URL and refuses the rest."""

    def __init__(self, static_folder: str | os.PathLike):
        super().__init__(
            timeout=1,
            allowed_protocols=(STATIC_SCHEME,),
            allow_redirects=False,
            fail_on_errors=False,
        )
        self.root = Path(static_folder).resolve()

    def fetch(self, url, headers=None):
        prefix = STATIC_SCHEME + ":"
        if not isinstance(url, str) or not url.startswith(prefix):
            raise FetchRefused(f"the PDF renderer fetches only {prefix} URLs, not {url[:100]!r}")
        relative = url[len(prefix) :].split("?", 1)[0].split("#", 1)[0].lstrip("/")
        joined = safe_join(str(self.root), relative) if relative else None
        if joined is None:
            raise FetchRefused(f"not a file of the static folder: {url[:100]!r}")
        path = Path(joined).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise FetchRefused(f"not a file of the static folder: {url[:100]!r}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": content_type}
        )


def _static_folder() -> str:
    if has_app_context() and current_app.static_folder:
        return current_app.static_folder
    return str(Path(__file__).resolve().parents[2] / "static")


def _write_pdf(html: str, static_folder: str) -> bytes:
    fetcher = StaticFolderFetcher(static_folder)
    return HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf(**WRITE_OPTIONS)


def _render_in_child(conn, html: str, static_folder: str) -> None:
    try:
        result = ("ok", _write_pdf(html, static_folder))
    except BaseException:
        result = ("error", traceback.format_exc(limit=5))
    try:
        conn.send(result)
    finally:
        conn.close()


def render_pdf(html: str, *, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Render ``html`` to PDF bytes in a child process, killed after ``timeout`` seconds.

    Only ``grants-static:`` URLs (files of the static folder) are fetched. Raises
    :class:`PdfTimeout` when the time limit is exceeded and :class:`PdfError` when
    rendering fails; no child process is left behind either way.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_render_in_child,
        args=(sender, html, _static_folder()),
        name="grants-pdf",
        daemon=True,
    )
    child.start()
    sender.close()
    answered = False
    try:
        if not receiver.poll(timeout):
            raise PdfTimeout(f"PDF rendering exceeded {timeout:g} s")
        try:
            status, payload = receiver.recv()
        except EOFError as exc:
            raise PdfError(f"the PDF renderer died (exit code {child.exitcode})") from exc
        answered = True
    finally:
        receiver.close()
        _reap(child, grace=EXIT_GRACE if answered else 0)
    if status != "ok":
        raise PdfError(payload)
    return payload


def _reap(child, grace: float) -> None:
    """Wait ``grace`` seconds for the child to exit, then kill it; never leave it behind."""
    child.join(grace)
    if child.is_alive():
        child.kill()
        child.join()
    child.close()
