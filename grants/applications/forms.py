"""The application form, one form per section; each validates only what the user typed.

Missing content is not an error here (a draft may be incomplete): the checklist of
:mod:`grants.applications.checks` reports it. A section form refuses only input that
cannot be stored as typed: a malformed number or date, an over-long text, a row
without its name, two principal investigators, an end before the start.

CSRF is checked for every POST by CSRFProtect (form field or the htmx header), so the
section forms, which share a page, carry no CSRF field of their own.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from grants.applications.checks import BUDGET_ROWS
from grants.applications.models import KPI_KINDS, TEAM_ROLES
from grants.core.forms import SubForm
from grants.core.money import wan_to_yuan
from grants.orgs.forms import WanField, wan_amount


class SectionForm(FlaskForm):
    """A section of the application form (CSRF is checked app-wide, see module doc)."""

    class Meta:
        csrf = False

    section_errors: list

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.section_errors = []


def _text(max_length: int):
    return [Optional(), Length(max=max_length)]


# --- basic information ------------------------------------------------------------------


class BasicForm(SectionForm):
    title = StringField(_l("Project title"), validators=_text(200))
    cluster_id = SelectField(_l("Industry cluster"), coerce=int, validators=[Optional()])
    start_date = DateField(_l("Start of the project period"), validators=[Optional()])
    end_date = DateField(_l("End of the project period"), validators=[Optional()])
    summary = TextAreaField(
        _l("Summary"),
        validators=_text(5000),
        description=_l("What the project does and why, in a few paragraphs."),
    )
    objectives = TextAreaField(_l("Objectives"), validators=_text(10000))
    technical_route = TextAreaField(
        _l("Technical route"),
        validators=_text(10000),
        description=_l("The methods and steps by which the objectives are reached."),
    )

    def validate_cluster_id(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose one of the clusters offered."))

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data <= self.start_date.data:
            raise ValidationError(_l("The end must come after the start."))

    def section_data(self) -> dict:
        return {
            "title": self.title.data or "",
            "cluster_id": self.cluster_id.data or None,
            "start_date": self.start_date.data,
            "end_date": self.end_date.data,
            "summary": self.summary.data or "",
            "objectives": self.objectives.data or "",
            "technical_route": self.technical_route.data or "",
        }


# --- repeatable rows --------------------------------------------------------------------


class RowForm(SubForm):
    """A row of a repeatable table; a row whose fields are all empty is ignored."""

    IGNORED_FOR_BLANK: tuple[str, ...] = ()

    def is_blank(self) -> bool:
        for name, f in self._fields.items():
            if name in self.IGNORED_FOR_BLANK:
                continue
            raw = f.raw_data[0] if f.raw_data else f.data
            if raw not in (None, "") and str(raw).strip():
                return False
        return True

    def validate(self, extra_validators=None):
        if self.is_blank():
            return True
        return super().validate(extra_validators)


class TeamMemberForm(RowForm):
    IGNORED_FOR_BLANK = ("role",)

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Enter the member's name, or clear the row.")),
            Length(max=100),
        ],
    )
    role = SelectField(_l("Role"), choices=list(TEAM_ROLES.items()), default="member")
    title = StringField(_l("Professional title"), validators=_text(100))
    organisation_name = StringField(_l("Organisation"), validators=_text(200))
    expertise = StringField(_l("Expertise"), validators=_text(200))
    workload_months = IntegerField(
        _l("Workload (months)"), validators=[Optional(), NumberRange(min=0, max=600)]
    )


class TeamForm(SectionForm):
    members = FieldList(FormField(TeamMemberForm), min_entries=1)

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        principals = sum(
            1
            for row in self.members
            if not row.form.is_blank() and row.form.role.data == "principal"
        )
        if principals > 1:
            self.section_errors.append(
                _l(
                    "Only one member can be the principal investigator; "
                    "%(count)d are marked as such.",
                    count=principals,
                )
            )
            ok = False
        return ok

    def section_data(self) -> list[dict]:
        """The non-blank rows, cleaned, in the order shown."""
        rows = []
        for entry in self.members:
            form = entry.form
            if form.is_blank():
                continue
            rows.append(
                {
                    "name": form.name.data.strip(),
                    "role": form.role.data,
                    "title": (form.title.data or "").strip(),
                    "organisation_name": (form.organisation_name.data or "").strip(),
                    "expertise": (form.expertise.data or "").strip(),
                    "workload_months": form.workload_months.data,
                }
            )
        return rows


def percentage(form, field):
    """A share in percent: 0 to 100 with at most two decimals."""
    try:
        value = Decimal(field.data or "")
    except InvalidOperation:
        raise ValidationError(_l("Enter a percentage, for example 40 or 33.33.")) from None
    if not value.is_finite() or value < 0 or value > 100:
        raise ValidationError(_l("Enter a percentage between 0 and 100."))
    if value.as_tuple().exponent < -2:
        raise ValidationError(_l("Use at most two decimal places."))


class MilestoneRowForm(RowForm):
    title = StringField(
        _l("Milestone"),
        validators=[DataRequired(_l("Name the milestone, or clear the row.")), Length(max=200)],
    )
    due_date = DateField(_l("Due date"), validators=[InputRequired(_l("Give the due date."))])
    deliverable = StringField(_l("Deliverable"), validators=_text(2000))
    share = WanField(
        _l("Share of funding (%)"),
        render_kw={"inputmode": "decimal"},
        validators=[
            InputRequired(_l("Give the share of funding released at this milestone.")),
            percentage,
        ],
    )


class MilestonesForm(SectionForm):
    milestones = FieldList(FormField(MilestoneRowForm), min_entries=1)

    def section_data(self) -> list[dict]:
        """The non-blank rows, cleaned, in the order shown; shares as fractions."""
        rows = []
        for entry in self.milestones:
            form = entry.form
            if form.is_blank():
                continue
            rows.append(
                {
                    "title": form.title.data.strip(),
                    "due_date": form.due_date.data,
                    "deliverable": (form.deliverable.data or "").strip(),
                    "funding_share": Decimal(form.share.data) / 100,
                }
            )
        return rows


# --- budget and KPI tables --------------------------------------------------------------


def wan_or_blank(form, field):
    """Blank means zero; otherwise an amount in 万元 with at most four decimals."""
    if field.data:
        wan_amount(form, field)


class BudgetRowForm(SubForm):
    fiscal = WanField(
        _l("Fiscal funds (10,000 yuan)"),
        validators=[wan_or_blank],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    self_raised = WanField(
        _l("Self-raised funds (10,000 yuan)"),
        validators=[wan_or_blank],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    note = StringField(_l("Basis of the estimate"), validators=_text(500))


class BudgetForm(SectionForm):
    """One row per budget category or business sub-item (see ``BUDGET_ROWS``)."""

    def row(self, key: str) -> BudgetRowForm:
        return self[key].form

    def section_data(self) -> dict[str, tuple[Decimal, Decimal, str]]:
        """Per row key, (fiscal, self-raised) in yuan and the note; blanks are zero."""
        data = {}
        for r in BUDGET_ROWS:
            row = self.row(r.key)
            data[r.key] = (
                wan_to_yuan(row.fiscal.data or "0"),
                wan_to_yuan(row.self_raised.data or "0"),
                (row.note.data or "").strip(),
            )
        return data

    def valid_amounts(self) -> dict[str, tuple[Decimal, Decimal] | None]:
        """Per row key, (fiscal, self-raised) in yuan as typed so far; None for a row with an error."""
        amounts = {}
        for r in BUDGET_ROWS:
            row = self.row(r.key)
            values = []
            for f in (row.fiscal, row.self_raised):
                try:
                    wan_or_blank(row, f)
                except ValidationError:
                    values = None
                    break
                values.append(wan_to_yuan(f.data or "0"))
            amounts[r.key] = tuple(values) if values is not None else None
        return amounts


for _row in BUDGET_ROWS:
    setattr(BudgetForm, _row.key, FormField(BudgetRowForm, label=_row.label))
del _row


def kpi_target(form, field):
    """A target number: not negative, at most two decimals."""
    if not field.data:
        return
    try:
        value = Decimal(field.data)
    except InvalidOperation:
        raise ValidationError(_l("Enter a number, for example 3 or 150.5.")) from None
    if not value.is_finite() or value < 0:
        raise ValidationError(_l("Enter a number of zero or more."))
    if value.as_tuple().exponent < -2:
        raise ValidationError(_l("Use at most two decimal places."))
    if value >= Decimal("1000000000000"):
        raise ValidationError(_l("This number is too large."))


class KpiRowForm(SubForm):
    target = WanField(_l("Target"), validators=[kpi_target], render_kw={"inputmode": "decimal"})
    note = StringField(_l("Note"), validators=_text(300))


class KpisForm(SectionForm):
    """One row per KPI kind (see ``KPI_KINDS``)."""

    def row(self, kind: str) -> KpiRowForm:
        return self[kind].form

    def section_data(self) -> dict[str, tuple[Decimal, str]]:
        return {
            kind: (
                Decimal(self.row(kind).target.data or 0),
                (self.row(kind).note.data or "").strip(),
            )
            for kind in KPI_KINDS
        }


for _kind, (_label, _unit) in KPI_KINDS.items():
    setattr(KpisForm, _kind, FormField(KpiRowForm, label=_label))
del _kind, _label, _unit


# --- attachments ------------------------------------------------------------------------


class AttachmentForm(SectionForm):
    requirement = SelectField(_l("Attachment"), validators=[Optional()])
    file = FileField(
        _l("File"),
        validators=[FileRequired(_l("Choose a file to upload."))],
        description=_l("PDF, Word (DOCX), Excel (XLSX), PNG or JPEG."),
    )


SECTION_FORMS = {
    "basic": BasicForm,
    "team": TeamForm,
    "budget": BudgetForm,
    "milestones": MilestonesForm,
    "kpis": KpisForm,
}
