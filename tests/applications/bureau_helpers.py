"""Helpers for the bureau-side tests: applications created directly in a state, statement counting."""

from __future__ import annotations

import itertools
import random
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from grants.core.types import utcnow
from tests.factories import ApplicationFactory, CallFactory, make_user

_serial = itertools.count(1)


def application_in_state(
    state: str = "submitted",
    *,
    submitted_at: datetime | None = None,
    reference_no: str | None = None,
    **kwargs,
):
    """An application created directly in ``state`` (with reference number and submission time)."""
    n = next(_serial)
    kwargs.setdefault("title", distinct_text(n, 14))
    kwargs.setdefault("summary", distinct_text(n + 100_000, 60))
    if state != "draft":
        kwargs.setdefault("submitted_at", submitted_at or utcnow() - timedelta(hours=n))
        kwargs.setdefault("reference_no", reference_no or f"T-{n:05d}")
    return ApplicationFactory(state=state, **kwargs)


def submitted_with_applicant(**kwargs):
    """A submitted application and an applicant of its organisation (to receive notifications)."""
    application = application_in_state("submitted", **kwargs)
    applicant = make_user("applicant", organisation=application.organisation)
    return application, applicant


def distinct_text(seed: int, length: int) -> str:
    """Chinese-looking text that shares almost no bigrams with another seed's text."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(length))


@contextmanager
def count_selects():
    """Count the SELECT statements sent to the database inside the block."""
    counter = {"n": 0, "statements": []}

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            counter["n"] += 1
            counter["statements"].append(statement)

    sa.event.listen(Engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        sa.event.remove(Engine, "before_cursor_execute", before)


__all__ = [
    "CallFactory",
    "application_in_state",
    "count_selects",
    "distinct_text",
    "submitted_with_applicant",
]
