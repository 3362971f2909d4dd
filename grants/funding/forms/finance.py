"""Forms of disbursements: the bureau's release request and finance's check, payment and rejection."""

import re
import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)


class RequestReleaseForm(FlaskForm):
    """The "request release" button of a due tranche; the key is made when the page renders."""

    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{8,64}$")])
    note = TextAreaField(_l("Note for finance"), validators=[Optional(), Length(max=1000)])

    @classmethod
    def fresh(cls, prefix: str) -> "RequestReleaseForm":
        """A form for a newly rendered page, with a new idempotency key."""
        form = cls(formdata=None, prefix=prefix)
        form.idempotency_key.data = uuid.uuid4().hex
        return form


def _account_digits(form, field):
    digits = re.sub(r"\s+", "", field.data or "")
    if not re.fullmatch(r"\d{8,30}", digits):
        raise ValidationError(_l("The account number must consist of 8 to 30 digits."))


class ApproveDisbursementForm(FlaskForm):
    """Finance's check of a requested disbursement: the payee's account and the voucher."""

    payee_name = StringField(
        _l("Payee"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("The account holder, normally the project's organisation."),
    )
    payee_bank = StringField(_l("Bank and branch"), validators=[DataRequired(), Length(max=200)])
    payee_account = StringField(
        _l("Account number"),
        validators=[DataRequired(), _account_digits],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    voucher_no = StringField(_l("Voucher number"), validators=[DataRequired(), Length(max=60)])
    voucher_date = DateField(_l("Voucher date"), validators=[InputRequired()])


class PayDisbursementForm(FlaskForm):
    """Marking an approved disbursement paid (a confirmation only)."""


class RejectDisbursementForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for rejecting"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("The bureau and the project's organisation read it."),
    )
