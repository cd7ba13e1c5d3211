"""The local business's journey end to end in headless Chromium: it posts a partner request,
a company posts an offer, a fund manager runs and publishes the match, both sides accept
through the confirmation step, each sees the other's contact and the next steps, and the
business reports revenue under its return agreement.

The business works on a phone (375 px, Chinese), the company on a laptop (1280 px,
English), the manager on a laptop in Chinese. Screenshots of every step go to
test-artifacts/screenshots/journey-business-*.png.
"""

from __future__ import annotations

import re

import pytest

from tests.admin import test_browser
from tests.admin.browser_helpers import open_as, sideways_overflow
from tests.admin.test_browser import CHROMIUM, shot

# The browser tests' module fixtures: this journey gets its own server and database
browser, browser_db, served = test_browser.browser, test_browser.browser_db, test_browser.served

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's Chromium"),
]


def run_queued_jobs(database) -> None:
    """What ``placefund worker`` does, in this process: the server's queue is the SQLite
    file beside its database."""
    from foundation.settings import Settings
    from jobs.queue import Queue
    from jobs.runner import Runner
    from placefund.app import job_services

    settings = Settings(database_url=str(database.engine.url), secret_key="browser-test")
    Queue(database, execute=Runner(database, job_services(settings)).run).drain()


def step(page, name: str) -> None:
    assert sideways_overflow(page) == 0, f"{name}: the page scrolls sideways"
    shot(page, f"journey-business-{name}")


def test_business_posts_a_request_accepts_a_proposal_and_reports_revenue(
    browser, served, browser_db
):
    base_url, ids, emails = served
    business_ctx, business = open_as(browser, base_url, emails["business_y"], "zh", "phone")

    # 1. The business asks for a partner
    business.goto("/console/business")
    step(business, "01-business-page")
    business.get_by_role("link", name="提出合作需求").click()
    business.wait_for_url("**/console/requests/new")
    business.get_by_label("合作類型").select_option("sponsorship")
    business.get_by_label("需求金額（新臺幣）").fill("200,000")
    business.get_by_label("產業", exact=True).select_option("0111")
    business.get_by_label("執行地點（鄉鎮市區）").select_option("10008040")
    business.get_by_label("主題與目標（以逗號分隔）").fill("茶, 觀光")
    business.get_by_label("需要什麼、為什麼需要").fill("竹山茶園的步道與導覽，需要企業認養。")
    step(business, "02-request-form")
    business.get_by_role("button", name="儲存合作需求").click()
    business.wait_for_url("**/console/business#requests")
    row = business.locator("#requests tbody tr", has_text="NT$200,000")
    assert "稻作栽培業" in row.inner_text() and "竹山鎮" in row.inner_text()
    step(business, "03-request-listed")

    # 2. A company offers a partnership
    company_ctx, company = open_as(browser, base_url, emails["company_b"], "en", "laptop")
    company.goto("/console/company")
    company.get_by_role("link", name="Offer a partnership").click()
    company.wait_for_url("**/console/offers/new")
    company.locator("#kinds").get_by_label("Sponsorship").check()
    company.get_by_label("Whole budget, shared by the partners (NT$, optional)").fill("500,000")
    company.locator("#regions").get_by_label("Central Taiwan").check()
    company.locator("#motives").get_by_label("Giving back to our home county").check()
    step(company, "04-offer-form")
    company.get_by_role("button", name="Save the offer").click()
    company.wait_for_url("**/console/company#offers")
    assert company.locator("#offers tbody tr", has_text="NT$500,000").count() == 1

    # 3. A fund manager runs the match and publishes it
    manager_ctx, manager = open_as(browser, base_url, emails["ndc"], "zh", "laptop")
    manager.goto("/console/matching")
    manager.get_by_role("button", name="開始媒合").click()
    # The run is solved in the background: its page follows the job until the run is ready.
    # The worker beside the server may have solved this small run before the browser
    # follows the redirect: the job's page then sends it straight on to the run
    manager.wait_for_url(re.compile(r".*/console/matching/(jobs|runs)/\d+$"))
    if "/matching/jobs/" in manager.url:
        assert "媒合正在準備中" in manager.locator("main").inner_text()
        run_queued_jobs(browser_db[1])
        manager.wait_for_url("**/console/matching/runs/*")
    assert "丁合作社" in manager.locator("main").inner_text()
    step(manager, "05-run-to-review")
    with manager.expect_navigation():
        manager.get_by_role("button", name="公布").click()
    assert manager.get_by_role("button", name="公布").count() == 0  # published
    manager_ctx.close()

    # 4. The business accepts, after the confirmation step
    business.reload()  # the business page, as it now is
    proposal = business.locator("article.proposal", has_text="乙公司")
    assert proposal.locator(".status").inner_text() == "待雙方回覆"
    step(business, "06-proposal")
    proposal.get_by_role("link", name="接受…").click()
    business.wait_for_url("**/console/proposals/*/accept")
    proposal_url = business.url
    assert business.locator("#confirm-partner").inner_text() == "乙公司"
    step(business, "07-confirm-accept")
    business.get_by_role("button", name="確定接受").click()
    business.wait_for_url("**/console/business*")
    proposal = business.locator("article.proposal", has_text="乙公司")
    assert proposal.locator(".status").inner_text() == "在地業者已接受，待企業回覆"
    step(business, "08-accepted-waiting")

    # 5. The company accepts too: the partnership is made
    company.goto(proposal_url)
    assert "丁合作社" in company.locator("#confirm-partner").inner_text()
    assert (
        company.locator(".status").inner_text()
        == "The local business accepted; waiting for the company"
    )
    company.get_by_role("button", name="Yes, accept").click()
    company.wait_for_url("**/console/company*")
    partnership = company.locator("#partnerships tbody tr").first
    assert emails["business_y"] in partnership.locator("td.contact").inner_text()
    assert "Pay what you pledged" in company.locator("#next-steps").inner_text()
    step(company, "09-company-partnership")
    company_ctx.close()

    # 6. The business sees its partner's contact and what to do next
    business.goto("/console/business")
    business.reload()
    partnership = business.locator("#partnerships tbody tr").first
    assert "乙公司" in partnership.inner_text()
    assert emails["company_b"] in partnership.locator("td.contact").inner_text()
    assert "申報每期營收" in business.locator("#next-steps").inner_text()
    step(business, "10-business-partnership")

    # 7. The business reports revenue under its return agreement (10 % share)
    agreement = business.locator(f"#agreement-{ids['agreement_y']}")
    agreement.get_by_text("申報營收").click()
    agreement.get_by_label("期間起").fill("2026-10-01")
    agreement.get_by_label("期間迄").fill("2026-10-31")
    agreement.get_by_label("營收（新臺幣）").fill("43,000")
    step(business, "11-revenue-form")
    agreement.get_by_role("button", name="申報").click()
    business.wait_for_url("**/console/business")
    assert "營收已申報" in business.locator(".flash").inner_text()
    agreement = business.locator(f"#agreement-{ids['agreement_y']}")
    report = agreement.locator("tr", has_text="2026-10-01")
    assert "NT$43,000" in report.inner_text() and "NT$4,300" in report.inner_text()
    step(business, "12-revenue-reported")
    business_ctx.close()
