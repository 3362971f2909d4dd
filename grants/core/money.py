"""Money is Decimal in yuan; these helpers parse and format it, never through float."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_decimal
from flask_babel import get_locale

CENT = Decimal("0.01")
TEN_THOUSAND = Decimal(10000)


class MoneyError(ValueError):
    """Raised for text that is not an amount of money."""


def to_money(value) -> Decimal:
    """Parse an int, Decimal or string (commas allowed) into yuan rounded to the cent."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).replace(",", "").replace("，", "").strip()
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(text) from exc
    if not amount.is_finite():
        raise MoneyError(str(value))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_or_zero(value) -> Decimal:
    """``to_money``, with None or blank as 0.00: a SQL ``SUM`` over no rows, an empty field."""
    return to_money(value or 0)


def money_text(value) -> str:
    """An amount as plain text in yuan to the cent (``1234.50``; None or blank is ``0.00``),
    as JSON snapshots and the audit log store money."""
    return str(money_or_zero(value))


def yuan_to_wan(amount: Decimal) -> Decimal:
    """Convert yuan to 万元 (ten thousand yuan), keeping four decimals."""
    return (amount / TEN_THOUSAND).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def wan_or_none(amount: Decimal | None) -> Decimal | None:
    """``yuan_to_wan``, leaving None (no amount: an empty spreadsheet cell) as None."""
    return yuan_to_wan(amount) if amount is not None else None


def wan_text(amount) -> str:
    """A yuan amount as the plain 万元 a form field takes: to the yuan, no needless zeros
    (``500``, ``12.3456``; None is ``0``)."""
    return format(yuan_to_wan(to_money(amount or 0)).normalize(), "f")


def wan_to_yuan(amount) -> Decimal:
    """Convert an amount in 万元 (up to six decimals) to yuan."""
    if isinstance(amount, float):
        raise TypeError("money must not be a float")
    try:
        wan = Decimal(str(amount).replace(",", "").strip())
    except InvalidOperation as exc:
        raise MoneyError(str(amount)) from exc
    return to_money(wan * TEN_THOUSAND)


def display_locale() -> str:
    """The locale figures are shown in: the request's, zh_Hans_CN outside a request."""
    try:
        return str(get_locale() or "zh_Hans_CN")
    except RuntimeError:
        return "zh_Hans_CN"


def format_yuan(amount, *, locale=None) -> str:
    """An exact amount as ``1,234.50 元`` (``CNY 1,234.50`` in English; None is ``—``): only
    where finance enters or pays an exact amount, or where 万元 to two decimals would hide a
    difference that matters."""
    if amount is None:
        return "—"
    locale = locale or display_locale()
    number = format_decimal(to_money(amount), format="#,##0.00", locale=locale)
    return f"{number} 元" if locale.startswith("zh") else f"CNY {number}"


def format_yuan_number(amount, *, locale=None) -> str:
    """:func:`format_yuan` without the unit, for a column whose heading says 元 (``1,234.50``)."""
    if amount is None:
        return "—"
    return format_decimal(to_money(amount), format="#,##0.00", locale=locale or display_locale())


def format_wan(amount, *, locale=None) -> str:
    """A yuan amount as a person reads it: 万元 to two decimals, rounded half up once
    (``12.35 万元``; ``CNY 12.35 × 10k`` in English; None is ``—``). The one format for money in
    lists, detail pages, notices, reports and PDFs; an exact figure for finance is shown in 元
    with :func:`format_yuan`, never as more decimals of 万元."""
    if amount is None:
        return "—"
    locale = locale or display_locale()
    return _in_wan(format_wan_number(amount, locale=locale), locale)


def format_wan_number(amount, *, locale=None) -> str:
    """:func:`format_wan` without the unit, for a column whose heading says 万元
    (``1,234.57``; None is ``—``)."""
    if amount is None:
        return "—"
    wan = (to_money(amount) / TEN_THOUSAND).quantize(CENT, ROUND_HALF_UP)  # one rounding
    return format_decimal(wan, format="#,##0.00", locale=locale or display_locale())


def _in_wan(number: str, locale: str) -> str:
    return f"{number} 万元" if locale.startswith("zh") else f"CNY {number} × 10k"
