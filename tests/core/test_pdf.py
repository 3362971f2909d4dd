"""The PDF renderer: static files only, nothing else fetched, a hard time limit, subset CJK fonts."""

import http.server
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from grants.core import pdf
from grants.core.pdf import (
    FetchRefused,
    PdfError,
    PdfTimeout,
    StaticFolderFetcher,
    pdf_static_url,
    render_pdf,
)

CJK_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<link rel="stylesheet" href="{css}"></head><body>{body}</body></html>"""


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The text of a PDF as pdftotext reads it, whitespace removed (CJK lines break anywhere)."""
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return "".join(text.split())


def child_pids() -> set[int]:
    """The processes whose parent is this one."""
    me, children = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == me:
                children.add(int(entry.name))
    return children


def test_render_pdf_gives_pdf_bytes_with_chinese_text(app, tmp_path):
    html = CJK_PAGE.format(
        css=pdf_static_url("css/pdf.css"), body="<p>二道江区科技计划项目申报书</p>"
    )
    data = render_pdf(html)
    assert data.startswith(b"%PDF-")
    assert "二道江区科技计划项目申报书" in pdf_text(data, tmp_path)


def test_render_pdf_embeds_a_subset_of_the_cjk_font(app, tmp_path):
    html = CJK_PAGE.format(
        css=pdf_static_url("css/pdf.css"), body="<p>中药提取自动化关键技术研究</p>"
    )
    path = tmp_path / "fonts.pdf"
    path.write_bytes(render_pdf(html))
    fonts = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True
    ).stdout
    lines = [line for line in fonts.splitlines() if "CJK" in line]
    assert lines and all("+" in line.split()[0] for line in lines)  # ABCDEF+Noto… marks a subset
    assert path.stat().st_size < 400_000


def test_static_fetcher_serves_files_of_the_static_folder(app):
    response = StaticFolderFetcher(app.static_folder).fetch(pdf_static_url("css/pdf.css"))
    assert response.content_type == "text/css"
    assert b"Noto Sans CJK SC" in response.read()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1/x.png",
        "https://example.com/x.css",
        "data:text/css,body{color:red}",
        "ftp://example.com/x",
        "grants-static:../grants/config.py",
        "grants-static:css/../../pyproject.toml",
        "grants-static:/etc/passwd",
        "grants-static:css/missing.css",
        "grants-static:css",
        "grants-static:",
        "css/pdf.css",
    ],
)
def test_static_fetcher_refuses_everything_else(app, url):
    with pytest.raises(FetchRefused):
        StaticFolderFetcher(app.static_folder).fetch(url)


def test_render_fetches_no_local_file(app, tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text('body::after { content: "LEAKEDSECRET"; }')
    image = tmp_path / "secret.svg"
    image.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><text y="20">LEAKEDIMAGE</text></svg>'
    )
    body = (
        f'<link rel="stylesheet" href="file://{secret}"><style>@import url("file://{secret}");</style>'
        f'<img src="file://{image}" alt=""><p>正文</p>'
    )
    text = pdf_text(render_pdf(CJK_PAGE.format(css=f"file://{secret}", body=body)), tmp_path)
    assert "正文" in text
    assert "LEAKED" not in text
    # the same rule inlined does show: the check above would see a fetched stylesheet
    inlined = CJK_PAGE.format(
        css="", body='<style>body::after { content: "LEAKEDSECRET"; }</style><p>正文</p>'
    )
    assert "LEAKEDSECRET" in pdf_text(render_pdf(inlined), tmp_path)


def test_render_makes_no_http_request(app, tmp_path):
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        body = (
            f'<link rel="stylesheet" href="{base}/x.css"><img src="{base}/x.png" alt="">'
            f'<p style="background: url({base}/bg.png)">正文</p>'
        )
        render_pdf(CJK_PAGE.format(css=f"{base}/style.css", body=body))
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_render_that_exceeds_the_time_limit_is_killed(app, monkeypatch):
    monkeypatch.setattr(pdf, "_write_pdf", lambda html, static_folder: time.sleep(60))
    before = child_pids()
    started = time.monotonic()
    with pytest.raises(PdfTimeout):
        render_pdf("<p>slow</p>", timeout=0.5)
    assert time.monotonic() - started < 10
    assert child_pids() - before == set()


def test_render_failure_is_reported_and_leaves_no_child(app, monkeypatch):
    def explode(html, static_folder):
        raise ValueError("broken layout")

    monkeypatch.setattr(pdf, "_write_pdf", explode)
    before = child_pids()
    with pytest.raises(PdfError, match="broken layout"):
        render_pdf("<p>x</p>", timeout=30)
    assert child_pids() - before == set()


def test_render_of_a_dying_child_is_an_error(app, monkeypatch):
    monkeypatch.setattr(pdf, "_write_pdf", lambda html, static_folder: os._exit(3))
    with pytest.raises(PdfError, match="died"):
        render_pdf("<p>x</p>", timeout=30)
