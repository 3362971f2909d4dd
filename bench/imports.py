"""Benchmark the xlsx import against hostile workbooks: time and memory of reading them.

    .venv/bin/python bench/imports.py
    .venv/bin/python bench/imports.py --blank-rows 100000 --bomb-mb 200

Two workbooks are built in memory, each small enough to pass the upload size limit:

- a sheet with the template's header row and then 400,000 rows of blank cells (a few hundred
  KB zipped), the shape that kept an import busy for seconds;
- a deflate bomb: a sheet whose XML is padded with 1 GB of spaces, about 1 MB zipped.

Each is read by the expert import's reader (``grants.review.experts.read_sheet``) inside an app
context, as the import page does, and the bench prints the outcome (rows read, or the error the
user sees), the wall time and the peak resident memory of the reading process (a
forked child per workbook). It measures whatever code is checked out, so running it before and after a
change gives the before/after figures.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADERS = (
    "姓名",
    "职称",
    "工作单位",
    "统一社会信用代码",
    "产业集群",
    "关键词",
    "电子邮箱",
    "电话",
    "是否启用",
)
COLUMNS = "ABCDEFGHI"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="专家" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = "</sheetData></worksheet>"


def _header_row() -> str:
    cells = "".join(
        f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>'
        for c, h in zip(COLUMNS, HEADERS, strict=True)
    )
    return f'<row r="1">{cells}</row>'


def _package(write_sheet) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            write_sheet(sheet)
    return buffer.getvalue()


def blank_rows_workbook(rows: int) -> bytes:
    """The header row, then ``rows`` rows of nine cells holding a space (rows numbered implicitly)."""

    def write(sheet):
        sheet.write((SHEET_HEAD + _header_row()).encode())
        row = "<row>" + '<c t="inlineStr"><is><t> </t></is></c>' * len(COLUMNS) + "</row>"
        for start in range(0, rows, 10_000):
            sheet.write((row * min(10_000, rows - start)).encode())
        sheet.write(SHEET_TAIL.encode())

    return _package(write)


def deflate_bomb(megabytes: int) -> bytes:
    """The header row and one expert, padded with ``megabytes`` MB of spaces between the rows."""

    def write(sheet):
        sheet.write((SHEET_HEAD + _header_row()).encode())
        block = b" " * (1024 * 1024)
        for _ in range(megabytes):
            sheet.write(block)
        sheet.write(
            (
                '<row r="2"><c r="A2" t="inlineStr"><is><t>严建国</t></is></c></row>' + SHEET_TAIL
            ).encode()
        )

    return _package(write)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure_here(app, name: str, data: bytes) -> None:
    from grants.review import experts

    rss_before = _peak_rss_mib()
    with app.test_request_context():
        started = time.perf_counter()
        try:
            rows = experts.read_sheet(data)
            outcome = f"read {len(rows)} rows"
        except experts.ImportRefused as exc:
            outcome = "refused: " + "; ".join(e.message for e in exc.errors)
        elapsed = time.perf_counter() - started
    print(
        f"{name}: {len(data) / 1024 / 1024:.2f} MB zipped; {elapsed:.2f} s; peak resident memory "
        f"{_peak_rss_mib():.0f} MiB (+{_peak_rss_mib() - rss_before:.0f} MiB)\n    {outcome}",
        flush=True,
    )


def measure(app, name: str, data: bytes) -> None:
    """Read ``data`` in a forked child, so that each figure of peak memory is its own."""
    child = multiprocessing.get_context("fork").Process(
        target=_measure_here, args=(app, name, data)
    )
    child.start()
    child.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blank-rows", type=int, default=400_000)
    parser.add_argument(
        "--bomb-mb", type=int, default=1024, help="unzipped padding of the bomb in MB"
    )
    args = parser.parse_args()

    from grants import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
                "UPLOAD_DIR": folder,
                "INSTANCE_DIR": folder,
                "JOBS_MODE": "sync",
                "REDIS_URL": None,
                "SCHEDULER_IN_PROCESS": False,
                "RATELIMIT_STORAGE_URI": "memory://",
            }
        )
        print(
            f"building the workbooks ({args.blank_rows:,} blank rows; a {args.bomb_mb:,} MB bomb) …"
        )
        blank = blank_rows_workbook(args.blank_rows)
        bomb = deflate_bomb(args.bomb_mb)
        measure(app, f"{args.blank_rows:,} blank rows", blank)
        measure(app, f"deflate bomb ({args.bomb_mb:,} MB unzipped)", bomb)


if __name__ == "__main__":
    main()
