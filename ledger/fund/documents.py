"""Donation receipts and yearly donor statements as PDF (WeasyPrint, Noto Sans CJK TC).

Here, below the faces, so the console's download and the worker's yearly-statements job
(``jobs.kinds.statements``) make the same document: plain Jinja2 over the templates in
``ledger/fund/templates/pdf``, no Flask.

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
import threading
import warnings
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from sqlalchemy.orm import Session

from foundation.reference import counties, townships
from foundation.settings import ReceiptIssuer
from ledger.fund.models import Donation, Project
from ledger.money import EXPONENTS, format_money

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


#: The priority-area types as the documents name them (the console's labels say the same)
PRIORITY_NAMES = {"agricultural": "農山漁村", "intermediate": "中介城鎮", "indigenous": "原鄉"}


def purpose_name(session: Session | None, restriction: str | None) -> str:
    """A donation's purpose in Traditional Chinese: 不限用途, 宜蘭縣, 南投縣 竹山鎮, a project."""
    if not restriction:
        return "不限用途"
    kind, _sep, ident = restriction.partition(":")
    if kind == "county" and ident in counties():
        return counties()[ident][0]
    if kind == "township" and ident in townships():
        town = townships()[ident]
        return f"{town.county_name} {town.name}"
    if kind == "priority" and ident in PRIORITY_NAMES:
        return PRIORITY_NAMES[ident]
    if kind == "project" and ident.isdigit():
        project = session.get(Project, int(ident)) if session is not None else None
        return project.name if project is not None else f"計畫 {ident}"
    return restriction.replace("_", " ")


def purpose_names(session: Session | None, restrictions) -> dict[str | None, str]:
    return {r: purpose_name(session, r) for r in set(restrictions)}


def _money(amount: int | None, currency: str = "TWD") -> str:
    return "—" if amount is None else format_money(int(amount), currency)


def _date(value: dt.date | None) -> str:
    return "—" if value is None else value.isoformat()


@pass_context
def _purpose(context, restriction: str | None) -> str:
    return context["purposes"].get(restriction) or purpose_name(None, restriction)


_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
_env.filters.update({"money": _money, "date": _date, "purpose": _purpose})


def _render(template: str, **context) -> str:
    return _env.get_template(template).render(roc_date=roc_date, **context)


def _weasyprint():
    # Imported here: WeasyPrint takes about a second to import and only receipts need it.
    with warnings.catch_warnings():
        # Without Debian's libharfbuzz-subset0 WeasyPrint subsets fonts with fontTools and
        # says so with a DeprecationWarning at import: the receipt is still right (only
        # larger), and `placefund doctor` reports the missing library.
        warnings.filterwarnings(
            "ignore", message="HarfBuzz-Subset will be required", category=DeprecationWarning
        )
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration
    return weasyprint, FontConfiguration


#: Each thread's WeasyPrint font configuration (its fontconfig set and Pango font map), kept
#: for every document the thread renders: left to WeasyPrint, each document makes a new
#: one and loads the CJK fonts afresh, a fifth of a statement's time. Per thread because a
#: Pango font map may only be used by one thread at a time.
_local = threading.local()


def _font_config():
    config = getattr(_local, "font_config", None)
    if config is None:
        config = _local.font_config = _weasyprint()[1]()
    return config


def _pdf(html: str) -> bytes:
    weasyprint, _ = _weasyprint()
    return weasyprint.HTML(string=html).write_pdf(font_config=_font_config())


def warm_up() -> None:
    """Import WeasyPrint and load this thread's fonts (a second), so the first document
    rendered after does not pay for them."""
    _pdf(_render("pdf/warm_up.html"))


def receipt_pdf(
    *,
    donation: Donation,
    company,
    number: str,
    issuer: ReceiptIssuer,
    fund_name: str,
    issued_on: dt.date,
    session: Session | None = None,
) -> bytes:
    """One receipt for one payment, numbered ``number`` (see ``ledger.fund.receipts``);
    ``session`` names a project the donation is restricted to."""
    html = _render(
        "pdf/receipt.html",
        purposes=purpose_names(session, [donation.restriction]),
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
    purposes: dict[str | None, str] | None = None,
) -> bytes:
    """A company's yearly statement: every payment with its receipt number, and totals.
    ``purposes``: each restriction's name (``purpose_names``)."""
    html = _render(
        "pdf/statement.html",
        purposes=purposes or {},
        st=statement,
        fund_name=fund_name,
        numbers=numbers,
        issuer=issuer,
        seal=seal_data_uri(issuer.seal_path),
        words={cur: amount_in_words(v, cur) for cur, v in statement.received.items()},
        issued_on=issued_on,
    )
    return _pdf(html)
