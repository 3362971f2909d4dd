"""The kinds of change request: one class each in one table, and errors that surface."""

from __future__ import annotations

import pytest

from grants.extensions import db
from grants.projects import changes as ops
from grants.projects.models import CHANGE_KINDS
from tests.projects.change_helpers import cast, extension


def test_change_kinds_every_kind_is_registered_once(app):
    assert set(ops.CHANGE_KIND_TYPES) == set(CHANGE_KINDS)
    assert all(kind.name == name for name, kind in ops.CHANGE_KIND_TYPES.items())


@pytest.mark.parametrize("name", sorted(CHANGE_KINDS))
def test_change_kinds_each_kind_validates_diffs_and_applies(app, name):
    kind = ops.change_kind(name)
    for verb in ("current", "validate", "diff", "apply"):
        assert getattr(type(kind), verb) is not getattr(ops.ChangeKind, verb), (name, verb)


def test_change_kinds_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown change kind"):
        ops.change_kind("merger")


@pytest.mark.parametrize("name", sorted(CHANGE_KINDS))
def test_change_kinds_each_kind_diffs_its_starting_proposal(app, name):
    c = cast()
    kind = ops.change_kind(name)
    rows = kind.diff(c.project, kind.current(c.project), kind.starting(c.project))
    assert rows and all(isinstance(row, ops.DiffRow) for row in rows)


def test_change_kinds_diff_error_is_not_swallowed(app):
    c = cast()
    change = ops.draft_change(
        c.project, "extension", c.owner, reason="设备到货延迟", proposed=extension(c.project, 3)
    )
    assert ops.diff_rows(change)
    change.proposed = {**change.proposed, "milestones": "not a list of rows"}
    db.session.flush()
    with pytest.raises(AttributeError):
        ops.diff_rows(change)
