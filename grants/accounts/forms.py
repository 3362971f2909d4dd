"""Forms for signing in, passwords and user administration."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from grants.accounts.models import ROLES

ROLE_LABELS = {
    "applicant": _l("Applicant"),
    "expert": _l("Expert reviewer"),
    "finance": _l("Finance"),
    "bureau": _l("Bureau officer"),
    "admin": _l("Administrator"),
}

MIN_PASSWORD = 10


def strong_password(form, field):
    """At least ten characters with both letters and digits."""
    value = field.data or ""
    if (
        len(value) < MIN_PASSWORD
        or not any(c.isalpha() for c in value)
        or not any(c.isdigit() for c in value)
    ):
        raise ValidationError(_l("Use at least 10 characters, with both letters and digits."))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), strong_password])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))],
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=255)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), strong_password])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))],
    )


def role_choices():
    return [(r, ROLE_LABELS[r]) for r in ROLES]


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=255)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    roles = MultiCheckboxField(_l("Roles"), choices=role_choices)
    organisation_id = SelectField(_l("Organisation"), coerce=int, validators=[Optional()])


class NewUserForm(UserForm):
    password = PasswordField(
        _l("Initial password"),
        validators=[Optional(), strong_password],
        description=_l("Leave empty to e-mail the person a link to set their own password."),
    )
