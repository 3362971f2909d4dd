"""Streaming xlsx tables with openpyxl's write-only mode: a bold frozen header, typed cells.

Money goes in as Decimal and is written as the exact decimal text, never through float;
datetimes go in as naive Beijing wall-clock time (Excel knows no time zones).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

WAN_FORMAT = "#,##0.0000"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """One column of an exported table: header, width in characters, cell value and format."""

    header: Any
    width: float
    value: Callable[[Any], Any]
    number_format: str | None = None
    wrap: bool = False


_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _cell(sheet, value, column: Column) -> WriteOnlyCell:
    if isinstance(value, datetime) and value.tzinfo is not None:
        raise ValueError("give xlsx datetimes as naive local time")
    cell = WriteOnlyCell(sheet, value=value)
    if column.number_format and isinstance(value, int | float | Decimal | date):
        cell.number_format = column.number_format
    if column.wrap:
        cell.alignment = _WRAP
    return cell


def write_table(columns: list[Column], rows: Iterable[Any], *, sheet_title: str) -> bytes:
    """An xlsx workbook of one sheet: a frozen bold header, then one row per item of ``rows``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31])
    sheet.freeze_panes = "A2"
    for number, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = column.width
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=str(column.header))
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        header.append(cell)
    sheet.append(header)
    for item in rows:
        sheet.append([_cell(sheet, column.value(item), column) for column in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
