"""Forms of the reports pages: request a report; choose the period of the dashboard and open data."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from grants.reports.periods import period_choices

LANGUAGE_CHOICES = [("zh_Hans_CN", _l("Chinese")), ("en", _l("English"))]


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class RequestReportForm(FlaskForm):
    """A year or a five-year period, and the language of the report."""

    period = SelectField(
        _l("Reporting period"),
        validators=[InputRequired()],
        description=_l("A year, or a five-year plan period."),
    )
    locale = SelectField(
        _l("Language of the report"),
        choices=_choices(LANGUAGE_CHOICES),
        default="zh_Hans_CN",
        validators=[InputRequired()],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.period.choices = _choices(period_choices())


class PeriodForm(FlaskForm):
    """The period shown on the dashboard or exported as open data (a GET form, no CSRF token)."""

    class Meta:
        csrf = False

    period = SelectField(_l("Reporting period"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.period.choices = _choices(period_choices())
