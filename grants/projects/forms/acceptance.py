"""Forms of acceptance: the final report (KPI figures and the statement built per project),
documents, outcomes, finance's return note, the panel's invitations and the conclusion.

Figures are typed as text and parsed to Decimal (full-width digits and thousands
separators allowed); statement amounts and revenue are yuan. A value that does not parse
is refused beside its field and kept as typed.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
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

from grants.applications.models import BUDGET_CATEGORIES
from grants.projects.acceptance import (
    DEFAULT_PANEL_SIZE,
    REPORT_DOCUMENTS,
    kpi_label,
)
from grants.projects.models import ACCEPTANCE_CONCLUSIONS, OUTCOME_KINDS

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
MAX_FIGURE = Decimal("999999999999.99")


def parse_figure(text: str | None) -> Decimal | None:
    """A typed figure as a Decimal; None when empty; ValueError when it is not a number."""
    text = unicodedata.normalize("NFKC", text or "").replace(",", "").replace(" ", "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not value.is_finite():
        raise ValueError(text)
    return value


def figure(form, field):
    """Validator: empty, or a number ≥ 0 with at most two decimals."""
    try:
        value = parse_figure(field.data)
    except ValueError:
        raise ValidationError(_l("Enter a number, for example 12 or 12500.50.")) from None
    if value is None:
        return
    if value < 0:
        raise ValidationError(_l("The figure cannot be negative."))
    if value > MAX_FIGURE:  # before quantize(), which fails on numbers too long for the context
        raise ValidationError(_l("This figure is too large."))
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError(_l("Use at most two decimals."))


class FinalReportForm(FlaskForm):
    """The summary; :func:`final_report_form` adds a field per KPI and per budget category."""

    summary = TextAreaField(
        _l("Summary of the final report"),
        validators=[Optional(), Length(max=20000)],
        description=_l(
            "What the project did and achieved against its task book, what "
            "remains, and how the results are being used."
        ),
    )

    kpi_kinds: list[str]
    categories: list[str]

    def kpi_fields(self):
        return [(kind, self[f"kpi_{kind}"]) for kind in self.kpi_kinds]

    def statement_fields(self):
        return [(category, self[f"spent_{category}"]) for category in self.categories]

    def kpi_values(self) -> dict[str, Decimal | None]:
        return {kind: parse_figure(f.data) for kind, f in self.kpi_fields()}

    def statement_values(self) -> dict[str, Decimal | None]:
        return {category: parse_figure(f.data) for category, f in self.statement_fields()}


def _plain(value) -> str:
    if value is None or value == "":
        return ""
    return format(Decimal(str(value)).normalize(), "f") if Decimal(str(value)) != 0 else "0"


def final_report_form(
    project, report=None, formdata=None, prefill: dict | None = None
) -> FinalReportForm:
    """The final report form of ``project``, filled from ``report`` (else the statement from ``prefill``)."""

    class _Form(FinalReportForm):
        pass

    for kpi in project.kpis:
        label, unit = kpi_label(kpi.kind)
        setattr(
            _Form,
            f"kpi_{kpi.kind}",
            StringField(
                f"{label} ({unit})" if unit else label,
                validators=[figure],
                description=_l("Target %(target)s", target=_plain(kpi.target)),
                render_kw={"inputmode": "decimal", "autocomplete": "off"},
            ),
        )
    categories = [line.category for line in project.budget_lines]
    for category in categories:
        setattr(
            _Form,
            f"spent_{category}",
            StringField(
                _l(
                    "%(category)s: fiscal funds spent (yuan)",
                    category=BUDGET_CATEGORIES.get(category, category),
                ),
                validators=[figure],
                render_kw={"inputmode": "decimal", "autocomplete": "off"},
            ),
        )
    data = {}
    if report is not None:
        data["summary"] = report.summary
        data.update({f"kpi_{k}": _plain(v) for k, v in (report.kpi_achieved or {}).items()})
        data.update({f"spent_{k}": _plain(v) for k, v in (report.statement or {}).items()})
    elif prefill:
        data.update({f"spent_{k}": _plain(v) for k, v in prefill.items()})
    form = _Form(formdata=formdata, data=data)
    form.kpi_kinds = [kpi.kind for kpi in project.kpis]
    form.categories = categories
    return form


class DocumentForm(FlaskForm):
    purpose = SelectField(
        _l("Document"),
        choices=[(k, v) for k, v in REPORT_DOCUMENTS.items()],
        validators=[DataRequired()],
    )
    file = FileField(
        _l("File"),
        validators=[DataRequired(_l("Choose a file to upload."))],
        description=_l("PDF, Word (DOCX), Excel (XLSX), PNG or JPEG."),
    )


class OutcomeForm(FlaskForm):
    kind = SelectField(
        _l("Kind of outcome"), validators=[DataRequired(_l("Choose the kind of outcome."))]
    )
    title = StringField(
        _l("Title or description"),
        validators=[DataRequired(), Length(max=300)],
        description=_l(
            "For example the patent's title, the paper's title and journal, the product's name."
        ),
    )
    quantity = StringField(
        _l("Quantity"),
        validators=[InputRequired(), figure],
        default="1",
        description=_l(
            "Items for patents, papers, standards, products, software and awards; "
            "yuan for revenue; people for jobs."
        ),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    reference = StringField(
        _l("Reference"),
        validators=[Optional(), Length(max=120)],
        description=_l("Patent or registration number, DOI, standard number, certificate."),
    )
    achieved_on = DateField(_l("Date"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])
    evidence = MultipleFileField(
        _l("Evidence"),
        description=_l(
            "Certificates, publications or contracts: PDF, Word (DOCX), "
            "Excel (XLSX), PNG or JPEG. You may choose several files."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [("", _l("— choose —"))] + [
            (k, label) for k, (label, _unit) in OUTCOME_KINDS.items()
        ]


class _Prefixed(FlaskForm):
    """A form whose fields carry a prefix (``<prefix>-name``): several forms share the tab."""

    default_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.default_prefix)
        super().__init__(*args, **kwargs)


class ReturnStatementForm(_Prefixed):
    default_prefix = "statement"

    note = TextAreaField(
        _l("What is wrong with the statement"),
        validators=[DataRequired(_l("Say what is wrong with the statement.")), Length(max=4000)],
        description=_l("The project owner reads this note."),
    )


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token."""


class InviteExpertForm(_Prefixed):
    default_prefix = "invite"

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
        description=_l("Beijing time (UTC+8)."),
    )


class SuggestPanelForm(_Prefixed):
    default_prefix = "suggest"

    size = IntegerField(
        _l("Experts on the panel"),
        default=DEFAULT_PANEL_SIZE,
        validators=[InputRequired(), NumberRange(min=1, max=15)],
        description=_l("Counting the experts already invited or accepted."),
    )
    due_at = DateTimeLocalField(
        _l("Reviews due at"),
        format=DATETIME_FORMATS,
        validators=[InputRequired()],
        description=_l("Beijing time (UTC+8)."),
    )
    draw = BooleanField(_l("Draw by lot among equally suited experts"))


class ConclusionForm(FlaskForm):
    conclusion = SelectField(
        _l("Conclusion"), validators=[DataRequired(_l("Choose a conclusion."))]
    )
    reasons = TextAreaField(
        _l("Reasons"),
        validators=[Optional(), Length(max=8000)],
        description=_l("Required to rectify or fail; the project owner reads them."),
    )
    rectify_by = DateField(
        _l("Rectify by"),
        validators=[Optional()],
        description=_l("Only for rectification: the deadline for the corrected final report."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conclusion.choices = [("", _l("— choose —")), *list(ACCEPTANCE_CONCLUSIONS.items())]

    def validate_reasons(self, field):
        if self.conclusion.data in ("rectify", "fail") and not (field.data or "").strip():
            raise ValidationError(_l("Give the reasons: the project owner will read them."))

    def validate_rectify_by(self, field):
        if self.conclusion.data == "rectify" and field.data is None:
            raise ValidationError(_l("Give the deadline for the rectification."))
