"""Paying a pledge in real headless Chromium: the bank transfer page on a desktop and on a
phone in both languages, the card page when Stripe.js cannot load, and the whole journey
"a company pays by bank transfer and downloads its receipt".

Each test gets its own server over its own copy of the console world (the journey pays a
pledge, which other tests must not see). Screenshots go to test-artifacts/screenshots/
(``pay-*.png``).
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import threading

import pytest
from pypdf import PdfReader
from werkzeug.serving import make_server

from foundation.settings import Settings
from placefund.app import Database, create_app
from tests.admin.conftest import PASSWORD, bank_csv, build_console_world, pass_two_factor
from tests.admin.test_browser import ARGS, CHROMIUM, shot
from tests.job_helpers import worker_thread
from tests.localstripe_server import free_port, offline_gateway

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's Chromium: apt-get install -y chromium fonts-noto-cjk",
    ),
]

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@dataclasses.dataclass
class Served:
    url: str
    app: object
    database: Database
    ids: dict[str, int]
    emails: dict[str, str]


@pytest.fixture
def served(sqlite_template, tmp_path):
    path = tmp_path / "placefund.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    ids, emails, _tokens = build_console_world(database)
    app = create_app(
        Settings(database_url=f"sqlite:///{path}", secret_key="browser-test"), database=database
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A worker beside the server: the bank statement the manager uploads is imported by it
    with worker_thread(app):
        yield Served(f"http://127.0.0.1:{server.server_port}", app, database, ids, emails)
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    database.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def open_as(browser, served: Served, actor: str, *, lang: str, viewport: dict, **context_args):
    """A signed-in page for ``actor`` in ``lang`` (zh or en) at ``viewport``."""
    context = browser.new_context(
        base_url=served.url, locale="zh-TW", viewport=viewport, **context_args
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/console/sign-in")
    page.get_by_label("電子郵件").fill(served.emails[actor])
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_load_state()
    pass_two_factor(page)
    if lang == "en":
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()
    return context, page


def fits(page, viewport: dict) -> None:
    """Nothing on the page makes a reader scroll sideways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


WORDS = {
    "zh": {"title": "銀行轉帳繳款", "copied": "已複製", "pay_card": "信用卡繳款"},
    "en": {"title": "Pay by bank transfer", "copied": "Copied", "pay_card": "Pay by card"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_the_bank_transfer_page_on_a_desktop_and_a_phone(browser, served, lang, viewport):
    context, page = open_as(
        browser, served, "company_a", lang=lang, viewport=viewport,
        permissions=["clipboard-read", "clipboard-write"],
    )  # fmt: skip
    words = WORDS[lang]
    page.get_by_role("link", name=words["title"]).first.click()
    page.wait_for_url(f"**/console/pledges/{served.ids['pledge_a']}/bank-transfer")
    assert page.locator("h1").inner_text() == words["title"]
    assert page.locator("#bank-name").inner_text() == "臺灣銀行"
    assert page.locator("#bank-code").inner_text() == "004"
    assert page.locator("#transfer-amount").inner_text() == "NT$5,000"
    va = page.locator("#virtual-account").get_attribute("data-digits")
    assert page.locator("#virtual-account").inner_text().replace(" ", "") == va
    fits(page, viewport)
    for value in ("#bank-code", "#account-name", "#virtual-account", "#transfer-amount"):
        box = page.locator(value).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], value
    shot(page, f"pay-01-bank-transfer-{lang}-{viewport['width']}")
    # The copy buttons show only with JavaScript, and put the bare value on the clipboard
    buttons = page.locator("#transfer button.copy")
    assert buttons.count() == 4 and buttons.first.is_visible()
    page.locator("#virtual-account + button.copy").click()
    page.locator("#copy-status", has_text=words["copied"]).wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == va
    page.locator("#transfer-amount + button.copy").click()
    page.locator("#transfer-amount + button.copy.done").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == "5000"
    shot(page, f"pay-02-bank-transfer-copied-{lang}-{viewport['width']}")
    context.close()


@pytest.mark.parametrize(
    ("lang", "viewport"), [("zh", PHONE), ("en", DESKTOP)], ids=["zh-375", "en-1280"]
)
def test_the_card_page_when_stripe_js_cannot_load(browser, served, lang, viewport):
    gateway = offline_gateway()
    # Stripe.js from a port nobody listens on: what a blocked or unreachable script looks like
    dead = f"http://127.0.0.1:{free_port()}/v3/"
    gateway.settings = dataclasses.replace(gateway.settings, js_url=dead)
    served.app.extensions["placefund.stripe"] = gateway
    context, page = open_as(browser, served, "company_a", lang=lang, viewport=viewport)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.get_by_role("button", name=WORDS[lang]["pay_card"]).click()
    page.wait_for_url("**/donate/*")
    page.locator("#unavailable").wait_for(state="visible")
    expected = "無法載入信用卡付款元件" if lang == "zh" else "could not be loaded"
    assert expected in page.locator("#unavailable").inner_text()
    assert not page.locator("#payment-form").is_visible()  # no empty card box, no button
    assert not page.locator("#loading").is_visible()
    fits(page, viewport)
    assert not problems, problems
    shot(page, f"pay-03-card-unavailable-{lang}-{viewport['width']}")
    # The payment it opened never went through: the completion page says so in a sentence
    pi = next(iter(gateway.objects))
    page.goto(f"/donate/complete?payment_intent={pi}" + ("&lang=en" if lang == "en" else ""))
    sentence = page.locator("#status").inner_text()
    assert "requires_payment_method" not in sentence
    assert ("銀行轉帳" if lang == "zh" else "bank transfer") in sentence
    fits(page, viewport)
    shot(page, f"pay-04-card-not-completed-{lang}-{viewport['width']}")
    # ... and offers the bank transfer, which opens the transfer page for the same pledge
    page.locator("#bank-transfer").click()
    page.wait_for_url(f"**/console/pledges/{served.ids['pledge_a']}/bank-transfer")
    assert page.locator("#virtual-account").is_visible()
    page.go_back()
    page.locator("#back").click()
    page.wait_for_url("**/console/company")
    context.close()


def test_a_company_pays_by_bank_transfer_and_downloads_its_receipt(browser, served, tmp_path):
    """The finance officer reads the transfer details on a phone; the bank statement comes
    in; a fund manager uploads it and confirms the match if asked; the officer downloads a
    receipt fit for the tax filing."""
    from identity.models import User
    from ledger.fund.documents import roc_date
    from ledger.reconciliation import runs
    from tests.admin.conftest import seed_bank_line_to_confirm

    # The first instalment's transfer came in earlier and is already reconciled.
    first_line = seed_bank_line_to_confirm(served.database, served.ids)
    with served.database.session() as s, s.begin():
        ndc = s.get(User, served.ids["user_ndc"])
        runs.confirm_line(s, line_id=first_line, actor=ndc)

    company_context, company = open_as(
        browser, served, "company_a", lang="zh", viewport=PHONE, accept_downloads=True,
        permissions=["clipboard-read", "clipboard-write"],
    )  # fmt: skip
    shot(company, "pay-10-journey-company-page")
    before = company.locator("#donations tbody tr").count()
    company.get_by_role("link", name="銀行轉帳繳款").first.click()
    company.wait_for_url("**/bank-transfer")
    va = company.locator("#virtual-account").get_attribute("data-digits")
    amount = company.locator("#transfer-amount").inner_text()
    assert amount == "NT$5,000"
    company.locator("#virtual-account + button.copy").click()
    assert company.evaluate("navigator.clipboard.readText()") == va
    shot(company, "pay-11-journey-transfer-details")

    # The company's bank sends the money; the fund's bank statement shows it with the VA
    from ledger.fund.common import today

    statement = tmp_path / "statement.csv"
    statement.write_bytes(bank_csv((today().isoformat(), f"跨行轉入 {va} 甲公司", "5,000")))
    manager_context, manager = open_as(browser, served, "ndc", lang="zh", viewport=DESKTOP)
    manager.goto("/console/reconciliation")
    manager.get_by_label("銀行對帳單（CSV）").set_input_files(str(statement))
    manager.get_by_label("欄位格式").select_option("generic")
    manager.get_by_role("button", name="匯入並對帳").click()
    manager.wait_for_url("**/console/reconciliation/imports/*")
    manager.locator("#job-status", has_text="完成").wait_for(timeout=30_000)
    shot(manager, "pay-12-journey-statement-imported")
    manager.goto("/console/reconciliation")
    confirm = manager.locator("tr", has_text=va).get_by_role("button", name="確認")
    if confirm.count():  # the rules suggested the match: a manager confirms it
        confirm.first.click()
        manager.wait_for_load_state()
    shot(manager, "pay-13-journey-reconciled")
    manager_context.close()

    company.goto("/console/company")
    rows = company.locator("#donations tbody tr")
    assert rows.count() == before + 1
    newest = rows.filter(has_text="NT$5,000").filter(has_text="銀行轉帳").first
    number = re.search(r"PF-\d{4}-\d{6}", newest.inner_text()).group(0)
    shot(company, "pay-14-journey-payment-listed")
    with company.expect_download() as info:
        newest.locator("a.receipt").click()
    download = info.value
    assert download.suggested_filename == f"{number}.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    flat = text.replace(" ", "")
    assert number in text and "甲公司" in text and "新臺幣伍仟元整" in text
    assert "12345675" in text and "臺北市中正區寶慶路3號" in flat  # the issuer (demo)
    assert roc_date(today()).replace(" ", "") in flat and today().isoformat() in text
    assert "所得稅法" in flat
    (tmp_path / "receipt.pdf").write_bytes(data)
    # The pledge is now paid in full: the transfer page says so
    company.goto(f"/console/pledges/{served.ids['pledge_a']}/bank-transfer")
    assert "已全額繳清" in company.locator("#transfer-state").inner_text()
    shot(company, "pay-15-journey-pledge-paid")
    company_context.close()
