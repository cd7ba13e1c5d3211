"""Receipts: financial Chinese numerals, the receipt PDF and the yearly statement."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from ledger.fund.documents import amount_in_words, chinese_numerals, roc_date
from tests.admin.conftest import download_statement


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "零"),
        (10, "壹拾"),
        (101, "壹佰零壹"),
        (1010, "壹仟零壹拾"),
        (10010, "壹萬零壹拾"),
        (10500, "壹萬零伍佰"),
        (100000, "壹拾萬"),
        (1200000, "壹佰貳拾萬"),
        (1000001, "壹佰萬零壹"),
        (100010000, "壹億零壹萬"),
        (123456789, "壹億貳仟參佰肆拾伍萬陸仟柒佰捌拾玖"),
    ],
)
def test_chinese_numerals(n, words):
    assert chinese_numerals(n) == words


def test_amount_in_words_for_whole_taiwan_dollars_only():
    assert amount_in_words(10_000_000, "TWD") == "新臺幣壹拾萬元整"
    assert amount_in_words(10_050, "TWD") is None
    assert amount_in_words(100, "USD") is None


def test_roc_dates():
    import datetime as dt

    assert roc_date(dt.date(2026, 12, 2)) == "民國 115 年 12 月 2 日"
    assert roc_date(dt.date(1912, 1, 1)) == "民國 1 年 1 月 1 日"
    with pytest.raises(ValueError):
        roc_date(dt.date(1911, 12, 31))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_receipt_and_yearly_statement_pdfs(console):
    from identity.models import Organisation
    from ledger.fund.models import Donation

    c = console.client("company_a")
    response = c.get(f"/console/donations/{console.ids['donation_a']}/receipt.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    with console.database.session() as s:
        company = s.get(Organisation, console.ids["company_a"])
        donation = s.get(Donation, console.ids["donation_a"])
        year = donation.received_on.year
    assert "捐款收據" in text.replace(" ", "")
    assert "地方創生基金專戶" in text
    assert company.ubn in text and "甲公司" in text
    assert "NT$5,000" in text
    assert "新臺幣伍仟元整" in text
    assert f"PF-{year}-{donation.id:06d}" in text
    assert donation.received_on.isoformat() in text

    statement = download_statement(
        console.app, c, f"/console/organisations/{company.id}/statement-{year}.pdf"
    )
    assert statement.status_code == 200
    text = pdf_text(statement.data)
    assert company.ubn in text and "NT$5,000" in text and "新臺幣伍仟元整" in text


def _issuer_settings(console, **issuer):
    from foundation.settings import ReceiptIssuer

    settings = console.app.config["SETTINGS"]
    console.app.config["SETTINGS"] = type(settings)(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        receipt_issuer=ReceiptIssuer(**issuer),
    )


def test_a_receipt_a_company_can_file_with_its_taxes(console, tmp_path):
    from PIL import Image

    from ledger.fund import common
    from ledger.fund.documents import roc_date

    seal = tmp_path / "seal.png"
    Image.new("RGB", (120, 120), (200, 30, 30)).save(seal)
    _issuer_settings(
        console,
        name="國家發展委員會地方創生基金",
        ubn="04595257",
        address="臺北市中正區寶慶路3號",
        legal_basis="依所得稅法第三十六條第一款規定，對政府之捐贈得全數列為費用。",
        seal_path=seal,
    )
    c = console.client("company_a")
    response = c.get(f"/console/donations/{console.ids['donation_a']}/receipt.pdf")
    assert response.status_code == 200
    text = pdf_text(response.data)
    flat = text.replace(" ", "").replace("\n", "")
    assert "國家發展委員會地方創生基金" in flat
    assert "04595257" in text and "臺北市中正區寶慶路3號" in flat
    assert "依所得稅法第三十六條第一款規定，對政府之捐贈得全數列為費用。" in flat
    today = common.today()
    # 民國 115 年 12 月 2 日 beside 2026-12-02
    assert roc_date(today).replace(" ", "") in flat and today.isoformat() in text
    assert "新臺幣伍仟元整" in text
    (page,) = PdfReader(io.BytesIO(response.data)).pages
    assert len(page.images) == 1  # the seal
    # The company page and the PDF name the same number, and it does not change
    number = response.headers["Content-Disposition"].split('"')[1].removesuffix(".pdf")
    assert number in text and number in c.get("/console/company").text
    again = c.get(f"/console/donations/{console.ids['donation_a']}/receipt.pdf")
    assert number in again.headers["Content-Disposition"]


def test_an_english_reader_still_gets_a_chinese_receipt_without_a_seal(console):
    from tests.admin.conftest import post_form

    c = console.client("company_a")
    post_form(c, "/console/company", "/language", {"lang": "en", "next": "/console/company"})
    response = c.get(f"/console/donations/{console.ids['donation_a']}/receipt.pdf")
    text = pdf_text(response.data)
    assert "不限用途" in text and "Unrestricted" not in text
    assert "12345675" in text  # the demo issuer's 統一編號
    (page,) = PdfReader(io.BytesIO(response.data)).pages
    assert len(page.images) == 0


def test_receipt_numbers_count_within_the_year_not_by_database_id(console):
    """Company B's payment is listed first: it gets the year's first number, whatever ids
    the donations have; A's comes next and both stay."""
    import re

    b = console.client("company_b").get("/console/company").text
    a = console.client("company_a").get("/console/company").text
    (number_b,) = re.findall(r"PF-\d{4}-\d{6}", b)
    (number_a,) = re.findall(r"PF-\d{4}-\d{6}", a)
    assert number_b.endswith("-000001") and number_a.endswith("-000002")
    assert console.ids["donation_a"] < console.ids["donation_b"]
    assert number_b in console.client("company_b").get("/console/company").text


def test_the_yearly_statement_keeps_each_header_on_one_line(console):
    """Long purposes, large amounts and refunds squeeze the columns; the headers stay whole."""
    from pypdf import PdfReader

    from ledger.fund import donations as fund_donations

    with console.database.session() as s, s.begin():
        for i, (amount, purpose) in enumerate(
            [(100_000_000, "township:10008040"), (30_000_000, "priority:agricultural"),
             (123_456_700, None), (99_999_900, f"project:{console.ids['project_x']}")]
        ):  # fmt: skip
            d = fund_donations.record_donation(
                s, key=f"long{i}", channel="bank_transfer", amount=amount,
                company_id=console.ids["company_a"], restriction=purpose,
            )  # fmt: skip
            fund_donations.record_refund(
                s, key=f"long-refund{i}", donation_id=d.id, amount=1_234_500
            )
        year = d.received_on.year
    c = console.client("company_a")
    url = f"/console/organisations/{console.ids['company_a']}/statement-{year}.pdf"
    pdf = download_statement(console.app, c, url)
    reader = PdfReader(io.BytesIO(pdf.data))
    layout = "\n".join(p.extract_text(extraction_mode="layout") for p in reader.pages)
    header = next(line for line in layout.splitlines() if "收據編號" in line)
    for word in ("收據編號", "收款日期", "指定用途", "金額"):
        assert word in header, (word, header)
    text = pdf_text(pdf.data)
    assert "民國" in text and "PF-" in text and "12345675" in text
