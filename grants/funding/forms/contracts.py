"""Forms of contracting: the contract (period, budget, tranche plan), the signed copy, the plan.

Money is typed in 万元 with up to six decimals (0.000001 万元 is one cent), so that a
plan or budget scaled to an award to the cent can be shown and typed exactly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, FieldList, FormField, HiddenField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from grants.core.forms import SubForm
from grants.core.money import wan_to_yuan
from grants.funding.contracting import CATEGORIES, BudgetRow, TrancheRow
from grants.funding.models import TRIGGERS
from grants.orgs.forms import MAX_WAN, WanField

WAN_CENT_PLACES = 6


def wan_cents(form, field):
    """A non-negative amount in 万元, exact to the cent (at most six decimals); blank is allowed."""
    if not field.data:
        return
    try:
        value = Decimal(field.data)
    except InvalidOperation:
        raise ValidationError(_l("Enter a number, for example 123.4567.")) from None
    if not value.is_finite():
        raise ValidationError(_l("Enter a number, for example 123.4567."))
    if value < 0:
        raise ValidationError(_l("The amount cannot be negative."))
    if value.as_tuple().exponent < -WAN_CENT_PLACES:
        raise ValidationError(_l("Use at most six decimal places: 0.000001 is one cent."))
    if value > MAX_WAN:
        raise ValidationError(_l("This amount is too large."))


def wan_text(amount: Decimal) -> str:
    """Yuan as the plain text of an amount in 万元, exact, without needless zeros."""
    wan = (Decimal(amount) / Decimal(10000)).normalize()
    return format(wan, "f") if wan != 0 else "0"


def yuan(text) -> Decimal:
    """The yuan of an amount typed in 万元 (blank is zero)."""
    return wan_to_yuan(text) if text else Decimal("0.00")


def milestone_choices(choices: list[tuple[str, str]]) -> list[SelectChoice]:
    """The options of a plan row's milestone list: none, then ``choices`` (value, label)."""
    return [SelectChoice("", "—"), *(SelectChoice(value, label) for value, label in choices)]


class BudgetCategoryForm(SubForm):
    fiscal = WanField(
        _l("Fiscal funds (10,000 yuan)"),
        validators=[wan_cents],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    self_raised = WanField(
        _l("Self-raised funds (10,000 yuan)"),
        validators=[wan_cents],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )


class TrancheRowForm(SubForm):
    """A row of a tranche plan; a row without an amount is left out."""

    id = HiddenField()
    amount = WanField(
        _l("Amount (10,000 yuan)"),
        validators=[wan_cents],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    trigger = SelectField(
        _l("Released when"),
        choices=[SelectChoice(key, label) for key, label in TRIGGERS.items()],
        default="contract",
    )
    milestone = SelectField(
        _l("Milestone"), choices=[SelectChoice("", "—")], default="", validate_choice=False
    )

    def is_blank(self) -> bool:
        return not (self.amount.data or "").strip()

    def validate_milestone(self, field):
        if self.is_blank() or not field.data:
            return
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("Choose one of the milestones of the project."))


class PlanFormMixin:
    """The rows of a tranche plan, with the milestones they may name."""

    tranches: FieldList

    def set_milestones(self, choices: list[tuple[str, str]]) -> None:
        """Offer ``choices`` (value, label) in every row's milestone list."""
        for entry in self.tranches:
            entry.form.milestone.choices = milestone_choices(choices)

    def add_blank_row(self) -> None:
        """One empty row at the end, to add a tranche also without JavaScript."""
        if not self.tranches.entries or not self.tranches.entries[-1].form.is_blank():
            self.tranches.append_entry()

    def filled_rows(self) -> list[tuple[int, TrancheRowForm]]:
        """(index in the form, row form) of the rows with an amount."""
        return [
            (i, entry.form) for i, entry in enumerate(self.tranches) if not entry.form.is_blank()
        ]

    def plan_rows(self) -> list[TrancheRow]:
        """The plan as typed, in yuan; a milestone named by its value (a number)."""
        rows = []
        for _index, row in self.filled_rows():
            chosen = row.milestone.data or ""
            milestone = (
                int(chosen) if row.trigger.data == "milestone" and chosen.isdigit() else None
            )
            rows.append(
                TrancheRow(
                    amount=yuan(row.amount.data),
                    trigger=row.trigger.data,
                    milestone=milestone,
                    id=int(row.id.data) if (row.id.data or "").isdigit() else None,
                )
            )
        return rows

    def show_plan_errors(self, rows: dict[int, str]) -> None:
        """Put the message of each offending plan row (by index among the filled rows) beside it."""
        filled = self.filled_rows()
        for index, message in rows.items():
            if index < len(filled):
                filled[index][1].amount.errors = [*filled[index][1].amount.errors, message]


class ContractForm(PlanFormMixin, FlaskForm):
    """The contract: the period, the budget by category and the tranche plan."""

    start_date = DateField(_l("First day of the project"), validators=[InputRequired()])
    end_date = DateField(_l("Last day of the project"), validators=[InputRequired()])
    equipment = FormField(BudgetCategoryForm)
    business = FormField(BudgetCategoryForm)
    labour = FormField(BudgetCategoryForm)
    indirect = FormField(BudgetCategoryForm)
    tranches = FieldList(FormField(TrancheRowForm), min_entries=1)

    def validate_end_date(self, field):
        if self.start_date.data and field.data and field.data <= self.start_date.data:
            raise ValidationError(_l("The project must end after it starts."))

    def budget_forms(self) -> list[tuple[str, BudgetCategoryForm]]:
        return [(category, getattr(self, category).form) for category in CATEGORIES]

    def budget_is_valid(self) -> bool:
        return not any(f.errors for _category, f in self.budget_forms())

    def budget_rows(self) -> list[BudgetRow]:
        return [
            BudgetRow(category, yuan(f.fiscal.data), yuan(f.self_raised.data))
            for category, f in self.budget_forms()
        ]


class TranchePlanForm(PlanFormMixin, FlaskForm):
    """The tranche plan of a project."""

    tranches = FieldList(FormField(TrancheRowForm), min_entries=1)


class SignedCopyForm(FlaskForm):
    file = FileField(
        _l("Signed and sealed task book"),
        validators=[FileRequired(_l("Choose the file to upload."))],
        description=_l("A scan or photo of the signed and sealed task book: PDF, PNG or JPEG."),
    )


class SignForm(FlaskForm):
    """Confirms the signed task book (the CSRF token only)."""


class ReturnSignedCopyForm(FlaskForm):
    """The bureau returns the signed copy to the applicant, saying what is wrong with it."""

    reason = TextAreaField(
        _l("Reason for returning the signed copy"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("The applicant reads it and uploads a new copy."),
    )
