"""Import limits: a hostile workbook is refused (422, one message, nothing imported) or cut short."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from grants.core.xlsx import ImportFileError, ImportLimits, read_rows
from grants.extensions import db
from grants.review.models import Expert
from tests.factories import make_user
from tests.review.pool_helpers import workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.imports import blank_rows_workbook, deflate_bomb


@pytest.fixture
def bureau(login):
    user = make_user("bureau")
    login(user)
    return user


def upload(client, data: bytes):
    return client.post(
        "/experts/import",
        data={"file": (io.BytesIO(data), "experts.xlsx")},
        content_type="multipart/form-data",
    )


def experts() -> int:
    return db.session.scalar(sa.select(sa.func.count(Expert.id)))


def test_reading_stops_after_a_run_of_blank_rows(app):
    with app.test_request_context():
        rows = read_rows(blank_rows_workbook(5000), ImportLimits(stop_after_blank_rows=50))
    assert [number for number, _values in rows] == [1]


def test_reading_stops_before_what_follows_a_run_of_blank_rows(app):
    """Rows past the blank run are never parsed: a broken tail there goes unnoticed.

    openpyxl sizes a sheet without a <dimension> by parsing all of it first; had reading not
    stopped at the blank run, the unclosed element after it would make the workbook unreadable.
    """
    package = blank_rows_workbook(200)
    with zipfile.ZipFile(io.BytesIO(package)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"]
    members["xl/worksheets/sheet1.xml"] = sheet.replace(
        b"</sheetData>", b"<row><c><broken></sheetData>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in members.items():
            target.writestr(name, content)
    with app.test_request_context():
        rows = read_rows(buffer.getvalue(), ImportLimits(stop_after_blank_rows=50))
    assert [number for number, _values in rows] == [1]


def test_deflate_bomb_is_refused_before_parsing(app, client, bureau, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_UNZIPPED_MB", 1)
    response = upload(client, deflate_bomb(3))
    assert response.status_code == 422
    assert "解压后超过 1 MB" in response.get_data(as_text=True)
    assert experts() == 0


def test_too_many_rows_is_refused_with_nothing_imported(app, client, bureau, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 3)
    response = upload(client, workbook([[f"专家{i}"] + [""] * 8 for i in range(4)]))
    assert response.status_code == 422
    assert 'type="file"' in response.get_data(as_text=True)
    assert experts() == 0


def test_rows_within_the_limit_are_read(app):
    with app.test_request_context():
        rows = read_rows(workbook([["严建国"] + [""] * 8]), ImportLimits(max_rows=1))
    assert [n for n, _v in rows] == [1, 2]


def test_entity_expansion_is_refused(app):
    data = deflate_bomb(0).replace(b"x", b"x")
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buffer, "w") as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                body = body.replace(b"?>", b'?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>', 1)
            out.writestr(info.filename, body)
    with app.test_request_context(), pytest.raises(ImportFileError):
        read_rows(buffer.getvalue(), ImportLimits())
