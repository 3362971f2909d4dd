from decimal import Decimal

import pytest

from grants.core.money import (
    MoneyError,
    format_wan,
    format_yuan,
    to_money,
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
    assert format_wan(Decimal("12350"), locale="zh_Hans_CN") == "1.24 万元"  # half up, not half even
    assert format_yuan(Decimal("1234.5"), locale="en") == "CNY 1,234.50"
    assert format_yuan(None) == "—"
