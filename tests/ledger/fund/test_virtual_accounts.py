"""Virtual account references: generation, check digit, validation, extraction from memos."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from foundation.errors import ValidationError
from ledger.fund.virtual_accounts import (
    InvalidVirtualAccount,
    VirtualAccountScheme,
    extract,
    generate,
    is_valid,
    luhn_check_digit,
    pledge_id_of,
    validate,
    weighted_check_digit,
)

SCHEME = VirtualAccountScheme("95123")
FULL_WIDTH = "95123000000428".translate(str.maketrans("0123456789", "０１２３４５６７８９"))
schemes = st.builds(
    VirtualAccountScheme,
    prefix=st.from_regex(r"[1-9][0-9]{3,4}", fullmatch=True),
    length=st.sampled_from((14, 16)),
)
pledge_ids = st.integers(min_value=1, max_value=10**8 - 1)


def test_known_values():
    # Luhn over 9512300000004 (pledge 42): fixed forever, printed on donors' payment slips.
    assert generate(42, SCHEME) == "95123000000428"
    assert generate(43, SCHEME) == "95123000000436"
    assert luhn_check_digit("7992739871") == 3  # the textbook Luhn example
    assert len(generate(1, VirtualAccountScheme("9512", length=16))) == 16


def test_deterministic_and_unique():
    refs = [generate(i, SCHEME) for i in range(1, 2001)]
    assert refs == [generate(i, SCHEME) for i in range(1, 2001)]
    assert len(set(refs)) == len(refs)


@given(schemes, pledge_ids)
def test_round_trip(scheme, pledge_id):
    assume(pledge_id <= scheme.max_pledge_id)
    ref = generate(pledge_id, scheme)
    assert len(ref) == scheme.length
    assert ref.startswith(scheme.prefix)
    assert is_valid(ref, scheme)
    assert validate(ref, scheme) == ref
    assert pledge_id_of(ref, scheme) == pledge_id


@given(pledge_ids, st.data())
def test_every_single_digit_error_is_caught(pledge_id, data):
    ref = generate(pledge_id, SCHEME)
    pos = data.draw(st.integers(0, len(ref) - 1))
    digit = data.draw(st.sampled_from("0123456789").filter(lambda d: d != ref[pos]))
    assert not is_valid(ref[:pos] + digit + ref[pos + 1 :], SCHEME)


@given(pledge_ids, st.data())
def test_adjacent_transpositions_caught_except_09(pledge_id, data):
    ref = generate(pledge_id, SCHEME)
    pos = data.draw(st.integers(0, len(ref) - 2))
    a, b = ref[pos], ref[pos + 1]
    assume(a != b)
    swapped = ref[:pos] + b + a + ref[pos + 2 :]
    # Luhn's one blind spot is 09 <-> 90 (both contribute 9 either way).
    if {a, b} != {"0", "9"}:
        assert not is_valid(swapped, SCHEME)


def test_adjacent_transpositions_caught_exhaustively_on_a_sample():
    missed = total = 0
    for pledge_id in range(1, 3000, 7):
        ref = generate(pledge_id, SCHEME)
        for pos in range(len(ref) - 1):
            a, b = ref[pos], ref[pos + 1]
            if a == b:
                continue
            total += 1
            missed += is_valid(ref[:pos] + b + a + ref[pos + 2 :], SCHEME)
    assert missed / total < 0.05


@given(pledge_ids, st.data())
def test_bank_weights_scheme(pledge_id, data):
    scheme = VirtualAccountScheme("95123", weights=(3, 7, 1))
    ref = generate(pledge_id, scheme)
    payload = ref[:-1]
    assert int(ref[-1]) == weighted_check_digit(payload, (3, 7, 1))
    assert is_valid(ref, scheme)
    # Weights coprime with 10 still catch every single-digit error.
    pos = data.draw(st.integers(0, len(ref) - 1))
    digit = data.draw(st.sampled_from("0123456789").filter(lambda d: d != ref[pos]))
    assert not is_valid(ref[:pos] + digit + ref[pos + 1 :], scheme)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("95123000000427", "check digit"),
        ("9512300000042", "14 digits"),
        ("85123000000428", "start with 95123"),
        ("95123ABC000428", "digits only"),
        ("95123000000000", "zero"),
    ],
)
def test_validate_says_why(text, why):
    if why == "zero":
        # The all-zero id with its own valid check digit is still not a pledge.
        text = "9512300000000" + str(luhn_check_digit("9512300000000"))
    with pytest.raises(InvalidVirtualAccount) as exc:
        validate(text, SCHEME)
    assert why in exc.value.detail
    assert exc.value.code == "invalid_virtual_account"
    assert not is_valid(text, SCHEME)


def test_validate_accepts_spaces_dashes_and_full_width():
    assert validate("9512-3000 0004-28", SCHEME) == "95123000000428"
    assert validate(FULL_WIDTH, SCHEME) == "95123000000428"


@pytest.mark.parametrize("bad", [0, -1, True, 10**8, "42"])
def test_generate_refuses_bad_ids(bad):
    with pytest.raises(ValidationError):
        generate(bad, SCHEME)


@pytest.mark.parametrize(
    "kwargs", [{"prefix": "12"}, {"prefix": "12a45"}, {"prefix": "95123", "length": 15}]
)
def test_scheme_is_checked(kwargs):
    with pytest.raises(ValidationError):
        VirtualAccountScheme(**kwargs)


@pytest.mark.parametrize(
    "memo",
    [
        "95123000000428",
        "跨行轉入 9512-3000-0004-28 竹山茶業",
        "虛擬帳號95123000000428竹山茶業",
        "VA: 95123 0000 0042 8 thanks",
        "ＶＡ" + FULL_WIDTH,
        "1151126 95123000000428",  # a date glued on by single spaces
        "0095123000000428",  # leading zeros from a fixed-width field
    ],
)
def test_extract_from_memos(memo):
    assert extract(memo, SCHEME) == ["95123000000428"]


@pytest.mark.parametrize(
    "memo",
    [
        None,
        "",
        "跨行轉入 國發會",
        "95123000000427",  # wrong check digit
        "9512300000042",  # too short
        "acct 12345678901234",
    ],
)
def test_extract_finds_nothing(memo):
    assert extract(memo, SCHEME) == []


def test_extract_several_in_order_without_repeats():
    a, b = generate(42, SCHEME), generate(7, SCHEME)
    assert extract(f"{b} and {a}, again {b}", SCHEME) == [b, a]


@given(
    pledge_ids,
    st.text(alphabet="abc 公司轉帳-:/，", max_size=20),
    st.text(alphabet="abc 公司轉帳-:/，", max_size=20),
    st.lists(st.sampled_from(["", " ", "-"]), min_size=13, max_size=13),
)
def test_extract_property(pledge_id, before, after, seps):
    ref = generate(pledge_id, SCHEME)
    spaced = "".join(d + s for d, s in zip(ref, [*seps, ""], strict=True))
    # Separators at the edges of the surrounding text must not glue other digits on.
    assert extract(f"{before} {spaced} {after}", SCHEME) == [ref]
