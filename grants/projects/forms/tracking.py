"""Forms of project tracking: progress reports and their review, mid-term checks."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    DateField,
    FieldList,
    FormField,
    IntegerField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from grants.applications.models import KPI_KINDS
from grants.core.forms import SubForm
from grants.core.timeutil import local_today
from grants.projects.midterm import BATCH_MAX, MidtermEntry, entry_problem
from grants.projects.models import MIDTERM_CONCLUSIONS

TEXT_MAX = 20000
KPI_MAX = Decimal("999999999999.99")


def kpi_field_name(kind: str) -> str:
    return f"kpi_{kind}"


def kpi_label(kind: str) -> str:
    """The KPI's name with its unit, e.g. “Invention patents filed (items)”."""
    label, unit = KPI_KINDS.get(kind, (kind, ""))
    return f"{label} ({unit})" if unit else str(label)


def parse_figure(text) -> Decimal | None:
    """A typed KPI figure as a Decimal (None when empty); raises ValueError for anything else."""
    text = (text or "").replace(",", "").replace("，", "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


def kpi_figure(form, field):
    """A non-negative number with at most two decimals, or nothing."""
    try:
        value = parse_figure(field.data)
    except ValueError:
        raise ValidationError(_l("Enter a number, for example 12 or 3.5.")) from None
    if value is None:
        return
    if value < 0:
        raise ValidationError(_l("The figure cannot be negative."))
    if value > KPI_MAX:  # before quantize(), which fails on numbers too long for the context
        raise ValidationError(_l("This figure is too large."))
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError(_l("Use at most two decimals."))


class ProgressReportForm(FlaskForm):
    """The owner's report on a milestone; :func:`progress_report_form` adds one field per KPI."""

    text = TextAreaField(
        _l("Progress made"),
        validators=[Optional(), Length(max=TEXT_MAX)],
        description=_l(
            "What was done towards this milestone, what was delivered, what is late and why."
        ),
    )
    evidence = MultipleFileField(
        _l("Add evidence"),
        description=_l(
            "PDF, Word (DOCX), Excel (XLSX), PNG or JPEG; several files may be chosen at once."
        ),
    )

    kinds: list[str]

    def kpi_fields(self) -> list[tuple[str, StringField]]:
        return [(kind, self[kpi_field_name(kind)]) for kind in self.kinds]

    def kpi_values(self) -> dict[str, Decimal]:
        """The typed KPI figures by kind (call only after validation)."""
        values = {}
        for kind, f in self.kpi_fields():
            value = parse_figure(f.data)
            if value is not None:
                values[kind] = value.quantize(Decimal("0.01"))
        return values


def progress_report_form(kinds: list[str], report=None, formdata=None) -> ProgressReportForm:
    """A report form with one figure field per KPI kind of the project, filled from ``report``."""

    class _Form(ProgressReportForm):
        pass

    for kind in kinds:
        setattr(
            _Form,
            kpi_field_name(kind),
            StringField(
                kpi_label(kind),
                validators=[kpi_figure],
                render_kw={"inputmode": "decimal", "autocomplete": "off"},
            ),
        )
    data = {}
    if report is not None:
        data["text"] = report.text
        data.update(
            {
                kpi_field_name(k): format(Decimal(v).normalize(), "f")
                for k, v in (report.kpi_progress or {}).items()
                if k in kinds
            }
        )
    form = _Form(formdata=formdata, data=data) if formdata is not None else _Form(data=data)
    form.kinds = list(kinds)
    return form


class ApproveReportForm(FlaskForm):
    note = TextAreaField(
        _l("Comment for the project owner (optional)"), validators=[Optional(), Length(max=4000)]
    )


class ReturnReportForm(FlaskForm):
    note = TextAreaField(
        _l("What is missing"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("The project owner reads this and submits the report again."),
    )


class MidtermEntryForm(SubForm):
    """The conclusion on one project of a mid-term batch."""

    project_id = IntegerField(validators=[InputRequired()])
    conclusion = RadioField(
        _l("Conclusion"),
        choices=[SelectChoice(k, v) for k, v in MIDTERM_CONCLUSIONS.items()],
        validators=[InputRequired(_l("Choose a conclusion."))],
    )
    rectify_by = DateField(_l("Rectify by"), validators=[Optional()])
    comments = TextAreaField(_l("Comments"), validators=[Optional(), Length(max=4000)])

    def entry(self) -> MidtermEntry:
        return MidtermEntry(
            project_id=self.project_id.data,
            conclusion=self.conclusion.data or "",
            comments=self.comments.data or "",
            rectify_by=self.rectify_by.data,
        )

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        problem = entry_problem(self.entry(), local_today())
        if problem:
            field, message = problem
            self[field].errors = [*self[field].errors, message]
            return False
        return True


class MidtermBatchForm(FlaskForm):
    batch = StringField(
        _l("Batch"),
        validators=[DataRequired(), Length(max=BATCH_MAX)],
        description=_l("For example “2026 mid-term check”; it groups the conclusions."),
    )
    entries = FieldList(FormField(MidtermEntryForm), min_entries=0)


class MidtermRectifiedForm(FlaskForm):
    """Marks a conditional pass rectified (the CSRF token only)."""


class EvidenceRemoveForm(FlaskForm):
    """Removes an evidence file (the CSRF token only)."""
