import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundation.ubn import complete_ubn, is_valid_ubn


@pytest.mark.parametrize("ubn", ["04595257", "22099131", "10458575", "12345675"])
def test_known_valid_numbers(ubn):
    assert is_valid_ubn(ubn)


@pytest.mark.parametrize(
    "ubn", ["04595258", "1234567", "123456789", "abcdefgh", "１２３４５６７８", ""]
)
def test_invalid_numbers(ubn):
    assert not is_valid_ubn(ubn)


def test_seventh_digit_seven_counts_either_way():
    # 10458575 has 7 in the 7th position; its sum is valid only with the +1 alternative.
    assert is_valid_ubn("10458575")


@given(st.from_regex(r"\A[0-9]{7}\Z"))
def test_completed_numbers_are_valid(first7):
    ubn = complete_ubn(first7)
    assert ubn.startswith(first7) and is_valid_ubn(ubn)
