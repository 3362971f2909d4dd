"""The base of the forms nested in other forms (rows of a FieldList, a FormField).

Flask-WTF's ``FlaskForm`` gives WTForms' own messages ("This field is required.",
"Number must be between 0 and 600.") in the user's language; a plain ``wtforms.Form``
does not, so a row of the application form answered a Chinese user in English. Every
form of the app is a ``FlaskForm`` or a ``SubForm`` (tests/core/test_forms_i18n.py checks).
"""

from __future__ import annotations

from flask import current_app
from flask_wtf.i18n import translations
from wtforms import Form
from wtforms.meta import DefaultMeta


class SubForm(Form):
    """A form without CSRF of its own, for rows and nested parts, translated like FlaskForm."""

    class Meta(DefaultMeta):
        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return translations
