"""Donation receipts and yearly donor statements as PDF (WeasyPrint, Noto Sans CJK TC).

What a Taiwanese company needs to file a receipt with its taxes: the issuer's name, 統一編號
and address, the donor's name and 統一編號, the amount in figures and in the financial
Chinese numerals used on vouchers (大寫: NT$100,000 is 新臺幣壹拾萬元整), the date as official
documents write it (民國 115 年 12 月 2 日) beside the ISO date, a receipt number (given once
per donation, counted within each year: ``ledger.fund.receipts``), the legal basis of the
deduction and the issuer's seal. The issuer's facts come from the settings
(``foundation.settings.ReceiptIssuer``). Receipts are Chinese documents with English labels:
they are rendered in Traditional Chinese whatever the reader's console language.
"""

from __future__ import annotations

import base64
import datetime as dt
import warnings
from pathlib import Path

from flask import render_template
from flask_babel import force_locale

from foundation.settings import ReceiptIssuer
from ledger.fund.models import Donation
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


def roc_date(day: dt.date) -> str:
    """The date as Taiwanese official documents write it: 2026-12-02 is 民國 115 年 12 月 2 日
    (the Republic of China's calendar counts years from 1912)."""
    if day.year < 1912:
        raise ValueError("dates before 1912 have no ROC year")
    return f"民國 {day.year - 1911} 年 {day.month} 月 {day.day} 日"


def seal_data_uri(path: Path | None) -> str | None:
    """The seal image inlined as a data: URI (WeasyPrint then fetches nothing)."""
    if path is None:
        return None
    data = path.read_bytes()
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _render(template: str, **context) -> str:
    with force_locale("zh_Hant_TW"):
        return render_template(template, roc_date=roc_date, **context)


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


def receipt_pdf(
    *,
    donation: Donation,
    company,
    number: str,
    issuer: ReceiptIssuer,
    fund_name: str,
    issued_on: dt.date,
) -> bytes:
    """One receipt for one payment, numbered ``number`` (see ``ledger.fund.receipts``)."""
    html = _render(
        "pdf/receipt.html",
        donation=donation,
        company=company,
        fund_name=fund_name,
        number=number,
        issuer=issuer,
        seal=seal_data_uri(issuer.seal_path),
        words=amount_in_words(donation.gross_amount, donation.currency),
        issued_on=issued_on,
    )
    return _pdf(html)


def statement_pdf(
    *,
    statement,
    numbers: dict[int, str],
    issuer: ReceiptIssuer,
    fund_name: str,
    issued_on: dt.date,
) -> bytes:
    """A company's yearly statement: every payment with its receipt number, and totals."""
    html = _render(
        "pdf/statement.html",
        st=statement,
        fund_name=fund_name,
        numbers=numbers,
        issuer=issuer,
        seal=seal_data_uri(issuer.seal_path),
        words={cur: amount_in_words(v, cur) for cur, v in statement.received.items()},
        issued_on=issued_on,
    )
    return _pdf(html)
