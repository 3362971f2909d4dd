"""Numbers people read that are not money: scores, weights and shares, to at most one decimal."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_decimal

from grants.core.money import display_locale

TENTH = Decimal("0.1")


def _number(value) -> Decimal | str:
    """``value`` as a finite Decimal, or the text to show instead (``—`` for nothing, else as is)."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return number if number.is_finite() else str(value)


def format_score(value, *, locale=None) -> str:
    """A score, mean, weight or percentage to at most one decimal, rounded half up
    (``82.25`` → ``82.3``, ``82.0`` → ``82``, ``1234.5`` → ``1,234.5``; None is ``—``)."""
    number = _number(value)
    if not isinstance(number, Decimal):
        return number
    number = number.quantize(TENTH, rounding=ROUND_HALF_UP)
    if number == 0:
        number = Decimal(0)  # no "-0"
    return format_decimal(number, format="#,##0.#", locale=locale or display_locale())


def format_figure(value, *, locale=None) -> str:
    """A counted or measured figure (a KPI target, a number of patents) as it was entered:
    grouped, without needless zeros (``2.00`` → ``2``, ``1234.5`` → ``1,234.5``; None is ``—``)."""
    number = _number(value)
    if not isinstance(number, Decimal):
        return number
    places = max(-number.normalize().as_tuple().exponent, 0)
    pattern = "#,##0." + "#" * places if places else "#,##0"
    return format_decimal(number, format=pattern, locale=locale or display_locale())
