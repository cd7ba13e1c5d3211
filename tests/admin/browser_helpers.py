"""Helpers of the self-service browser tests: a signed-in page in either language at a
laptop or phone width, the page's sideways overflow, and a fresh published proposal."""

from __future__ import annotations

from sqlalchemy import update

from tests.admin.conftest import PASSWORD, pass_two_factor

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
DEVICES = {"laptop": LAPTOP, "phone": PHONE}
#: Every (language, device) pair the self-service pages are tried in
COMBINATIONS = [(lang, device) for lang in ("zh", "en") for device in ("laptop", "phone")]


def open_as(browser, base_url: str, email: str, lang: str = "zh", device: str = "laptop"):
    """A new browser context signed in as ``email``, reading ``lang`` at ``device`` width."""
    context = browser.new_context(
        base_url=base_url, locale="zh-TW", viewport=DEVICES[device], accept_downloads=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/console/sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    pass_two_factor(page)
    page.wait_for_url("**/console/**")
    page.wait_for_load_state()
    if lang == "en":
        page.get_by_role("button", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
    return context, page


def sideways_overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def fresh_published_proposal(database, ids, company: str, business: str) -> int:
    """An offer of ``company`` and a request of ``business``, matched by a run NDC published,
    with every earlier listing closed first so the run holds this one pair; its id."""
    from identity.models import User
    from matching import services as matching
    from matching.models import MatchOffer, MatchRequest

    with database.session() as s, s.begin():
        s.execute(update(MatchOffer).values(active=False))
        s.execute(update(MatchRequest).values(active=False))
        ndc = s.get(User, ids["user_ndc"])
        matching.save_offer(
            s,
            actor=s.get(User, ids[f"user_{company}"]),
            company_id=ids[company],
            kinds=["sponsorship"],
            budget=500_000,
            regions=["central"],
        )
        matching.save_request(
            s,
            actor=s.get(User, ids[f"user_{business}"]),
            business_id=ids[business],
            kind="sponsorship",
            amount=200_000,
            industry="A",
            town_code="10008040",
        )
        run = matching.start_run(s, actor=ndc, params={"k": 5})
        matching.publish_run(s, actor=ndc, run_id=run.id)
        (proposal,) = run.proposals
        return proposal.id
