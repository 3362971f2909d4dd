from decimal import Decimal

import babel.numbers
import pytest
from flask_babel import force_locale

from grants.core.money import (
    MoneyError,
    format_wan,
    format_wan_number,
    format_yuan,
    format_yuan_number,
    money_or_zero,
    money_text,
    to_money,
    wan_or_none,
    wan_text,
    wan_to_yuan,
    yuan_to_wan,
)


def test_to_money_parses_text_with_commas_exactly():
    assert to_money("1,234,567.895") == Decimal("1234567.90")
    assert to_money(Decimal("0.005")) == Decimal("0.01")


def test_to_money_refuses_float_and_garbage():
    with pytest.raises(TypeError):
        to_money(0.1)
    with pytest.raises(MoneyError):
        to_money("十万")
    with pytest.raises(MoneyError):
        to_money("NaN")


def test_wan_conversions_are_exact():
    assert wan_to_yuan("1014") == Decimal("10140000.00")
    assert wan_to_yuan("123.4567") == Decimal("1234567.00")
    assert yuan_to_wan(Decimal("15240000")) == Decimal("1524.0000")


def test_formatting_in_both_languages(app):
    assert format_yuan(Decimal("1234.5"), locale="zh_Hans_CN") == "1,234.50 元"
    assert format_wan(Decimal("15240000"), locale="zh_Hans_CN") == "1,524.00 万元"
    assert format_wan(Decimal("12345"), locale="zh_Hans_CN") == "1.23 万元"
    assert (
        format_wan(Decimal("12350"), locale="zh_Hans_CN") == "1.24 万元"
    )  # half up, not half even
    assert format_yuan(Decimal("1234.5"), locale="en") == "CNY 1,234.50"
    assert format_yuan(None) == "—"


def test_money_or_zero_takes_sql_sums_and_blanks():
    assert money_or_zero(None) == Decimal("0.00")
    assert str(money_or_zero(None)) == "0.00"
    assert str(money_or_zero("")) == "0.00"
    assert str(money_or_zero(Decimal("1234.5"))) == "1234.50"
    assert str(money_or_zero(Decimal("0.005"))) == "0.01"
    with pytest.raises(TypeError):
        money_or_zero(0.5)


def test_money_text_is_plain_yuan_to_the_cent():
    assert money_text(Decimal("1234.5")) == "1234.50"
    assert money_text("1,234") == "1234.00"
    assert money_text(None) == "0.00"
    assert money_text(Decimal(0)) == "0.00"


def test_wan_or_none_keeps_missing_amounts_missing():
    assert wan_or_none(None) is None
    assert wan_or_none(Decimal("15240000")) == Decimal("1524.0000")
    assert str(wan_or_none(Decimal("12345.67"))) == "1.2346"


def test_wan_text_is_what_a_wan_field_takes():
    assert wan_text(Decimal("5000000.00")) == "500"
    assert wan_text(Decimal("123456")) == "12.3456"
    assert wan_text(Decimal("1500000")) == "150"  # not 1.5E+2
    assert (
        wan_text(Decimal("12345.67")) == "1.2346"
    )  # to the yuan, as the field takes four decimals
    assert wan_text(Decimal(0)) == "0"
    assert wan_text(None) == "0"
    assert wan_to_yuan(wan_text(Decimal("123456"))) == Decimal("123456.00")


def test_format_wan_is_two_decimals_only():
    """One format for money a person reads: 万元 to two decimals, whatever the amount."""
    assert format_wan(Decimal("280000"), locale="zh_Hans_CN") == "28.00 万元"
    assert format_wan(Decimal("56296.29"), locale="zh_Hans_CN") == "5.63 万元"
    assert format_wan(Decimal("0.01"), locale="zh_Hans_CN") == "0.00 万元"
    assert format_wan(Decimal(0), locale="zh_Hans_CN") == "0.00 万元"
    assert format_wan(Decimal("-12345"), locale="zh_Hans_CN") == "-1.23 万元"
    assert format_wan(Decimal("-12350"), locale="zh_Hans_CN") == "-1.24 万元"  # half away from 0
    assert format_wan(Decimal("1234567890.12"), locale="zh_Hans_CN") == "123,456.79 万元"
    assert format_wan("1,000,000", locale="zh_Hans_CN") == "100.00 万元"
    assert format_wan(None) == "—"


def test_format_wan_takes_no_number_of_digits():
    """``|wan(4)`` was the four-decimal 万元 people found confusing: it no longer works."""
    with pytest.raises(TypeError):
        format_wan(Decimal("123456"), 4)


def test_format_wan_number_is_the_figure_for_a_column_headed_in_wan():
    assert format_wan_number(Decimal("12345678.9"), locale="zh_Hans_CN") == "1,234.57"
    assert format_wan_number(Decimal("10049.50"), locale="en") == "1.00"
    assert format_wan_number(None) == "—"


def test_format_yuan_is_exact_to_the_cent():
    assert format_yuan(Decimal("280000"), locale="zh_Hans_CN") == "280,000.00 元"
    assert format_yuan(Decimal("56296.294"), locale="zh_Hans_CN") == "56,296.29 元"
    assert format_yuan(Decimal("-0.005"), locale="zh_Hans_CN") == "-0.01 元"
    assert format_yuan(Decimal("1234567.8"), locale="en") == "CNY 1,234,567.80"


def test_format_wan_rounds_once():
    """10,049.50 yuan is 1.004950 万元: 1.00 at two digits (rounding first to four decimals gave 1.01)."""
    assert format_wan(Decimal("10049.50"), locale="zh_Hans_CN") == "1.00 万元"
    assert format_wan(Decimal("10050.00"), locale="zh_Hans_CN") == "1.01 万元"
    assert format_wan(Decimal("49.50"), locale="zh_Hans_CN") == "0.00 万元"
    assert format_wan(Decimal("50.00"), locale="zh_Hans_CN") == "0.01 万元"


def test_the_request_language_chooses_the_format_when_none_is_given(app):
    """Without ``locale=``, the user's language decides: 元/万元 in Chinese, CNY in English."""
    with app.test_request_context():
        assert format_yuan(Decimal("1234.5")) == "1,234.50 元"
        assert format_wan(Decimal("15240000")) == "1,524.00 万元"
        with force_locale("en"):
            assert format_yuan(Decimal("1234.5")) == "CNY 1,234.50"
            assert format_wan(Decimal("15240000")) == "CNY 1,524.00 × 10k"
            assert format_wan(Decimal("250000")) == "CNY 25.00 × 10k"
    assert format_wan(Decimal("12345"), locale="en") == "CNY 1.23 × 10k"


def test_figures_do_not_depend_on_the_servers_own_locale(app, monkeypatch):
    """A server started with a German LANG still shows 1,234.57, the UI's figure, not 1.234,57."""
    monkeypatch.setattr(babel.numbers, "LC_NUMERIC", "de_DE")
    with app.test_request_context():
        assert format_wan_number(Decimal("12345678.9")) == "1,234.57"
        assert format_yuan_number(Decimal("1234.5")) == "1,234.50"
        with force_locale("en"):
            assert format_wan_number(Decimal("12345678.9")) == "1,234.57"
