"""Forms of the expert pool, the expert's profile, excluded experts and conflict rulings."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from grants.accounts.forms import MultiCheckboxField
from grants.review.models import RELATION_KINDS

KEYWORDS_HELP = _l("Separate keywords with commas or 、, for example 中药、提取工艺、质量控制.")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ExpertForm(FlaskForm):
    """The bureau's form for one expert of the pool."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)], filters=[_strip])
    title = StringField(
        _l("Professional title"),
        validators=[Optional(), Length(max=100)],
        filters=[_strip],
        description=_l("For example 教授, 研究员, 正高级工程师."),
    )
    employer_name = StringField(
        _l("Employer"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    employer_uscc = StringField(
        _l("Employer's unified social credit code"),
        validators=[Optional(), Length(max=40)],
        filters=[_strip],
        description=_l(
            "Optional. A code registered here links the employer, so that its "
            "applications are never assigned to this expert."
        ),
    )
    cluster_ids = MultiCheckboxField(_l("Industry clusters of expertise"), coerce=int)
    keywords = StringField(
        _l("Keywords"), validators=[Optional(), Length(max=1000)], description=KEYWORDS_HELP
    )
    email = EmailField(
        _l("E-mail"),
        validators=[Optional(), Email(), Length(max=255)],
        filters=[_strip],
        description=_l(
            "Links the expert to an account: an existing account gets the expert role, "
            "otherwise one is created and a link to choose a password is e-mailed."
        ),
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)], filters=[_strip])
    max_load = IntegerField(
        _l("Most applications at a time"),
        validators=[Optional(), NumberRange(min=0, max=1000)],
        description=_l("Optional cap on the number of applications assigned in one call."),
    )
    active = BooleanField(_l("Active (may be invited to review)"), default=True)


class ExpertImportForm(FlaskForm):
    file = FileField(
        _l("Workbook (.xlsx)"),
        validators=[FileRequired(_l("Choose the workbook to import."))],
        render_kw={
            "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        },
        description=_l("Fill in the template: one expert per row, at most 2 MB."),
    )


class ExpertProfileForm(FlaskForm):
    """What the expert keeps up to date themselves."""

    title = StringField(
        _l("Professional title"), validators=[Optional(), Length(max=100)], filters=[_strip]
    )
    cluster_ids = MultiCheckboxField(_l("Industry clusters of expertise"), coerce=int)
    keywords = TextAreaField(
        _l("Keywords"), validators=[Optional(), Length(max=1000)], description=KEYWORDS_HELP
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)], filters=[_strip])


def relation_kind_choices():
    return [("", _l("— choose —"))] + [(k, v) for k, v in RELATION_KINDS.items()]


class RelationForm(FlaskForm):
    """A relation the expert declares with an organisation."""

    kind = SelectField(
        _l("Kind of relation"),
        choices=relation_kind_choices,
        validators=[DataRequired(_l("Choose the kind of relation."))],
    )
    organisation_uscc = StringField(
        _l("Organisation's unified social credit code"),
        validators=[Optional(), Length(max=40)],
        filters=[_strip],
        description=_l("If you know it: the code identifies the organisation for sure."),
    )
    organisation_name = StringField(
        _l("Organisation name"),
        validators=[Optional(), Length(max=200)],
        filters=[_strip],
        description=_l("The full name, as registered."),
    )
    note = StringField(
        _l("Details"),
        validators=[Optional(), Length(max=500)],
        filters=[_strip],
        description=_l(
            "For example your position, the share held, the joint project or the person."
        ),
    )
    since = DateField(_l("Since"), validators=[Optional()])
    until = DateField(
        _l("Until"), validators=[Optional()], description=_l("Leave empty if it continues.")
    )

    def validate_organisation_name(self, field):
        if not field.data and not self.organisation_uscc.data:
            raise ValidationError(
                _l("Name the organisation, or give its unified social credit code.")
            )

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))


class ExcludedExpertForm(FlaskForm):
    """An expert the applicant asks not to review the application."""

    name = StringField(
        _l("Expert's name"), validators=[DataRequired(), Length(max=100)], filters=[_strip]
    )
    employer_name = StringField(
        _l("Employer"),
        validators=[Optional(), Length(max=200)],
        filters=[_strip],
        description=_l("Helps to tell namesakes apart."),
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Say why this expert should not review.")), Length(max=500)],
        filters=[_strip],
    )


RULING_CHOICES = [
    ("block", _l("Block: the expert may not review this application")),
    ("allow", _l("Allow: the resemblance is no conflict")),
]


class ConflictRulingForm(FlaskForm):
    """The bureau's ruling on the soft flags of one application and expert."""

    decision = RadioField(
        _l("Ruling"),
        choices=RULING_CHOICES,
        validators=[InputRequired(_l("Choose block or allow."))],
    )
    reason = StringField(
        _l("Reason"),
        validators=[DataRequired(_l("Give the reason for the ruling.")), Length(max=500)],
        filters=[_strip],
    )
