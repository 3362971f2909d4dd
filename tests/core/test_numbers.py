from decimal import Decimal

from flask_babel import force_locale

from grants.core.numbers import format_figure, format_score


def test_format_score_rounds_half_up_to_one_decimal():
    assert format_score(Decimal("82.25"), locale="zh_Hans_CN") == "82.3"
    assert format_score(Decimal("82.35"), locale="zh_Hans_CN") == "82.4"  # not half even
    assert format_score(Decimal("82.24"), locale="zh_Hans_CN") == "82.2"
    assert format_score(Decimal("82.0000"), locale="zh_Hans_CN") == "82"
    assert format_score(82, locale="zh_Hans_CN") == "82"
    assert format_score(Decimal("82.96"), locale="zh_Hans_CN") == "83"
    assert format_score(Decimal("99.95"), locale="zh_Hans_CN") == "100"


def test_format_score_takes_floats_by_their_shortest_text():
    assert format_score(82.25, locale="zh_Hans_CN") == "82.3"
    assert format_score(2.675, locale="zh_Hans_CN") == "2.7"
    assert format_score(0.1 + 0.2, locale="zh_Hans_CN") == "0.3"


def test_format_score_of_negative_zero_and_missing():
    assert format_score(Decimal("-1.25"), locale="zh_Hans_CN") == "-1.3"
    assert format_score(Decimal("-0.04"), locale="zh_Hans_CN") == "0"  # no "-0"
    assert format_score(Decimal(0), locale="zh_Hans_CN") == "0"
    assert format_score(Decimal("0.05"), locale="zh_Hans_CN") == "0.1"
    assert format_score(None) == "—"
    assert format_score("") == "—"


def test_format_score_groups_thousands():
    assert format_score(Decimal("1234567.25"), locale="zh_Hans_CN") == "1,234,567.3"
    assert format_score(Decimal("1234"), locale="en") == "1,234"


def test_format_score_follows_the_request_language(app):
    with app.test_request_context():
        assert format_score(Decimal("1234.56")) == "1,234.6"
        with force_locale("en"):
            assert format_score(Decimal("1234.56")) == "1,234.6"
            assert format_score(Decimal("70")) == "70"


def test_format_figure_keeps_the_entered_decimals_without_needless_zeros():
    assert format_figure(Decimal("2.00"), locale="zh_Hans_CN") == "2"
    assert format_figure(Decimal("0.05"), locale="zh_Hans_CN") == "0.05"
    assert format_figure(Decimal("1234.50"), locale="zh_Hans_CN") == "1,234.5"
    assert format_figure(Decimal("-3"), locale="en") == "-3"
    assert format_figure(12, locale="en") == "12"
    assert format_figure(None) == "—"


def test_the_filters_are_registered(app):
    with app.test_request_context():
        env = app.jinja_env
        assert env.from_string("{{ v|score }}").render(v=Decimal("82.0000")) == "82"
        assert env.from_string("{{ v|figure }}").render(v=Decimal("2.50")) == "2.5"
        assert env.from_string("{{ v|wan }}").render(v=Decimal("280000")) == "28.00 万元"
        assert env.from_string("{{ v|yuan }}").render(v=Decimal("280000")) == "280,000.00 元"
