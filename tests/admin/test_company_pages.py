"""The company's own page (admin/company_pages.py): payments a page at a time, newest first."""

from __future__ import annotations

import datetime as dt
import re

from admin.console import PAGE
from ledger.fund import donations as fund_donations
from tests.admin.conftest import post_form

RECEIPT = re.compile(r"<tr><td>(PF-\d{4}-\d{6})</td>")


def _donations_table(html: str) -> str:
    return html[html.index('<table id="donations">') : html.index("</table>", html.index(
        '<table id="donations">'))]  # fmt: skip


def _older_link(html: str) -> str | None:
    found = re.search(r'id="donations-older" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _many_donations(console) -> tuple[int, int]:
    """Six payments received two years ago, then a page and a half of this year's."""
    this_year = dt.date.today().year
    with console.database.session() as s, s.begin():
        for i in range(PAGE + 6):
            fund_donations.record_donation(
                s, key=f"paging-{i}", channel="bank_transfer", amount=100_000 + i * 100,
                company_id=console.ids["company_a"],
                received_on=dt.date(this_year - 2, 3, 1) if i < 6 else None,
            )  # fmt: skip
    return this_year - 2, this_year


def _walk(client, url: str = "/console/company") -> list[str]:
    """Every page of payments from the newest, following 'older'; the pages' html."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        pages.append(response.text)
        url = _older_link(response.text)
        assert len(pages) < 10
    return pages


def test_payments_come_a_page_at_a_time_and_every_receipt_stays_reachable(console):
    old_year, this_year = _many_donations(console)
    company = console.client("company_a")
    pages = _walk(company)
    assert len(pages) == 2
    first, older = pages
    numbers = [RECEIPT.findall(_donations_table(p)) for p in pages]
    assert len(numbers[0]) == PAGE  # the newest page is full
    # Every payment is listed once across the pages, each with its own receipt number
    everything = numbers[0] + numbers[1]
    assert len(everything) == len(set(everything)) == PAGE + 7  # six old, fifty, the world's
    assert f"PF-{old_year}-" not in _donations_table(first)
    assert f"PF-{old_year}-" in _donations_table(older)
    # The yearly statements cover every year the company gave in, on every page
    for html in pages:
        assert f"/statement-{old_year}.pdf" in html and f"/statement-{this_year}.pdf" in html
    # Chinese words for the paging, amounts as NT$, no raw codes
    assert "較早" in first and 'id="donations-newest"' not in first
    assert "最新" in older and 'id="donations-older"' not in older
    assert re.search(r"NT\$1,0\d\d", _donations_table(first))
    assert "bank_transfer" not in _donations_table(first)
    # Receipts on the older page download
    receipt = re.search(r'href="(/console/donations/\d+/receipt\.pdf)"', older).group(1)
    assert company.get(receipt).mimetype == "application/pdf"


def test_the_payment_pages_speak_english(console):
    old_year, _this_year = _many_donations(console)
    company = console.client("company_a")
    post_form(company, "/console/company", "/language", {"lang": "en", "next": "/console/company"})
    first, older = _walk(company)
    assert 'lang="en"' in first
    assert "Older" in first and "Payments and receipts" in first
    assert "Newest" in older and f"Statement for {old_year}" in older
    assert re.search(r"NT\$1,0\d\d", _donations_table(first))
    assert "Bank transfer" in _donations_table(first)
    assert "較早" not in first and "最新" not in older


def test_a_bad_or_foreign_position_shows_the_newest_page_or_nothing_foreign(console):
    _many_donations(console)
    company = console.client("company_a")
    newest = RECEIPT.findall(_donations_table(company.get("/console/company").text))
    for junk in ("abc", "-5", "99999999999999999999", ""):
        page = company.get(f"/console/company?after={junk}")
        assert page.status_code == 200
        assert RECEIPT.findall(_donations_table(page.text)) == newest
    # Company B's page after any position lists only B's own payments
    b = console.client("company_b").get("/console/company?after=2147483647").text
    assert len(RECEIPT.findall(_donations_table(b))) == 1


def test_a_pledge_paid_in_full_says_so_not_disbursed(console):
    """'paid' is also a disbursement's status (已撥款, paid out by the fund): a company's
    pledge it has paid in full reads 已繳清 / Paid in full."""
    company = console.client("company_b")
    page = company.get("/console/company").text
    row = re.search(rf"<tr><td>{console.ids['pledge_b']}</td>(.*?)</tr>", page, re.S)[1]
    assert "已繳清" in row and "已撥款" not in row
    post_form(company, "/console/company", "/language", {"lang": "en", "next": "/console/company"})
    page = company.get("/console/company").text
    row = re.search(rf"<tr><td>{console.ids['pledge_b']}</td>(.*?)</tr>", page, re.S)[1]
    assert "Paid in full" in row
