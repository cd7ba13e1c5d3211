"""Receipts: financial Chinese numerals, the receipt PDF and the yearly statement."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from admin.receipts import amount_in_words, chinese_numerals


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


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_receipt_and_yearly_statement_pdfs(console):
    from ledger.models import Donation, Organisation

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

    statement = c.get(f"/console/organisations/{company.id}/statement-{year}.pdf")
    assert statement.status_code == 200
    text = pdf_text(statement.data)
    assert company.ubn in text and "NT$5,000" in text and "新臺幣伍仟元整" in text
