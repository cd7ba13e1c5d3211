"""Every console page, as every role, in both languages: no Simplified Chinese, no raw
codes, no amounts in minor units, no 500s.

The world is the demo (``placefund demo``) plus what the demo leaves out so that every page
has something to show: a bank statement run (lines matched to a Stripe payout, unmatched
lines), a closed period with a balance assertion, a second matching run with parameters.
Each role signs in, starts at its home page and follows every link; the GET routes of the
url_map without parameters are visited too; the forms the issue names (sign-in, revenue,
void, period close, matching, proposing, declining) are sent empty or wrong, so their
error messages are read as well. The checks themselves live in language_checks.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
from collections import deque

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from foundation.settings import Settings
from identity import passwords
from identity.models import Organisation, User
from ledger.fund.models import Disbursement, Donation, Payout, Pledge
from placefund.app import Database, create_app
from placefund.demo import DEMO_PASSWORD
from tests.admin.conftest import (
    bank_csv,
    complete_two_factor,
    csrf_token,
    enrol_managers,
    pass_two_factor,
)
from tests.admin.language_checks import problems, visible_text
from tests.job_helpers import worker_thread

ROLES = {
    "company_member": "finance1@company1.example.tw",
    "business_member": "owner4@business4.example.tw",
    "fund_manager": "lin.manager@ndc.example.tw",
    "admin": "admin@placefund.example.tw",
}
LANGS = ("zh_Hant_TW", "en")
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
_HREF = re.compile(r'href="(/[^"#]*)')
#: Where a crawl must not go: actions behind links, files, other faces
_SKIP = re.compile(r"^/(api|webhooks|healthz|console/static|donate)|\.pdf$|/sign-out")
MAX_PAGES = 400


def _chinese_labels() -> frozenset[str]:
    """The console catalog's Traditional Chinese words without placeholders (not those that
    read the same in both languages, such as Stripe)."""
    from babel.messages.pofile import read_po

    from admin.i18n import catalog_paths

    with catalog_paths("zh_Hant_TW")[0].open("rb") as fh:
        return frozenset(
            m.string
            for m in read_po(fh)
            if m.id and m.string and "%" not in m.string and m.string != m.id
        )


CHINESE_LABELS = _chinese_labels()
RUN_PARAMS = {
    "k": 5,
    "min_priority_share": "30%",
    "priority_weights": {"agricultural": 150, "intermediate": 150, "indigenous": 150},
}


def _demo_world(path) -> Database:
    """The demo, and what it lacks for a full crawl."""
    from ledger.books import periods as books_periods
    from ledger.reconciliation import runs
    from matching import services as matching
    from matching.errors import MatchingError
    from placefund.demo import load_demo

    database = Database(f"sqlite:///{path}")
    load_demo(database, echo=lambda _line: None)
    enrol_managers(database)  # the tests' TOTP secret instead of the demo's fresh one
    with database.session() as s, s.begin():
        manager = s.scalars(select(User).where(User.email == ROLES["fund_manager"])).one()
        first = min(p.pledged_on for p in s.scalars(select(Pledge)))
        # A closed period before the first pledge, with an assertion (the bank held nothing)
        books_periods.close_period(
            s,
            actor=manager,
            end_date=first - dt.timedelta(days=1),
            assertions={"assets:bank:main": 0},
        )
        # A bank statement: the Stripe payout by its reference, a donation by amount and
        # date, and a line nobody expects
        payout = s.scalars(select(Payout)).first()
        donation = s.scalars(select(Donation).where(Donation.channel == "bank_transfer")).first()
        data = bank_csv(
            (payout.paid_on.isoformat(), f"STRIPE {payout.stripe_payout_id}", "291,270"),
            (
                donation.received_on.isoformat(),
                "南方食品 匯款",
                f"{donation.gross_amount // 100:,}",
            ),
            (payout.paid_on.isoformat(), "不明款項", "1,234"),
        )
        report = runs.import_bank_statement(s, data, mapping="generic")
        runs.run_bank(s, import_id=report.import_id)
    with database.session() as s, s.begin():
        manager = s.scalars(select(User).where(User.email == ROLES["fund_manager"])).one()
        # Parameters shown as words; an infeasible share leaves no run, which is fine too
        with contextlib.suppress(MatchingError):
            matching.start_run(s, actor=manager, params=RUN_PARAMS)
    return database


def _stored_names(database) -> set[str]:
    with database.session() as s:
        return {u.name for u in s.scalars(select(User))} | {
            o.name for o in s.scalars(select(Organisation))
        }


def _minor_amounts(database) -> set[str]:
    """The world's amounts as minor units (NT$1,200,000 as 120,000,000): never on a page."""
    from ledger.reconciliation.models import StatementLine

    amounts = set()
    with database.session() as s:
        for model, column in ((Pledge, "amount"), (Donation, "gross_amount"),
                              (Disbursement, "amount"), (StatementLine, "amount")):  # fmt: skip
            for row in s.scalars(select(model)):
                minor = abs(getattr(row, column))
                amounts |= {f"{minor:,}", str(minor)}
    return amounts


def _town_codes(database) -> set[str]:
    """The townships of the world's organisations and projects: shown by name, never code."""
    from ledger.fund.models import Project

    with database.session() as s:
        codes = {o.town_code for o in s.scalars(select(Organisation))}
        codes |= {p.town_code for p in s.scalars(select(Project))}
    return {c for c in codes if c}


@pytest.fixture(scope="module")
def crawl_app(sqlite_template, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(passwords, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        mp.setattr(passwords, "_DUMMY_HASH", None)
        folder = tmp_path_factory.mktemp("crawl")
        mp.setenv("PLACEFUND_INSTANCE", str(folder))
        path = folder / "placefund.db"
        shutil.copy(sqlite_template, path)
        database = _demo_world(path)
        app = create_app(
            Settings(database_url=f"sqlite:///{path}", secret_key="crawl"), database=database
        )
        app.config["TESTING"] = True
        # A worker beside the app, as in production: /readyz (a page like any other here)
        # answers 200 only while one beats
        with worker_thread(app):
            yield app, database, _minor_amounts(database) | _town_codes(database)
        database.engine.dispose()


def _client(app, lang: str, email: str | None):
    c = app.test_client()
    with c.session_transaction() as s:
        s["lang"] = lang
    if email is None:
        return c, "/"
    page = c.get("/console/sign-in")
    signed = c.post(
        "/console/sign-in",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": DEMO_PASSWORD},
    )
    signed = complete_two_factor(c, signed)
    assert signed.status_code == 302, signed.text
    return c, signed.headers["Location"]


def _known_routes(app) -> list[str]:
    """The url_map's GET pages: those without parameters, and those with one id for the
    first few ids (pages no link leads to, such as a reconciliation run, are read too)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or _SKIP.search(rule.rule):
            continue
        if not rule.arguments:
            urls.append(rule.rule)
        elif len(rule.arguments) == 1 and re.search(r"<int:\w+>", rule.rule):
            urls += [re.sub(r"<int:\w+>", str(n), rule.rule) for n in (1, 2, 3)]
    return sorted(urls)


def crawl(app, lang: str, email: str | None) -> dict[str, tuple[int, str]]:
    """Every page reachable from the home page and the url_map: path -> (status, html)."""
    c, home = _client(app, lang, email)
    queue = deque([home, "/", *_known_routes(app)])
    seen: dict[str, tuple[int, str]] = {}
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen or _SKIP.search(url):
            continue
        response = c.get(url, headers=BROWSER)
        seen[url] = (response.status_code, response.text)
        if response.status_code in (301, 302, 303, 307, 308):
            queue.append(response.headers["Location"])
            continue
        if "html" not in response.content_type:
            continue
        for href in _HREF.findall(response.text):
            queue.append(href.replace("&amp;", "&"))
    return seen


def _forms(app, lang: str, role: str) -> dict[str, tuple[int, str]]:
    """The issue's forms sent empty or wrong (their answers are pages too)."""
    c, home = _client(app, lang, ROLES[role])
    answers = {}

    def send(page: str, action: str | None = None, **data):
        html = c.get(page).text
        body = {"csrf_token": csrf_token(html), **data}
        key = re.search(r'name="key" type="hidden" value="([^"]+)"', html)
        if key:
            body["key"] = key.group(1)
        action = action or page
        response = c.post(action, data=body)
        answers[f"POST {action} {sorted(data.items())}"] = (response.status_code, response.text)

    if role == "business_member":
        page = c.get(home).text
        for action in re.findall(r'action="(/console/agreements/\d+/revenue)"', page)[:1]:
            send(home, action, period_start="", period_end="", revenue="")
            send(home, action, period_start="2026-11-30", period_end="2026-11-01", revenue="5")
            send(home, action, period_start="2026-11-01", period_end="2026-11-30", revenue="x")
    if role in ("business_member", "company_member"):
        page = c.get(home).text
        for action in re.findall(r'action="(/console/proposals/\d+/decline)"', page)[:1]:
            send(home, action, reason="")
    if role == "fund_manager":
        send("/console/ledger/periods", end_date="", confirm="")
        send("/console/ledger/periods", end_date="2000-01-01", confirm="y",
             assertions="assets:bank:main = NT$1.5")  # fmt: skip
        send("/console/matching", k="", min_priority_share="abc")
        send("/console/disbursements/new", project_id="", kind="grant", amount="1000.5",
             purpose="")  # fmt: skip
        page = c.get("/console/disbursements?status=reserved").text
        for url in re.findall(r'href="(/console/disbursements/\d+)"', page)[:1]:
            send(url, f"{url}/void", reason="")
    anonymous = app.test_client()
    with anonymous.session_transaction() as s:
        s["lang"] = lang
    html = anonymous.get("/console/sign-in").text
    response = anonymous.post(
        "/console/sign-in", data={"csrf_token": csrf_token(html), "email": "", "password": ""}
    )
    answers["POST /console/sign-in (empty)"] = (response.status_code, response.text)
    return answers


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", [*ROLES, "public"])
def test_every_page_speaks_the_readers_language(crawl_app, role, lang):
    app, database, minor_amounts = crawl_app
    names = _stored_names(database)  # people's and organisations' names are data
    pages = crawl(app, lang, ROLES.get(role))
    if role != "public":
        pages.update(_forms(app, lang, role))
    ok = [url for url, (status, _html) in pages.items() if status == 200]
    # The crawl reached the role's pages (a crawl that saw nothing would pass anything)
    assert len(ok) >= {"fund_manager": 60, "admin": 60}.get(role, 3), ok
    failures = []
    for url, (status, html) in pages.items():
        if status >= 500:
            failures.append(f"{url}: {status}")
            continue
        if not (status == 200 or status >= 400) or "<html" not in html:
            continue  # redirects are followed; JSON is the API's
        expected = '<html lang="en"' if lang == "en" else '<html lang="zh-Hant-TW"'
        if expected not in html:
            failures.append(f"{url}: not in the chosen language")
        text = visible_text(html)
        for problem in problems(text, chinese=lang != "en", minor_amounts=minor_amounts):
            failures.append(f"{url}: {problem}")
        if lang == "en":
            # The interface's own words in Chinese on an English page: a label chosen once
            # for everyone (a whole line that is one of the catalog's translations)
            failures += [f"{url}: Chinese label {line!r}" for line in text.splitlines()
                         if line in CHINESE_LABELS and line not in names]  # fmt: skip
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(sorted(set(failures))[:80])


# --- the same in headless Chromium: what a reader's browser shows, on a phone too ------------

PHONE = {"width": 375, "height": 740}
#: A main action: a button, a submit, a link styled as one
_ACTIONS = "main button, main input[type=submit], main a.button, header a, header button"


@pytest.fixture(scope="module")
def served(crawl_app):
    import threading

    from werkzeug.serving import make_server

    app, _database, _minor = crawl_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture(scope="module")
def chromium():
    from tests.admin.test_browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's Chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


def _browser_page(chromium, base_url, lang: str, email: str | None):
    context = chromium.new_context(
        base_url=base_url, viewport=PHONE, locale="en-US" if lang == "en" else "zh-TW"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/console/sign-in")
    if lang == "en":
        page.locator("header form.lang button").click()
        page.wait_for_load_state()
    if email is not None:
        page.locator("#email").fill(email)
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("main button[type=submit]").click()
        page.wait_for_load_state()
        pass_two_factor(page)
    else:
        page.goto("/")
    return context, page


def _off_screen_actions(page) -> list[str]:
    """Main actions a reader would have to scroll sideways to reach."""
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter(e => e.offsetParent !== null)
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.right > window.innerWidth + 1 || r.left < -1; })
            .map(e => (e.innerText || e.value || e.outerHTML).trim().slice(0, 60))""",
        _ACTIONS,
    )


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", [*ROLES, "public"])
def test_in_chromium_on_a_phone(chromium, served, crawl_app, role, lang):
    """The home page of each role and every page of its main menu, as Chromium renders them
    375 px wide: clean text, no sideways scrolling, every main action on screen."""
    from tests.admin.test_browser import shot

    _app, _database, minor_amounts = crawl_app
    context, page = _browser_page(chromium, served, lang, ROLES.get(role))
    home = page.url.removeprefix(served)
    menu = page.eval_on_selector_all(
        "header nav a", "links => links.map(a => a.getAttribute('href'))"
    )
    failures = []
    visited = 0
    for url in dict.fromkeys([home, *menu, "/", "/console/register", "/no-such-page"]):
        if _SKIP.search(url.split("#")[0]) or (role != "public" and url == "/console/register"):
            continue
        page.goto(url)
        visited += 1
        # The console's stylesheet applied (error pages included): the header's colour
        colour = page.eval_on_selector("header.top", "h => getComputedStyle(h).backgroundColor")
        if colour != "rgb(13, 43, 69)":
            failures.append(f"{url}: unstyled (header {colour})")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            failures.append(f"{url}: {width} px wide on a {PHONE['width']} px phone")
        failures += [f"{url}: off screen: {a!r}" for a in _off_screen_actions(page)]
        text = page.inner_text("body")
        failures += [f"{url}: {p}" for p in problems(text, chinese=lang != "en",
                                                     minor_amounts=minor_amounts)]  # fmt: skip
        if url in (home, "/"):
            shot(page, f"crawl-{role}-{lang}-{'home' if url == home else 'front-door'}")
    context.close()
    assert visited >= 3
    assert not failures, "\n".join(failures)
