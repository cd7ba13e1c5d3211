"""Paying a pledge by bank transfer: the page with everything a bank's app asks for."""

from __future__ import annotations

import datetime as dt
import re

from ledger.fund.models import Pledge
from ledger.fund.transfers import next_due_from


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert match, f"no #{element_id} on the page"
    return match.group(1).strip()


def test_the_company_sees_bank_branch_account_virtual_account_amount_and_due_date(console):
    company = console.client("company_a")
    pledge_id = console.ids["pledge_a"]
    listing = company.get("/console/company")
    assert f"/console/pledges/{pledge_id}/bank-transfer" in listing.text
    page = company.get(f"/console/pledges/{pledge_id}/bank-transfer")
    assert page.status_code == 200
    with console.database.session() as s:
        pledge = s.get(Pledge, pledge_id)
        va, second = pledge.virtual_account, pledge.instalments[1]
    assert _text(page.text, "bank-name") == "臺灣銀行"  # the demo default
    assert _text(page.text, "bank-code") == "004"
    assert _text(page.text, "bank-branch") == "營業部"
    assert _text(page.text, "account-name") == "地方創生基金專戶"
    assert _text(page.text, "virtual-account").replace(" ", "") == va
    assert _text(page.text, "transfer-amount") == "NT$5,000"  # the second of two instalments
    assert _text(page.text, "due-date") == second.due_date.isoformat()
    assert "第 2 期，共 2 期" in page.text
    # Each copy button carries exactly what a bank's app takes: digits, no NT$ or commas
    assert f'data-copy="{va}"' in page.text
    assert 'data-copy="5000"' in page.text and 'data-copy="004"' in page.text
    assert "/console/static/copy.js" in page.text and "<script>" not in page.text


def test_the_bank_details_come_from_the_settings_and_the_page_speaks_english(console):
    from foundation.settings import BankAccount

    settings = console.app.config["SETTINGS"]
    console.app.config["SETTINGS"] = type(settings)(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        bank=BankAccount("土地銀行", "005", "館前分行", "地方創生基金"),
    )
    company = console.client("company_a")
    from tests.admin.conftest import post_form

    post_form(company, "/console/company", "/language", {"lang": "en", "next": "/console/company"})
    page = company.get(f"/console/pledges/{console.ids['pledge_a']}/bank-transfer")
    assert "Pay by bank transfer" in page.text and "Instalment 2 of 2" in page.text
    assert _text(page.text, "bank-name") == "土地銀行"
    assert _text(page.text, "bank-code") == "005"
    assert _text(page.text, "bank-branch") == "館前分行"
    assert _text(page.text, "account-name") == "地方創生基金"


def test_a_paid_pledge_says_so_and_others_pledges_do_not_exist(console):
    company_b = console.client("company_b")
    page = company_b.get(f"/console/pledges/{console.ids['pledge_b']}/bank-transfer")
    assert page.status_code == 200
    assert "已全額繳清" in page.text and 'id="virtual-account"' not in page.text
    # Company B cannot see company A's pledge; a manager can; nobody signed out can.
    url_a = f"/console/pledges/{console.ids['pledge_a']}/bank-transfer"
    assert company_b.get(url_a).status_code == 404
    assert company_b.get("/console/pledges/999999/bank-transfer").status_code == 404
    assert console.client("ndc").get(url_a).status_code == 200
    assert console.app.test_client().get(url_a).status_code == 302


def test_next_due_follows_the_instalments_in_order():
    jan, jun = dt.date(2026, 1, 31), dt.date(2026, 6, 30)
    schedule = [(jan, 500_000), (jun, 500_000)]
    first = next_due_from(schedule, 1_000_000, 0, "TWD")
    assert (first.amount, first.due_date, first.instalment, first.outstanding) == (
        500_000, jan, 1, 1_000_000,
    )  # fmt: skip
    part = next_due_from(schedule, 1_000_000, 200_000, "TWD")
    assert (part.amount, part.due_date, part.instalment) == (300_000, jan, 1)
    second = next_due_from(schedule, 1_000_000, 500_000, "TWD")
    assert (second.amount, second.due_date, second.instalment) == (500_000, jun, 2)
    assert next_due_from(schedule, 1_000_000, 1_000_000, "TWD") is None
    unscheduled = next_due_from([], 300_000, 100_000, "TWD")
    assert (unscheduled.amount, unscheduled.due_date) == (200_000, None)
