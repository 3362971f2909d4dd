"""Forms for calls: the settings, the rubric rows and the required-attachment rows."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import FieldList
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from grants.accounts.forms import MultiCheckboxField
from grants.core.forms import SubForm
from grants.orgs.forms import WanField, wan_amount
from grants.orgs.models import QUALIFICATIONS
from grants.programmes.models import CATEGORIES, FUNDING_LEVELS

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
BEIJING_TIME = _l("Beijing time (UTC+8).")
MAX_SCORE_VALUE = Decimal("9999.99")  # the rubric columns are Numeric(6, 2)
MAX_ROWS = 30


def _decimal_or_none(text: str | None) -> Decimal | None:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class PercentField(StringField):
    """A share typed as a percentage (``50`` or ``50%``), kept as text until converted."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = (
                (valuelist[0] or "")
                .translate({ord("%"): None, 0xFF05: None, ord(" "): None, 0x3000: None})
                .strip()
            )


def percentage(*, below_hundred: bool = False):
    """A number from 0 to 100 (or below 100) with at most two decimals."""

    def check(form, field):
        value = _decimal_or_none(field.data)
        if value is None:
            raise ValidationError(_l("Enter a percentage, for example 50."))
        if value < 0 or value > 100 or (below_hundred and value == 100):
            if below_hundred:
                raise ValidationError(_l("Enter a percentage from 0 to less than 100."))
            raise ValidationError(_l("Enter a percentage from 0 to 100."))
        if value.as_tuple().exponent < -2:
            raise ValidationError(_l("Use at most two decimal places."))

    return check


def positive_wan(form, field):
    """An amount in 万元 above zero (after the general 万元 checks)."""
    wan_amount(form, field)
    if Decimal(field.data) <= 0:
        raise ValidationError(_l("The amount must be greater than zero."))


def score_number(text: str | None, *, places: int = 2) -> Decimal | str:
    """The decimal typed in a rubric cell, or a user-facing reason why it is not one."""
    value = _decimal_or_none(text)
    if value is None:
        return str(_l("Enter a number, for example 10."))
    if value.as_tuple().exponent < -places:
        return str(_l("Use at most two decimal places."))
    if abs(value) > MAX_SCORE_VALUE:
        return str(_l("This number is too large."))
    return value


class CriterionRow(SubForm):
    """One rubric criterion; a row left entirely empty is ignored."""

    id = HiddenField()
    name_zh = StringField(_l("Chinese name"), validators=[Optional(), Length(max=100)])
    name_en = StringField(_l("English name (optional)"), validators=[Optional(), Length(max=100)])
    description = TextAreaField(
        _l("What the experts judge"), validators=[Optional(), Length(max=2000)]
    )
    weight = StringField(_l("Weight"), render_kw={"inputmode": "decimal"})
    min_score = StringField(_l("Lowest score"), default="0", render_kw={"inputmode": "decimal"})
    max_score = StringField(_l("Highest score"), default="10", render_kw={"inputmode": "decimal"})

    def is_blank(self) -> bool:
        return not any(
            (getattr(self, k).data or "").strip()
            for k in ("name_zh", "name_en", "description", "weight")
        )


class AttachmentRow(SubForm):
    """One required (or optional) attachment; a row left entirely empty is ignored."""

    code = StringField(
        _l("Code (optional)"),
        validators=[
            Optional(),
            Length(max=40),
            Regexp(r"^[a-z0-9_-]+$", message=_l("Use lower-case letters, digits, - and _.")),
        ],
        filters=[lambda s: s.strip().lower() if s else s],
    )
    name_zh = StringField(_l("Chinese name"), validators=[Optional(), Length(max=100)])
    name_en = StringField(_l("English name (optional)"), validators=[Optional(), Length(max=100)])
    required = BooleanField(_l("Required"), default=True)

    def is_blank(self) -> bool:
        return not any(
            (getattr(self, k).data or "").strip() for k in ("code", "name_zh", "name_en")
        )


def funding_level_choices():
    return list(FUNDING_LEVELS.items())


def category_choices():
    return list(CATEGORIES.items())


def qualification_choices():
    return [("", _l("— none —")), *list(QUALIFICATIONS.items())]


def review_mode_choices():
    return [("blind", _l("Blind review")), ("open", _l("Open review"))]


class CloseTimeFields(FlaskForm):
    """What may still change once a call is published: the guide and the close time."""

    closes_at = DateTimeLocalField(
        _l("Closes at"),
        format=DATETIME_FORMATS,
        validators=[InputRequired()],
        description=BEIJING_TIME,
    )
    guide = TextAreaField(
        _l("Guide text shown to applicants"),
        validators=[Optional(), Length(max=50000)],
        description=_l("Plain text. Leave an empty line between paragraphs."),
    )


class PublishedCallForm(CloseTimeFields):
    """The form for a published or closed call."""


class CallForm(CloseTimeFields):
    """Every setting of a draft call, its rubric and its required attachments."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", message=_l("Use letters, digits, ., - and _.")),
        ],
        filters=[lambda s: s.strip() if s else s],
        description=_l("Unique, for example 2026-EDJ-KJGG; cloning replaces the year in it."),
    )
    year = IntegerField(
        _l("Programme year"), validators=[InputRequired(), NumberRange(min=2000, max=2100)]
    )
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(max=200)],
        filters=[lambda s: s.strip() if s else s],
    )
    funding_level = SelectField(
        _l("Funding level"), choices=funding_level_choices, validators=[DataRequired()]
    )
    category = SelectField(_l("Category"), choices=category_choices, validators=[DataRequired()])
    cluster_ids = MultiCheckboxField(_l("Target industry clusters"), coerce=int)
    opens_at = DateTimeLocalField(
        _l("Opens at"),
        format=DATETIME_FORMATS,
        validators=[InputRequired()],
        description=BEIJING_TIME,
    )
    total_budget = WanField(
        _l("Total budget (10,000 yuan)"),
        validators=[InputRequired(), positive_wan],
        render_kw={"inputmode": "decimal"},
    )
    cap_per_project = WanField(
        _l("Cap per project (10,000 yuan)"),
        validators=[InputRequired(), positive_wan],
        render_kw={"inputmode": "decimal"},
        description=_l("The most fiscal funding one project may request."),
    )
    min_self_raised_pct = PercentField(
        _l("Minimum self-raised share (%)"),
        validators=[InputRequired(), percentage(below_hundred=True)],
        render_kw={"inputmode": "decimal"},
        description=_l("Self-raised money as a share of the total project budget; 0 for none."),
    )
    indirect_cost_pct = PercentField(
        _l("Indirect costs limit (%)"),
        validators=[InputRequired(), percentage()],
        render_kw={"inputmode": "decimal"},
        description=_l(
            "Fiscal indirect costs at most this share of fiscal direct costs less equipment."
        ),
    )
    max_duration_months = IntegerField(
        _l("Longest project duration (months)"),
        validators=[InputRequired(), NumberRange(min=1, max=120)],
    )
    required_qualification = SelectField(
        _l("Required qualification"), choices=qualification_choices, validators=[Optional()]
    )
    concurrent_cap = IntegerField(
        _l("Concurrent-project cap"),
        validators=[Optional(), NumberRange(min=1, max=100)],
        description=_l(
            "How many projects one organisation may have running at once; leave empty for no cap."
        ),
    )
    reviewers_per_application = IntegerField(
        _l("Experts per application"), validators=[InputRequired(), NumberRange(min=1, max=15)]
    )
    trimmed_mean_min_reviews = IntegerField(
        _l("Trimmed mean from"),
        validators=[InputRequired(), NumberRange(min=3, max=15)],
        description=_l(
            "With at least this many valid reviews (3 or more) the highest and the lowest "
            "score are dropped before averaging; fewer are simply averaged."
        ),
    )
    review_mode = SelectField(
        _l("Review mode"),
        choices=review_mode_choices,
        validators=[DataRequired()],
        description=_l("In a blind review the experts do not see who applied."),
    )
    criteria = FieldList(FormField(CriterionRow), min_entries=1, max_entries=MAX_ROWS)
    attachments = FieldList(FormField(AttachmentRow), min_entries=1, max_entries=MAX_ROWS)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        valid = self._check_rubric() and valid
        valid = self._check_attachments() and valid
        return self._check_settings() and valid

    def _check_settings(self) -> bool:
        ok = True
        total, cap = (
            _decimal_or_none(self.total_budget.data),
            _decimal_or_none(self.cap_per_project.data),
        )
        if not self.total_budget.errors and not self.cap_per_project.errors and cap > total:
            self.cap_per_project.errors.append(
                _l("The cap per project cannot exceed the total budget.")
            )
            ok = False
        if self.opens_at.data and self.closes_at.data and self.closes_at.data <= self.opens_at.data:
            self.closes_at.errors.append(_l("The close time must be after the open time."))
            ok = False
        return ok

    def _check_rubric(self) -> bool:
        ok = True
        for entry in self.criteria:
            row = entry.form
            if row.is_blank():
                continue
            if not (row.name_zh.data or "").strip():
                row.name_zh.errors.append(_l("Give the criterion a Chinese name."))
                ok = False
            values = {}
            for key in ("weight", "min_score", "max_score"):
                parsed = score_number(getattr(row, key).data)
                if isinstance(parsed, str):
                    getattr(row, key).errors.append(parsed)
                    ok = False
                else:
                    values[key] = parsed
            if "weight" in values and values["weight"] <= 0:
                row.weight.errors.append(_l("The weight must be greater than zero."))
                ok = False
            if (
                "min_score" in values
                and "max_score" in values
                and values["max_score"] <= values["min_score"]
            ):
                row.max_score.errors.append(_l("The highest score must be above the lowest score."))
                ok = False
        return ok

    def _check_attachments(self) -> bool:
        ok = True
        seen = set()
        self._make_missing_codes()
        for entry in self.attachments:
            row = entry.form
            if row.is_blank():
                continue
            if row.code.data in seen:
                row.code.errors.append(_l("Another attachment of this call has the same code."))
                ok = False
            seen.add(row.code.data)
            if not (row.name_zh.data or "").strip():
                row.name_zh.errors.append(_l("Give the attachment a Chinese name."))
                ok = False
        return ok

    def _make_missing_codes(self) -> None:
        """Give each filled attachment row without a code one made from its position: att-1, att-2 …

        Nobody has to type a code: the Chinese name is enough. A code once made is shown in the
        form and kept when the call is edited, so applications' attachments keep their kind.
        """
        rows = [e.form for e in self.attachments if not e.form.is_blank()]
        taken = {row.code.data for row in rows if row.code.data}
        for position, row in enumerate(rows, start=1):
            if row.code.data:
                continue
            number = position
            while f"att-{number}" in taken:
                number += 1
            row.code.data = f"att-{number}"
            taken.add(row.code.data)

    def rubric_rows(self) -> list[dict]:
        """The filled rubric rows as dicts for the operations (call after validation)."""
        rows = []
        for entry in self.criteria:
            row = entry.form
            if row.is_blank():
                continue
            rows.append(
                {
                    "id": int(row.id.data) if (row.id.data or "").isdigit() else None,
                    "name_zh": row.name_zh.data.strip(),
                    "name_en": (row.name_en.data or "").strip(),
                    "description": (row.description.data or "").strip(),
                    "weight": Decimal(row.weight.data.strip()),
                    "min_score": Decimal(row.min_score.data.strip()),
                    "max_score": Decimal(row.max_score.data.strip()),
                }
            )
        return rows

    def attachment_rows(self) -> list[dict]:
        """The filled attachment rows as dicts for the operations (call after validation)."""
        return [
            {
                "code": e.form.code.data,
                "name_zh": e.form.name_zh.data.strip(),
                "name_en": (e.form.name_en.data or "").strip(),
                "required": bool(e.form.required.data),
            }
            for e in self.attachments
            if not e.form.is_blank()
        ]


def weight_total(values) -> Decimal:
    """The sum of the weights that parse as positive numbers."""
    total = Decimal(0)
    for text in values:
        value = _decimal_or_none(text)
        if value is not None and value > 0:
            total += value
    return total
