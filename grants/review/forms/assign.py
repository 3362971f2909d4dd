"""Forms for assigning experts and for answering invitations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
BEIJING_TIME = _l("Beijing time (UTC+8).")


class AutoAssignForm(FlaskForm):
    """Parameters of an automatic assignment of a whole call."""

    cap = IntegerField(
        _l("Most reviews per expert"),
        validators=[InputRequired(), NumberRange(min=1, max=200)],
        description=_l(
            "Counting the invitations the expert already holds in this call. An "
            "expert's own maximum, when lower, applies instead."
        ),
    )
    due_at = DateTimeLocalField(
        _l("Reviews due at"),
        format=DATETIME_FORMATS,
        validators=[InputRequired()],
        description=BEIJING_TIME,
    )
    draw = BooleanField(
        _l("Draw by lot among equally suited experts"),
        description=_l(
            "The lot only chooses among experts who suit equally well; "
            "the seed below makes it reproducible."
        ),
    )
    seed = IntegerField(
        _l("Seed of the draw"),
        validators=[Optional(), NumberRange(min=0, max=999_999_999)],
        description=_l("Leave empty to draw a new seed; it is shown and logged after the run."),
    )


class ManualAssignForm(FlaskForm):
    """Invite one chosen expert to one application."""

    expert_id = SelectField(
        _l("Expert"),
        coerce=int,
        validate_choice=False,
        validators=[DataRequired(message=_l("Choose an expert."))],
        description=_l(
            "Best suited first. Experts with a conflict of interest cannot be "
            "chosen; the reason is shown beside their name."
        ),
    )
    due_at = DateTimeLocalField(
        _l("Review due at"),
        format=DATETIME_FORMATS,
        validators=[InputRequired()],
        description=BEIJING_TIME,
    )


class ReplacementForm(FlaskForm):
    """Invite the proposed (or another chosen) expert in place of a declined one."""

    expert_id = IntegerField(
        validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)]
    )  # an id the database holds


class AcceptForm(FlaskForm):
    """Accepting an invitation requires the declaration of no conflict of interest."""

    no_conflict = BooleanField(
        _l(
            "I declare that I have no conflict of interest with this application's organisation and people"
        ),
        validators=[DataRequired(message=_l("You must make this declaration to accept."))],
    )


class RecuseForm(FlaskForm):
    reason = TextAreaField(
        _l("What is the conflict of interest?"),
        validators=[
            DataRequired(
                message=_l(
                    "Say what the conflict of interest is, so that the bureau can record it."
                )
            ),
            Length(max=500),
        ],
        description=_l(
            "For example: I have worked with a member of the team in the last "
            "three years. Your assignment is withdrawn and the bureau is told."
        ),
    )


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        _l("Why do you decline?"),
        validators=[
            DataRequired(message=_l("Say why you decline, so that the bureau can plan.")),
            Length(max=500),
        ],
        description=_l(
            "For example: away until the due date, outside my field, or a "
            "relation with the applicant."
        ),
    )
