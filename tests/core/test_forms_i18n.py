"""WTForms' own messages reach the user in the user's language, in rows of a table too."""

from __future__ import annotations

from flask_wtf import FlaskForm

from grants.core.forms import SubForm
from tests.applications.helpers import HTMX, applicant_with_draft
from tests.applications.test_drafting import team_data
from tests.core.test_widgets import form_classes


def test_every_form_is_a_translated_form():
    untranslated = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in form_classes()
        if not issubclass(cls, FlaskForm | SubForm)
    ]
    assert untranslated == []


def test_a_row_error_of_wtforms_is_in_chinese(client, login):
    user, application = applicant_with_draft()
    login(user)
    data = team_data(("王一", "principal"))
    data["team-members-0-workload_months"] = "-3"
    response = client.post(f"/applications/{application.id}/sections/team", data=data, headers=HTMX)
    html = response.get_data(as_text=True)
    assert (
        'id="team-members-0-workload_months-error"' in html
    )  # the htmx answer shows the section's errors
    assert "数值大小必须介于 0 到 600 之间。" in html
    assert "Number must be between" not in html
