"""The reconciliation queue in headless Chromium, at 1280 px and 375 px, in Chinese and
English: a manager imports a bank file, filters the queue, pages through it, matches a line
by hand and confirms a suggestion whose amount differs, with a reason.

Screenshots go to test-artifacts/screenshots/ (git-ignored), named ``40-...``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.fund import donations, pledges
from tests import factories
from tests.admin.test_browser import (  # noqa: F401 (fixtures)
    CHROMIUM,
    browser,
    browser_db,
    served,
    shot,
    signed_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's Chromium"),
]

WORDS = {
    "zh": {
        "confirmed": "已確認",
        "of": "共",
        "finished": "完成",
        "warning": "期末餘額與帳簿不符",
        "reason": "金額不符，須說明原因",
    },
    "en": {
        "confirmed": "is confirmed",
        "of": "of",
        "finished": "Finished",
        "warning": "does not agree with the ledger",
        "reason": "Needed because the amounts differ",
    },
}


def seed(database, tag: str, month: int) -> dict:
    """A company of this run with an open pledge, and a Stripe payout the bank file shows
    NT$15 short (the bank's fee): the rules can only suggest it."""
    with database.session() as s, s.begin():
        company = factories.organisation(s, "company", name=f"竹山茶園{tag}")
        pledge = pledges.record_pledge(s, key=f"b:{tag}:p", company_id=company.id, amount=2_000_000)
        donations.record_donation(
            s,
            key=f"b:{tag}:card",
            channel="stripe",
            amount=1_000_000,
            company_id=company.id,
            received_on=dt.date(2026, month, 1),
        )
        payout = donations.record_payout(
            s,
            key=f"b:{tag}:po",
            amount=500_000,
            paid_on=dt.date(2026, month, 3),
            stripe_payout_id=f"po_Browser{tag}",
        )
        return {"company": company.name, "pledge": pledge.id, "payout": payout.stripe_payout_id}


def bank_file(tag: str, month: int, payout: str) -> bytes:
    """Sixty small lines (interest), a transfer without a reference, and the payout less a
    fee; with running balances, so the closing balance can be checked."""
    rows = []
    for i in range(60):
        rows.append((dt.date(2026, month, 1 + i % 20), f"利息{tag}-{i}", 1 + i))
    rows.append((dt.date(2026, month, 21), f"ATM轉入{tag}", 2_345))
    rows.append((dt.date(2026, month, 22), f"STRIPE {payout}", 4_985))
    rows.sort(key=lambda r: r[0])
    balance = 1_000_000
    out = ["date,description,amount,balance,counterparty"]
    for day, memo, amount in rows:
        balance += amount
        out.append(f'{day.isoformat()},{memo},"{amount:,}","{balance:,}",')
    return ("\n".join(out) + "\n").encode()


CASES = [
    pytest.param(1280, "zh", 1, id="1280-zh"),
    pytest.param(1280, "en", 2, id="1280-en"),
    pytest.param(375, "zh", 3, id="375-zh"),
    pytest.param(375, "en", 4, id="375-en"),
]


@pytest.mark.parametrize(("width", "lang", "month"), CASES)
def test_import_filter_page_match_by_hand_and_confirm_a_difference(
    browser,  # noqa: F811
    served,  # noqa: F811
    browser_db,  # noqa: F811
    tmp_path,
    width,
    lang,
    month,
):
    base_url, _ids, emails = served
    tag = f"{width}{lang}"
    facts = seed(browser_db[1], tag, month)
    words = WORDS[lang]
    name = f"40-recon-{width}-{lang}"
    statement = tmp_path / f"statement-{tag}.csv"
    statement.write_bytes(bank_file(tag, month, facts["payout"]))

    context, page = signed_in(
        browser, base_url, emails["ndc"], viewport={"width": width, "height": 900}
    )
    if lang == "en":
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()

    def fits():
        wide = page.evaluate(
            "w => [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > w)"
            ".map(e => e.tagName + '#' + e.id + ' ' + e.textContent.slice(0, 40))",
            width,
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (page.url, wide)

    # Import the bank file
    page.goto("/console/reconciliation")
    page.locator("#statement").set_input_files(str(statement))
    page.locator("#mapping").select_option("generic")
    page.locator("form[action$='/reconciliation/upload'] button[type=submit]").click()
    page.wait_for_url("**/console/reconciliation/imports/*")
    page.locator("#job-status", has_text=words["finished"]).wait_for()
    page.locator("#run-link").click()
    page.wait_for_url("**/console/reconciliation/runs/*")
    assert words["warning"] in page.locator("#closing-warning").inner_text()
    fits()
    shot(page, f"{name}-1-run")

    # Filter: this month's lines, 25 a page; then page to the older ones
    page.goto("/console/reconciliation")
    page.locator("#start").fill(f"2026-{month:02d}-01")
    page.locator("#end").fill(f"2026-{month:02d}-28")
    page.locator("#size").select_option("25")
    page.locator("#queue-filters button[type=submit]").click()
    page.wait_for_load_state()
    position = page.locator("#page-position").inner_text()
    assert "62" in position and words["of"] in position
    assert page.locator("#queue tr.line").count() == 25
    first_page = page.locator("#queue tr.line").first.get_attribute("id")
    fits()
    shot(page, f"{name}-2-filtered")
    page.locator("#page-older").click()
    page.wait_for_load_state()
    assert "26" in page.locator("#page-position").inner_text()
    assert page.locator("#queue tr.line").first.get_attribute("id") != first_page
    assert page.locator("#page-newer").count() == 1
    shot(page, f"{name}-3-older")

    # Match the transfer by hand: find it by its amount, search the company, match
    page.locator("#amount_min").fill("2,345")
    page.locator("#amount_max").fill("2,345")
    page.locator("#queue-filters button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#queue tr.line").count() == 1
    page.locator("#queue a.match-by-hand").click()
    page.wait_for_url("**/console/reconciliation/lines/*")
    assert "NT$2,345" in page.locator("#line-amount").inner_text()
    page.locator("#q").fill(facts["company"])
    page.locator("#search button[type=submit]").click()
    page.wait_for_load_state()
    pledge = page.locator("#candidates li.candidate.pledge").filter(has_text=facts["company"])
    assert "NT$20,000" in pledge.inner_text()
    fits()
    shot(page, f"{name}-4-search")
    pledge.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert words["confirmed"] in page.locator(".flash").first.inner_text()
    # The donation it recorded, in the books: its bank reference (the line's 40-character
    # fingerprint) wraps on a phone instead of pushing the page sideways
    page.goto("/console/ledger/entries")
    assert page.locator("dl.refs code").count() > 0
    fits()

    # The payout arrived NT$15 short: the suggestion shows the difference and needs a reason
    page.goto(f"/console/reconciliation?amount_min=4985&amount_max=4985&start=2026-{month:02d}-01")
    row = page.locator("#queue tr.line").first
    difference = row.locator(".difference").first.inner_text()
    assert "-NT$15" in difference and "NT$5,000" in difference
    assert words["reason"] in row.inner_text()
    reason = row.locator("input[name=reason]").first
    box = reason.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width  # reached without scrolling
    fits()
    shot(page, f"{name}-5-difference")
    row.locator("input[name=reason]").first.fill(
        "Bank fee NT$15" if lang == "en" else "銀行扣手續費 15 元"
    )
    row.locator("form.choice button[type=submit]").first.click()
    page.wait_for_load_state()
    assert words["confirmed"] in page.locator(".flash").first.inner_text()
    assert "-NT$15" not in page.locator("#queue").inner_text()
    decided = page.locator("#decided").inner_text()
    assert ("Bank fee NT$15" if lang == "en" else "銀行扣手續費 15 元") in decided
    fits()
    shot(page, f"{name}-6-confirmed")
    context.close()
