"""Every spreadsheet the system writes or reads: xlsx through openpyxl, CSV through csv.

This is the only module that imports openpyxl or csv (a test keeps it so), so that two
rules hold everywhere:

- Text that a spreadsheet program would run as a formula is written as text. A string that
  starts with ``= + - @``, a tab or a carriage return, also after leading white space and in
  the full-width forms ``＝ ＋ － ＠``, gets a leading apostrophe (the OWASP rule against CSV
  and formula injection) and is stored as a string cell. Numbers, Decimals and dates stay
  typed values; money goes in as Decimal and is written as the exact decimal text, never
  through float; datetimes go in as naive Beijing wall-clock time (Excel knows no time zones).
- An uploaded workbook is read within limits: its size, the size it unpacks to (checked on
  the zip directory before any XML is parsed: a deflate bomb never expands), its rows, and a
  run of empty rows after which reading stops. openpyxl reads it in read-only mode and parses
  its XML with defusedxml (installed, so openpyxl uses it). Any problem is one
  :class:`ImportFileError` with a message for the user.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, BinaryIO

import filetype
from flask import current_app
from flask_babel import gettext
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

WAN_FORMAT = "#,##0.00"  # 万元 read to two decimals; the cell keeps the value to the yuan
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_FORMAT = "@"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"
MAX_CELL_CHARS = 32_767  # Excel refuses a workbook with a longer cell

# --- formula injection -------------------------------------------------------------------

_FORMULA_STARTS = frozenset("=+-@")
_CONTROL_STARTS = ("\t", "\r")
_TYPED = (bool, int, float, Decimal, date, datetime, time)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet program could take ``text`` for a formula (OWASP CSV injection).

    True for text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, also
    after leading white space (ideographic space included) and for the full-width and small
    forms of the four signs (``＝ ＋ － ＠``), which input methods type and some programs read.
    """
    if not isinstance(text, str) or not text:
        return False
    if text.startswith(_CONTROL_STARTS):
        return True
    stripped = text.lstrip()
    return bool(stripped) and unicodedata.normalize("NFKC", stripped[0])[:1] in _FORMULA_STARTS


def safe_text(value: Any) -> str:
    """``value`` as text that no spreadsheet runs: a leading apostrophe before a formula sign."""
    text = str(value)
    return "'" + text if looks_like_formula(text) else text


def cell(value: Any) -> Any:
    """The value to store in an xlsx cell: typed numbers and dates as they are, any text safe.

    Text gets the apostrophe of :func:`safe_text`, loses the control characters that xlsx
    cannot hold and is cut at Excel's 32,767 characters; lazy strings and other objects are
    written as their text.
    """
    if value is None or isinstance(value, _TYPED):
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError("give xlsx datetimes as naive local time")
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return safe_text(text)[:MAX_CELL_CHARS]


def csv_value(value: Any) -> str:
    """One CSV field: numbers as their exact text, dates in ISO form, any text safe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return safe_text(value)


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, bom: bool = True) -> str:
    """A CSV document (CRLF lines, UTF-8 byte-order mark for spreadsheet programs) of safe fields."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_value(h) for h in header])
    for row in rows:
        writer.writerow([csv_value(v) for v in row])
    return buffer.getvalue()


# --- writing xlsx --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a sheet: header, width in characters, number format, wrapped text.

    ``value`` takes an item of the rows given to :func:`write_table` to the cell's value.
    ``number_format`` applies to typed numbers and dates only.
    """

    header: Any
    width: float
    value: Callable[[Any], Any] | None = None
    number_format: str | None = None
    wrap: bool = False


_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_WRAP = Alignment(wrap_text=True, vertical="top")
_FORMATTED = (int, float, Decimal, date, datetime, time)


class SheetWriter:
    """One streamed sheet: a bold frozen header row, then rows of safe, typed cells."""

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        columns: Sequence[Column],
        *,
        header: bool = True,
        freeze: str | None = "A2",
    ):
        self.sheet = workbook.create_sheet(title=str(title)[:31])
        self.columns = list(columns)
        for number, column in enumerate(self.columns, start=1):
            self.sheet.column_dimensions[get_column_letter(number)].width = column.width
        if header:
            if freeze:
                self.sheet.freeze_panes = freeze
            cells = []
            for column in self.columns:
                item = WriteOnlyCell(self.sheet, value=cell(str(column.header)))
                item.font = _HEADER_FONT
                item.fill = _HEADER_FILL
                cells.append(item)
            self.sheet.append(cells)

    def text_column(self, number: int) -> None:
        """Make the whole column (1-based) text-formatted, so typed codes keep leading zeros."""
        self.sheet.column_dimensions[get_column_letter(number)].number_format = TEXT_FORMAT

    def choice_list(
        self, number: int, choices: Sequence[str], first_row: int, last_row: int
    ) -> None:
        """A drop-down list of ``choices`` on a column (1-based) between two rows."""
        letter = get_column_letter(number)
        validation = DataValidation(
            type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True
        )
        validation.add(f"{letter}{first_row}:{letter}{last_row}")
        self.sheet.data_validations.append(validation)

    def row(self, values: Sequence[Any], formats: Sequence[str | None] | None = None) -> None:
        """Append one row; ``formats`` overrides the columns' number formats for this row."""
        cells = []
        for number, value in enumerate(values):
            column = self.columns[number] if number < len(self.columns) else None
            item = WriteOnlyCell(self.sheet, value=cell(value))
            if isinstance(item.value, str):
                item.data_type = "s"
            number_format = (
                formats[number]
                if formats is not None
                else (column.number_format if column else None)
            )
            if (
                number_format
                and isinstance(item.value, _FORMATTED)
                and not isinstance(item.value, bool)
            ):
                item.number_format = number_format
            if column is not None and column.wrap:
                item.alignment = _WRAP
            cells.append(item)
        self.sheet.append(cells)


class WorkbookWriter:
    """An xlsx workbook written in openpyxl's write-only (streaming) mode, a sheet at a time."""

    def __init__(self):
        self.workbook = Workbook(write_only=True)

    def sheet(
        self,
        title: str,
        columns: Sequence[Column],
        *,
        header: bool = True,
        freeze: str | None = "A2",
    ) -> SheetWriter:
        """A new sheet; rows of the previous sheet can no longer be added."""
        return SheetWriter(self.workbook, title, columns, header=header, freeze=freeze)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.workbook.save(buffer)
        return buffer.getvalue()


def write_table(columns: list[Column], rows: Iterable[Any], *, sheet_title: str) -> bytes:
    """An xlsx workbook of one sheet: a frozen bold header, then one row per item of ``rows``."""
    book = WorkbookWriter()
    sheet = book.sheet(sheet_title, columns)
    for item in rows:
        sheet.row([column.value(item) for column in columns])
    return book.to_bytes()


# --- reading uploaded xlsx -------------------------------------------------------------------

MB = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    """How much of an uploaded workbook is read (the ``IMPORT_*`` settings)."""

    max_bytes: int = 5 * MB
    max_unzipped_bytes: int = 50 * MB
    max_rows: int = 5000
    stop_after_blank_rows: int = 50
    max_columns: int = 64

    @classmethod
    def from_config(cls, config=None) -> ImportLimits:
        config = current_app.config if config is None else config
        return cls(
            max_bytes=int(config.get("IMPORT_MAX_MB", 5) * MB),
            max_unzipped_bytes=int(config.get("IMPORT_MAX_UNZIPPED_MB", 50) * MB),
            max_rows=int(config.get("IMPORT_MAX_ROWS", 5000)),
            stop_after_blank_rows=int(config.get("IMPORT_STOP_AFTER_BLANK_ROWS", 50)),
        )


class ImportFileError(ValueError):
    """The uploaded file cannot be imported; ``message`` tells the user why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _megabytes(size: int) -> str:
    return f"{size / MB:g}"


def is_xlsx(data: bytes) -> bool:
    """Whether the bytes are an xlsx workbook (a zip package holding ``xl/workbook.xml``)."""
    guess = filetype.guess(data)
    if guess is None or guess.extension not in ("xlsx", "zip"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def _read_upload(file: bytes | BinaryIO, limit: int) -> bytes:
    if isinstance(file, bytes | bytearray):
        return bytes(file)
    return file.read(limit + 1)


def _unzipped_size(data: bytes) -> int:
    """The total size the package's members declare; Python's zipfile never inflates a member
    beyond its declared size, so this bounds what parsing can unpack."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def _head_of(member: BinaryIO, marker: bytes, chunk: int = 64 * 1024) -> bytes:
    """The member's bytes up to and including ``marker`` (all of it when the marker never comes)."""
    head = b""
    while marker not in head:
        block = member.read(chunk)
        if not block:
            break
        head += block
    return head


def _with_dimensions(data: bytes) -> bytes:
    """The package with a ``<dimension>`` in each worksheet that lacks one.

    openpyxl's read-only reader sizes a sheet without it by parsing the whole sheet before the
    first row is read, so a sheet of 100,000 blank rows cost seconds however soon reading was
    meant to stop. Rows are read with explicit bounds, so the inserted ``A1`` changes nothing else.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        lacking = []
        for info in source.infolist():
            if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
                continue
            with source.open(info) as member:
                head = _head_of(member, b"sheetData")
            start = head.find(b"sheetData")
            if start > 0 and b"dimension" not in head[:start]:
                lacking.append(info.filename)
        if not lacking:
            return data
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as target:
            for info in source.infolist():
                content = source.read(info)
                if info.filename in lacking:
                    at = content.find(b"sheetData")
                    opening = content.rfind(b"<", 0, at)
                    prefix = content[opening + 1 : at]
                    content = (
                        content[:opening]
                        + b"<"
                        + prefix
                        + b'dimension ref="A1"/>'
                        + content[opening:]
                    )
                    target.writestr(info.filename, content, compress_type=zipfile.ZIP_STORED)
                else:
                    target.writestr(info, content)
        return buffer.getvalue()


def _is_blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def read_rows(
    file: bytes | BinaryIO, limits: ImportLimits | None = None
) -> list[tuple[int, tuple]]:
    """The non-empty rows of the workbook's first sheet as (Excel row number, values).

    The header row is included (as row 1 when the sheet has one there). Reading stops after
    ``stop_after_blank_rows`` empty rows in a row; a file too large, one that is not an xlsx,
    unpacks too large, has more than ``max_rows`` rows below the header or cannot be parsed
    raises :class:`ImportFileError`. Only the first ``max_columns`` columns are read.
    """
    limits = limits or ImportLimits.from_config()
    data = _read_upload(file, limits.max_bytes)
    if len(data) > limits.max_bytes:
        raise ImportFileError(
            gettext("The file is larger than %(mb)s MB.", mb=_megabytes(limits.max_bytes))
        )
    if not is_xlsx(data):
        raise ImportFileError(
            gettext("This is not an Excel workbook (.xlsx). Download the template and fill it in.")
        )
    unreadable = gettext("The workbook cannot be read. Save it again as .xlsx and retry.")
    try:
        unzipped = _unzipped_size(data)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(unreadable) from None
    if unzipped > limits.max_unzipped_bytes:
        raise ImportFileError(
            gettext(
                "The workbook unpacks to more than %(mb)s MB, far more than a sheet of this size needs. Copy the "
                "rows into a new workbook, save it as .xlsx and upload that.",
                mb=_megabytes(limits.max_unzipped_bytes),
            )
        )
    try:
        workbook = load_workbook(io.BytesIO(_with_dimensions(data)), read_only=True, data_only=True)
    except (
        Exception
    ):  # openpyxl and defusedxml raise many kinds of error for a damaged or hostile package
        raise ImportFileError(unreadable) from None
    rows: list[tuple[int, tuple]] = []
    blank_run = 0
    try:
        if not workbook.worksheets:
            raise ImportFileError(unreadable)
        sheet = workbook.worksheets[0]
        rows_read = sheet.iter_rows(
            max_row=limits.max_rows + 2, max_col=limits.max_columns, values_only=True
        )
        for number, values in enumerate(rows_read, start=1):
            if _is_blank(values):
                blank_run += 1
                if blank_run >= limits.stop_after_blank_rows:
                    break
                continue
            blank_run = 0
            if number - 1 > limits.max_rows:
                raise ImportFileError(
                    gettext(
                        "The sheet has more than %(max)d rows: split it into files of at most %(max)d rows each.",
                        max=limits.max_rows,
                    )
                )
            rows.append((number, tuple(values)))
    except ImportFileError:
        raise
    except Exception:  # errors in the sheet's XML surface while it is streamed
        raise ImportFileError(unreadable) from None
    finally:
        workbook.close()
    return rows
