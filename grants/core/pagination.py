"""Pagination of a select statement from the ``page`` query argument."""

from __future__ import annotations

from flask import current_app, request

from grants.extensions import db


def paginate(stmt, per_page: int | None = None):
    """A Flask-SQLAlchemy pagination of ``stmt`` at ``?page=`` (bad numbers mean page 1)."""
    page = request.args.get("page", 1, type=int) or 1
    return db.paginate(
        stmt,
        page=max(1, page),
        per_page=per_page or current_app.config["PAGE_SIZE"],
        error_out=False,
        max_per_page=200,
    )
