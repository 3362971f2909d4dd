"""Forms for decisions, public notices, objections and the release of comments."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from grants.orgs.forms import WanField, wan_amount


class ApproveForm(FlaskForm):
    """Approve with an amount typed in 万元 (prefixed per application on the decisions page)."""

    amount = WanField(
        _l("Amount approved (10,000 yuan)"),
        validators=[InputRequired(), wan_amount],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )


class DeclineForm(FlaskForm):
    reasons = TextAreaField(
        _l("Reasons for declining"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("The applicant reads these once the decisions are released."),
    )


class NoticeForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(
        _l("Text of the notice"),
        validators=[Optional(), Length(max=10000)],
        description=_l(
            "Shown above the list of approved projects: the period, where and how "
            "to raise an objection, the contact."
        ),
    )
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    ends_on = DateField(
        _l("Last day"),
        validators=[InputRequired()],
        description=_l("The usual rule is at least five working days."),
    )

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The notice cannot end before it starts."))


class CloseNoticeForm(FlaskForm):
    force = BooleanField(_l("Close before the end date"))
    reason = TextAreaField(
        _l("Reason for closing early"), validators=[Optional(), Length(max=2000)]
    )


class ObjectionForm(FlaskForm):
    application_id = SelectField(
        _l("Application concerned"), coerce=int, validators=[InputRequired()]
    )
    raised_by = StringField(
        _l("Raised by"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("A person or organisation; “anonymous” if not given."),
    )
    contact = StringField(_l("Contact"), validators=[Optional(), Length(max=200)])
    received_on = DateField(_l("Received on"), validators=[InputRequired()])
    text = TextAreaField(_l("The objection"), validators=[DataRequired(), Length(max=10000)])


class ResolveObjectionForm(FlaskForm):
    resolution = TextAreaField(
        _l("Resolution"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("What was checked and what the bureau concluded."),
    )
    overturn = BooleanField(_l("Upholding it overturns the approval of the application"))


class OverturnForm(FlaskForm):
    reasons = TextAreaField(
        _l("Reasons the applicant will read"),
        validators=[Optional(), Length(max=4000)],
        description=_l("Left empty, the resolution of the upheld objection is used."),
    )


class ReleasedCommentForm(FlaskForm):
    text = TextAreaField(
        _l("Version released to the applicant"), validators=[Optional(), Length(max=20000)]
    )


class ReleaseForm(FlaskForm):
    """Releases every decision of a call (the CSRF token only)."""
