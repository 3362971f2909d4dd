"""Forms for registering and describing organisations, and for industry clusters."""

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from grants.accounts.forms import strong_password
from grants.orgs.models import ORG_TYPES, QUALIFICATIONS


def org_type_choices():
    return [(k, v) for k, v in ORG_TYPES.items()]


class OrganisationFields(FlaskForm):
    name = StringField(
        _l("Organisation name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("The full registered name, as on the business licence."),
    )
    uscc = StringField(
        _l("Unified social credit code"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("18 characters, as on the business licence."),
    )
    org_type = SelectField(
        _l("Type of organisation"), choices=org_type_choices, validators=[DataRequired()]
    )
    cluster_id = SelectField(_l("Industry cluster"), coerce=int, validators=[Optional()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    legal_representative = StringField(
        _l("Legal representative"), validators=[Optional(), Length(max=100)]
    )
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40)])
    founded_on = DateField(_l("Date founded"), validators=[Optional()])


class PersonFields(FlaskForm):
    person_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("Your e-mail"), validators=[DataRequired(), Email(), Length(max=255)])
    phone = StringField(_l("Your phone"), validators=[Optional(), Length(max=40)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), strong_password])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))],
    )


class RegistrationForm(OrganisationFields, PersonFields):
    """Organisation and first applicant account in one form."""


class InvitationSignupForm(FlaskForm):
    person_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Your phone"), validators=[Optional(), Length(max=40)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), strong_password])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))],
    )


class EditOrganisationForm(OrganisationFields):
    """The profile; the view removes ``uscc`` for those who may not correct it."""


def qualification_choices():
    return [(k, v) for k, v in QUALIFICATIONS.items()]


class QualificationForm(FlaskForm):
    kind = SelectField(
        _l("Qualification"), choices=qualification_choices, validators=[DataRequired()]
    )
    granted_on = DateField(_l("Granted on"), validators=[DataRequired()])
    expires_on = DateField(
        _l("Expires on"),
        validators=[Optional()],
        description=_l("Leave empty if it does not expire."),
    )
    certificate_no = StringField(_l("Certificate number"), validators=[Optional(), Length(max=80)])


WAN_PLACES = 4
MAX_WAN = Decimal("99999999.9999")  # the yuan column holds 14 digits, two of them decimals


class WanField(StringField):
    """An amount of money typed in units of ten thousand yuan, kept as text until converted."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = (
                (valuelist[0] or "")
                .translate({ord(","): None, 0xFF0C: None, ord(" "): None, 0x3000: None})
                .strip()
            )


def wan_amount(form, field):
    """A non-negative decimal with at most four decimal places (exact to the yuan)."""
    try:
        value = Decimal(field.data or "")
    except InvalidOperation:
        raise ValidationError(_l("Enter a number, for example 123.4567.")) from None
    if not value.is_finite():
        raise ValidationError(_l("Enter a number, for example 123.4567."))
    if value < 0:
        raise ValidationError(_l("The amount cannot be negative."))
    if value.as_tuple().exponent < -WAN_PLACES:
        raise ValidationError(_l("Use at most four decimal places: 0.0001 is one yuan."))
    if value > MAX_WAN:
        raise ValidationError(_l("This amount is too large."))


class YearFigureForm(FlaskForm):
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(min=1990, max=2100)])
    revenue = WanField(
        _l("Revenue (10,000 yuan)"),
        validators=[InputRequired(), wan_amount],
        render_kw={"inputmode": "decimal"},
    )
    rd_spending = WanField(
        _l("R&D spending (10,000 yuan)"),
        validators=[InputRequired(), wan_amount],
        render_kw={"inputmode": "decimal"},
    )
    staff = IntegerField(
        _l("Staff"), validators=[InputRequired(), NumberRange(min=0, max=10_000_000)]
    )
    rd_staff = IntegerField(
        _l("R&D staff"), validators=[Optional(), NumberRange(min=0, max=10_000_000)], default=0
    )


class InviteForm(FlaskForm):
    email = EmailField(
        _l("E-mail of the colleague"), validators=[DataRequired(), Email(), Length(max=255)]
    )


class ClusterForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[a-z0-9_-]+$", message=_l("Use lower-case letters, digits, - and _.")),
        ],
        filters=[lambda s: s.strip().lower() if s else s],
        description=_l("A short identifier such as pharma; used in reports and imports."),
    )
    name_zh = StringField(_l("Chinese name"), validators=[DataRequired(), Length(max=100)])
    name_en = StringField(_l("English name"), validators=[Optional(), Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    sort_order = IntegerField(
        _l("Sort order"),
        default=0,
        validators=[Optional(), NumberRange(min=-100000, max=100000)],
        description=_l("Smaller numbers come first."),
    )
    active = BooleanField(
        _l("Active (offered when organisations and calls choose a cluster)"), default=True
    )
