"""The expert's review form: one score per criterion of the call's rubric, comment, recommendation.

The score fields are built from the call's criteria (:func:`review_form`). A score is
refused when it is not a number, has more than two decimals or lies outside its
criterion's range; what was typed is kept on the page either way. A draft may leave
fields empty; submitting asks for every score, a recommendation and a comment of
:data:`~grants.review.scoring.COMMENT_MIN_LENGTH` characters (:meth:`ReviewForm.check_complete`).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from grants.programmes.models import RubricCriterion
from grants.review.scoring import (
    COMMENT_MAX_LENGTH,
    COMMENT_MIN_LENGTH,
    SCORE_PLACES,
    criterion_name,
    plain_number,
    recommendations_for,
    score_field_name,
)

ACTIONS = ("save", "submit")


def parse_score(text: str | None) -> Decimal | None:
    """A typed score as a Decimal (full-width digits allowed); None when empty; ValueError if not a number."""
    text = unicodedata.normalize("NFKC", text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not value.is_finite():
        raise ValueError(text)
    return value


class ScoreInRange:
    """Validator: a number with at most two decimals within the criterion's range."""

    def __init__(self, min_score: Decimal, max_score: Decimal):
        self.min_score, self.max_score = min_score, max_score

    def __call__(self, form, field):
        try:
            value = parse_score(field.data)
        except ValueError:
            raise ValidationError(_l("Enter a number, such as 8 or 7.5.")) from None
        if value is None:
            return
        if -value.as_tuple().exponent > SCORE_PLACES and value != value.quantize(Decimal("0.01")):
            raise ValidationError(_l("Use at most two decimals."))
        if not self.min_score <= value <= self.max_score:
            raise ValidationError(
                _l(
                    "Give a score from %(min)s to %(max)s.",
                    min=plain_number(self.min_score),
                    max=plain_number(self.max_score),
                )
            )


class ReviewForm(FlaskForm):
    """The comment and recommendation; :func:`review_form` adds one score field per criterion."""

    comment = TextAreaField(
        _l("Comment"),
        validators=[Optional(), Length(max=COMMENT_MAX_LENGTH)],
        description=_l(
            "Your assessment of the proposal's strengths, weaknesses and risks "
            "(at least %(n)d characters to submit).",
            n=COMMENT_MIN_LENGTH,
        ),
    )
    recommendation = SelectField(_l("Overall recommendation"), validators=[Optional()])

    criteria: list[RubricCriterion]

    def score_fields(self) -> list[tuple[RubricCriterion, StringField]]:
        """Each criterion with its score field, in rubric order."""
        return [(c, self[score_field_name(c.id)]) for c in self.criteria]

    def scores(self) -> dict[int, Decimal | None]:
        """The typed scores by criterion id (call only after validation)."""
        found = {}
        for criterion, f in self.score_fields():
            value = parse_score(f.data)
            found[criterion.id] = value.quantize(Decimal("0.01")) if value is not None else None
        return found

    def check_complete(self) -> bool:
        """Add an error to every field a submission still needs; True when nothing is missing."""
        complete = True
        for _criterion, f in self.score_fields():
            if not f.errors and not (f.data or "").strip():
                f.errors = [*f.errors, _l("Score this criterion before submitting.")]
                complete = False
        if not self.recommendation.data:
            self.recommendation.errors = [
                *self.recommendation.errors,
                _l("Choose an overall recommendation before submitting."),
            ]
            complete = False
        length = len((self.comment.data or "").strip())
        if length < COMMENT_MIN_LENGTH:
            self.comment.errors = [
                *self.comment.errors,
                _l(
                    "Write at least %(n)d characters before submitting (now %(have)d).",
                    n=COMMENT_MIN_LENGTH,
                    have=length,
                ),
            ]
            complete = False
        return complete and not any(f.errors for f in self)


def _score_label(criterion: RubricCriterion) -> str:
    return f"{criterion_name(criterion)} ({plain_number(criterion.min_score)}–{plain_number(criterion.max_score)})"


def review_form(
    criteria: list[RubricCriterion], review=None, formdata=None, purpose: str = "proposal"
) -> ReviewForm:
    """A review form for ``criteria``, filled from ``review`` (or from the posted ``formdata``).

    For an acceptance review (``purpose='acceptance'``) the recommendation offers pass,
    rectify and fail, and the comment asks about the results rather than the proposal.
    """

    class _Form(ReviewForm):
        pass

    for criterion in criteria:
        setattr(
            _Form,
            score_field_name(criterion.id),
            StringField(
                _score_label(criterion),
                validators=[ScoreInRange(criterion.min_score, criterion.max_score)],
                description=_l(
                    "Weight %(weight)s; from %(min)s to %(max)s, at most two decimals.",
                    weight=plain_number(criterion.weight),
                    min=plain_number(criterion.min_score),
                    max=plain_number(criterion.max_score),
                ),
                render_kw={"inputmode": "decimal", "autocomplete": "off"},
            ),
        )
    data = {}
    if review is not None:
        data = {"comment": review.comment, "recommendation": review.recommendation or ""}
        data.update(
            {score_field_name(s.criterion_id): plain_number(s.value) for s in review.scores}
        )
    form = _Form(formdata=formdata, data=data)
    form.criteria = list(criteria)
    form.recommendation.choices = [("", str(_l("— choose —")))] + [
        (k, str(v)) for k, v in recommendations_for(purpose).items()
    ]
    if purpose == "acceptance":
        form.comment.description = _l(
            "Your assessment of what the project achieved against its task book: "
            "tasks, KPI targets, use of funds and the level of its outcomes "
            "(at least %(n)d characters to submit).",
            n=COMMENT_MIN_LENGTH,
        )
    return form


class ReopenForm(FlaskForm):
    """The bureau's reason for reopening a submitted review (kept in the audit log)."""

    reason = TextAreaField(
        _l("Reason for reopening"),
        validators=[
            DataRequired(_l("Give the reason for reopening: it is kept in the audit log.")),
            Length(max=2000),
        ],
        description=_l("The expert reads this reason in the notification."),
    )
