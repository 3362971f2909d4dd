"""Forms for registering and describing organisations."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from grants.accounts.forms import strong_password
from grants.orgs.models import ORG_TYPES


def org_type_choices():
    return [(k, v) for k, v in ORG_TYPES.items()]


class OrganisationFields(FlaskForm):
    name = StringField(_l("Organisation name"), validators=[DataRequired(), Length(max=200)],
                       description=_l("The full registered name, as on the business licence."))
    uscc = StringField(_l("Unified social credit code"), validators=[DataRequired(), Length(max=40)],
                       description=_l("18 characters, as on the business licence."))
    org_type = SelectField(_l("Type of organisation"), choices=org_type_choices, validators=[DataRequired()])
    cluster_id = SelectField(_l("Industry cluster"), coerce=int, validators=[Optional()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    legal_representative = StringField(_l("Legal representative"), validators=[Optional(), Length(max=100)])
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40)])
    founded_on = DateField(_l("Date founded"), validators=[Optional()])


class PersonFields(FlaskForm):
    person_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("Your e-mail"), validators=[DataRequired(), Email(), Length(max=255)])
    phone = StringField(_l("Your phone"), validators=[Optional(), Length(max=40)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), strong_password])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))])


class RegistrationForm(OrganisationFields, PersonFields):
    """Organisation and first applicant account in one form."""


class InvitationSignupForm(FlaskForm):
    person_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Your phone"), validators=[Optional(), Length(max=40)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), strong_password])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))])
