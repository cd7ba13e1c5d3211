"""The self-service pages in headless Chromium, at laptop (1280 px) and phone (375 px)
widths, in Traditional Chinese and English: a business's request, project and profile, a
company's offer, and answering a proposal through its confirmation step.

Screenshots go to test-artifacts/screenshots/ (git-ignored), named by page, language and
device.
"""

from __future__ import annotations

import pytest

from tests.admin import test_browser
from tests.admin.browser_helpers import (
    COMBINATIONS,
    fresh_published_proposal,
    open_as,
    sideways_overflow,
)
from tests.admin.test_browser import CHROMIUM, shot

# The browser tests' module fixtures, so this module gets its own server and database
browser, browser_db, served = test_browser.browser, test_browser.browser_db, test_browser.served

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's Chromium"),
]

TEXT = {
    "zh": {
        "whole": "新臺幣金額須為整數元。",
        "saved_request": "已儲存您的合作需求。",
        "saved_offer": "已儲存您的合作提供。",
        "saved_profile": "已儲存您的基本資料。",
        "project_created": "已建立計畫。",
        "no_kind": "請至少選擇一種合作類型。",
        "industry": "稻作栽培業",
        "town": "竹山鎮",
        "county_group": "南投縣",
        "waiting": "在地業者已接受，待企業回覆",
        "accept": "接受…",
        "yes_accept": "確定接受",
        "decline": "婉拒…",
        "yes_decline": "確定婉拒",
        "say_why": "請說明婉拒的原因。",
        "declined": "已婉拒",
    },
    "en": {
        "whole": "Amounts in NT$ are whole dollars.",
        "saved_request": "Your request is saved.",
        "saved_offer": "Your offer is saved.",
        "saved_profile": "Your profile is saved.",
        "project_created": "The project is created.",
        "no_kind": "Choose at least one kind of partnership.",
        "industry": "稻作栽培業",  # DGBAS publishes the names in Chinese only
        "town": "Zhushan Township",
        "county_group": "Nantou County",
        "waiting": "The local business accepted; waiting for the company",
        "accept": "Accept…",
        "yes_accept": "Yes, accept",
        "decline": "Decline…",
        "yes_decline": "Yes, decline",
        "say_why": "Say why you decline.",
        "declined": "Declined",
    },
}
#: A distinct amount per (language, device), so each test finds its own row
AMOUNTS = {combo: f"{80 + i},000" for i, combo in enumerate(COMBINATIONS)}


@pytest.mark.parametrize(("lang", "device"), COMBINATIONS)
def test_a_business_posts_and_edits_a_request(browser, served, lang, device):
    base_url, _ids, emails = served
    t = TEXT[lang]
    context, page = open_as(browser, base_url, emails["business_x"], lang, device)
    page.goto("/console/business")
    page.locator("#requests a.button.primary").click()
    page.wait_for_url("**/console/requests/new")
    page.locator("#kind").select_option("investment")
    page.locator("#amount").fill("1,000.50")
    page.locator("#industry").select_option("0111")
    page.locator("#town_code").select_option("10008040")
    # the pickers show names: the township under its county, the industry by its name
    assert page.locator("#town_code option:checked").inner_text() == t["town"]
    assert page.locator(f'#town_code optgroup[label="{t["county_group"]}"]').count() == 1
    assert t["industry"] in page.locator("#industry option:checked").inner_text()
    page.locator("#tags").fill("茶, tourism")
    page.locator("#request-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#amount-error").inner_text() == t["whole"]
    assert page.locator("#amount").get_attribute("aria-invalid") == "true"
    assert sideways_overflow(page) == 0
    shot(page, f"ss-01-request-error-{lang}-{device}")
    amount = AMOUNTS[(lang, device)]
    page.locator("#amount").fill(amount)
    page.locator("#request-form button[type=submit]").click()
    page.wait_for_url("**/console/business#requests")
    assert t["saved_request"] in page.locator(".flash").inner_text()
    row = page.locator("#requests tbody tr", has_text=f"NT${amount}")
    assert row.count() == 1
    assert t["industry"] in row.inner_text() and t["town"] in row.inner_text()
    assert sideways_overflow(page) == 0
    shot(page, f"ss-02-request-listed-{lang}-{device}")
    row.locator("a").click()
    page.wait_for_url("**/console/requests/*/edit")
    assert page.locator("#amount").input_value() == amount
    page.locator("#active").uncheck()
    page.locator("#request-form button[type=submit]").click()
    page.wait_for_url("**/console/business#requests")
    closed = page.locator("#requests tbody tr", has_text=f"NT${amount}")
    assert ("已關閉" if lang == "zh" else "Closed") in closed.inner_text()
    context.close()


@pytest.mark.parametrize(("lang", "device"), COMBINATIONS)
def test_a_company_posts_an_offer(browser, served, lang, device):
    base_url, _ids, emails = served
    t = TEXT[lang]
    context, page = open_as(browser, base_url, emails["company_a"], lang, device)
    page.goto("/console/company")
    page.locator("#offers a.button.primary").click()
    page.wait_for_url("**/console/offers/new")
    budget = AMOUNTS[(lang, device)].replace("0,000", "00,000")
    page.locator("#budget").fill(budget)
    page.locator("#regions input[value=central]").check()
    page.locator("#counties input[value='10008']").check()
    page.locator("#industries").select_option(["A"])
    page.locator("#offer-form button[type=submit]").click()  # no kind chosen yet
    page.wait_for_load_state()
    assert page.locator("#kinds-error").inner_text() == t["no_kind"]
    assert page.locator("#counties input[value='10008']").is_checked()  # kept
    assert sideways_overflow(page) == 0
    shot(page, f"ss-03-offer-error-{lang}-{device}")
    page.locator("#kinds input[value=sponsorship]").check()
    page.locator("#offer-form button[type=submit]").click()
    page.wait_for_url("**/console/company#offers")
    assert t["saved_offer"] in page.locator(".flash").inner_text()
    assert page.locator("#offers tbody tr", has_text=f"NT${budget}").count() == 1
    assert sideways_overflow(page) == 0
    shot(page, f"ss-04-offer-listed-{lang}-{device}")
    context.close()


@pytest.mark.parametrize(("lang", "device"), COMBINATIONS)
def test_a_business_edits_its_profile_and_creates_a_project(browser, served, lang, device):
    base_url, _ids, emails = served
    t = TEXT[lang]
    context, page = open_as(browser, base_url, emails["business_x"], lang, device)
    page.goto("/console/business")
    page.locator("#edit-profile").click()
    page.wait_for_url("**/console/profile")
    page.locator("#town_code").select_option("10008040")
    page.locator("#name_en").fill("")
    assert sideways_overflow(page) == 0
    shot(page, f"ss-05-profile-{lang}-{device}")
    page.locator("#profile-form button[type=submit]").click()
    page.wait_for_url("**/console/business")
    assert t["saved_profile"] in page.locator(".flash").inner_text()
    assert t["town"] in page.locator("dl.facts").first.inner_text()
    page.locator("#projects a.button").click()
    page.wait_for_url("**/console/projects/new")
    name = f"竹山茶園步道 {lang}-{device}"
    page.locator("#name").fill(name)
    page.locator("#project-form button[type=submit]").click()
    page.wait_for_url("**/console/business#projects")
    assert t["project_created"] in page.locator(".flash").inner_text()
    assert name in page.locator("#projects").inner_text()
    assert sideways_overflow(page) == 0
    context.close()


@pytest.mark.parametrize(("lang", "device"), COMBINATIONS)
def test_answering_a_proposal_asks_for_confirmation(browser, served, browser_db, lang, device):
    base_url, ids, emails = served
    t = TEXT[lang]
    pid = fresh_published_proposal(browser_db[1], ids, "company_a", "business_x")
    context, page = open_as(browser, base_url, emails["business_x"], lang, device)
    page.goto(f"/console/business#proposal-{pid}")
    proposal = page.locator(f"#proposal-{pid}")
    proposal.get_by_role("link", name=t["accept"]).click()
    page.wait_for_url(f"**/console/proposals/{pid}/accept")
    assert page.locator("#confirm-partner").inner_text() == "甲公司"
    assert sideways_overflow(page) == 0
    shot(page, f"ss-06-confirm-accept-{lang}-{device}")
    page.get_by_role("button", name=t["yes_accept"]).click()
    page.wait_for_url("**/console/business*")
    proposal = page.locator(f"#proposal-{pid}")
    assert proposal.locator(".status").inner_text() == t["waiting"]
    assert proposal.get_by_role("link", name=t["accept"]).count() == 0
    shot(page, f"ss-07-after-accepting-{lang}-{device}")
    context.close()

    # the company declines: the reason is asked for on the confirmation page
    context, page = open_as(browser, base_url, emails["company_a"], lang, device)
    page.goto(f"/console/company#proposal-{pid}")
    proposal = page.locator(f"#proposal-{pid}")
    assert proposal.locator(".status").inner_text() == t["waiting"]
    proposal.get_by_role("link", name=t["decline"]).click()
    page.wait_for_url(f"**/console/proposals/{pid}/decline")
    page.get_by_role("button", name=t["yes_decline"]).click()
    page.wait_for_load_state()
    assert page.locator(f"#reason-{pid}-error").inner_text() == t["say_why"]
    shot(page, f"ss-08-confirm-decline-error-{lang}-{device}")
    page.locator(f"#reason-{pid}").fill("預算已用完")
    page.get_by_role("button", name=t["yes_decline"]).click()
    page.wait_for_url("**/console/company*")
    assert page.locator(f"#proposal-{pid} .status").inner_text() == t["declined"]
    assert sideways_overflow(page) == 0
    context.close()
