import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundation.errors import InvalidAmount, ValidationError
from ledger.money import (
    Money,
    check_minor,
    check_whole_units,
    format_money,
    format_rate,
    parse_amount,
)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (100000, "TWD", "NT$1,000"),
        (123456700, "TWD", "NT$1,234,567"),
        (100050, "TWD", "NT$1,000.50"),
        (-100000, "TWD", "-NT$1,000"),
        (3150, "USD", "US$31.50"),
        (3150, "JPY", "¥3,150"),
        (0, "TWD", "NT$0"),
    ],
)
def test_format_money_as_taiwanese_readers_expect(amount, currency, text):
    assert format_money(amount, currency) == text


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1,000", "TWD", 100000),
        ("NT$1,000", "TWD", 100000),
        ("1000.5", "TWD", 100050),
        ("(1,000)", "TWD", -100000),
        ("31.50", "USD", 3150),
        ("3,150", "JPY", 3150),
    ],
)
def test_parse_amount(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize("text", ["1,00", "1.005", "abc", "", "1e5", "12,34,567"])
def test_parse_amount_refuses_what_is_not_an_exact_amount(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text, "TWD")


def test_parse_refuses_fractional_yen():
    with pytest.raises(InvalidAmount, match="more decimals"):
        parse_amount("10.5", "JPY")


@pytest.mark.parametrize("bad", [1.5, "100", True, None, 10**16])
def test_check_minor_refuses_non_integers_and_huge_values(bad):
    with pytest.raises(InvalidAmount):
        check_minor(bad)


@pytest.mark.parametrize("bad", [0, -1])
def test_check_minor_refuses_non_positive(bad):
    with pytest.raises(InvalidAmount):
        check_minor(bad)


def test_twd_is_taken_in_whole_dollars_only():
    assert check_whole_units(100000, "TWD") == 100000
    with pytest.raises(InvalidAmount, match="whole"):
        check_whole_units(100050, "TWD")


def test_money_arithmetic_refuses_mixed_currencies():
    assert (Money(100, "TWD") + Money(50, "TWD")).amount == 150
    with pytest.raises(ValidationError):
        Money(100, "TWD") + Money(1, "USD")
    with pytest.raises(ValidationError):
        Money(1, "XXX")


def test_money_json_follows_stripe_convention_with_display():
    assert Money(100000).to_json() == {"amount": 100000, "currency": "TWD", "display": "NT$1,000"}


def test_rate_is_shown_from_integer_amounts():
    assert format_rate(3150, "USD", 100000, "TWD") == "1 TWD = 0.0315 USD"


@given(st.integers(min_value=-(10**14), max_value=10**14), st.sampled_from(["TWD", "USD", "JPY"]))
def test_format_then_parse_round_trips(minor, currency):
    text = format_money(minor, currency, decimals=True)
    assert parse_amount(text.replace("-", "(", 1) + ")" if minor < 0 else text, currency) == minor
