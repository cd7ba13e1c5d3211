"""Self-service in the console: a local business edits its profile, creates projects and
posts partner requests; a company posts offers; both answer proposals after a confirmation
step and, once partners, see each other's contacts and the next steps."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from identity.models import Organisation, User
from ledger.fund.models import Project
from matching.models import JsonList, MatchOffer, MatchProposal, MatchRequest
from tests.admin.conftest import post_form, seed_published_proposal

REQUEST = {
    "kind": "sponsorship",
    "amount": "120,000",
    "industry": "0111",
    "town_code": "10008040",
    "tags": "茶、觀光",
    "description": "竹山茶園的步道與導覽",
    "capacity": "1",
    "active": "y",
}
OFFER = {
    "kinds": ["sponsorship", "product_development"],
    "budget": "NT$500,000",
    "industries": ["A"],
    "regions": ["central"],
    "counties": ["10008"],
    "home_county": "10008",
    "motives": ["relationship"],
    "goals": "SDG 8, 在地就業",
    "capacity": "2",
    "active": "y",
}


def english(client, url: str = "/console/sign-in") -> None:
    post_form(client, url, "/language", {"lang": "en", "next": url})


def requests_of(console, org: str) -> list[MatchRequest]:
    with console.database.session() as s:
        rows = s.scalars(
            select(MatchRequest).where(MatchRequest.business_id == console.ids[org])
        ).all()
        s.expunge_all()
        return rows


def offers_of(console, org: str) -> list[MatchOffer]:
    with console.database.session() as s:
        rows = s.scalars(select(MatchOffer).where(MatchOffer.company_id == console.ids[org])).all()
        s.expunge_all()
        return rows


def error_of(page: str, field: str) -> str:
    match = re.search(rf'id="{field}-error"><p class="error">([^<]*)<', page)
    assert match, f"no error shown for {field}"
    return html.unescape(match.group(1))


# --- partner requests ----------------------------------------------------------------------------


def test_a_business_posts_and_edits_a_partner_request(console):
    c = console.client("business_x")
    form = c.get("/console/requests/new").text
    # Pickers show names, never codes: industries by name, townships by county and name
    assert ">\u3000\u3000\u3000稻作栽培業</option>" in form
    assert '<optgroup label="南投縣">' in form and ">竹山鎮</option>" in form
    posted = post_form(c, "/console/requests/new", "/console/requests/new", REQUEST)
    assert posted.status_code == 302, posted.text
    (request,) = requests_of(console, "business_x")
    assert (request.kind, request.amount, request.industry, request.town_code) == (
        "sponsorship",
        12_000_000,  # NT$120,000 in minor units
        "0111",
        "10008040",
    )
    assert JsonList.load(request.tags) == ["茶", "觀光"]
    row = re.search(rf'<tr id="request-{request.id}">(.*?)</tr>', c.get(posted.location).text)
    assert row, "the request is not listed on the business page"
    assert "NT$120,000" in row[1] and "稻作栽培業" in row[1] and "竹山鎮" in row[1]
    assert "0111" not in row[1] and "10008040" not in row[1]

    url = f"/console/requests/{request.id}/edit"
    assert 'value="120,000"' in c.get(url).text  # the amount as it was typed, in NT$
    edited = post_form(c, url, url, {**REQUEST, "amount": "150000", "active": ""})
    assert edited.status_code == 302
    (request,) = requests_of(console, "business_x")
    assert (request.amount, request.active) == (15_000_000, False)


@pytest.mark.parametrize(
    ("lang", "amount_error", "industry_error"),
    [
        ("zh", "新臺幣金額須為整數元。", "請從清單選擇行業。"),
        ("en", "Amounts in NT$ are whole dollars.", "Choose an industry from the list."),
    ],
)
def test_a_bad_request_says_why_in_the_readers_language(
    console, lang, amount_error, industry_error
):
    c = console.client("business_x")
    if lang == "en":
        english(c, "/console/requests/new")
    bad = {**REQUEST, "amount": "1,000.50", "industry": "ZZZ"}
    refused = post_form(c, "/console/requests/new", "/console/requests/new", bad)
    assert refused.status_code == 422
    assert error_of(refused.text, "amount") == amount_error
    assert error_of(refused.text, "industry") == industry_error
    assert 'value="1,000.50"' in refused.text  # what was typed is kept
    assert requests_of(console, "business_x") == []


def test_requests_are_the_business_own(console):
    post_form(
        console.client("business_x"), "/console/requests/new", "/console/requests/new", REQUEST
    )
    (request,) = requests_of(console, "business_x")
    other = console.client("business_y")
    url = f"/console/requests/{request.id}/edit"
    assert other.get(url).status_code == 404
    assert other.post(url, data=REQUEST).status_code in (400, 404)
    assert f'id="request-{request.id}"' not in other.get("/console/business").text
    for actor in ("company_a", "ndc"):
        assert console.client(actor).get("/console/requests/new").status_code == 403
    # a manager sees the business's requests on its page, without the edit links
    page = console.client("ndc").get(f"/console/organisations/{console.ids['business_x']}").text
    assert f'id="request-{request.id}"' in page and url not in page


# --- projects and the profile --------------------------------------------------------------------


def test_a_business_creates_a_project(console):
    c = console.client("business_x")
    refused = post_form(c, "/console/projects/new", "/console/projects/new", {"name": " "})
    assert refused.status_code == 422
    assert error_of(refused.text, "name") == "請輸入計畫名稱。"
    created = post_form(
        c,
        "/console/projects/new",
        "/console/projects/new",
        {"name": "竹山茶園步道", "town_code": "10008040", "priority_type": "agricultural"},
    )
    assert created.status_code == 302
    with console.database.session() as s:
        project = s.scalars(select(Project).where(Project.name == "竹山茶園步道")).one()
        # the business's own; the priority-area type stays the managers' to set
        assert project.business_id == console.ids["business_x"]
        assert (project.town_code, project.priority_type) == ("10008040", None)
    assert "竹山茶園步道 · 南投縣 竹山鎮" in c.get("/console/business").text
    assert console.client("company_a").get("/console/projects/new").status_code == 403


@pytest.mark.parametrize("actor", ["business_x", "company_a"])
def test_a_member_edits_its_profile(console, actor):
    c = console.client(actor)
    form = c.get("/console/profile").text
    assert ">竹山鎮</option>" in form
    saved = post_form(
        c,
        "/console/profile",
        "/console/profile",
        {"name": "新名稱工作室", "name_en": "New Name Studio", "town_code": "10002010"},
    )
    assert saved.status_code == 302
    with console.database.session() as s:
        org = s.get(Organisation, console.ids[actor])
        assert (org.name, org.name_en, org.town_code, org.county_code) == (
            "新名稱工作室",
            "New Name Studio",
            "10002010",
            "10002",
        )
    refused = post_form(c, "/console/profile", "/console/profile", {"name": "", "town_code": "x"})
    assert refused.status_code == 422
    assert error_of(refused.text, "name") == "請輸入組織名稱。"
    assert error_of(refused.text, "town_code") == "請從清單選擇鄉鎮市區。"
    emoji = post_form(
        c, "/console/profile", "/console/profile", {"name": "🌾🌾", "town_code": "10002010"}
    )
    assert emoji.status_code == 422
    assert error_of(emoji.text, "name") == "名稱須包含至少一個文字或字母，不能只有表情符號或符號。"
    with console.database.session() as s:
        assert s.get(Organisation, console.ids[actor]).name == "新名稱工作室"


def test_a_profile_changed_meanwhile_is_not_overwritten(console):
    c = console.client("business_x")
    page = c.get("/console/profile").text
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page)[1]
    with console.database.session() as s, s.begin():
        s.get(Organisation, console.ids["business_x"]).name = "別人改的名稱"
    stale = post_form(
        c,
        "/console/profile",
        "/console/profile",
        {"name": "我的名稱", "town_code": "10008040", "version": version},
    )
    assert stale.status_code == 302 and stale.location.endswith("/console/profile")
    assert "您開啟後資料已被他人修改" in c.get(stale.location).text
    with console.database.session() as s:
        assert s.get(Organisation, console.ids["business_x"]).name == "別人改的名稱"


def test_managers_and_strangers_have_no_profile_page(console):
    assert console.client("ndc").get("/console/profile").status_code == 403
    assert console.client().get("/console/profile").status_code == 302  # to sign in


# --- offers --------------------------------------------------------------------------------------


def test_a_company_posts_and_edits_an_offer(console):
    c = console.client("company_a")
    form = c.get("/console/offers/new").text
    assert " 南投縣</label>" in form and " 中部</label>" in form and " 回饋故鄉</label>" in form
    posted = post_form(c, "/console/offers/new", "/console/offers/new", OFFER)
    assert posted.status_code == 302, posted.text
    (offer,) = offers_of(console, "company_a")
    assert offer.budget == 50_000_000
    assert JsonList.load(offer.kinds) == ["sponsorship", "product_development"]
    assert JsonList.load(offer.regions) == ["central", "10008"]
    assert (offer.home_county, JsonList.load(offer.goals)) == ("10008", ["SDG 8", "在地就業"])
    home = c.get(posted.location).text
    row = re.search(rf'<tr id="offer-{offer.id}">(.*?)</tr>', home)[1]
    assert "NT$500,000" in row and "贊助認養" in row
    # The matcher shares the budget among the partners wanted (scoring.amount_points): the
    # form and the list call it the whole budget, never a budget per partner
    assert "總預算，由各合作夥伴分配" in form and ">總預算</th>" in home
    assert "每位夥伴預算" not in form + home

    # a township the API set is kept when the console edits the offer
    with console.database.session() as s, s.begin():
        s.get(MatchOffer, offer.id).regions = JsonList.dump(["central", "10008", "10002010"])
    url = f"/console/offers/{offer.id}/edit"
    page = c.get(url).text
    assert 'value="500,000"' in page
    assert re.search(r'<input checked [^>]*value="sponsorship"', page)
    assert not re.search(r'<input [^>]*required[^>]*type="checkbox"', page)
    edited = post_form(c, url, url, {**OFFER, "budget": "", "kinds": ["investment"]})
    assert edited.status_code == 302
    (offer,) = offers_of(console, "company_a")
    assert (offer.budget, JsonList.load(offer.kinds)) == (None, ["investment"])
    assert JsonList.load(offer.regions) == ["central", "10008", "10002010"]
    assert console.client("company_b").get(url).status_code == 404
    assert console.client("business_x").get("/console/offers/new").status_code == 403


def test_a_bad_offer_says_why_in_english_too(console):
    c = console.client("company_a")
    english(c, "/console/offers/new")
    refused = post_form(
        c, "/console/offers/new", "/console/offers/new", {**OFFER, "kinds": [], "budget": "a lot"}
    )
    assert refused.status_code == 422
    assert error_of(refused.text, "kinds") == "Choose at least one kind of partnership."
    assert error_of(refused.text, "budget") == "Write the amount in NT$, like 120,000."
    assert offers_of(console, "company_a") == []
    # Above the matcher's limit (NT$100 billion): said in words, not as a wrong format
    for budget in ("1,000,000,000,000", "99999999999999999999"):
        data = {**OFFER, "budget": budget}
        huge = post_form(c, "/console/offers/new", "/console/offers/new", data)
        assert huge.status_code == 422
        assert error_of(huge.text, "budget") == "The amount is too large."
        assert huge.text.count("The amount is too large.") == 1
    assert offers_of(console, "company_a") == []


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("zh_Hant_TW", "預算須大於 NT$0；不設預算請留空。"),
        ("en", "A budget is more than NT$0; leave it empty if you state no budget."),
    ],
)
def test_an_offer_budget_of_nt0_is_refused_like_the_api_refuses_it(console, lang, said):
    c = console.client("company_a")
    with c.session_transaction() as s:
        s["lang"] = lang
    for zero in ("0", "NT$0"):
        refused = post_form(
            c, "/console/offers/new", "/console/offers/new", {**OFFER, "budget": zero}
        )
        assert refused.status_code == 422
        assert error_of(refused.text, "budget") == said
    assert offers_of(console, "company_a") == []
    # The API says the same of the same budget: 422 naming the field
    api = console.app.test_client().post(
        "/api/v1/match/offers",
        json={"kinds": ["sponsorship"], "budget": 0},
        headers={"Authorization": f"Bearer {console.tokens['company_a']}"},
    )
    assert api.status_code == 422 and "budget" in api.get_json()["errors"]
    assert offers_of(console, "company_a") == []


# --- answering proposals -------------------------------------------------------------------------


def _status(page: str, pid: int) -> str:
    article = page.split(f'id="proposal-{pid}"', 1)[1].split("</article>", 1)[0]
    return re.search(r'<span class="status [a-z_]+">([^<]*)</span>', article)[1]


def test_the_status_after_one_side_accepts_says_who_is_awaited(console):
    pid = seed_published_proposal(console.database, console.ids)
    company, business = console.client("company_a"), console.client("business_x")
    assert _status(company.get("/console/company").text, pid) == "待雙方回覆"
    url = f"/console/proposals/{pid}/accept"
    assert post_form(company, url, url, {"confirmed": "yes"}).status_code == 302
    waiting = "企業已接受，待在地業者回覆"
    assert _status(company.get("/console/company").text, pid) == waiting
    assert _status(business.get("/console/business").text, pid) == waiting
    english(business, "/console/business")
    assert (
        _status(business.get("/console/business").text, pid)
        == "The company accepted; waiting for the local business"
    )


@pytest.mark.parametrize("decision", ["accept", "decline"])
def test_answers_need_a_confirmation_step(console, decision):
    pid = seed_published_proposal(console.database, console.ids)
    c = console.client("business_x")
    url = f"/console/proposals/{pid}/{decision}"
    page = c.get(url)
    assert page.status_code == 200
    assert 'name="confirmed" type="hidden" value="yes"' in page.text
    assert "甲公司" in page.text  # says whom the answer is for
    # a post that did not come from the confirmation step only shows it
    unconfirmed = post_form(c, "/console/business", url, {"reason": "時程不合"})
    assert unconfirmed.status_code == 200 and 'id="confirm-answer"' in unconfirmed.text
    with console.database.session() as s:
        assert s.get(MatchProposal, pid).status == "published"
    done = post_form(c, url, url, {"reason": "時程不合", "confirmed": "yes"})
    assert done.status_code == 302
    with console.database.session() as s:
        p = s.get(MatchProposal, pid)
        assert p.business_response == ("accepted" if decision == "accept" else "declined")
    # answered: the confirmation page is not offered again
    again = c.get(url)
    assert again.status_code == 302 and "/console/business" in again.location


def test_partners_see_each_others_contact_and_next_steps(console):
    pid = seed_published_proposal(console.database, console.ids)
    emails = console.emails
    url = f"/console/proposals/{pid}/accept"
    company, business = console.client("company_a"), console.client("business_x")
    post_form(company, url, url, {"confirmed": "yes"})
    # one acceptance shares nothing yet
    assert emails["company_a"] not in business.get("/console/business").text
    post_form(business, url, url, {"confirmed": "yes"})
    business_page = business.get("/console/business").text
    company_page = company.get("/console/company").text
    assert f'<a href="mailto:{emails["company_a"]}">' in business_page
    assert f'<a href="mailto:{emails["business_x"]}">' in company_page
    for page in (business_page, company_page):
        assert '<div id="next-steps">' in page
    assert "申報每期營收" in business_page  # the business's own next steps
    assert "繳付認捐款" in company_page
    for actor, home in (("company_b", "/console/company"), ("business_y", "/console/business")):
        page = console.client(actor).get(home).text
        assert emails["company_a"] not in page and emails["business_x"] not in page


def test_a_second_run_lists_the_accepted_proposal_once(console):
    from matching import services as matching

    pid = seed_published_proposal(console.database, console.ids)
    url = f"/console/proposals/{pid}/accept"
    for actor in ("company_a", "business_x"):
        post_form(console.client(actor), url, url, {"confirmed": "yes"})
    with console.database.session() as s, s.begin():
        ndc = s.get(User, console.ids["user_ndc"])
        run = matching.start_run(s, actor=ndc, params={"k": 5})
        matching.publish_run(s, actor=ndc, run_id=run.id)
    for actor, home in (("company_a", "/console/company"), ("business_x", "/console/business")):
        page = console.client(actor).get(home).text
        assert re.findall(r'<article class="proposal" id="proposal-(\d+)"', page) == [str(pid)]
