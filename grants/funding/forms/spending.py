"""Forms of spending reports (amounts typed in yuan), finance's check and recoveries."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from grants.applications.models import BUDGET_CATEGORIES
from grants.core.storage import chosen_files
from grants.funding.spending import budget_categories, check_values


class YuanField(StringField):
    """An amount of money typed in yuan, kept as text (commas and spaces dropped) until converted."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = (
                (valuelist[0] or "")
                .translate({ord(","): None, 0xFF0C: None, ord(" "): None, 0x3000: None})
                .strip()
            )


class ExpenditureForm(FlaskForm):
    """A spending report; ``check`` (project-dependent rules) is set by the view before validating."""

    category = SelectField(_l("Budget category"), validators=[DataRequired()])
    period_start = DateField(_l("Period from"), validators=[InputRequired()])
    period_end = DateField(_l("Period to"), validators=[InputRequired()])
    amount = YuanField(
        _l("Amount spent (yuan)"),
        validators=[InputRequired()],
        description=_l("In yuan, not 10,000 yuan: for example 12500.00."),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    note = TextAreaField(
        _l("Note"),
        validators=[Optional(), Length(max=4000)],
        description=_l("What the money was spent on."),
    )
    evidence = MultipleFileField(
        _l("Evidence"),
        description=_l(
            "Invoices, vouchers or contracts: PDF, Word (DOCX), Excel (XLSX), "
            "PNG or JPEG. You may choose several files."
        ),
    )

    def __init__(self, *args, project=None, evidence_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.evidence_required = evidence_required
        categories = _categories(project)
        self.category.choices = [("", _l("— choose —"))] + [
            (c, BUDGET_CATEGORIES.get(c, c)) for c in categories
        ]
        if evidence_required:
            self.evidence.flags.required = True

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.evidence_required and not chosen_files(self.evidence.data):
            message = _l("Attach at least one invoice, voucher or other evidence.")
            self.evidence.errors = [*list(self.evidence.errors), message]
            ok = False
        if self.project is not None:
            for name, message in check_values(self.project, self.values()):
                field = getattr(self, name)
                if not field.errors:  # a field that did not even parse keeps its own message
                    field.errors = [message]
                ok = False
        return ok

    def values(self) -> dict:
        """The typed values as the operations take them (amount still text, in yuan)."""
        return {
            "category": self.category.data,
            "period_start": self.period_start.data,
            "period_end": self.period_end.data,
            "amount": self.amount.data or "",
            "note": self.note.data or "",
        }


def _categories(project) -> list[str]:
    if project is None:
        return list(BUDGET_CATEGORIES)

    return budget_categories(project)


class VerifyForm(FlaskForm):
    note = TextAreaField(_l("Remark (optional)"), validators=[Optional(), Length(max=4000)])


class ReturnForm(FlaskForm):
    note = TextAreaField(
        _l("What is wrong"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("The project owner reads this and corrects the report."),
    )


class RecoveryForm(FlaskForm):
    amount = YuanField(
        _l("Amount received (yuan)"),
        validators=[InputRequired()],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    voucher_no = StringField(
        _l("Receipt voucher number"), validators=[DataRequired(), Length(max=60)]
    )
    received_on = DateField(_l("Received on"), validators=[InputRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])
