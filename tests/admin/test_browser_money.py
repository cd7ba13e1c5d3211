"""The money rules in real headless Chromium: two managers of different institutions
propose, approve and pay within the money available (and are refused beyond it); a
business corrects a revenue report; a manager follows up overdue instalments.

Screenshots go to test-artifacts/screenshots/money-*.png.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.fund import common
from ledger.fund import pledges as fund_pledges
from tests.admin import test_browser as console_browser
from tests.admin.test_browser import CHROMIUM, shot, signed_in

# The console browser tests' fixtures: this module gets its own server and world
browser = console_browser.browser
browser_db = console_browser.browser_db
served = console_browser.served

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's Chromium"),
]


def _propose(page, amount: str, purpose: str) -> None:
    page.goto("/console/disbursements/new")
    page.get_by_label("計畫").select_option(index=0)
    page.get_by_label("類別").select_option("grant")
    page.get_by_label("金額（新臺幣）").fill(amount)
    page.get_by_label("用途").fill(purpose)
    page.get_by_role("button", name="提出").click()
    page.wait_for_load_state()


def test_two_managers_commit_within_the_money_available(browser, served):
    base_url, _ids, emails = served
    ndc_context, ndc = signed_in(browser, base_url, emails["ndc"])
    # The world received NT$25,000; two proposals awaiting approval hold NT$7,000
    ndc.goto("/console/dashboard")
    assert ndc.locator("#fig-available").inner_text() == "NT$18,000"
    assert ndc.locator("#fig-pledged").inner_text() == "NT$5,000"
    shot(ndc, "money-01-dashboard-figures")

    _propose(ndc, "50,000,000", "超過基金所有")
    assert "/console/disbursements/new" in ndc.url  # refused: nothing was reserved
    error = ndc.locator("#amount-error").inner_text()
    assert "NT$18,000" in error
    assert "可動用金額不足" in ndc.locator("main").inner_text()  # next to the field, once
    shot(ndc, "money-02-refused-beyond-available")

    _propose(ndc, "12,000", "茶園步道")
    ndc.wait_for_url("**/console/disbursements/*")
    url = ndc.url
    assert ndc.get_by_role("button", name="撥款").count() == 0  # one institution is not enough
    shot(ndc, "money-03-proposed")

    moea_context, moea = signed_in(browser, base_url, emails["moea"])
    moea.goto(url)
    moea.get_by_role("button", name="核准").click()
    moea.wait_for_load_state()
    moea.get_by_role("button", name="撥款").click()
    moea.wait_for_load_state()
    assert moea.locator("#status").inner_text() == "已撥款"
    shot(moea, "money-04-approved-and-paid")

    _propose(moea, "7,000", "再一筆")  # NT$6,000 is left
    assert "NT$6,000" in moea.locator("#amount-error").inner_text()
    shot(moea, "money-05-refused-what-is-left")

    public = browser.new_context(base_url=base_url, locale="zh-TW").new_page()
    public.goto("/transparency")
    assert public.locator("#fig-received").inner_text() == "NT$25,000"
    assert public.locator("#fig-available").inner_text() == "NT$6,000"
    assert public.locator("#fig-pending").inner_text() == "NT$7,000"
    assert public.locator("#fig-paid").inner_text() == "NT$12,000"
    assert public.locator("#areas-county tbody tr").count() == 22
    assert "截至" in public.locator("#fig-as-of").inner_text()
    shot(public, "money-06-transparency")
    public.context.close()
    ndc_context.close()
    moea_context.close()


def test_a_business_corrects_a_revenue_report(browser, served):
    base_url, _ids, emails = served
    context, page = signed_in(browser, base_url, emails["business_x"])
    page.goto("/console/business")

    def report(start: str, end: str, revenue: str) -> None:
        page.locator("details:has(summary:text('申報營收'))").first.evaluate("d => d.open = true")
        page.get_by_label("期間起").first.fill(start)
        page.get_by_label("期間迄").first.fill(end)
        page.get_by_label("營收（新臺幣）").first.fill(revenue)
        page.get_by_role("button", name="申報").first.click()
        page.wait_for_load_state()

    report("2026-01-01", "2026-03-31", "600,000")
    report("2026-03-01", "2026-05-31", "10,000")  # overlaps the first
    assert "申報期間不得重疊" in page.locator("main").inner_text()
    shot(page, "money-07-overlap-refused")
    report("2026-09-30", "2026-07-01", "10,000")
    assert "結束日期早於開始日期" in page.locator("main").inner_text()

    page.goto("/console/business")
    page.get_by_role("link", name="更正").first.click()
    page.get_by_label("營收（新臺幣）").fill("43,000")
    page.get_by_label("更正原因").fill("多打了一個零")
    shot(page, "money-08-correction-form")
    page.get_by_role("button", name="更正報告").click()
    page.wait_for_url("**/console/business")
    reports = page.locator("tr.report")
    assert reports.count() == 2
    assert "多打了一個零" in reports.nth(0).inner_text()
    assert "已沖銷" in page.locator("tr.report.reversed").inner_text()
    shot(page, "money-09-corrected")
    context.close()


def test_a_manager_follows_up_overdue_instalments(browser, served, browser_db):
    base_url, ids, emails = served
    with browser_db[1].session() as s, s.begin():
        fund_pledges.record_pledge(
            s,
            key="browser-late",
            company_id=ids["company_a"],
            amount=600_000,
            instalments=[(common.today() - dt.timedelta(days=30), 600_000)],
            pledged_on=common.today() - dt.timedelta(days=40),
        )
    company_context, company = signed_in(browser, base_url, emails["company_a"])
    assert "逾期" in company.locator("#pledges .overdue").first.inner_text()
    assert "已繳款" in company.locator("#pledges thead").inner_text()
    shot(company, "money-10-company-overdue")
    company_context.close()

    context, page = signed_in(browser, base_url, emails["ndc"])
    page.goto("/console/dashboard")
    page.locator("#overdue-count").click()
    page.wait_for_url("**/console/pledges/overdue")
    assert page.locator("#overdue tbody tr").count() >= 1
    assert "NT$6,000" in page.locator("#overdue").inner_text()
    shot(page, "money-11-overdue-list")
    context.close()
