"""Bugs the form fuzzer (test_forms_fuzz.py) found, pinned down one by one."""

from __future__ import annotations

import pytest
from wtforms.validators import ValidationError

from grants.extensions import db
from grants.notifications.operations import notify, unread_count
from tests.factories import make_project, make_user

TOO_BIG_ID = 2**31  # one past the largest id PostgreSQL's integer columns hold


@pytest.mark.parametrize(
    "validator",
    ["grants.projects.forms.tracking:kpi_figure", "grants.projects.forms.acceptance:figure"],
)
@pytest.mark.parametrize("text", ["1e308", "9" * 40])
def test_figures_too_long_for_decimal_context_are_refused_not_crashed(app, validator, text):
    import importlib

    module, name = validator.split(":")
    check = getattr(importlib.import_module(module), name)

    class Field:
        data = text

    with app.test_request_context(), pytest.raises(ValidationError):
        check(None, Field())


def test_marking_a_message_read_with_an_id_beyond_the_database_integer_changes_nothing(
    client, login
):
    user = make_user("finance")
    notify([user], "test.kind", "甲消息")
    db.session.commit()
    login(user)
    response = client.post("/inbox/read", data={"id": str(TOO_BIG_ID * 1000)})
    assert response.status_code == 302
    assert unread_count(user) == 1


def test_replacement_expert_id_beyond_the_database_integer_is_refused(app):
    from grants.review.forms.assign import ReplacementForm

    with app.test_request_context(method="POST", data={"expert_id": str(TOO_BIG_ID)}):
        form = ReplacementForm(meta={"csrf": False})
        assert not form.validate()
        assert form.expert_id.errors


def test_midterm_batch_with_an_id_beyond_the_database_integer_is_a_422_with_a_message(
    client, login
):
    make_project()
    login(make_user("bureau"))
    response = client.post(
        "/projects/midterm/record",
        data={
            "batch": "2026 中期检查",
            "entries-0-project_id": str(TOO_BIG_ID * 10**20),
            "entries-0-conclusion": "pass",
        },
    )
    assert response.status_code == 422
    assert "alert-danger" in response.get_data(
        as_text=True
    ) or "invalid-feedback" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", [f"/notices/{TOO_BIG_ID}", f"/notices/{TOO_BIG_ID * 10**9}"])
def test_url_ids_beyond_the_database_integer_are_not_found(client, login, path):
    """Every ``<int:…>`` URL argument is bounded: PostgreSQL answered such ids with a 500."""
    login(make_user("bureau"))
    assert client.get(path).status_code == 404


def test_the_largest_database_integer_still_routes(app):
    endpoint, values = app.url_map.bind("grants.test").match(f"/notices/{TOO_BIG_ID - 1}")
    assert endpoint == "review.public_notice" and values == {"notice_id": TOO_BIG_ID - 1}
