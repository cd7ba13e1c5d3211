"""Donation receipts and yearly donor statements as PDF (WeasyPrint, Noto Sans CJK TC).

Amounts on receipts are written in figures and in the financial Chinese numerals used on
Taiwanese vouchers (大寫): NT$100,000 is 新臺幣壹拾萬元整.
"""

from __future__ import annotations

import datetime as dt
import warnings

from flask import render_template

from ledger.models import Donation
from ledger.money import EXPONENTS

_DIGITS = "零壹貳參肆伍陸柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_BIG_UNITS = ("", "萬", "億", "兆")


def _section(n: int) -> str:
    """0 < n < 10000 in financial numerals, with 零 for inner zeros (1001 is 壹仟零壹)."""
    out = []
    zero = False
    for pos in range(3, -1, -1):
        digit = n // 10**pos % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[digit] + _SMALL_UNITS[pos])
    return "".join(out)


def chinese_numerals(n: int) -> str:
    """A non-negative integer in financial numerals: 100000 is 壹拾萬, 10010 is 壹萬零壹拾."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError("a non-negative integer is required")
    if n == 0:
        return _DIGITS[0]
    sections = []
    while n:
        n, part = divmod(n, 10000)
        sections.append(part)
    if len(sections) > len(_BIG_UNITS):
        raise ValueError("amount too large")
    out = []
    need_zero = False
    for idx in range(len(sections) - 1, -1, -1):
        part = sections[idx]
        if part == 0:
            need_zero = bool(out)
            continue
        # A zero is read between sections when this one lacks its thousands (1,0500 -> 壹萬零伍佰)
        if out and (need_zero or part < 1000):
            out.append("零")
        out.append(_section(part) + _BIG_UNITS[idx])
        need_zero = False
    return "".join(out)


def amount_in_words(amount: int, currency: str) -> str | None:
    """新臺幣…元整 for a whole-dollar TWD amount in minor units; None for other amounts."""
    if currency != "TWD" or amount % 10 ** EXPONENTS["TWD"]:
        return None
    return f"新臺幣{chinese_numerals(amount // 10 ** EXPONENTS['TWD'])}元整"


def receipt_number(donation: Donation) -> str:
    """Stable and unique: the year received and the donation's id (PF-2026-000123)."""
    return f"PF-{donation.received_on.year}-{donation.id:06d}"


def _pdf(html: str) -> bytes:
    # Imported here: WeasyPrint takes about a second to import and only receipts need it.
    with warnings.catch_warnings():
        # Without Debian's libharfbuzz-subset0 WeasyPrint subsets fonts with fontTools and
        # says so with a DeprecationWarning at import: the receipt is still right (only
        # larger), and `placefund doctor` reports the missing library.
        warnings.filterwarnings(
            "ignore", message="HarfBuzz-Subset will be required", category=DeprecationWarning
        )
        from weasyprint import HTML

    return HTML(string=html).write_pdf()


def receipt_pdf(*, donation: Donation, company, fund_name: str, issued_on: dt.date) -> bytes:
    """One receipt for one payment."""
    html = render_template(
        "pdf/receipt.html",
        donation=donation,
        company=company,
        fund_name=fund_name,
        number=receipt_number(donation),
        words=amount_in_words(donation.gross_amount, donation.currency),
        issued_on=issued_on,
    )
    return _pdf(html)


def statement_pdf(*, statement, fund_name: str, issued_on: dt.date) -> bytes:
    """A company's yearly statement: every payment with its receipt number, and totals."""
    html = render_template(
        "pdf/statement.html",
        st=statement,
        fund_name=fund_name,
        receipt_number=receipt_number,
        words={cur: amount_in_words(v, cur) for cur, v in statement.received.items()},
        issued_on=issued_on,
    )
    return _pdf(html)
