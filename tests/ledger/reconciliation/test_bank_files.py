"""Bank statement CSV import: encodings, dates, amounts, errors, fingerprints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.fund.virtual_accounts import VirtualAccountScheme
from ledger.money import format_money
from ledger.reconciliation.bank_files import (
    GENERIC,
    MAPPINGS,
    TW_BANK,
    ColumnMapping,
    StatementFormatError,
    StatementHasErrors,
    decode,
    fingerprint,
    parse_date,
    parse_statement,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "bank"
SCHEME = VirtualAccountScheme("95123")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(data: bytes, mapping: ColumnMapping = TW_BANK, **kw):
    kw.setdefault("account", "0123-456-789012")
    kw.setdefault("scheme", SCHEME)
    return parse_statement(data, mapping, **kw)


# --- whole files -----------------------------------------------------------------------------


def test_generic_utf8():
    st_ = parse(fixture("generic_utf8.csv"), GENERIC)
    assert st_.ok and st_.encoding == "utf-8" and st_.header_line == 1
    assert [line.line for line in st_.lines] == [2, 3, 4, 5, 6]
    assert [line.amount for line in st_.lines] == [5000000, 10000000, 3150000, -20000000, -1500]
    assert st_.lines[1].date == dt.date(2026, 11, 3)
    assert st_.lines[1].virtual_account == "95123000000428"
    assert st_.lines[1].counterparty == "ZHUSHAN TEA CO"
    assert st_.lines[2].memo == "STRIPE PAYOUT po_1QxTest123"
    assert st_.closing_balance == 98148500
    assert st_.opening_balance == 100000000
    assert {line.currency for line in st_.lines} == {"TWD"}


def test_utf8_bom_auto_and_explicit():
    plain = parse(fixture("generic_utf8.csv"), GENERIC)
    for encoding in (None, "utf-8", "UTF8", "utf-8-sig"):
        bom = parse(fixture("generic_utf8_bom.csv"), GENERIC, encoding=encoding)
        assert bom.ok
        assert [line.fingerprint for line in bom.lines] == [x.fingerprint for x in plain.lines]


def test_taiwanese_big5_export():
    st_ = parse(fixture("tw_bank_big5.csv"))
    assert st_.ok, st_.errors
    assert st_.encoding == "cp950"
    assert st_.header_line == 3  # after the two preamble lines
    # Five ROC spellings, the footer 合計 row skipped.
    assert [line.date for line in st_.lines] == [dt.date(2026, 11, d) for d in range(2, 7)]
    assert [line.amount for line in st_.lines] == [5000000, 10000000, 3000000, -20000000, -1500]
    assert [line.line for line in st_.lines] == [4, 5, 6, 7, 8]
    assert st_.lines[1].memo == "跨行轉入 虛擬帳號95123000000428竹山茶業"
    assert st_.lines[1].virtual_accounts == ("95123000000428",)
    assert st_.lines[2].virtual_account == "95123000000436"
    assert "碁石工坊" in st_.lines[2].memo  # a cp950-only character survived
    assert st_.lines[0].counterparty == "0040000012345"
    assert st_.closing_balance == 97998500
    assert st_.opening_balance == 100000000


@pytest.mark.parametrize("encoding", [None, "big5", "cp950", "BIG5"])
def test_big5_encodings(encoding):
    assert parse(fixture("tw_bank_big5.csv"), encoding=encoding).ok


def test_same_statement_in_utf8_and_big5_has_the_same_fingerprints():
    big5 = fixture("tw_bank_big5.csv")
    utf8 = big5.decode("cp950").encode("utf-8-sig")
    a, b = parse(big5), parse(utf8)
    assert [x.fingerprint for x in a.lines] == [x.fingerprint for x in b.lines]


def test_malformed_lines_are_reported_with_line_numbers():
    st_ = parse(fixture("tw_bank_malformed_big5.csv"))
    assert not st_.ok
    assert [line.line for line in st_.lines] == [2, 10]
    messages = {e.line: str(e) for e in st_.errors}
    assert messages == {
        3: "line 3: deposit 'abc' is not a valid amount",
        4: "line 4: deposit '1,000.005' has fractions of a minor unit of TWD",
        5: "line 5: deposit '1,000.50' is not a whole number of TWD",
        6: "line 6: missing column '支出金額', '存入金額' (row has 2 columns)",
        7: "line 7: date '115/13/40' is not a valid ROC or ISO date",
        8: "line 8: both deposit and withdrawal are filled in",
        9: "line 9: neither deposit nor withdrawal has an amount",
    }
    seven = next(e for e in st_.errors if e.line == 7)
    assert seven.field == "date"
    assert seven.message_zh == "日期「115/13/40」不是有效的民國或西元日期"
    assert seven.bilingual().startswith("第 7 行：")


def test_nothing_importable_while_errors_exist_unless_skipping():
    st_ = parse(fixture("tw_bank_malformed_big5.csv"))
    with pytest.raises(StatementHasErrors) as exc:
        st_.importable()
    assert exc.value.code == "bank_statement_invalid"
    assert "line 7" in exc.value.fields
    assert "7 malformed line(s)" in exc.value.detail
    assert [line.line for line in st_.importable(skip_bad_lines=True)] == [2, 10]
    good = parse(fixture("tw_bank_big5.csv"))
    assert len(good.importable()) == 5


def test_reimport_and_overlap_give_the_same_fingerprints():
    first = parse(fixture("tw_bank_big5.csv"))
    again = parse(fixture("tw_bank_big5.csv"))
    assert [x.fingerprint for x in first.lines] == [x.fingerprint for x in again.lines]
    # An overlapping export: the last three lines again plus a new one.
    text = fixture("tw_bank_big5.csv").decode("cp950").splitlines()
    overlap = "\n".join(
        [text[2], *text[5:8], '115/11/07,跨行轉入,,"5,000","984,985",新的一筆,']
    ).encode("cp950")
    second = parse(overlap)
    assert second.ok
    old = {x.fingerprint for x in first.lines}
    assert [x.fingerprint in old for x in second.lines] == [True, True, True, False]


def test_identical_transfers_on_one_day_stay_two_lines():
    data = (
        b"date,description,amount\n"
        b"2026-11-26,donation,1000\n"
        b"2026-11-26,donation,1000\n"
        b"2026-11-27,donation,1000\n"
    )
    st_ = parse(data, GENERIC)
    prints = [x.fingerprint for x in st_.lines]
    assert len(set(prints)) == 3
    assert prints == [x.fingerprint for x in parse(data, GENERIC).lines]
    # The account is part of the identity.
    assert prints[0] != parse(data, GENERIC, account="other").lines[0].fingerprint


def test_descending_statement():
    data = (
        "交易日期,摘要,支出金額,存入金額,餘額\n"
        "115/11/03,轉出,500,,1500\n"
        "115/11/02,轉入,,1000,2000\n"
        "115/11/01,轉入,,1000,1000\n"
    ).encode("big5")
    st_ = parse(data)
    assert st_.descending
    assert [x.line for x in st_.chronological()] == [4, 3, 2]
    assert st_.closing_balance == 150000
    assert st_.opening_balance == 0


def test_one_day_descending_found_from_the_balance_chain():
    data = (
        b"date,description,amount,balance\n"
        b"2026-11-26,c,-300,1700\n"
        b"2026-11-26,b,1000,2000\n"
        b"2026-11-26,a,500,1000\n"
    )
    st_ = parse(data, GENERIC)
    assert st_.descending
    assert st_.closing_balance == 170000


def test_signed_amount_column_variants():
    data = (
        "date,description,amount\n"
        '2026-11-01,a,"NT$1,000"\n'
        '2026-11-02,b,"-NT$2,500"\n'
        '2026-11-03,c,"(300)"\n'
        "2026-11-04,d,１，２００元\n"
        "2026-11-05,e,0\n"
    ).encode()
    st_ = parse(data, GENERIC)
    assert [x.amount for x in st_.lines] == [100000, -250000, -30000, 120000]
    assert [str(e) for e in st_.errors] == ["line 6: amount is empty or zero"]


def test_currency_column_and_foreign_cents():
    data = (
        "date,description,amount,currency\n"
        "2026-11-01,a,31.50,USD\n"
        "2026-11-02,b,1000,JPY\n"
        "2026-11-03,c,1000,新臺幣\n"
        "2026-11-04,d,10.5,JPY\n"
        "2026-11-05,e,10,XXX\n"
    ).encode()
    st_ = parse(data, GENERIC)
    assert [(x.amount, x.currency) for x in st_.lines] == [
        (3150, "USD"),
        (1000, "JPY"),
        (100000, "TWD"),
    ]
    assert [e.line for e in st_.errors] == [5, 6]
    assert st_.errors[1].field == "currency"


def test_negative_withdrawal_column_and_zero_deposit():
    data = "交易日期,摘要,支出金額,存入金額\n115/11/01,轉出,-500,0\n".encode("big5")
    assert parse(data).lines[0].amount == -50000


def test_undecodable_bytes_are_a_line_error():
    good = "交易日期,摘要,支出金額,存入金額\n115/11/01,轉入,,500\n".encode("big5")
    bad = good + b"115/11/02,\xff\xff,,500\n"
    st_ = parse(bad)
    assert [x.line for x in st_.lines] == [2]
    assert [e.line for e in st_.errors] == [3]
    assert st_.errors[0].field == "encoding"


def test_missing_header_is_a_file_error():
    with pytest.raises(StatementFormatError) as exc:
        parse(b"foo,bar\n1,2\n", TW_BANK)
    assert "交易日期" in exc.value.detail


def test_unknown_encoding_is_a_file_error():
    with pytest.raises(StatementFormatError):
        parse(fixture("generic_utf8.csv"), GENERIC, encoding="klingon")


def test_mapping_needs_one_amount_style():
    with pytest.raises(StatementFormatError):
        ColumnMapping(name="x", date="d", amount="a", deposit="b")
    with pytest.raises(StatementFormatError):
        ColumnMapping(name="x", date="d")
    assert set(MAPPINGS) == {"generic", "tw_bank"}


def test_no_scheme_means_no_extraction():
    st_ = parse(fixture("tw_bank_big5.csv"), scheme=None)
    assert all(x.virtual_accounts == () for x in st_.lines)


def test_quoted_newline_in_memo_keeps_line_numbers():
    data = b'date,description,amount\n2026-11-01,"two\nlines",100\n2026-11-02,x,200\n'
    st_ = parse(data, GENERIC)
    assert [x.line for x in st_.lines] == [2, 4]
    assert st_.lines[0].memo == "two lines"


def test_decode_detection():
    assert decode("中文".encode())[1] == "utf-8"
    assert decode("中文".encode("big5"))[1] == "cp950"
    assert decode(b"\xef\xbb\xbfabc") == ("abc", "utf-8-sig", False)


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "115/11/26",
        "115.11.26",
        "115-11-26",
        "1151126",
        "115年11月26日",
        "民國115年11月26日",
        "民國 115/11/26",
        "2026-11-26",
        "2026/11/26",
        "20261126",
        "2026/11/26 14:03:22",
        "115/11/26 09:15",
        "2026-11-26T10:00:00",
        " １１５／１１／２６ ",
    ],
)
def test_dates(text):
    assert parse_date(text) == dt.date(2026, 11, 26)


def test_implausibly_old_dates_are_refused():
    data = b"date,description,amount\n261126,western YYMMDD,100\n"
    (error,) = parse(data, GENERIC).errors
    assert str(error) == "line 2: date '261126' reads as 1937-11-26, before 2000-01-01"


def test_two_digit_roc_years():
    assert parse_date("99/12/31") == dt.date(2010, 12, 31)
    assert parse_date("991231") == dt.date(2010, 12, 31)


@pytest.mark.parametrize(
    "text", ["115/13/40", "", "yesterday", "0/01/01", "2026-02-30", "26/11/2026", "11526"]
)
def test_bad_dates(text):
    with pytest.raises(ValueError):
        parse_date(text)


@given(st.dates(min_value=dt.date(1912, 1, 1), max_value=dt.date(2110, 12, 31)))
def test_roc_and_iso_round_trip(day):
    roc = day.year - 1911
    for text in (
        f"{roc}/{day.month:02d}/{day.day:02d}",
        f"{roc}.{day.month}.{day.day}",
        f"{roc}年{day.month}月{day.day}日",
        f"{roc:03d}{day.month:02d}{day.day:02d}",
        day.isoformat(),
        day.strftime("%Y/%m/%d"),
    ):
        assert parse_date(text) == day, text


# --- amounts and fingerprints ----------------------------------------------------------------


@given(st.integers(min_value=-(10**11), max_value=10**11).filter(bool))
def test_amount_round_trip_through_a_statement(dollars):
    minor = dollars * 100
    data = f'date,description,amount\n2026-11-26,x,"{format_money(minor, "TWD")}"\n'.encode()
    st_ = parse(data, GENERIC)
    assert st_.ok and st_.lines[0].amount == minor


@given(
    st.lists(
        st.tuples(
            st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
            st.integers(-(10**9), 10**9),
            st.text(max_size=10),
            st.none() | st.integers(0, 10**9),
            st.integers(0, 3),
        ),
        min_size=2,
        max_size=20,
        unique=True,
    )
)
def test_fingerprints_stable_and_distinct(items):
    prints = [fingerprint("acct", d, a, "TWD", m, b, n) for d, a, m, b, n in items]
    assert prints == [fingerprint("acct", d, a, "TWD", m, b, n) for d, a, m, b, n in items]
    assert len(set(prints)) == len(items)
    assert all(len(p) == 64 for p in prints)
