"""The console in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

One server per module (werkzeug on 127.0.0.1:0 in a thread) over its own database; each test
opens fresh browser contexts, so tests do not share sessions. Screenshots of the main pages
go to test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader
from werkzeug.serving import make_server

from foundation.settings import Settings
from placefund.app import Database, create_app
from tests.admin.conftest import (
    PASSWORD,
    build_console_world,
    pass_two_factor,
    seed_bank_line_to_confirm,
    seed_published_proposal,
)
from tests.job_helpers import worker_thread

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's Chromium: apt-get install -y chromium fonts-noto-cjk",
    ),
]


@pytest.fixture(scope="module")
def browser_db(sqlite_template, tmp_path_factory):
    """The module's database holding the console world: (path, database, ids, emails)."""
    path = tmp_path_factory.mktemp("browser") / "placefund.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    ids, emails, _tokens = build_console_world(database)
    return path, database, ids, emails


@pytest.fixture(scope="module")
def served(browser_db):
    """The app on a free local port, over a database holding the console world."""
    path, database, ids, emails = browser_db
    app = create_app(
        Settings(database_url=f"sqlite:///{path}", secret_key="browser-test"), database=database
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A worker beside the server: the jobs the pages queue (bank imports) run as they would
    # under `placefund worker`
    with worker_thread(app):
        yield f"http://127.0.0.1:{server.server_port}", ids, emails
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


@pytest.fixture
def base_url(served):
    return served[0]


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def signed_in(browser, base_url, email, **context_args):
    context = browser.new_context(base_url=base_url, locale="zh-TW", **context_args)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/console/sign-in")
    page.get_by_label("電子郵件").fill(email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_load_state()
    pass_two_factor(page)
    return context, page


def test_sign_in_and_the_dashboard_chart(browser, served):
    base_url, _ids, emails = served
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.goto("/console/sign-in")
    shot(page, "01-sign-in")
    page.get_by_label("電子郵件").fill(emails["ndc"])
    page.get_by_label("密碼").fill("wrong password")
    page.get_by_role("button", name="登入").click()
    assert page.locator("#password-error").inner_text() == "電子郵件或密碼錯誤。"
    shot(page, "02-sign-in-error")
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url("**/console/sign-in/two-factor")
    shot(page, "02b-two-factor")
    pass_two_factor(page)
    page.wait_for_url("**/console/dashboard")
    assert page.locator("h1").inner_text() == "總覽"
    assert page.locator("#flows-chart rect").count() == 24
    assert page.locator("#flows-chart").bounding_box()["width"] > 300
    assert page.locator("#fig-received").inner_text().startswith("NT$")
    shot(page, "03-dashboard")
    context.close()


def test_the_dashboard_fits_a_phone(browser, served):
    base_url, _ids, emails = served
    context, page = signed_in(
        browser, base_url, emails["moea"], viewport={"width": 390, "height": 844}
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    shot(page, "04-dashboard-phone")
    context.close()


def test_two_managers_propose_approve_and_pay(browser, served):
    base_url, _ids, emails = served
    ndc_context, ndc = signed_in(browser, base_url, emails["ndc"])
    ndc.goto("/console/disbursements/new")
    ndc.get_by_label("計畫").select_option(index=0)
    ndc.get_by_label("類別").select_option("grant")
    ndc.get_by_label("金額（新臺幣）").fill("1,200")
    ndc.get_by_label("用途").fill("茶園步道")
    shot(ndc, "05-propose")
    ndc.get_by_role("button", name="提出").click()
    ndc.wait_for_url("**/console/disbursements/*")
    url = ndc.url
    assert "NT$1,200" in ndc.locator("#amount").inner_text()
    assert ndc.get_by_role("button", name="核准").count() == 0  # own institution approved
    assert ndc.get_by_role("button", name="撥款").count() == 0  # one approval is not enough
    shot(ndc, "06-disbursement-proposed")

    moea_context, moea = signed_in(browser, base_url, emails["moea"])
    moea.goto(url)
    moea.get_by_role("button", name="核准").click()
    moea.wait_for_load_state()
    assert moea.locator("#steps .approval").count() == 2
    moea.get_by_role("button", name="撥款").click()
    moea.wait_for_load_state()
    assert moea.locator("#status").inner_text() == "已撥款"
    steps = moea.locator("#steps").inner_text()
    assert "於" in steps and "撥款" in steps
    shot(moea, "07-disbursement-paid")
    ndc.goto("/console/disbursements")
    shot(ndc, "08-disbursements")
    ndc_context.close()
    moea_context.close()


def test_a_company_downloads_a_receipt_pdf(browser, served, tmp_path):
    base_url, _ids, emails = served
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    page = context.new_page()
    page.goto("/console/sign-in")
    page.get_by_label("電子郵件").fill(emails["company_a"])
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url("**/console/company")
    shot(page, "09-company")
    with page.expect_download() as info:
        page.locator("a.receipt").first.click()
    download = info.value
    assert download.suggested_filename.startswith("PF-")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    assert "新臺幣伍仟元整" in text
    assert "甲公司" in text
    context.close()


def test_switching_language(browser, served):
    base_url, _ids, emails = served
    context, page = signed_in(browser, base_url, emails["ndc"])
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "10-dashboard-english")
    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "總覽"
    context.close()


def test_screenshots_of_the_main_pages(browser, served):
    base_url, ids, emails = served
    context, page = signed_in(browser, base_url, emails["admin"])
    pages = {
        "11-accounts": "/console/ledger/accounts",
        "12-statement": "/console/ledger/accounts/assets:bank:main",
        "13-entries": "/console/ledger/entries",
        "14-trial-balance": "/console/ledger/trial-balance",
        "15-chain": "/console/ledger/chain",
        "16-periods": "/console/ledger/periods",
        "17-organisations": "/console/organisations",
        "18-users": "/console/users",
        "19-business-as-manager": f"/console/organisations/{ids['business_x']}",
    }
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status == 200, url
        shot(page, name)
    page.goto("/console/ledger/chain")
    page.get_by_role("button", name="立即驗證").click()
    page.wait_for_load_state()
    assert "雜湊鏈完整" in page.locator("#verify-report").inner_text()
    shot(page, "20-chain-verified")
    context.close()

    business_context, business = signed_in(browser, base_url, emails["business_x"])
    assert business.locator("h1").inner_text() == "丙工作室"
    shot(business, "21-business")
    business_context.close()

    public = browser.new_context(base_url=base_url).new_page()
    public.goto("/transparency")
    shot(public, "22-transparency")
    public.context.close()


def test_a_company_accepting_a_proposal(browser, served, browser_db):
    base_url, ids, emails = served
    proposal_id = seed_published_proposal(browser_db[1], ids)
    context, page = signed_in(browser, base_url, emails["company_a"])
    page.get_by_role("link", name="媒合提案").click()
    proposal = page.locator(f"#proposal-{proposal_id}")
    assert "合作類型相符" in proposal.locator("table.explanation").inner_text()
    assert proposal.locator(".status").inner_text() == "待雙方回覆"
    shot(page, "23-company-proposal")
    proposal.get_by_role("link", name="接受…").click()
    page.wait_for_url(f"**/console/proposals/{proposal_id}/accept")
    assert page.locator("#confirm-partner").inner_text() == "丙工作室"
    page.get_by_role("button", name="確定接受").click()
    page.wait_for_load_state()
    assert "您已接受此提案" in page.locator(".flash").inner_text()
    proposal = page.locator(f"#proposal-{proposal_id}")
    assert "企業：已接受" in proposal.inner_text()
    assert proposal.locator(".status").inner_text() == "企業已接受，待在地業者回覆"
    assert proposal.get_by_role("link", name="接受…").count() == 0
    shot(page, "24-company-proposal-accepted")
    context.close()


def test_confirming_a_reconciliation_match(browser, served, browser_db):
    base_url, ids, emails = served
    line_id = seed_bank_line_to_confirm(browser_db[1], ids)
    context, page = signed_in(browser, base_url, emails["ndc"])
    page.get_by_role("link", name="對帳").click()
    page.wait_for_url("**/console/reconciliation")
    row = page.locator(f"#line-{line_id}")
    assert row.locator(".status").inner_text() == "已配對，待確認"
    # The match in words (kind, company, amount), never its internal id
    assert "捐款 · 甲公司" in row.inner_text() and "NT$5,000" in row.inner_text()
    assert "donation:" not in row.inner_text()
    shot(page, "25-reconciliation-queue")
    row.get_by_role("button", name="確認").click()
    page.wait_for_load_state()
    assert page.locator(f"#line-{line_id}").count() == 0
    assert page.locator(f"#decided-{line_id} .status").inner_text() == "已確認"
    shot(page, "26-reconciliation-confirmed")
    context.close()


def test_a_bank_upload_shows_its_progress_live(browser, served, tmp_path, monkeypatch):
    """The upload becomes a job; its page follows it through the status endpoint (the app's
    own script, under the console's CSP) until the run is ready."""
    import threading as _threading

    from jobs.kinds import bank_import
    from tests.admin.conftest import bank_csv

    base_url, _ids, emails = served
    release = _threading.Event()
    original = bank_import._match

    def held(*args, **kwargs):
        # Hold the job between the committed import and the matching step, so the page is
        # seen mid-way; no transaction is open while waiting (SQLite has one writer).
        release.wait(timeout=30)
        return original(*args, **kwargs)

    monkeypatch.setattr(bank_import, "_match", held)
    statement = tmp_path / "november.csv"
    statement.write_bytes(
        bank_csv(
            ("2026-11-02", "利息收入", "12"),
            ("2026-11-03", "手續費", "-30"),
            ("2026-11-04", "不明匯入", "1,234"),
        )
    )
    context, page = signed_in(browser, base_url, emails["ndc"])
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    polls = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/status") else None)
    page.goto("/console/reconciliation")
    page.get_by_label("銀行對帳單（CSV）").set_input_files(str(statement))
    page.get_by_label("欄位格式").select_option("generic")
    shot(page, "27-upload-form")
    page.get_by_role("button", name="匯入並對帳").click()
    page.wait_for_url("**/console/reconciliation/imports/*")
    page.locator("#job-phase", has_text="與帳簿配對中").wait_for()
    assert page.locator("#lines-done").inner_text() == "3"
    assert page.locator("#lines-total").inner_text() == "3"
    assert page.locator("#count-lines-new").inner_text() == "3"
    shot(page, "28-upload-progress")
    release.set()
    page.locator("#job-status", has_text="完成").wait_for()
    page.locator("#run-link").wait_for()
    assert page.locator("#count-unmatched").inner_text() == "3"
    assert any("/status" in url for url in polls), "the page never polled its status"
    assert not problems, problems
    shot(page, "29-upload-finished")
    page.locator("#run-link").click()
    page.wait_for_url("**/console/reconciliation/runs/*")
    context.close()


def test_an_import_page_fills_its_counts_and_bad_lines_as_the_job_goes(
    browser, served, tmp_path, monkeypatch
):
    """The import page follows its job with the one job script (job-progress.js): the
    figures, the skipped lines' table and its section appear in place, without a reload,
    and the page reloads to its final state once the job has finished."""
    import threading as _threading

    from jobs.kinds import bank_import
    from tests.admin.conftest import bank_csv

    base_url, _ids, emails = served
    start, release = _threading.Event(), _threading.Event()
    read, match = bank_import._import, bank_import._match

    def held_read(*args, **kwargs):
        start.wait(timeout=30)  # the page is open, with nothing read yet
        return read(*args, **kwargs)

    def held_match(*args, **kwargs):
        release.wait(timeout=30)  # imported, not matched: the page still polls
        return match(*args, **kwargs)

    monkeypatch.setattr(bank_import, "_import", held_read)
    monkeypatch.setattr(bank_import, "_match", held_match)
    statement = tmp_path / "skipping.csv"
    statement.write_bytes(
        bank_csv(
            # Lines of their own: the served database keeps the other tests' imports
            ("2026-11-12", "利息收入（跳過測試）", "21"),
            ("11/31", "壞行", "abc"),
            ("2026-11-14", "不明匯入（跳過測試）", "4,321"),
        )
    )
    context, page = signed_in(browser, base_url, emails["ndc"])
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    try:
        page.goto("/console/reconciliation")
        page.get_by_label("銀行對帳單（CSV）").set_input_files(str(statement))
        page.get_by_label("欄位格式").select_option("generic")
        page.get_by_label("略過錯誤行，匯入其餘資料").check()
        page.get_by_role("button", name="匯入並對帳").click()
        page.wait_for_url("**/console/reconciliation/imports/*")
        assert page.locator("#bad-lines-section").is_hidden()
        assert page.locator("#count-lines-new").inner_text() == "…"
        page.evaluate("window.__notReloaded = true")
        start.set()
        page.locator("#job-phase", has_text="與帳簿配對中").wait_for()
        page.locator("#count-lines-new", has_text="2").wait_for()
        page.locator("#bad-lines-section").wait_for(state="visible")
        assert page.evaluate("window.__notReloaded") is True  # the script, not a reload
        assert page.locator("#lines-done").inner_text() == "2"
        assert page.locator("#lines-total").inner_text() == "2"
        assert page.locator("#count-bad-line-count").inner_text() == "1"
        assert page.locator("#bad-lines tbody tr td:first-child").all_inner_texts() == ["3", "3"]
        assert "日期" in page.locator("#bad-lines tbody tr").first.locator("td").nth(1).inner_text()
        assert page.locator("#job-error").is_hidden()
        shot(page, "30a-upload-skipping-bad-lines")
        with page.expect_navigation():
            release.set()
        page.locator("#job-status", has_text="完成").wait_for()
        page.locator("#run-link").wait_for()
        assert page.evaluate("window.__notReloaded") is None  # reloaded once finished
        assert page.locator("#count-unmatched").inner_text() == "2"
        # One row per problem (line 3's date and its amount), the same as the script drew
        assert page.locator("#bad-lines tbody tr td:first-child").all_inner_texts() == ["3", "3"]
        assert not problems, problems
    finally:
        start.set()
        release.set()
        context.close()


def test_a_bad_bank_file_lists_its_lines(browser, served, tmp_path):
    from tests.admin.conftest import bank_csv

    base_url, _ids, emails = served
    statement = tmp_path / "broken.csv"
    statement.write_bytes(bank_csv(("2026-11-02", "利息", "12"), ("11/31", "壞行", "abc")))
    context, page = signed_in(browser, base_url, emails["ndc"])
    page.goto("/console/reconciliation")
    page.get_by_label("銀行對帳單（CSV）").set_input_files(str(statement))
    page.get_by_label("欄位格式").select_option("generic")
    page.get_by_role("button", name="匯入並對帳").click()
    page.wait_for_url("**/console/reconciliation/imports/*")
    page.locator("#job-status", has_text="失敗").wait_for()
    assert "未匯入任何資料" in page.locator("#job-error").inner_text()
    rows = page.locator("#bad-lines tbody tr")
    assert rows.count() >= 1 and rows.first.locator("td").first.inner_text() == "3"
    shot(page, "30-upload-bad-lines")
    context.close()


def test_a_company_registers_itself(browser, served):
    base_url, _ids, _emails = served
    context = browser.new_context(base_url=base_url, locale="zh-TW")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/console/sign-in")
    page.get_by_role("link", name="註冊您的組織").click()
    page.wait_for_url("**/console/register")
    page.get_by_label("組織類型").select_option("company")
    page.get_by_label("組織名稱").fill("山海茶業股份有限公司")
    page.get_by_label("統一編號").fill("04595258")  # a wrong check digit
    page.get_by_label("鄉鎮市區").select_option("10008040")
    page.get_by_label("您的姓名").fill("林美華")
    page.get_by_label("電子郵件").fill("mei@mountain-sea.example.tw")
    page.get_by_label("密碼", exact=True).fill("竹山茶園-清晨採收-2026")
    page.get_by_label("再次輸入密碼").fill("竹山茶園-清晨採收-2026")
    shot(page, "31-register")
    page.get_by_role("button", name="註冊").click()
    page.wait_for_load_state()
    assert page.locator("#ubn-error").inner_text() == "統一編號檢查碼不正確。"
    assert page.get_by_label("統一編號").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("鄉鎮市區").input_value() == "10008040"  # kept
    shot(page, "32-register-error")
    page.get_by_label("統一編號").fill("04595257")
    page.get_by_label("密碼", exact=True).fill("竹山茶園-清晨採收-2026")
    page.get_by_label("再次輸入密碼").fill("竹山茶園-清晨採收-2026")
    page.get_by_role("button", name="註冊").click()
    # What happens next, then signing in
    page.wait_for_url("**/console/registered?kind=company")
    assert page.locator("h1").inner_text() == "您的組織已完成註冊"
    assert "統一編號" in page.locator("#next-steps").inner_text()
    shot(page, "33a-registered-next-steps")
    page.locator("main a.button").click()
    page.wait_for_url("**/console/sign-in")
    page.get_by_label("電子郵件").fill("mei@mountain-sea.example.tw")
    page.get_by_label("密碼").fill("竹山茶園-清晨採收-2026")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url("**/console/company")
    assert page.locator("h1").inner_text() == "山海茶業股份有限公司"
    assert "未驗證" in page.locator("dl.facts").inner_text()
    assert page.locator("#next-steps").is_visible()  # until a manager verifies it
    shot(page, "33-registered-company")
    context.close()


def test_an_error_page_in_the_browser(browser, served):
    base_url, _ids, emails = served
    context, page = signed_in(browser, base_url, emails["company_a"])
    response = page.goto("/console/dashboard")
    assert response.status == 403
    assert page.locator("#error-message").inner_text() == "您的角色無法開啟此頁面。"
    assert page.locator("#request-id").inner_text() == response.headers["x-request-id"]
    shot(page, "34-error-403")
    context.close()
